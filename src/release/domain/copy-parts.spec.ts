import type { DiagnosticReport, DocumentReference, Observation, Resource } from '@medplum/fhirtypes';
import { DocumentTypes } from '../../policy/domain/document-types.js';
import { referenceKey } from '../../copies/reference-key.js';
import { CopyParts, partClassifier, reportResults } from './copy-parts.js';
import { selectForCopy, versionRef, type CopyCandidate } from './copy-production.js';

const parts = CopyParts.fromProfiles();
const types = DocumentTypes.fromProfiles();
const V2_0074 = 'http://terminology.hl7.org/CodeSystem/v2-0074';
const OBS_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';

const observation = (id: string, category: string | undefined, status: Observation['status'] = 'final'): Observation => ({
  resourceType: 'Observation',
  id,
  status,
  ...(category ? { category: [{ coding: [{ system: OBS_CATEGORY, code: category }] }] } : {}),
  code: { coding: [{ system: 'http://loinc.org', code: '8310-5' }] },
  subject: { reference: 'Patient/p1' },
});
const report = (id: string, category: string | undefined, status: DiagnosticReport['status'] = 'final', result: string[] = []): DiagnosticReport => ({
  resourceType: 'DiagnosticReport',
  id,
  status,
  ...(category ? { category: [{ coding: [{ system: V2_0074, code: category }] }] } : {}),
  code: { text: id },
  result: result.map((reference) => ({ reference })),
});
const partOf = (r: Resource) => parts.entryOf(r)?.part;
const type = (code: string) => types.get(code) as NonNullable<ReturnType<DocumentTypes['get']>>;

describe('the objective parts of a record as structured resources (R-31)', () => {
  it('R-31: every part a structured entry names is an objective document type', () => {
    for (const code of parts.partCodes) expect({ code, objectivity: types.get(code)?.objectivity }).toEqual({ code, objectivity: 'objective' });
    expect(parts.resourceTypes).toEqual([
      'ChargeItem',
      'Consent',
      'DiagnosticReport',
      'ImagingStudy',
      'Invoice',
      'MedicationAdministration',
      'MedicationRequest',
      'Observation',
      'Procedure',
      'ServiceRequest',
    ]);
  });

  it('R-31: vital signs are the temperature chart, laboratory results test reports; reports by their category, any other report an examination report', () => {
    expect(partOf(observation('t', 'vital-signs'))).toBe('temperature-chart');
    expect(partOf(observation('l', 'laboratory'))).toBe('test-report');
    expect(partOf(observation('s', 'social-history'))).toBeUndefined();
    expect(partOf(observation('n', undefined))).toBeUndefined();
    expect(partOf(report('cbc', 'HM'))).toBe('test-report');
    expect(partOf(report('lab', 'LAB'))).toBe('test-report');
    expect(partOf(report('ct', 'CT'))).toBe('imaging-report');
    expect(partOf(report('rad', 'RAD'))).toBe('imaging-report');
    expect(partOf(report('sp', 'SP'))).toBe('pathology-report');
    expect(partOf(report('ecg', 'EC'))).toBe('test-report');
    expect(partOf(report('none', undefined))).toBe('test-report');
    for (const [resourceType, part] of [
      ['MedicationRequest', 'orders'],
      ['ServiceRequest', 'orders'],
      ['MedicationAdministration', 'orders'],
      ['Procedure', 'operation-record'],
      ['Consent', 'consent-form'],
      ['ChargeItem', 'cost-record'],
      ['Invoice', 'cost-record'],
      ['ImagingStudy', 'imaging-report'],
    ]) {
      expect([resourceType, partOf({ resourceType } as Resource)]).toEqual([resourceType, part]);
    }
    // Documents are classified by their document type, never by an entry.
    expect(partOf({ resourceType: 'Composition' } as Resource)).toBeUndefined();
  });

  it('R-31: a hospital\'s entries are tried first (policy copyRequests.parts)', () => {
    const own = CopyParts.fromProfiles([{ part: 'nursing-record', resourceType: 'Observation', category: [{ system: OBS_CATEGORY, code: 'survey' }], complete: ['final'] }]);
    expect(own.entryOf(observation('braden', 'survey'))?.part).toBe('nursing-record');
    expect(own.resourceTypes).toEqual(parts.resourceTypes);
  });

  it('R-31: a result with no category of its own belongs to the part of the report that names it, however the reference is written', () => {
    const candidates = [report('cbc', 'HM', 'final', ['Observation/wbc', 'http://his.example/fhir/Observation/hb/_history/2']), report('ct', 'CT', 'final', ['Observation/finding'])];
    expect([...reportResults(candidates, partOf)]).toEqual([
      ['Observation/wbc', 'test-report'],
      ['Observation/hb', 'test-report'],
      ['Observation/finding', 'imaging-report'],
    ]);
    expect(referenceKey('urn:uuid:1b4e')).toBeUndefined();
    expect(referenceKey('#contained')).toBeUndefined();
  });
});

describe('what is complete (R-32)', () => {
  const state = (r: Resource, code: string) => parts.completion(r, type(code));

  it('R-32: results and reports are complete once final, amended or corrected; preliminary ones wait', () => {
    expect(state(observation('t', 'vital-signs'), 'temperature-chart')).toEqual({ state: 'complete' });
    expect(state(observation('t', 'vital-signs', 'amended'), 'temperature-chart')).toEqual({ state: 'complete' });
    expect(state(observation('t', 'vital-signs', 'preliminary'), 'temperature-chart')).toEqual({ state: 'pending', reason: expect.stringContaining('not completed (preliminary)') });
    expect(state(report('cbc', 'HM', 'final'), 'test-report')).toEqual({ state: 'complete' });
    expect(state(report('cbc', 'HM', 'partial'), 'test-report')).toMatchObject({ state: 'pending', reason: expect.stringContaining('R-32') });
  });

  it('R-32: orders are copied as they stand once issued; a draft waits; a cancelled one never took effect and is said so', () => {
    const order = (status: string) => ({ resourceType: 'MedicationRequest', id: 'm', status, intent: 'order', subject: {} }) as Resource;
    for (const status of ['active', 'on-hold', 'completed', 'stopped']) expect(state(order(status), 'orders')).toEqual({ state: 'complete' });
    expect(state(order('draft'), 'orders').state).toBe('pending');
    expect(state(order('cancelled'), 'orders')).toEqual({ state: 'void', reason: expect.stringContaining('never took effect') });
  });

  it('R-32: a charge is complete once billed, an invoice once issued or balanced', () => {
    const of = (resourceType: string, status: string) => ({ resourceType, id: 'x', status }) as Resource;
    expect(state(of('ChargeItem', 'billed'), 'cost-record').state).toBe('complete');
    expect(state(of('ChargeItem', 'billable'), 'cost-record').state).toBe('pending');
    expect(state(of('ChargeItem', 'aborted'), 'cost-record').state).toBe('void');
    expect(state(of('Invoice', 'issued'), 'cost-record').state).toBe('complete');
    expect(state(of('Invoice', 'balanced'), 'cost-record').state).toBe('complete');
    expect(state(of('Invoice', 'draft'), 'cost-record').state).toBe('pending');
  });

  it('R-32: a lab report the HIS sends as a DocumentReference is complete on its status (no signature of ours to wait for); a clinician\'s document still needs its signature (R-13)', () => {
    const labDoc = (extra: Partial<DocumentReference>): DocumentReference => ({ resourceType: 'DocumentReference', id: 'd', status: 'current', content: [], ...extra });
    expect(state(labDoc({ docStatus: 'final' }), 'test-report')).toEqual({ state: 'complete' });
    expect(state(labDoc({}), 'imaging-report')).toEqual({ state: 'complete' });
    expect(state(labDoc({ docStatus: 'preliminary' }), 'test-report')).toMatchObject({ state: 'pending', reason: expect.stringContaining('preliminary') });
    expect(state(labDoc({ status: 'superseded' }), 'test-report').state).toBe('pending');
    expect(state(labDoc({ docStatus: 'final' }), 'discharge-record')).toEqual({ state: 'pending', reason: expect.stringContaining('produced once signed (R-32, R-13)') });
    expect(state(labDoc({ docStatus: 'final', authenticator: { reference: 'Practitioner/d1' } }), 'discharge-record')).toEqual({ state: 'complete' });
  });

  it('R-31/R-32: a selection copies final structured records under their part, keeps preliminary ones pending, lists void ones and ones of no part', () => {
    const records: Resource[] = [
      observation('temp', 'vital-signs'),
      report('cbc', 'HM', 'final', ['Observation/wbc']),
      { ...observation('wbc', undefined), code: { text: 'WBC' } },
      report('lft', 'CH', 'preliminary'),
      { resourceType: 'MedicationRequest', id: 'void', status: 'cancelled', intent: 'order', subject: {} } as Resource,
      observation('smoking', 'social-history'),
    ];
    const selection = select(records);
    expect(selection.manifest.map((m) => [`${m.type}/${m.id}`, m.documentType])).toEqual([
      ['Observation/temp', 'temperature-chart'],
      ['DiagnosticReport/cbc', 'test-report'],
      ['Observation/wbc', 'test-report'],
    ]);
    expect(selection.pending).toEqual([{ ref: 'DiagnosticReport/lft', documentType: 'test-report', reason: expect.stringContaining('preliminary') }]);
    expect(selection.excluded).toEqual([
      { ref: 'MedicationRequest/void', documentType: 'orders', reason: expect.stringContaining('cancelled') },
      { ref: 'Observation/smoking', reason: expect.stringContaining('no objective part R-31 lists') },
    ]);
  });

  it('R-31/R-44: a result takes its report\'s part only from a report the copy may hold: a refused (labelled, withheld) or void report lends none, and its uncategorised result is left out as of no part', () => {
    const result = (id: string): Resource => ({ ...observation(id, undefined), code: { text: id } });
    const records: Resource[] = [
      report('refused', 'HM', 'final', ['Observation/r1']),
      result('r1'),
      report('cancelled', 'HM', 'cancelled', ['Observation/r2']),
      result('r2'),
      report('wrong', 'HM', 'entered-in-error', ['Observation/r3']),
      result('r3'),
      report('allowed', 'HM', 'final', ['Observation/r4']),
      result('r4'),
    ];
    const selection = select(records, new Map([['DiagnosticReport/refused', 'confidentiality label R: not covered by this office\'s rule (R-07)']]));
    expect(selection.manifest.map((m) => [`${m.type}/${m.id}`, m.documentType])).toEqual([
      ['DiagnosticReport/allowed', 'test-report'],
      ['Observation/r4', 'test-report'],
    ]);
    expect(selection.excluded.map((e) => [e.ref, e.reason])).toEqual([
      ['DiagnosticReport/refused', expect.stringContaining('R-07')],
      ['Observation/r1', expect.stringContaining('no objective part R-31 lists')],
      ['DiagnosticReport/cancelled', expect.stringContaining('never took effect')],
      ['Observation/r2', expect.stringContaining('no objective part R-31 lists')],
      ['Observation/r3', expect.stringContaining('no objective part R-31 lists')],
    ]);
    expect(selection.pending).toEqual([]);
  });
});

/** The selection of `records` (version 1 each), every one judged copyable save those `refused` names, classified as a production does. */
function select(records: readonly Resource[], refused: ReadonlyMap<string, string> = new Map()) {
  const candidates: CopyCandidate[] = records.map((resource) => ({ resource, version: 1 }));
  const judged = new Map(candidates.map((c) => [versionRef(c.resource, 1), refused.get(`${c.resource.resourceType}/${c.resource.id}`)]));
  return selectForCopy(candidates, {
    scope: { all: true },
    produced: new Set(),
    judged,
    classify: partClassifier(parts, types, candidates, judged),
    completion: (r, t) => parts.completion(r, t),
  });
}
