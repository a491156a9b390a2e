import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { DEFAULT_MAX_TOKEN_LIFETIME_MINUTES } from '../config/chartwarden.options.js';
import { DevTokenError, issueDevToken, parseTtl } from './dev-token.issuer.js';
import { TokenVerifier } from './token.verifier.js';
import { IdentityErrorCode } from './identity.errors.js';

describe('parseTtl', () => {
  it('R-01: reads a number and a unit, short or long, and "ago" or a minus sign as the past', () => {
    expect(parseTtl('30m')).toBe(1800);
    expect(parseTtl('1h')).toBe(3600);
    expect(parseTtl('8 hours')).toBe(28_800);
    expect(parseTtl('1.5h')).toBe(5400);
    expect(parseTtl('2d')).toBe(172_800);
    expect(parseTtl('45 s')).toBe(45);
    expect(parseTtl('10 minutes ago')).toBe(-600);
    expect(parseTtl('-10m')).toBe(-600);
    expect(parseTtl('1h from now')).toBe(3600);
  });

  it('R-01: refuses anything else rather than guessing (no lifetime means no token)', () => {
    for (const ttl of ['', 'forever', '1', 'h', '1 fortnight', '1h30m', '-1h ago', 'Infinity', 'constructor', '1 constructor']) {
      expect(() => parseTtl(ttl)).toThrow(DevTokenError);
    }
    expect(() => parseTtl(undefined as unknown as string)).toThrow(DevTokenError);
  });
});

describe('issueDevToken', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'chartwarden-dev-token-'));
  });
  afterAll(async () => rm(dataDir, { recursive: true, force: true }));

  it('R-01: every token carries iat and exp, exp − iat being the ttl', async () => {
    const before = Math.floor(Date.now() / 1000);
    const claims = decodeJwt(await issueDevToken(dataDir, { sub: 'dr-a', roles: ['attending'], ttl: '30m' }));
    expect(claims.iat).toBeGreaterThanOrEqual(before);
    expect((claims.exp as number) - (claims.iat as number)).toBe(1800);
  });

  it('R-01: a ttl beyond the maximum lifetime is refused at issue time, naming the maximum', async () => {
    await expect(issueDevToken(dataDir, { sub: 'dr-a', roles: ['attending'], ttl: '13h' })).rejects.toThrow(
      new RegExp(`longer than the maximum token lifetime of ${DEFAULT_MAX_TOKEN_LIFETIME_MINUTES} minutes`),
    );
    await expect(issueDevToken(dataDir, { sub: 'dr-a', roles: ['attending'], ttl: '2h' }, 60)).rejects.toThrow(DevTokenError);
    expect(decodeJwt(await issueDevToken(dataDir, { sub: 'dr-a', roles: ['attending'], ttl: '12h' })).exp).toEqual(expect.any(Number));
  });

  it('R-01: the verifier on the same data dir accepts its tokens, and one configured with a shorter maximum refuses them', async () => {
    const token = await issueDevToken(dataDir, { sub: 'dr-a', roles: ['attending'], ttl: '2h' });
    expect((await (await TokenVerifier.create({}, dataDir)).verifyAuthorization(`Bearer ${token}`)).id).toBe('dr-a');
    const strict = await TokenVerifier.create({ maxTokenLifetimeMinutes: 60 }, dataDir);
    await expect(strict.verifyAuthorization(`Bearer ${token}`)).rejects.toMatchObject({ code: IdentityErrorCode.LifetimeTooLong });
  });

  it('R-01: a token of another data dir is refused with a hint at the data dir, naming no path', async () => {
    const other = await mkdtemp(join(tmpdir(), 'chartwarden-dev-token-other-'));
    try {
      const token = await issueDevToken(other, { sub: 'dr-a', roles: ['attending'], ttl: '1h' });
      const refusal = (await TokenVerifier.create({}, dataDir)).verifyAuthorization(`Bearer ${token}`);
      await expect(refusal).rejects.toMatchObject({ code: IdentityErrorCode.InvalidToken, message: expect.stringMatching(/another data dir/) });
      const message = await refusal.catch((e: Error) => e.message);
      expect(message).not.toContain(dataDir);
      expect(message).not.toContain(other);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });
});
