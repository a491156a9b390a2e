import type { Actor } from '../identity/actor.js';
import type { RequestAudit } from '../audit/request-audit.js';
import { FhirRequestError, FhirRequestErrorCode } from './fhir.errors.js';
import { assertValidForm, decodeStrict } from './input-characters.js';

/**
 * Headers whose value is percent-encoded UTF-8 text (HTTP headers are ASCII): the input guard
 * decodes them strictly at the edge, like the URL, so a `%00` in them is refused before any handler.
 */
export const PERCENT_ENCODED_HEADERS: ReadonlySet<string> = new Set(['x-edit-reason', 'x-break-glass-reason']);

/** What every FHIR use case knows of its request, independent of the HTTP framework. */
export interface FhirContext {
  actor: Actor;
  /** Absolute base of the FHIR endpoint, e.g. `http://localhost:8080/fhir`. */
  baseUrl: string;
  /** Present when the request breaks the glass, with the reason given. */
  breakGlass?: { reason: string };
  /** This request's audit record: decisions, patients and writes are noted on it. */
  audit?: RequestAudit;
  /** Same-patient documents this write copied passages from, for the ledger to flag. */
  copiedFrom?: string[];
  /** Why the caller changes a document (`X-Edit-Reason`, percent-encoded for non-ASCII text), kept in the edit ledger. */
  editReason?: string;
}

/** `X-Edit-Reason`, decoded (HTTP headers are ASCII: clients percent-encode Chinese text). Blank: none. */
export function parseEditReason(header: string | undefined): string | undefined {
  const text = header?.trim();
  return text ? decodeStrict(text, 'header x-edit-reason') : undefined;
}

const BTG = 'http://terminology.hl7.org/CodeSystem/v3-ActReason#BTG';

/**
 * Break-the-glass as sent by a HIS: `Category: http://terminology.hl7.org/CodeSystem/v3-ActReason#BTG;
 * scheme="http://hl7.org/fhir/tag/security"` and `X-Break-Glass-Reason: <text>`. A BTG
 * category without a reason is refused (400), never treated as an ordinary request.
 */
export function parseBreakGlass(category: string | undefined, reason: string | undefined): FhirContext['breakGlass'] {
  if (!category) return undefined;
  const isBtg = category.split(',').some((c) => {
    const [term, ...params] = c.split(';').map((s) => s.trim());
    const scheme = params.find((p) => p.startsWith('scheme='));
    return term === BTG && (!scheme || scheme.replace(/^scheme=/, '').replace(/"/g, '') === 'http://hl7.org/fhir/tag/security');
  });
  if (!isBtg) return undefined;
  const text = reason?.trim();
  if (!text) {
    throw new FhirRequestError(FhirRequestErrorCode.BreakGlassReasonMissing, 'Break-the-glass needs a reason: send X-Break-Glass-Reason with the emergency that justifies it (R-04)');
  }
  return { reason: decodeStrict(text, 'header x-break-glass-reason') };
}

/** The request headers FHIR interactions read. */
export interface FhirHeaders {
  ifMatch?: string;
  ifNoneExist?: string;
  prefer?: string;
  /** The body's media type without parameters, lower case (`application/json-patch+json`): what a PATCH body is. */
  contentType?: string;
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
export function queryPairs(search: string, where = 'query parameter'): [string, string][] {
  const text = search.startsWith('?') ? search.slice(1) : search;
  // Every query string is checked where it is parsed, whatever carried it (URL, If-None-Exist,
  // a _search form, a Bundle entry's URL): a NUL or a lone surrogate never reaches a query.
  assertValidForm(text, where);
  return [...new URLSearchParams(text).entries()];
}

/** The raw `a=1&a=2` text of a `_search` form body (kept as sent: repeats are AND, not one OR list), or ''. */
export function formText(body: unknown): string {
  return typeof body === 'string' ? body : '';
}

/** A query parameter as text: undefined when absent, empty, or repeated (Express gives an array). */
export function queryText(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
