import type { Observation } from '@medplum/fhirtypes';
import { FhirRequestError, FhirRequestErrorCode } from './fhir.errors.js';
import { applyJsonPatch, jsonPatchOfBinary, parseJsonPatch } from './json-patch.js';

const current: Observation & { id: string } = { resourceType: 'Observation', id: 'o1', meta: { versionId: '3' }, status: 'final', code: { text: 'Hb' }, valueQuantity: { value: 132 } };
const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    if (e instanceof FhirRequestError) return e.code;
    throw e;
  }
  return undefined;
};
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');

describe('JSON Patch (RFC 6902) for PATCH', () => {
  it('applies to a copy, all operations in order; the current version is untouched', () => {
    const ops = parseJsonPatch([
      { op: 'test', path: '/meta/versionId', value: '3' },
      { op: 'replace', path: '/valueQuantity/value', value: 131 },
      { op: 'copy', from: '/id', path: '/language' },
    ]);
    expect(applyJsonPatch(current, ops)).toMatchObject({ id: 'o1', valueQuantity: { value: 131 }, language: 'o1' });
    expect(current.valueQuantity?.value).toBe(132);
  });

  it('refuses malformed documents (400 structure) and server-owned elements (400 invalid); a test may read them', () => {
    for (const body of [{}, 'x', [1], [{ op: 'nope', path: '/a' }], [{ op: 'add', path: 'a', value: 1 }], [{ op: 'move', path: '/a' }], [{ op: 'add', path: '/__proto__/x', value: 1 }]]) {
      expect(codeOf(() => parseJsonPatch(body))).toBe(FhirRequestErrorCode.PatchMalformed);
    }
    for (const op of [{ op: 'remove', path: '/id' }, { op: 'add', path: '/meta/versionId', value: '9' }, { op: 'replace', path: '/meta/lastUpdated/x', value: 1 }, { op: 'move', from: '/resourceType', path: '/x' }]) {
      expect(codeOf(() => parseJsonPatch([op]))).toBe(FhirRequestErrorCode.PatchProtectedElement);
    }
    expect(codeOf(() => parseJsonPatch([{ op: 'replace', path: '/meta/tag', value: [] }, { op: 'test', path: '/id', value: 'o1' }]))).toBeUndefined();
    expect(codeOf(() => parseJsonPatch({ resourceType: 'Parameters' }))).toBe(FhirRequestErrorCode.PatchFormatNotSupported);
  });

  it('a failing test or a missing path is 422 (not applicable to this version); a root replace cannot move the record', () => {
    expect(codeOf(() => applyJsonPatch(current, [{ op: 'test', path: '/status', value: 'preliminary' }]))).toBe(FhirRequestErrorCode.PatchNotApplicable);
    expect(codeOf(() => applyJsonPatch(current, [{ op: 'remove', path: '/issued' }]))).toBe(FhirRequestErrorCode.PatchNotApplicable);
    expect(codeOf(() => applyJsonPatch(current, [{ op: 'replace', path: '', value: { ...current, id: 'o2' } }]))).toBe(FhirRequestErrorCode.PatchProtectedElement);
  });

  it("a Bundle entry's Binary carries the patch in base64; other formats are refused", () => {
    expect(jsonPatchOfBinary({ resourceType: 'Binary', contentType: 'application/json-patch+json', data: b64([{ op: 'remove', path: '/status' }]) }, 32)).toEqual([{ op: 'remove', path: '/status' }]);
    expect(codeOf(() => jsonPatchOfBinary({ resourceType: 'Parameters', parameter: [] }, 32))).toBe(FhirRequestErrorCode.PatchFormatNotSupported);
    expect(codeOf(() => jsonPatchOfBinary({ resourceType: 'Binary', contentType: 'application/xml-patch+xml', data: b64([]) }, 32))).toBe(FhirRequestErrorCode.PatchFormatNotSupported);
    expect(codeOf(() => jsonPatchOfBinary({ resourceType: 'Binary', contentType: 'application/json-patch+json', data: '***' }, 32))).toBe(FhirRequestErrorCode.PatchMalformed);
    expect(codeOf(() => jsonPatchOfBinary({ resourceType: 'Patient' }, 32))).toBe(FhirRequestErrorCode.PatchMalformed);
  });
});
