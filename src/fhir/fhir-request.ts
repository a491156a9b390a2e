import type { Actor } from '../identity/actor.js';
import { FhirRequestError, FhirRequestErrorCode } from './fhir.errors.js';

/** What every FHIR use case knows of its request, independent of the HTTP framework. */
export interface FhirContext {
  actor: Actor;
  /** Absolute base of the FHIR endpoint, e.g. `http://localhost:8080/fhir`. */
  baseUrl: string;
}

/** The request headers FHIR interactions read. */
export interface FhirHeaders {
  ifMatch?: string;
  ifNoneExist?: string;
  prefer?: string;
}

/** `W/"3"`, `"3"` → `3` (R4 http.html#versioning); undefined when absent. */
export function parseIfMatch(header: string | undefined): string | undefined {
  if (header === undefined || header === '') return undefined;
  const m = /^\s*(?:W\/)?"([^"]+)"\s*$/.exec(header) ?? /^\s*([A-Za-z0-9\-.]+)\s*$/.exec(header);
  if (!m) throw new FhirRequestError(FhirRequestErrorCode.InvalidRequest, `If-Match must be an ETag like W/"3", not ${header}`);
  return m[1];
}

/** `Prefer` directives (R4 http.html#ops): `return=` and `handling=`. */
export function parsePrefer(header: string | undefined): { return?: 'minimal' | 'representation' | 'OperationOutcome'; lenient: boolean } {
  const out: { return?: 'minimal' | 'representation' | 'OperationOutcome'; lenient: boolean } = { lenient: false };
  for (const part of (header ?? '').split(/[;,]/)) {
    const [k, v] = part.split('=').map((s) => s?.trim());
    if (k === 'return' && (v === 'minimal' || v === 'representation' || v === 'OperationOutcome')) out.return = v;
    if (k === 'handling' && v === 'lenient') out.lenient = true;
  }
  return out;
}

/** Query string to ordered pairs (repeated names kept, order kept). */
export function queryPairs(search: string): [string, string][] {
  return [...new URLSearchParams(search.startsWith('?') ? search.slice(1) : search).entries()];
}
