import { isLosslessNumber, parse as parseLossless } from 'lossless-json';

/*
 * A resource's JSON text as its sender wrote it (issue #16, docs/decisions/0014): FHIR decimals
 * carry their precision in their lexical form (`1.50` is not `1.5`, R4 datatypes.html#decimal),
 * which `JSON.parse` forgets, and a reader expects the keys in the order they were sent. The
 * parsed object keeps the key order; the numbers' lexemes travel beside it as a map, usually
 * empty, and the stored text is written with both.
 */

/**
 * The lexical form of the numbers `JSON.stringify` would write differently (`1.0`, `1.50`,
 * `1E-30`, `-0`, 20-digit integers), by RFC 6901 JSON pointer. Numbers it would write as sent
 * (`100`, `1.5`, `1e-30`) are not listed: most bodies have none.
 */
export type NumberLexemes = ReadonlyMap<string, string>;

/**
 * A number token where a JSON value can start (after `:`, `,` or `[`) and one can end. It also
 * matches inside some strings (`"ratio 1:1.0]"`): such a false hit only costs the exact parse,
 * whose answer is right either way. Times (`"10:30:00Z"`) do not match: no delimiter follows.
 */
const NUMBER_TOKEN = /[:,[]\s*(-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*(?=[,}\]])/g;

/** The texts of stored versions, by the object read from them: the response writer splices the text instead of re-serialising. */
const STORED_TEXT = new WeakMap<object, string>();

/**
 * The lexemes of `text`'s numbers that `JSON.stringify` would change, or undefined when there are
 * none. A regular-expression pass decides whether any number needs it; only then is the text
 * parsed again, losslessly (lossless-json), to find where each one is. Text lossless-json refuses
 * (a key repeated with another value, which `JSON.parse` takes) keeps no lexemes.
 */
export function numberLexemes(text: string): NumberLexemes | undefined {
  NUMBER_TOKEN.lastIndex = 0;
  let suspect = false;
  for (let m = NUMBER_TOKEN.exec(text); m; m = NUMBER_TOKEN.exec(text)) {
    if (!writtenAsSent(m[1])) {
      suspect = true;
      break;
    }
  }
  if (!suspect) return undefined;
  let root: unknown;
  try {
    root = parseLossless(text);
  } catch {
    return undefined;
  }
  const found = new Map<string, string>();
  collect(root, '', found);
  return found.size ? found : undefined;
}

/**
 * The lexemes at `pointer` and below, re-rooted there (a Bundle entry's resource:
 * `/entry/3/resource`; a patch operation's value: `/2/value`). The value at `pointer` itself,
 * when it is a listed number, comes back at `''`: a patch's `"value": 2.50`. A Bundle entry's
 * resource is an object, never a number, so its lexemes are only those below it.
 */
export function lexemesUnder(numbers: NumberLexemes | undefined, pointer: string): NumberLexemes | undefined {
  if (!numbers) return undefined;
  const prefix = `${pointer}/`;
  const found = new Map<string, string>();
  for (const [at, lexeme] of numbers) if (at === pointer || at.startsWith(prefix)) found.set(at.slice(pointer.length), lexeme);
  return found.size ? found : undefined;
}

/**
 * The JSON text of a resource: `resourceType`, `id`, `meta` first (as FHIR JSON customarily
 * starts, whatever order they came in), the other keys in the object's own order (the sender's,
 * for a parsed body), and each number in its lexeme from `numbers` when the lexeme still denotes
 * the number there (a value the server changed is written as `JSON.stringify` writes it).
 */
export function resourceText(resource: object, numbers?: NumberLexemes): string {
  const { resourceType, id, meta, ...rest } = resource as Record<string, unknown>;
  const ordered = { resourceType, id, meta, ...rest };
  return numbers?.size ? write(ordered, '', numbers, ancestorsOf(numbers)) : JSON.stringify(ordered);
}

/** Marks `value` as read from `text` (its stored text, or a serialisation made for it); returns `value`. Treat it as read-only thereafter. */
export function withStoredText<T extends object>(value: T, text: string): T {
  STORED_TEXT.set(value, text);
  return value;
}

/** The text `value` was read from (`withStoredText`), if any. */
export function storedText(value: unknown): string | undefined {
  return value !== null && typeof value === 'object' ? STORED_TEXT.get(value) : undefined;
}

/** Whether `JSON.stringify(Number(lexeme))` writes `lexeme` itself. */
function writtenAsSent(lexeme: string): boolean {
  return String(Number(lexeme)) === lexeme;
}

function collect(value: unknown, pointer: string, found: Map<string, string>): void {
  if (isLosslessNumber(value)) {
    if (!writtenAsSent(value.value)) found.set(pointer, value.value);
  } else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) collect(value[i], `${pointer}/${i}`, found);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) collect(child, `${pointer}/${escapePointer(key)}`, found);
  }
}

/**
 * `JSON.stringify` of a JSON value, but numbers listed in `numbers` keep their lexeme. Only the
 * paths to those numbers are walked (`ancestors`); every other subtree is `JSON.stringify`'s.
 */
function write(value: unknown, pointer: string, numbers: NumberLexemes, ancestors: ReadonlySet<string>): string {
  if (typeof value === 'number') {
    const lexeme = numbers.get(pointer);
    return lexeme !== undefined && Object.is(Number(lexeme), value) ? lexeme : JSON.stringify(value);
  }
  if (value === null || typeof value !== 'object' || !ancestors.has(pointer)) return JSON.stringify(value);
  if (Array.isArray(value)) {
    return `[${value.map((v, i) => (v === undefined ? 'null' : write(v, `${pointer}/${i}`, numbers, ancestors))).join(',')}]`;
  }
  const parts: string[] = [];
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    if (child !== undefined) parts.push(`${JSON.stringify(key)}:${write(child, `${pointer}/${escapePointer(key)}`, numbers, ancestors)}`);
  }
  return `{${parts.join(',')}}`;
}

/** Every proper prefix of the pointers (`''`, `/a`, `/a/0` for `/a/0/b`): the containers holding a listed number. */
function ancestorsOf(numbers: NumberLexemes): Set<string> {
  const ancestors = new Set<string>();
  for (const pointer of numbers.keys()) {
    for (let at = pointer.lastIndexOf('/'); at >= 0; at = pointer.lastIndexOf('/', at - 1)) {
      const prefix = pointer.slice(0, at);
      if (ancestors.has(prefix)) break;
      ancestors.add(prefix);
      if (at === 0) break;
    }
  }
  return ancestors;
}

/** RFC 6901: `~` as `~0`, `/` as `~1`. */
function escapePointer(key: string): string {
  return key.includes('~') || key.includes('/') ? key.replace(/~/g, '~0').replace(/\//g, '~1') : key;
}
