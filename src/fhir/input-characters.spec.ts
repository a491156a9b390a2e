import { FhirRequestError, FhirRequestErrorCode } from './fhir.errors.js';
import { assertValidHeaders, assertValidRequestTarget, decodeStrict, hasInvalidCharacters } from './input-characters.js';

const refusal = (f: () => unknown): { code: string; expression?: string[] } | undefined => {
  try {
    f();
    return undefined;
  } catch (e) {
    if (!(e instanceof FhirRequestError)) throw e;
    return { code: e.code, expression: e.expression };
  }
};

describe('input characters (R-20/R-51: refused at the edge, before any query)', () => {
  it('R-51: NUL and lone surrogates are invalid; pairs and ordinary text are not', () => {
    expect(['\u0000', 'a\ud800', '\udc00b', '\ud800\ud800', '\udc00\ud800'].map(hasInvalidCharacters)).toEqual([true, true, true, true, true]);
    expect(['', 'abc', '中文', '😀', '\ud83d\ude00x', '\\u0000'].map(hasInvalidCharacters)).toEqual([false, false, false, false, false, false]);
  });

  it('R-51: percent-decoding is strict: malformed escapes are invalid requests, non-UTF-8 and NUL invalid characters', () => {
    expect(decodeStrict('%E4%B8%AD', 'x')).toBe('中');
    expect(refusal(() => decodeStrict('%zz', 'x'))?.code).toBe(FhirRequestErrorCode.InvalidRequest);
    expect(refusal(() => decodeStrict('%E6%9B%B', 'x'))?.code).toBe(FhirRequestErrorCode.InvalidRequest);
    expect(refusal(() => decodeStrict('%ED%A0%80', 'x'))?.code).toBe(FhirRequestErrorCode.InvalidCharacters);
    expect(refusal(() => decodeStrict('%C3', 'x'))?.code).toBe(FhirRequestErrorCode.InvalidCharacters);
    expect(refusal(() => decodeStrict('a%00', 'x'))?.code).toBe(FhirRequestErrorCode.InvalidCharacters);
  });

  it('R-51: a request target names the path or the query parameter at fault', () => {
    const chars = (where: string) => ({ code: FhirRequestErrorCode.InvalidCharacters, expression: [where] });
    expect(refusal(() => assertValidRequestTarget('/fhir/Patient?_id=a&name=%00'))).toEqual(chars('query parameter name'));
    expect(refusal(() => assertValidRequestTarget('/fhir/Patient/%00?_id=a'))).toEqual(chars('URL path'));
    expect(refusal(() => assertValidRequestTarget('/fhir/Patient?%ED%A0%80=1'))).toEqual(chars('query parameter name'));
    expect(refusal(() => assertValidRequestTarget('/fhir/Patient?name=%E5%BC%A0&_count=1'))).toBeUndefined();
    expect(refusal(() => assertValidRequestTarget('/fhir/Patient/abc'))).toBeUndefined();
  });

  it('R-51: headers are checked as received, and percent-encoded ones once decoded', () => {
    const encoded = new Set(['x-edit-reason']);
    const chars = (where: string) => ({ code: FhirRequestErrorCode.InvalidCharacters, expression: [where] });
    expect(refusal(() => assertValidHeaders(['X-Edit-Reason', 'fix%00'], encoded))).toEqual(chars('header x-edit-reason'));
    expect(refusal(() => assertValidHeaders(['X-Other', 'a\u0000'], encoded))).toEqual(chars('header X-Other'));
    expect(refusal(() => assertValidHeaders(['Authorization', 'Bearer a%00b', 'X-Edit-Reason', '%E6%9B%B4'], encoded))).toBeUndefined();
  });
});
