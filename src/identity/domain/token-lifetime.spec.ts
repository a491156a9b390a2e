import { CLOCK_TOLERANCE_SECONDS, tokenLifetimeProblem } from './token-lifetime.js';

describe('tokenLifetimeProblem', () => {
  const now = 1_800_000_000;
  const max = 720 * 60;

  it('R-01: a token without exp (or with an exp that is not a number) is refused, whatever else it says', () => {
    expect(tokenLifetimeProblem({}, now, max)).toEqual({ kind: 'no-expiry' });
    expect(tokenLifetimeProblem({ iat: now }, now, max)).toEqual({ kind: 'no-expiry' });
    expect(tokenLifetimeProblem({ exp: Number.POSITIVE_INFINITY, iat: now }, now, max)).toEqual({ kind: 'no-expiry' });
    expect(tokenLifetimeProblem({ exp: '2099-01-01' as unknown as number, iat: now }, now, max)).toEqual({ kind: 'no-expiry' });
  });

  it('R-01: a lifetime up to the maximum is accepted; one second more is refused (counted from iat)', () => {
    expect(tokenLifetimeProblem({ iat: now - 60, exp: now - 60 + max }, now, max)).toBeUndefined();
    expect(tokenLifetimeProblem({ iat: now - 60, exp: now - 60 + max + 1 }, now, max)).toEqual({ kind: 'too-long', lifetimeSeconds: max + 1, maxSeconds: max });
    // An already expired token is not this function's business (jose refuses it as expired).
    expect(tokenLifetimeProblem({ iat: now - 7200, exp: now - 3600 }, now, max)).toBeUndefined();
  });

  it('R-01: without iat the lifetime counts from now, with the clock tolerance', () => {
    expect(tokenLifetimeProblem({ exp: now + max + CLOCK_TOLERANCE_SECONDS }, now, max)).toBeUndefined();
    expect(tokenLifetimeProblem({ exp: now + max + CLOCK_TOLERANCE_SECONDS + 1 }, now, max)).toMatchObject({ kind: 'too-long' });
  });

  it('R-01: an iat in the future cannot stretch how long a token stays usable: the lifetime then counts from now', () => {
    const iat = now + 10 * 365 * 86_400;
    expect(tokenLifetimeProblem({ iat, exp: iat + 3600 }, now, max)).toMatchObject({ kind: 'too-long' });
    expect(tokenLifetimeProblem({ iat: now + 60, exp: now + 3600 }, now, max)).toBeUndefined();
  });
});
