import type { Composition, Resource } from '@medplum/fhirtypes';
import type { DocumentType } from '../../policy/domain/document-types.js';
import { CopyParts } from './copy-parts.js';
import { nothingToCopy, selectForCopy, versionRef, type CopyCandidate, type SelectionContext } from './copy-production.js';

const ADMISSION: DocumentType = { code: 'admission-record', display: 'Admission record', objectivity: 'objective' };
const PROGRESS: DocumentType = { code: 'daily-progress-note', display: 'Daily progress note', objectivity: 'subjective' };

const doc = (id: string, status: Composition['status'], signed = true): CopyCandidate => ({
  resource: {
    resourceType: 'Composition',
    id,
    meta: { versionId: '1' },
    status,
    type: { text: id },
    subject: { reference: 'Patient/p1' },
    date: '2026-01-01',
    author: [{ reference: 'Practitioner/d1' }],
    title: id,
    ...(signed ? { attester: [{ mode: 'legal' }] } : {}),
  } as Composition,
  version: 1,
});

/** Every candidate judged copyable, classified by its id. */
const context = (candidates: CopyCandidate[], extra: Partial<SelectionContext> = {}): SelectionContext => ({
  scope: { all: true },
  produced: new Set(),
  judged: new Map(candidates.map((c) => [versionRef(c.resource, c.version), undefined])),
  classify: (r: Resource) => (r.id?.startsWith('progress') ? [PROGRESS] : r.id?.startsWith('unknown') ? [] : [ADMISSION]),
  completion: (r, type) => CopyParts.fromProfiles().completion(r, type),
  ...extra,
});

describe('what a production copies (R-31, R-32)', () => {
  it('R-31/R-32: signed objective documents are copied pinned with their hash; unsigned ones wait; subjective and unknown ones are left out with the rule', () => {
    const candidates = [doc('admission', 'final'), doc('draft', 'preliminary', false), doc('unsigned', 'final', false), doc('progress', 'final'), doc('unknown', 'final'), doc('withdrawn', 'entered-in-error')];
    const selection = selectForCopy(candidates, context(candidates));
    expect(selection.manifest.map((m) => [m.id, m.version, m.documentType])).toEqual([['admission', 1, 'admission-record']]);
    expect(selection.manifest[0].sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(selection.included.map((r) => r.id)).toEqual(['admission']);
    expect(selection.pending).toEqual([
      { ref: 'Composition/draft', documentType: 'admission-record', reason: expect.stringContaining('not completed (preliminary)') },
      { ref: 'Composition/unsigned', documentType: 'admission-record', reason: expect.stringContaining('no legal attester') },
    ]);
    expect(selection.excluded).toEqual([
      { ref: 'Composition/progress', documentType: 'daily-progress-note', reason: expect.stringContaining('R-31') },
      { ref: 'Composition/unknown', reason: expect.stringContaining('document type not known') },
    ]);
  });

  it('R-07/R-44: a version the version rule refused is left out with its reason; one not judged (written since) is never copied unchecked', () => {
    const refused = doc('labelled', 'final');
    const late = doc('late', 'final');
    const judged = new Map([[versionRef(refused.resource, 1), 'not copyable by this office under the access policy (version 1: rule r)']]);
    const selection = selectForCopy([refused, late], context([], { judged }));
    expect(selection.manifest).toEqual([]);
    expect(selection.excluded).toEqual([
      { ref: 'Composition/labelled', reason: 'not copyable by this office under the access policy (version 1: rule r)' },
      { ref: 'Composition/late', reason: expect.stringContaining('produce again to copy it') },
    ]);
  });

  it('R-32: what earlier copies hold is not copied again; out-of-scope document types are skipped silently', () => {
    const candidates = [doc('admission', 'final'), doc('other', 'final')];
    const selection = selectForCopy(candidates, context(candidates, { produced: new Set(['Composition/admission']), scope: { documentTypes: ['discharge-record'] } }));
    expect(selection).toEqual({ manifest: [], included: [], pending: [], excluded: [] });
    expect(nothingToCopy('r1', selection, true)).toBe('Nothing of copy request r1 is ready to copy: everything completed was produced already');
    expect(nothingToCopy('r1', { ...selection, pending: [{ ref: 'Composition/x', reason: '' }] }, true)).toContain('pending until signed or final (R-32): Composition/x');
  });
});
