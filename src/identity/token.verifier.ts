import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey, type CryptoKey } from 'jose';
import {
  DEFAULT_AUDIENCE,
  DEFAULT_CLAIM_NAMES,
  DEV_ISSUER,
  type ClaimNames,
  type IdentityOptions,
} from '../config/chartwarden.options.js';
import type { Actor } from './actor.js';
import { DEV_KEY_ALG, loadOrCreateDevKey } from './dev-signing-key.js';
import { actorFromClaims, ClaimsError } from './domain/actor-from-claims.js';
import { IdentityError, IdentityErrorCode } from './identity.errors.js';

const TOKEN_CACHE_SIZE = 10_000;

/**
 * Verifies a bearer JWT (signature, `iss`, `aud`, `exp`/`nbf`) with `jose` and maps its
 * claims to an `Actor`. Production: keys from the configured JWKS. Dev mode: the data dir's
 * dev key. Any failure is an `IdentityError` — a request is never let through unidentified.
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
  ) {}

  static async create(options: IdentityOptions, dataDir: string): Promise<TokenVerifier> {
    const claims = { ...DEFAULT_CLAIM_NAMES, ...options.claims };
    const audience = options.audience ?? DEFAULT_AUDIENCE;
    if (options.jwksUrl) {
      if (!options.issuer) throw new Error('identity.issuer is required with a JWKS URL');
      return new TokenVerifier(createRemoteJWKSet(new URL(options.jwksUrl)), options.issuer, audience, undefined, claims);
    }
    const devKey = await loadOrCreateDevKey(dataDir);
    return new TokenVerifier(devKey.publicKey, options.issuer ?? DEV_ISSUER, audience, [DEV_KEY_ALG], claims);
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
        clockTolerance: 5,
      }));
    } catch (e) {
      if (e instanceof joseErrors.JWTExpired) throw new IdentityError(IdentityErrorCode.ExpiredToken, 'The token has expired');
      const why = e instanceof joseErrors.JOSEError ? e.code : 'unreadable token';
      throw new IdentityError(IdentityErrorCode.InvalidToken, `The token was refused (${why})`);
    }
    try {
      const actor = actorFromClaims(payload, this.claims);
      // Only tokens with an expiry are remembered, and never past it (no clock tolerance here).
      if (typeof payload.exp === 'number') {
        if (this.verified.size >= TOKEN_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value as string);
        this.verified.set(m[1], { actor, exp: payload.exp * 1000 });
      }
      return actor;
    } catch (e) {
      if (e instanceof ClaimsError) throw new IdentityError(IdentityErrorCode.InvalidToken, `The token was refused: ${e.message}`);
      throw e;
    }
  }
}
