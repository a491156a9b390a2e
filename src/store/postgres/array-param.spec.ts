import { createRequire } from 'node:module';
import fc from 'fast-check';
import { arrayParam } from './array-param.js';

/** node-postgres's own writer of a bound array (`prepareValue`): the oracle every literal must equal. */
const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils.js') as { prepareValue: (v: unknown) => unknown };

/** Strings over the characters the two writers could treat differently: quotes, backslashes, braces, commas, controls, surrogates, CJK. */
const tricky = fc.string({ unit: fc.constantFrom('a', ' ', '"', '\\', '{', '}', ',', 'NULL', '\n', '\t', '\u0000', '\u001f', '\u007f', '\u2028', '中', '😀', '\ud800', '\udfff', 'é') });

describe('arrayParam: a bound array as the literal node-postgres would send (issue #13, bulk load)', () => {
  it('writes strings, finite numbers and nulls exactly as node-postgres does', () => {
    const element = fc.oneof(tricky, fc.constant(null), fc.constant(undefined), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }));
    fc.assert(
      fc.property(fc.array(element, { maxLength: 12 }), (values) => {
        const literal = arrayParam(values);
        expect(typeof literal).toBe('string');
        expect(literal).toBe(prepareValue(values));
      }),
      { numRuns: 2000 },
    );
  });

  it('takes the fast paths: all plain strings, all numbers, and an empty array', () => {
    expect(arrayParam(['a"b', 'c\\d', '{x,y}', '中文'])).toBe('{"a\\"b","c\\\\d","{x,y}","中文"}');
    expect(arrayParam([1, 2, -0, 1e21, 0.5])).toBe('{"1","2","0","1e+21","0.5"}');
    expect(arrayParam([])).toBe('{}');
    expect(arrayParam(['line\nbreak', null])).toBe('{"line\nbreak",NULL}');
    for (const values of [['a"b', 'c\\d'], [1, 2, -0, 1e21], [], ['line\nbreak', null], ['\u0000', '😀']]) expect(arrayParam(values)).toBe(prepareValue(values));
  });

  it('leaves anything else to node-postgres: the values themselves come back', () => {
    for (const values of [[NaN], [Infinity], [true], [new Date(0)], [['nested']], [{ a: 1 }], ['a', 1n]]) expect(arrayParam(values)).toBe(values);
  });
});
