import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey, type CryptoKey } from 'jose';
import {
  DEFAULT_AUDIENCE,
  DEFAULT_CLAIM_NAMES,
  DEFAULT_MAX_TOKEN_LIFETIME_MINUTES,
  DEV_ISSUER,
  type ClaimNames,
  type IdentityOptions,
} from '../config/chartwarden.options.js';
import type { Actor } from './actor.js';
import { DEV_KEY_ALG, loadOrCreateDevKey } from './dev-signing-key.js';
import { actorFromClaims, ClaimsError } from './domain/actor-from-claims.js';
import { CLOCK_TOLERANCE_SECONDS, tokenLifetimeProblem } from './domain/token-lifetime.js';
import { IdentityError, IdentityErrorCode } from './identity.errors.js';

const TOKEN_CACHE_SIZE = 10_000;

/**
 * Said when a dev-mode signature does not verify: the usual cause is a token signed with the
 * key of another data dir. It names no path and no key, only where to look.
 */
const OTHER_DATA_DIR_HINT =
  'its signature does not match this server\'s development signing key. The token may come from another data dir: ' +
  '`npx chartwarden token` signs with the key of the data dir it runs on (CHARTWARDEN_DATA_DIR, or the directory it was run in), ' +
  'so issue the token again against the data dir this server uses';

/**
 * Verifies a bearer JWT (signature, `iss`, `aud`, `exp`/`nbf`) with `jose` and maps its
 * claims to an `Actor`. Production: keys from the configured JWKS. Dev mode: the data
 * dir's dev key. A token must carry `exp`, and its lifetime may not exceed
 * `identity.maxTokenLifetimeMinutes` (default 720). Any failure is an `IdentityError` — a
 * request is never let through unidentified.
 */
export class TokenVerifier {
  /** Verified tokens until their expiry: a HIS sends the same token many times; a signature is checked once. */
  private readonly verified = new Map<string, { actor: Actor; exp: number }>();

  private constructor(
    private readonly key: CryptoKey | JWTVerifyGetKey,
    private readonly issuer: string,
    private readonly audience: string,
    private readonly algorithms: string[] | undefined,
    private readonly claims: ClaimNames,
    private readonly maxLifetimeSeconds: number,
    /** Dev mode: a signature that does not verify most likely comes from another data dir's key. */
    private readonly devKey: boolean,
  ) {}

  static async create(options: IdentityOptions, dataDir: string): Promise<TokenVerifier> {
    const claims = { ...DEFAULT_CLAIM_NAMES, ...options.claims };
    const audience = options.audience ?? DEFAULT_AUDIENCE;
    const maxMinutes = options.maxTokenLifetimeMinutes ?? DEFAULT_MAX_TOKEN_LIFETIME_MINUTES;
    if (!(Number.isFinite(maxMinutes) && maxMinutes > 0)) throw new Error('identity.maxTokenLifetimeMinutes must be a positive number of minutes');
    if (options.jwksUrl) {
      if (!options.issuer) throw new Error('identity.issuer is required with a JWKS URL');
      return new TokenVerifier(createRemoteJWKSet(new URL(options.jwksUrl)), options.issuer, audience, undefined, claims, maxMinutes * 60, false);
    }
    const devKey = await loadOrCreateDevKey(dataDir);
    return new TokenVerifier(devKey.publicKey, options.issuer ?? DEV_ISSUER, audience, [DEV_KEY_ALG], claims, maxMinutes * 60, true);
  }

  /** Verifies `Authorization` header content; returns the operator it names. */
  async verifyAuthorization(header: string | undefined): Promise<Actor> {
    if (!header) throw new IdentityError(IdentityErrorCode.MissingToken, 'This request needs Authorization: Bearer <token>');
    const m = /^Bearer\s+([A-Za-z0-9\-_.]+)\s*$/i.exec(header);
    if (!m) throw new IdentityError(IdentityErrorCode.InvalidToken, 'The Authorization header must be "Bearer <JWT>"');
    const cached = this.verified.get(m[1]);
    if (cached) {
      if (Date.now() < cached.exp) return cached.actor;
      this.verified.delete(m[1]);
    }
    let payload;
    try {
      ({ payload } = await jwtVerify(m[1], this.key as CryptoKey, {
        issuer: this.issuer,
        audience: this.audience,
        algorithms: this.algorithms,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      }));
    } catch (e) {
      if (e instanceof joseErrors.JWTExpired) throw new IdentityError(IdentityErrorCode.ExpiredToken, 'The token has expired');
      const why = e instanceof joseErrors.JOSEError ? e.code : 'unreadable token';
      const hint = this.devKey && e instanceof joseErrors.JWSSignatureVerificationFailed ? `: ${OTHER_DATA_DIR_HINT}` : '';
      throw new IdentityError(IdentityErrorCode.InvalidToken, `The token was refused (${why})${hint}`);
    }
    const problem = tokenLifetimeProblem(payload, Math.floor(Date.now() / 1000), this.maxLifetimeSeconds);
    if (problem?.kind === 'no-expiry') {
      throw new IdentityError(IdentityErrorCode.NoExpiry, 'The token has no expiry ("exp"): a token must stop working at some point (R-01)');
    }
    if (problem?.kind === 'too-long') {
      throw new IdentityError(
        IdentityErrorCode.LifetimeTooLong,
        `The token is valid for ${minutes(problem.lifetimeSeconds)} minutes; ` +
          `this server accepts at most ${minutes(problem.maxSeconds)} (identity.maxTokenLifetimeMinutes)`,
      );
    }
    try {
      const actor = actorFromClaims(payload, this.claims);
      // Remembered until its expiry, never past it (no clock tolerance here); every token has one by now.
      if (this.verified.size >= TOKEN_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value as string);
      this.verified.set(m[1], { actor, exp: (payload.exp as number) * 1000 });
      return actor;
    } catch (e) {
      if (e instanceof ClaimsError) throw new IdentityError(IdentityErrorCode.InvalidToken, `The token was refused: ${e.message}`);
      throw e;
    }
  }
}

function minutes(seconds: number): string {
  return String(Math.ceil(seconds / 60));
}
