import { canonicalize } from 'json-canonicalize';

/** An object key JavaScript orders before the others, whatever the insertion order (an array index). */
const ARRAY_INDEX = /^(?:0|[1-9][0-9]*)$/;
/** `canonicalOrder`'s answer when only the library can serialise the value exactly. */
const LIBRARY = Symbol('library');

/**
 * RFC 8785 canonical JSON (JCS): exactly what `json-canonicalize` gives, the library every
 * fingerprint in ChartWarden was made with (the audit chain's content, a version's SHA-256 in
 * the edit ledger and a sealed inventory, a checkpoint, a case's scope), computed faster.
 *
 * JCS serialises strings and numbers as ECMAScript's `JSON.stringify` does and orders every
 * object's keys by UTF-16 code units; the only difference from `JSON.stringify` is that order.
 * So the value is serialised natively, as it is when its keys are already in order (an audit
 * entry's are) or as a copy with ordered keys. The library serialises what the copy cannot
 * reproduce: an object with an array-index key (JavaScript lists those first, in numeric
 * order), an array with a hole, a value JSON has no form for (a function, a symbol, a bigint),
 * or a top-level value that is not an object or array. Every audited request and every write pays this: the
 * library's own walk cost about twice as much (BENCHMARKS.md, issue #13).
 *
 * Throws, as the library does, on a number that is not finite.
 */
export function canonicalJson(value: unknown): string {
  if (typeof value !== 'object' || value === null) return canonicalize(value);
  const ordered = canonicalOrder(value);
  return ordered === LIBRARY ? canonicalize(value) : JSON.stringify(ordered);
}

/**
 * `value` itself when every object in it lists its keys in code-unit order, else a copy that
 * does (objects without a prototype: a key `__proto__` stays a key); `LIBRARY` when the copy
 * could not serialise as JCS does.
 */
function canonicalOrder(value: unknown): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw new Error(`Non-finite number (${value}) is not permitted in JSON (RFC 8785 §3.2.2.3)`);
      return value;
    case 'object':
      break;
    default:
      return LIBRARY;
  }
  if (value === null) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      // A hole (never in parsed JSON): the library skips it where JSON.stringify writes null.
      if (!(i in value)) return LIBRARY;
      const item = canonicalOrder(value[i]);
      if (item === LIBRARY) return LIBRARY;
      if (item !== value[i]) (copy ??= value.slice())[i] = item;
    }
    return copy ?? value;
  }
  // As the library does: an object with any `toJSON` member (a Date; or a key named so) is serialised natively, as it is.
  if ((value as { toJSON?: unknown }).toJSON != null) return value;
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object);
  let inOrder = true;
  // The members that had to be copied, by key (none, nearly always): nothing is allocated for an object already in order.
  let copied: Map<string, unknown> | undefined;
  for (let i = 0; i < keys.length; i++) {
    const first = keys[i].charCodeAt(0);
    if (first >= 0x30 && first <= 0x39 && ARRAY_INDEX.test(keys[i])) return LIBRARY;
    if (i > 0 && !(keys[i - 1] < keys[i])) inOrder = false;
    const member = object[keys[i]];
    const item = canonicalOrder(member);
    if (item === LIBRARY) return LIBRARY;
    if (item !== member) (copied ??= new Map()).set(keys[i], item);
  }
  if (inOrder && !copied) return value;
  if (!inOrder) keys.sort();
  const copy: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const key of keys) copy[key] = copied?.has(key) ? copied.get(key) : object[key];
  return copy;
}
