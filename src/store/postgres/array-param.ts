/*
 * A bound array as its PostgreSQL array literal, made by `JSON.stringify` (issue #13, bulk
 * load): node-postgres writes each element of an array parameter through two regular-expression
 * replacements and a concatenation, which for a Bundle's 500 JSON texts and its thousands of
 * index values cost about a twentieth of the server's CPU. For a string with no control character
 * and no surrogate, JSON's string syntax is node-postgres's element syntax (both escape exactly
 * `"` and `\` with a backslash), so the literal is the JSON array with braces for brackets.
 */

/**
 * What `JSON.stringify` escapes otherwise than node-postgres (`\n`, `\u0000`, `\ud800`): a
 * control character (below U+0020), or half of a surrogate pair (a pair is written as it is by both, but the
 * test would cost more than the rare emoji it spares).
 */
const JSON_ESCAPES_OTHERWISE = /[^\u0020-\ud7ff\ue000-\uffff]/;

/**
 * `values` ready to bind as a PostgreSQL array (`$n::text[]`, `::numeric[]`, …): the very literal
 * node-postgres would send for them (`{"a","b",NULL}`), or `values` themselves when they hold
 * anything but strings, finite numbers and nulls, for node-postgres to write as before.
 */
export function arrayParam(values: readonly unknown[]): unknown {
  let strings = 0;
  let numbers = 0;
  let plain = true;
  for (const v of values) {
    if (typeof v === 'string') {
      strings++;
      if (plain && JSON_ESCAPES_OTHERWISE.test(v)) plain = false;
    } else if (typeof v === 'number' && Number.isFinite(v)) numbers++;
    else if (v !== null && v !== undefined) return values;
  }
  if (strings === values.length && plain) return `{${JSON.stringify(values).slice(1, -1)}}`;
  if (numbers === values.length) return `{"${values.join('","')}"}`;
  return `{${values.map(element).join(',')}}`;
}

/** One element as node-postgres writes it (`escapeElement`): NULL, or quoted with `"` and `\` escaped; a number as `String(n)`. */
function element(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'number') return `"${String(v)}"`;
  const s = v as string;
  return JSON_ESCAPES_OTHERWISE.test(s) ? `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : JSON.stringify(s);
}
