import { SignJWT } from 'jose';
import { DEFAULT_AUDIENCE, DEFAULT_CLAIM_NAMES, DEFAULT_MAX_TOKEN_LIFETIME_MINUTES, DEV_ISSUER } from '../config/chartwarden.options.js';
import type { LicenceStatus } from './actor.js';
import { DEV_KEY_ALG, loadOrCreateDevKey } from './dev-signing-key.js';

/** What a development token says about its holder. */
export interface DevTokenRequest {
  sub: string;
  roles: string[];
  department?: string;
  specialty?: string;
  licence?: LicenceStatus;
  scope?: string;
  fhirUser?: string;
  /**
   * How long the token is valid: a number and a unit, e.g. `30m`, `1h`, `8 hours`; `10m ago`
   * or `-10m` gives an already expired token (for tests). At most the maximum token lifetime.
   */
  ttl: string;
}

/** A development token that cannot be issued (its `ttl` is unreadable or longer than the maximum lifetime). */
export class DevTokenError extends Error {}

const UNIT_SECONDS: ReadonlyMap<string, number> = new Map([
  ...['s', 'sec', 'secs', 'second', 'seconds'].map((u) => [u, 1] as const),
  ...['m', 'min', 'mins', 'minute', 'minutes'].map((u) => [u, 60] as const),
  ...['h', 'hr', 'hrs', 'hour', 'hours'].map((u) => [u, 3600] as const),
  ...['d', 'day', 'days'].map((u) => [u, 86_400] as const),
  ...['w', 'week', 'weeks'].map((u) => [u, 604_800] as const),
]);

const TTL = /^([+-]?)\s*(\d+(?:\.\d+)?)\s*([a-z]+)(?:\s+(ago|from now))?$/i;

/**
 * A token lifetime in whole seconds (negative for `… ago` / `-…`): a number and a unit
 * (s, m, h, d, w, or their words). Anything else is refused rather than guessed.
 */
export function parseTtl(ttl: string): number {
  const m = typeof ttl === 'string' ? TTL.exec(ttl.trim()) : null;
  const unit = m ? UNIT_SECONDS.get(m[3].toLowerCase()) : undefined;
  const past = m?.[1] === '-' || m?.[4]?.toLowerCase() === 'ago';
  if (!m || unit === undefined || (m[1] === '-' && m[4] !== undefined)) {
    throw new DevTokenError(`ttl "${ttl}" is not a lifetime: use a number and s, m, h, d or w, e.g. 30m or 8h`);
  }
  const seconds = Math.round(Number(m[2]) * unit);
  return past ? -seconds : seconds;
}

/**
 * Signs a development token with the data dir's dev key (`npx chartwarden token`). The
 * server started on the same data dir accepts it; a server verifying against a JWKS does not.
 * Every token carries `iat` and `exp` (R-01: the server refuses tokens without an expiry);
 * a `ttl` longer than `maxLifetimeMinutes` (the server's `identity.maxTokenLifetimeMinutes`,
 * default 720) is refused here, rather than signed and then refused by the server.
 */
export async function issueDevToken(
  dataDir: string,
  request: DevTokenRequest,
  maxLifetimeMinutes: number = DEFAULT_MAX_TOKEN_LIFETIME_MINUTES,
): Promise<string> {
  const ttl = parseTtl(request.ttl);
  if (ttl > maxLifetimeMinutes * 60) {
    throw new DevTokenError(
      `ttl "${request.ttl}" is longer than the maximum token lifetime of ${maxLifetimeMinutes} minutes ` +
        '(CHARTWARDEN_MAX_TOKEN_LIFETIME_MINUTES): the server would refuse the token',
    );
  }
  const key = await loadOrCreateDevKey(dataDir);
  const c = DEFAULT_CLAIM_NAMES;
  const claims: Record<string, unknown> = { [c.roles]: request.roles };
  if (request.department) claims[c.department] = request.department;
  if (request.specialty) claims[c.specialty] = request.specialty;
  if (request.licence) claims[c.licence] = request.licence;
  if (request.scope) claims[c.scope] = request.scope;
  if (request.fhirUser) claims[c.fhirUser] = request.fhirUser;
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: DEV_KEY_ALG, kid: key.kid, typ: 'JWT' })
    .setSubject(request.sub)
    .setIssuer(DEV_ISSUER)
    .setAudience(DEFAULT_AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + ttl)
    .sign(key.privateKey);
}
