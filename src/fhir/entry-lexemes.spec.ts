import fc from 'fast-check';
import { lexemesUnder, numberLexemes } from '../common/fhir-json-text.js';
import { entryLexemes } from './entry-lexemes.js';

const pointer = fc.oneof(
  fc.tuple(fc.nat(12), fc.constantFrom('/resource', '/resource/valueQuantity/value', '/resource/component/0/valueQuantity/value', '/resourceX/value', '/request/n', ''))
    .map(([i, rest]) => `/entry/${i}${rest}`),
  fc.constantFrom('/total', '/entry', '/entry/01/resource/value', '/meta/x', '/entry/1/resource', '/entry/1/resource/a~1b'),
);

describe('entryLexemes: a Bundle\'s number lexemes parted by entry once (issue #13, bulk load)', () => {
  it('gives each entry what lexemesUnder gives it, in the same order', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(pointer, fc.constantFrom('1.0', '37.50', '1E-30', '-0')), { maxLength: 40 }), (pairs) => {
        const numbers = new Map(pairs);
        const byEntry = entryLexemes(numbers);
        for (let i = 0; i <= 13; i++) {
          const expected = lexemesUnder(numbers, `/entry/${i}/resource`);
          const got = byEntry(i);
          expect(got && [...got]).toEqual(expected && [...expected]);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('parts the lexemes of a parsed Bundle: `37.0` of entry 1 is its resource\'s `/valueQuantity/value`', () => {
    const text = '{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"valueQuantity":{"value":36}}},{"resource":{"valueQuantity":{"value":37.0}}}]}';
    const byEntry = entryLexemes(numberLexemes(text));
    expect(byEntry(0)).toBeUndefined();
    expect([...(byEntry(1) ?? [])]).toEqual([['/valueQuantity/value', '37.0']]);
    expect(entryLexemes(undefined)(0)).toBeUndefined();
  });
});
