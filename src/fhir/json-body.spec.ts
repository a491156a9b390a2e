import { FhirRequestError, FhirRequestErrorCode } from './fhir.errors.js';
import { assertJsonTextDepth, assertValidJsonValue, bodyNumbers, parseJsonBody } from './json-body.js';

const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
    return undefined;
  } catch (e) {
    return e instanceof FhirRequestError ? e.code : `not a FhirRequestError: ${String(e)}`;
  }
};
const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

describe('JSON request bodies (R-51: refused before anything is parsed deeper or stored)', () => {
  it('R-51: depth is counted over objects and arrays, up to the limit and not one more', () => {
    expect(codeOf(() => assertJsonTextDepth(nested(64), 64))).toBeUndefined();
    expect(codeOf(() => assertJsonTextDepth(nested(65), 64))).toBe(FhirRequestErrorCode.TooDeep);
    expect(codeOf(() => assertJsonTextDepth(`{"a":{"b":[${nested(2)}]}}`, 5))).toBeUndefined();
    expect(codeOf(() => assertJsonTextDepth(`{"a":{"b":[${nested(3)}]}}`, 5))).toBe(FhirRequestErrorCode.TooDeep);
  });

  it('R-51: brackets and escaped quotes inside strings are not nesting', () => {
    expect(codeOf(() => assertJsonTextDepth(`{"a":"${'['.repeat(1000)}\\"${'{'.repeat(1000)}\\\\"}`, 2))).toBeUndefined();
    expect(codeOf(() => assertJsonTextDepth(`["\\\\", ${nested(3)}]`, 3))).toBe(FhirRequestErrorCode.TooDeep);
  });

  it('R-51: 100,000 levels are refused without recursing, and an unterminated string costs one pass', () => {
    expect(codeOf(() => parseJsonBody(Buffer.from(nested(100_000)), 64))).toBe(FhirRequestErrorCode.TooDeep);
    const started = Date.now();
    expect(codeOf(() => parseJsonBody(Buffer.from(`"${'\\"'.repeat(500_000)}`), 64))).toBe(FhirRequestErrorCode.MalformedBody);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('R-51: NUL and lone surrogates, escaped or as bytes, in strings or keys, are refused with where they are', () => {
    const parse = (text: string | Buffer) => parseJsonBody(Buffer.isBuffer(text) ? text : Buffer.from(text), 64);
    expect(codeOf(() => parse('{"a":["x","\\u0000"]}'))).toBe(FhirRequestErrorCode.InvalidCharacters);
    expect(codeOf(() => parse('{"a":"\\ud800"}'))).toBe(FhirRequestErrorCode.InvalidCharacters);
    expect(codeOf(() => parse('{"a":"\\udc00\\ud800"}'))).toBe(FhirRequestErrorCode.InvalidCharacters);
    expect(codeOf(() => parse('{"\\u0000":1}'))).toBe(FhirRequestErrorCode.InvalidCharacters);
    expect(codeOf(() => parse(Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22])))).toBe(FhirRequestErrorCode.InvalidCharacters);
    expect(codeOf(() => parse(Buffer.from([0x22, 0xff, 0x22])))).toBe(FhirRequestErrorCode.InvalidCharacters);
    expect(codeOf(() => parse('"a\u0000"'))).toBe(FhirRequestErrorCode.InvalidCharacters);
    let refused: unknown;
    try {
      parse('{"name":[{"given":["ok","\\ud800"]}]}');
    } catch (e) {
      refused = e;
    }
    expect((refused as FhirRequestError | undefined)?.expression).toEqual(['JSON string at name[0].given[1]']);
    // Paired surrogates and a literal backslash-u text are ordinary.
    expect(parse('{"a":"\\ud83d\\ude00","b":"\\\\u0000","c":"中文"}')).toEqual({ a: '😀', b: '\\u0000', c: '中文' });
  });

  it('R-51: a value parsed by a host is held to the same rules, iteratively', () => {
    let deep: unknown = [];
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(codeOf(() => assertValidJsonValue(deep, 64))).toBe(FhirRequestErrorCode.TooDeep);
    expect(codeOf(() => assertValidJsonValue({ a: [{ b: 'x\u0000' }] }, 64))).toBe(FhirRequestErrorCode.InvalidCharacters);
    expect(codeOf(() => assertValidJsonValue({ a: [{ b: 'ok' }] }, 64))).toBeUndefined();
  });

  it('keeps the lexemes of the body\'s numbers JSON.stringify would change, by the parsed body (issue #16)', () => {
    const body = parseJsonBody(Buffer.from('{"resourceType":"Observation","valueQuantity":{"value":1.50},"component":[{"valueInteger":100}]}'), 64);
    expect(bodyNumbers(body)).toEqual(new Map([['/valueQuantity/value', '1.50']]));
    expect(bodyNumbers(parseJsonBody(Buffer.from('{"value":1.5}'), 64))).toBeUndefined();
    expect(bodyNumbers(structuredClone(body))).toBeUndefined();
    expect(bodyNumbers(undefined)).toBeUndefined();
  });
});
