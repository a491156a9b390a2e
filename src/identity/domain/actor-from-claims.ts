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
  const licence = licenceOf(stringClaim(payload, names.licence), `claim "${names.licence}"`);
  return {
    id: sub,
    practitioner: fhirUser ?? (sub.includes('/') ? sub : `Practitioner/${sub}`),
    roles: listClaim(payload[names.roles]),
    department: stringClaim(payload, names.department),
    specialty: stringClaim(payload, names.specialty),
    licence,
    scopes: listClaim(payload[names.scope]),
    ...(stringClaim(payload, 'patient') ? { patientContext: stringClaim(payload, 'patient') } : {}),
  };
}

/** A text attribute: absent when missing, null or empty; refused when not text. `label` names it in the error. */
function stringClaim(payload: Record<string, unknown>, name: string, label = `claim "${name}"`): string | undefined {
  const v = payload[name];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new ClaimsError(`${label} must be a string`);
  return v;
}

/** A licence the policy knows (R-14's co-signing depends on it), or none. */
function licenceOf(value: string | undefined, label: string): LicenceStatus | undefined {
  if (value !== undefined && !LICENCE_STATUSES.includes(value as LicenceStatus)) throw new ClaimsError(`${label} must be one of ${LICENCE_STATUSES.join(', ')}`);
  return value as LicenceStatus | undefined;
}

function listClaim(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string' && x.length > 0);
  if (typeof v === 'string') return v.split(/[\s,]+/).filter(Boolean);
  throw new ClaimsError('roles and scopes must be a list or a string');
}

/**
 * An `Actor` a host built itself (the embedding API), held to what a token's claims must be:
 * an id and a practitioner reference, roles and scopes as lists of non-empty strings, the other
 * attributes strings or absent (an empty one is absent), and a licence the policy knows (R-14's
 * co-signing depends on it). Returns a copy; throws `ClaimsError` naming the first problem.
 */
export function checkedActor(candidate: Actor): Actor {
  const a = (candidate ?? {}) as unknown as Record<string, unknown>;
  if (typeof a.id !== 'string' || a.id.trim() === '') throw new ClaimsError("the actor needs an id (a token's sub)");
  if (typeof a.practitioner !== 'string' || a.practitioner.trim() === '') throw new ClaimsError('the actor needs a practitioner reference (Practitioner/<id>)');
  const list = (name: string): string[] => {
    const v = a[name];
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && x.length > 0)) throw new ClaimsError(`the actor's ${name} must be a list of non-empty strings ([] when none)`);
    return [...(v as string[])];
  };
  const text = (name: string) => stringClaim(a, name, `the actor's ${name}`);
  const licence = licenceOf(text('licence'), "the actor's licence");
  const patientContext = text('patientContext');
  return {
    id: a.id,
    practitioner: a.practitioner,
    roles: list('roles'),
    department: text('department'),
    specialty: text('specialty'),
    licence,
    scopes: list('scopes'),
    ...(patientContext ? { patientContext } : {}),
  };
}
