import type { JWTPayload } from 'jose';
import type { ClaimNames } from '../../config/chartwarden.options.js';
import { LICENCE_STATUSES, type Actor, type LicenceStatus } from '../actor.js';

/** The claims are present but cannot describe an operator. */
export class ClaimsError extends Error {}

/**
 * Maps verified token claims to an `Actor`. Pure. Roles may be an array or a comma/space
 * separated string; scopes follow SMART (`scope` is space separated).
 */
export function actorFromClaims(payload: JWTPayload, names: ClaimNames): Actor {
  const sub = payload.sub;
  if (!sub) throw new ClaimsError('the token has no "sub": every request must name one operator (R-01)');
  const fhirUser = stringClaim(payload, names.fhirUser);
  const licence = stringClaim(payload, names.licence);
  if (licence !== undefined && !LICENCE_STATUSES.includes(licence as LicenceStatus)) {
    throw new ClaimsError(`claim "${names.licence}" must be one of ${LICENCE_STATUSES.join(', ')}`);
  }
  return {
    id: sub,
    practitioner: fhirUser ?? (sub.includes('/') ? sub : `Practitioner/${sub}`),
    roles: listClaim(payload[names.roles]),
    department: stringClaim(payload, names.department),
    specialty: stringClaim(payload, names.specialty),
    licence: licence as LicenceStatus | undefined,
    scopes: listClaim(payload[names.scope]),
    ...(stringClaim(payload, 'patient') ? { patientContext: stringClaim(payload, 'patient') } : {}),
  };
}

function stringClaim(payload: JWTPayload, name: string): string | undefined {
  const v = payload[name];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new ClaimsError(`claim "${name}" must be a string`);
  return v;
}

function listClaim(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string' && x.length > 0);
  if (typeof v === 'string') return v.split(/[\s,]+/).filter(Boolean);
  throw new ClaimsError('roles and scopes must be a list or a string');
}
