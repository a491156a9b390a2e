import type { Observation } from '@medplum/fhirtypes';
import type { Operation } from 'fast-json-patch';
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
    expect(applyJsonPatch(current, ops).resource).toMatchObject({ id: 'o1', valueQuantity: { value: 131 }, language: 'o1' });
    expect(current.valueQuantity?.value).toBe(132);
  });

  it('refuses malformed documents (400 structure) and server-owned elements (400 invalid); a test may read them', () => {
    for (const body of [
      {},
      'x',
      [1],
      [{ op: 'nope', path: '/a' }],
      [{ op: 'add', path: 'a', value: 1 }],
      [{ op: 'move', path: '/a' }],
      [{ op: 'add', path: '/__proto__/x', value: 1 }],
      // RFC 6902 §4.4: no move into its own child; RFC 6901: no index with a leading zero.
      [{ op: 'move', from: '/note', path: '/note/0' }],
      [{ op: 'remove', path: '/note/01' }],
      [{ op: 'copy', from: '/note/00', path: '/x' }],
    ]) {
      expect(codeOf(() => parseJsonPatch(body))).toBe(FhirRequestErrorCode.PatchMalformed);
    }
    for (const op of [
      { op: 'remove', path: '/id' },
      { op: 'add', path: '/meta/versionId', value: '9' },
      { op: 'replace', path: '/meta/lastUpdated/x', value: 1 },
      { op: 'move', from: '/resourceType', path: '/x' },
      // The element holding them, as a whole (decision 0015).
      { op: 'replace', path: '/meta', value: { versionId: 'x' } },
      { op: 'remove', path: '/meta' },
      { op: 'move', from: '/meta', path: '/language' },
      { op: 'copy', from: '/language', path: '/meta' },
    ]) {
      expect(codeOf(() => parseJsonPatch([op]))).toBe(FhirRequestErrorCode.PatchProtectedElement);
    }
    expect(codeOf(() => parseJsonPatch([{ op: 'replace', path: '/meta/tag', value: [] }, { op: 'test', path: '/id', value: 'o1' }, { op: 'test', path: '/meta', value: {} }]))).toBeUndefined();
    expect(codeOf(() => parseJsonPatch([{ op: 'move', from: '/note/0', path: '/note/1' }, { op: 'copy', from: '/note', path: '/note/0' }, { op: 'add', path: '/note/10', value: {} }]))).toBeUndefined();
    expect(codeOf(() => parseJsonPatch({ resourceType: 'Parameters' }))).toBe(FhirRequestErrorCode.PatchFormatNotSupported);
  });

  it('a failing test or a missing path is 422 (not applicable to this version); a root replace cannot move the record', () => {
    expect(codeOf(() => applyJsonPatch(current, [{ op: 'test', path: '/status', value: 'preliminary' }]))).toBe(FhirRequestErrorCode.PatchNotApplicable);
    expect(codeOf(() => applyJsonPatch(current, [{ op: 'remove', path: '/issued' }]))).toBe(FhirRequestErrorCode.PatchNotApplicable);
    expect(codeOf(() => applyJsonPatch(current, [{ op: 'replace', path: '', value: { ...current, id: 'o2' } }]))).toBe(FhirRequestErrorCode.PatchProtectedElement);
    expect(codeOf(() => applyJsonPatch(current, [{ op: 'replace', path: '', value: { ...current, meta: { versionId: '9' } } }]))).toBe(FhirRequestErrorCode.PatchProtectedElement);
    expect(applyJsonPatch(current, [{ op: 'replace', path: '', value: { ...current, status: 'amended' } }]).resource.status).toBe('amended');
  });

  it('any other error applying an operation is 422 too, never a TypeError (a move into its own child, applied unparsed)', () => {
    const withNote = { ...current, note: [{ text: 'a' }] };
    expect(codeOf(() => applyJsonPatch(withNote, [{ op: 'move', from: '/note', path: '/note/0' }]))).toBe(FhirRequestErrorCode.PatchNotApplicable);
    expect(codeOf(() => applyJsonPatch(withNote, [{ op: 'copy', from: '/status/length', path: '/language' }]))).toBe(FhirRequestErrorCode.PatchNotApplicable);
    expect(withNote.note).toEqual([{ text: 'a' }]);
  });

  it('R-51: a patch cannot grow a record past what a request may send: copies of a member into itself are refused (413) before they double it 40 times', () => {
    // Each call its own operations: an applied `add` puts its value itself into the record.
    const doubling = (copies: number): Operation[] => [
      { op: 'add', path: '/note', value: [{ text: 'x'.repeat(100) }] },
      ...Array.from({ length: copies }, (): Operation => ({ op: 'copy', from: '/note', path: '/note/-' })),
    ];
    expect(codeOf(() => applyJsonPatch(current, doubling(40), {}, 64 * 1024))).toBe(FhirRequestErrorCode.PayloadTooLarge);
    // Below the bound the same kind of patch applies.
    expect(JSON.stringify(applyJsonPatch(current, doubling(3), {}, 64 * 1024).resource).length).toBeLessThan(64 * 1024);
  });

  it('decision 0014: stored lexemes follow their values through every operation; a patch value brings its own', () => {
    const stored = new Map([
      ['/component/0/valueQuantity/value', '1.50'],
      ['/component/2/valueQuantity/value', '3.0'],
      ['/valueQuantity/value', '132.0'],
    ]);
    const withComponents = { ...current, component: [1.5, 1.5, 3].map((value) => ({ code: { text: String(value) }, valueQuantity: { value } })) };
    const apply = (ops: unknown[], patch?: Map<string, string>) => applyJsonPatch(withComponents, parseJsonPatch(ops), { stored, patch }).numbers;
    // Removing the first component: the one sent as 1.5 takes its place and keeps no lexeme.
    expect(apply([{ op: 'remove', path: '/component/0' }])).toEqual(new Map([['/component/1/valueQuantity/value', '3.0'], ['/valueQuantity/value', '132.0']]));
    // Adding before it moves it up; adding at the end moves nothing.
    expect(apply([{ op: 'add', path: '/component/0', value: { code: { text: 'n' } } }, { op: 'add', path: '/component/-', value: { code: { text: 'm' } } }])).toEqual(
      new Map([['/component/1/valueQuantity/value', '1.50'], ['/component/3/valueQuantity/value', '3.0'], ['/valueQuantity/value', '132.0']]),
    );
    // A move takes its lexemes along; a copy duplicates them; a replaced value drops its own.
    expect(apply([{ op: 'move', from: '/component/0', path: '/component/2' }])).toEqual(
      new Map([['/component/2/valueQuantity/value', '1.50'], ['/component/1/valueQuantity/value', '3.0'], ['/valueQuantity/value', '132.0']]),
    );
    expect(apply([{ op: 'copy', from: '/component/0/valueQuantity', path: '/valueQuantity' }])).toEqual(
      new Map([['/component/0/valueQuantity/value', '1.50'], ['/component/2/valueQuantity/value', '3.0'], ['/valueQuantity/value', '1.50']]),
    );
    expect(apply([{ op: 'replace', path: '/valueQuantity/value', value: 131 }])?.has('/valueQuantity/value')).toBe(false);
    // The patch's own lexemes (`/1/value…` of the document) land where its value goes.
    const own = new Map([['/1/value', '2.50'], ['/2/value/valueQuantity/value', '7.10']]);
    const patched = apply(
      [{ op: 'test', path: '/status', value: 'final' }, { op: 'replace', path: '/valueQuantity/value', value: 2.5 }, { op: 'add', path: '/component/1', value: { code: { text: 'x' }, valueQuantity: { value: 7.1 } } }],
      own,
    );
    expect(patched).toEqual(new Map([['/valueQuantity/value', '2.50'], ['/component/0/valueQuantity/value', '1.50'], ['/component/1/valueQuantity/value', '7.10'], ['/component/3/valueQuantity/value', '3.0']]));
  });

  it("a Bundle entry's Binary carries the patch in base64; other formats are refused", () => {
    expect(jsonPatchOfBinary({ resourceType: 'Binary', contentType: 'application/json-patch+json', data: b64([{ op: 'remove', path: '/status' }]) }, 32)).toEqual([{ op: 'remove', path: '/status' }]);
    expect(codeOf(() => jsonPatchOfBinary({ resourceType: 'Parameters', parameter: [] }, 32))).toBe(FhirRequestErrorCode.PatchFormatNotSupported);
    expect(codeOf(() => jsonPatchOfBinary({ resourceType: 'Binary', contentType: 'application/xml-patch+xml', data: b64([]) }, 32))).toBe(FhirRequestErrorCode.PatchFormatNotSupported);
    expect(codeOf(() => jsonPatchOfBinary({ resourceType: 'Binary', contentType: 'application/json-patch+json', data: '***' }, 32))).toBe(FhirRequestErrorCode.PatchMalformed);
    expect(codeOf(() => jsonPatchOfBinary({ resourceType: 'Patient' }, 32))).toBe(FhirRequestErrorCode.PatchMalformed);
  });
});
