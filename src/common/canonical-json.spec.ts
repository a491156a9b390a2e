import fc from 'fast-check';
import { canonicalize } from 'json-canonicalize';
import { canonicalJson } from './canonical-json.js';

/** Keys that stress the ordering: array indices, `__proto__`, astral and BMP characters that sort differently as code units and as code points. */
const key = fc.oneof(fc.string(), fc.constantFrom('__proto__', 'constructor', 'toJSON', '0', '1', '10', '9', '01', '-1', '4294967295', '\u{1F600}', '\uFB01', 'a', 'A', ''));
const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(key, tie('value'), { maxKeys: 6 }),
  ),
})).value;

describe('canonicalJson (RFC 8785, R-21)', () => {
  it('gives exactly what json-canonicalize gives, for any JSON value (ordered or not; array-index, __proto__ and toJSON keys; any string)', () => {
    fc.assert(
      fc.property(json, (value) => {
        expect(canonicalJson(value)).toBe(canonicalize(value));
      }),
      { numRuns: 3000 },
    );
  });

  it('parsed JSON too: an own __proto__ key stays a key, and the value is not changed', () => {
    const parsed = JSON.parse('{"b":1,"__proto__":{"x":1},"a":[{"d":2,"c":3}],"10":true,"9":false}') as unknown;
    const before = JSON.stringify(parsed);
    expect(canonicalJson(parsed)).toBe(canonicalize(parsed));
    expect(canonicalJson(parsed)).toBe('{"10":true,"9":false,"__proto__":{"x":1},"a":[{"c":3,"d":2}],"b":1}');
    expect(JSON.stringify(parsed)).toBe(before);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('what JSON.parse never gives is serialised as the library does: undefined members, holes, Dates', () => {
    const odd = { b: undefined, a: [1, undefined, 2], c: new Date(Date.UTC(2026, 11, 7)) };
    // eslint-disable-next-line no-sparse-arrays
    const holes = { a: [1, , 2] };
    for (const v of [odd, holes, [odd], 'text', 12.5, null, true]) expect(canonicalJson(v)).toBe(canonicalize(v));
  });

  it('refuses a number JSON cannot hold, as the library does', () => {
    expect(() => canonicalJson({ a: [Number.POSITIVE_INFINITY] })).toThrow(/Non-finite/);
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(/Non-finite/);
  });
});
