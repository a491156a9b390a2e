import type { Action } from './actions.js';

/** What one SMART scope permits. */
export interface ScopeGrant {
  context: 'patient' | 'user' | 'system';
  /** A resource type, or `*`. */
  type: string;
  /** SMART v2 letters: c r u d s. */
  permissions: Set<string>;
}

/** A Map, not an object: the key is token text, and `user/*.constructor` must grant nothing rather than crash. */
const V1: ReadonlyMap<string, string> = new Map([
  ['read', 'rs'],
  ['write', 'cud'],
  ['*', 'cruds'],
]);
const ACTION_LETTER: Partial<Record<Action, string>> = { create: 'c', read: 'r', update: 'u', search: 's' };

/**
 * Parses SMART App Launch scopes, v1 (`patient/*.read`) and v2 (`user/Observation.rs`,
 * with optional `?param=value` restrictions, which are refused rather than ignored).
 * Non-resource scopes (`openid`, `fhirUser`, `launch`, `offline_access`) are skipped.
 * https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html
 */
export function parseScopes(scopes: readonly string[]): ScopeGrant[] {
  const grants: ScopeGrant[] = [];
  for (const scope of scopes) {
    const m = /^(patient|user|system)\/([A-Za-z]+|\*)\.([a-z*]+)(\?.*)?$/.exec(scope);
    if (!m) continue;
    if (m[4]) continue; // v2 fine-grained restrictions are not supported: the scope grants nothing
    const [, context, type, perms] = m;
    const letters = V1.get(perms) ?? (/^c?r?u?d?s?$/.test(perms) ? perms : '');
    grants.push({ context: context as ScopeGrant['context'], type, permissions: new Set(letters) });
  }
  return grants;
}

/** How scopes limit one FHIR action on one type: not at all, to one patient, or entirely. */
export type ScopeLimit = { kind: 'none' } | { kind: 'patient'; patient: string | undefined } | { kind: 'denied' };

/**
 * SMART scopes only ever narrow the policy (issue #3): a token with no scope claim is not a
 * SMART token and is not narrowed; a token with scopes may do only what they cover. Actions
 * that are not FHIR REST interactions (sign, seal, …) are outside SMART and not narrowed.
 */
export function scopeLimit(scopes: readonly string[], action: Action, type: string, patientContext: string | undefined): ScopeLimit {
  if (scopes.length === 0) return { kind: 'none' };
  const letter = ACTION_LETTER[action];
  if (!letter) return { kind: 'none' };
  const matching = parseScopes(scopes).filter((g) => (g.type === '*' || g.type === type) && g.permissions.has(letter));
  if (matching.some((g) => g.context !== 'patient')) return { kind: 'none' };
  if (matching.length > 0) return { kind: 'patient', patient: patientContext };
  return { kind: 'denied' };
}
