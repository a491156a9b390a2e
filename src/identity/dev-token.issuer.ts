import { SignJWT } from 'jose';
import { DEFAULT_AUDIENCE, DEFAULT_CLAIM_NAMES, DEV_ISSUER } from '../config/chartwarden.options.js';
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
  /** jose time span, e.g. `1h`, `30m`. */
  ttl: string;
}

/**
 * Signs a development token with the data dir's dev key (`npx chartwarden token`). The
 * server started on the same data dir accepts it; a server verifying against a JWKS does not.
 */
export async function issueDevToken(dataDir: string, request: DevTokenRequest): Promise<string> {
  const key = await loadOrCreateDevKey(dataDir);
  const c = DEFAULT_CLAIM_NAMES;
  const claims: Record<string, unknown> = { [c.roles]: request.roles };
  if (request.department) claims[c.department] = request.department;
  if (request.specialty) claims[c.specialty] = request.specialty;
  if (request.licence) claims[c.licence] = request.licence;
  if (request.scope) claims[c.scope] = request.scope;
  if (request.fhirUser) claims[c.fhirUser] = request.fhirUser;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: DEV_KEY_ALG, kid: key.kid, typ: 'JWT' })
    .setSubject(request.sub)
    .setIssuer(DEV_ISSUER)
    .setAudience(DEFAULT_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(request.ttl)
    .sign(key.privateKey);
}
