import type { JWTPayload } from 'jose';

/** Why a token's validity period is refused: it has none, or it is longer than the hospital allows. */
export type LifetimeProblem = { kind: 'no-expiry' } | { kind: 'too-long'; lifetimeSeconds: number; maxSeconds: number };

/** Seconds a clock may be ahead of the issuer's when a token carries no `iat` (as for `exp`/`nbf`). */
export const CLOCK_TOLERANCE_SECONDS = 5;

/**
 * Judges a verified token's validity period (R-01: a token identifies one operator for a
 * bounded time, so a stolen or forgotten token stops working). A token without `exp` is never
 * accepted. Its lifetime counts from `iat`, or from now when `iat` is absent or in the future
 * (a future `iat` must not stretch how long the token stays usable); beyond `maxSeconds` it is
 * refused. Pure: `now` in seconds since the epoch.
 */
export function tokenLifetimeProblem(payload: Pick<JWTPayload, 'exp' | 'iat'>, now: number, maxSeconds: number): LifetimeProblem | undefined {
  if (typeof payload.exp !== 'number' || !Number.isFinite(payload.exp)) return { kind: 'no-expiry' };
  const issued = typeof payload.iat === 'number' && Number.isFinite(payload.iat) && payload.iat <= now ? payload.iat : undefined;
  const lifetimeSeconds = payload.exp - (issued ?? now);
  const allowed = maxSeconds + (issued === undefined ? CLOCK_TOLERANCE_SECONDS : 0);
  return lifetimeSeconds > allowed ? { kind: 'too-long', lifetimeSeconds, maxSeconds } : undefined;
}
