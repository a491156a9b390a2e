import { numberLexemes, type NumberLexemes } from '../common/fhir-json-text.js';
import { FhirRequestError, FhirRequestErrorCode } from './fhir.errors.js';
import { hasInvalidCharacters, invalidCharacters } from './input-characters.js';

const UTF8 = new TextDecoder('utf-8', { fatal: true });
/** An escaped NUL or surrogate half in JSON text: only then can a parsed string hold either (valid UTF-8 cannot). */
const SUSPECT_ESCAPE = /\\u(?:0000|[dD][89a-fA-F])/;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
/** The lexemes of each parsed body's numbers (`bodyNumbers`), by the body's object. */
const BODY_NUMBERS = new WeakMap<object, NumberLexemes>();

/**
 * A JSON request body as the FHIR and workflow routes accept it (R-51: nothing is stored
 * from a body refused here, and the refusal is audited like any other):
 * strict UTF-8 (invalid bytes, encoded surrogates: 400 `fhir.invalid-characters`), no NUL,
 * nested at most `maxDepth` deep (400 `fhir.too-deep`, found by an iterative scan of the
 * text before parsing, so no parser or validator ever recurses into an attacker's nesting),
 * valid JSON (400 `fhir.malformed-body`), and no string or key holding a NUL or a lone
 * surrogate once unescaped (`\u0000`, `\ud800`). Bodies without such an escape (nearly all,
 * escaped Chinese text too) skip that last walk: valid UTF-8 cannot hold either character.
 * The lexemes of numbers `JSON.stringify` would write differently are kept for the body
 * (`bodyNumbers`): a stored resource keeps `1.50` as sent (issue #16).
 */
export function parseJsonBody(bytes: Buffer, maxDepth: number): unknown {
  if (bytes.length === 0) return {};
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw invalidCharacters('request body', 'is not valid UTF-8');
  }
  if (text.indexOf('\0') >= 0) throw invalidCharacters('request body');
  assertJsonTextDepth(text, maxDepth);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new FhirRequestError(FhirRequestErrorCode.MalformedBody, 'The request body is not valid JSON');
  }
  if (SUSPECT_ESCAPE.test(text)) assertValidJsonValue(value, maxDepth);
  const numbers = value !== null && typeof value === 'object' ? numberLexemes(text) : undefined;
  if (numbers) BODY_NUMBERS.set(value as object, numbers);
  return value;
}

/**
 * The lexemes, by JSON pointer, of the numbers of a body `parseJsonBody` parsed that
 * `JSON.stringify` would write differently (`1.0`, `1.50`, `1E-30`); undefined when it has none,
 * or when the body was parsed elsewhere (an embedding host's parser: its numbers are written as
 * `JSON.stringify` writes them). A Bundle's entries take theirs with `lexemesUnder`.
 */
export function bodyNumbers(body: unknown): NumberLexemes | undefined {
  return body !== null && typeof body === 'object' ? BODY_NUMBERS.get(body) : undefined;
}

/**
 * Refuses JSON text nested deeper than `maxDepth` (objects and arrays), in one pass over the
 * characters that keeps no stack and stops at the first level too deep (measured at about
 * 2.5 ns a character, a fifth of what `JSON.parse` costs). Malformed text is left to the parser.
 */
export function assertJsonTextDepth(text: string, maxDepth: number): void {
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // Skip the string, escapes included (`\"` does not end it).
      for (i++; i < n; i++) {
        const s = text.charCodeAt(i);
        if (s === BACKSLASH) i++;
        else if (s === QUOTE) break;
      }
    } else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (++depth > maxDepth) throw tooDeep(maxDepth);
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) {
      depth--;
    }
  }
}

/**
 * The same rules over a value already parsed (by an embedding host's own body parser, which
 * saw the text first): depth at most `maxDepth`, no key or string with a NUL or a lone
 * surrogate. Iterative (an explicit stack), so a deep value cannot overflow the call stack.
 */
export function assertValidJsonValue(root: unknown, maxDepth: number): void {
  const stack: { value: unknown; depth: number; path: string }[] = [{ value: root, depth: 0, path: '' }];
  while (stack.length) {
    const { value, depth, path } = stack.pop() as (typeof stack)[number];
    if (typeof value === 'string') {
      if (hasInvalidCharacters(value)) throw invalidCharacters(`JSON string at ${path || '(root)'}`);
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth + 1 > maxDepth) throw tooDeep(maxDepth);
    if (Array.isArray(value)) {
      for (let k = 0; k < value.length; k++) stack.push({ value: value[k] as unknown, depth: depth + 1, path: `${path}[${k}]` });
      continue;
    }
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      if (hasInvalidCharacters(key)) throw invalidCharacters(`JSON key at ${path || '(root)'}`);
      stack.push({ value: child, depth: depth + 1, path: path ? `${path}.${key}` : key });
    }
  }
}

function tooDeep(maxDepth: number): FhirRequestError {
  const message = `The request body nests objects and arrays more than ${maxDepth} levels deep (the configured limit)`;
  return new FhirRequestError(FhirRequestErrorCode.TooDeep, message);
}
