import { FhirRequestError, FhirRequestErrorCode } from './fhir.errors.js';
import { clipText } from '../common/clip.js';

/**
 * A NUL (U+0000) or a lone UTF-16 surrogate: no clinical text contains one, PostgreSQL's
 * text and jsonb cannot store a NUL, and a lone surrogate has no UTF-8 form. Either one in
 * a request is an attack or a broken client (R-20, R-51: the request is refused before any
 * query runs, and its refusal is still recorded). Matched per UTF-16 code unit (no `u` flag)
 * so the look-arounds see the halves of a pair.
 */
const INVALID_CHARACTER = /\0|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** A string holding a NUL or a lone surrogate (one regex test). */
export function hasInvalidCharacters(text: string): boolean {
  return INVALID_CHARACTER.test(text);
}

/** The error for bad characters at `where` (e.g. `query parameter _id`), named in diagnostics and expression. */
export function invalidCharacters(where: string, problem = 'contains a NUL character or an unpaired UTF-16 surrogate'): FhirRequestError {
  return new FhirRequestError(FhirRequestErrorCode.InvalidCharacters, `The ${where} ${problem}; such characters are never accepted`, [where]);
}

/** Refuses `text` when it holds a NUL or a lone surrogate. */
export function assertValidText(text: string, where: string): void {
  if (INVALID_CHARACTER.test(text)) throw invalidCharacters(where);
}

const MALFORMED_ESCAPE = /%(?![0-9A-Fa-f]{2})/;

/**
 * Percent-decodes `raw` strictly, instead of leaving the outcome to each parser (U+FFFD, the
 * escape kept as text, or an exception): a `%` not followed by two hex digits is a malformed
 * request (400 `fhir.invalid-request`); escapes that are not UTF-8 (`%ED%A0%80` encodes a lone
 * surrogate, `%C3` is cut short) and a decoded NUL are refused as invalid characters.
 */
export function decodeStrict(raw: string, where: string): string {
  if (raw.indexOf('%') < 0) {
    assertValidText(raw, where);
    return raw;
  }
  if (MALFORMED_ESCAPE.test(raw)) {
    const message = `The ${where} has a malformed percent-escape (% must be followed by two hex digits)`;
    throw new FhirRequestError(FhirRequestErrorCode.InvalidRequest, message, [where]);
  }
  let text: string;
  try {
    text = decodeURIComponent(raw);
  } catch {
    throw invalidCharacters(where, 'is not valid percent-encoded UTF-8');
  }
  assertValidText(text, where);
  return text;
}

/** Anything in a URL that needs a closer look: an escape, a NUL, a non-ASCII character (Node refuses other controls). */
const NEEDS_DECODING = /[%\0\x7f-\uffff]/;

/**
 * Checks a request target (`/fhir/Patient/x?_id=y`): the path, then each query parameter's
 * name and value, decoded strictly. A plain ASCII target without escapes costs one regex test.
 */
export function assertValidRequestTarget(target: string): void {
  if (!NEEDS_DECODING.test(target)) return;
  const q = target.indexOf('?');
  decodeStrict(q < 0 ? target : target.slice(0, q), 'URL path');
  if (q >= 0) assertValidForm(target.slice(q + 1), 'query parameter');
}

/** Checks `a=1&b=2` (a query string, or a form body): each name and value, decoded strictly. */
export function assertValidForm(query: string, kind: string): void {
  if (!NEEDS_DECODING.test(query)) return;
  for (const pair of query.split('&')) {
    if (!NEEDS_DECODING.test(pair)) continue;
    const eq = pair.indexOf('=');
    const name = decodeStrict(eq < 0 ? pair : pair.slice(0, eq), `${kind} name`);
    if (eq >= 0) decodeStrict(pair.slice(eq + 1), `${kind} ${clip(name)}`);
  }
}

/**
 * Checks every header value as received (`rawHeaders`: name, value, name, value…), and the
 * headers that carry percent-encoded text (`percentEncoded`, lower case) once decoded.
 */
export function assertValidHeaders(rawHeaders: readonly string[], percentEncoded: ReadonlySet<string>): void {
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const value = rawHeaders[i + 1];
    if (INVALID_CHARACTER.test(value)) throw invalidCharacters(`header ${clip(rawHeaders[i])}`);
    if (value.indexOf('%') >= 0) {
      const name = rawHeaders[i].toLowerCase();
      if (percentEncoded.has(name)) decodeStrict(value, `header ${name}`);
    }
  }
}

/** A caller's name for something, short enough to quote in a message. */
const clip = (name: string): string => clipText(name, 64);
