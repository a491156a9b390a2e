import { overdue, type TriggerEvent } from './deadlines.js';
import { DocumentTypes } from '../../policy/domain/document-types.js';

const types = DocumentTypes.fromProfiles().all();
const T = new Date('2026-11-01T08:00:00Z');
const h = (n: number) => new Date(T.getTime() + n * 3_600_000);
const admission: TriggerEvent = { kind: 'admission', at: T, source: 'Encounter/e1' };
const deadlines = { 'admission-record': 24, 'first-progress-note': 8, 'operation-record': 24 };

describe('overdue (R-10)', () => {
  it('R-10: nothing is due before its deadline; missing after it, with hours late', () => {
    expect(overdue([admission], [], types, deadlines, h(7))).toEqual([]);
    expect(overdue([admission], [], types, deadlines, h(9))).toEqual([
      { docType: 'first-progress-note', event: 'admission', eventAt: T.toISOString(), eventSource: 'Encounter/e1', due: h(8).toISOString(), deadlineHours: 8, state: 'missing', hoursLate: 1 },
    ]);
  });

  it('R-10: a document written in time clears its deadline; one written late is listed as late with the document', () => {
    const docs = [
      { ref: 'Composition/a', docType: 'first-progress-note', written: h(7.5) },
      { ref: 'Composition/b', docType: 'admission-record', written: h(30) },
    ];
    expect(overdue([admission], docs, types, deadlines, h(40))).toEqual([
      expect.objectContaining({ docType: 'admission-record', state: 'late', document: 'Composition/b', hoursLate: 6 }),
    ]);
  });

  it('R-10: each operation needs its own record, written after it; types without a policy deadline are not checked', () => {
    const ops: TriggerEvent[] = [
      { kind: 'operation', at: h(0), source: 'Procedure/1' },
      { kind: 'operation', at: h(48), source: 'Procedure/2' },
    ];
    const docs = [{ ref: 'Composition/op1', docType: 'operation-record', written: h(10) }];
    expect(overdue(ops, docs, types, deadlines, h(100))).toEqual([expect.objectContaining({ eventSource: 'Procedure/2', state: 'missing', hoursLate: 28 })]);
    expect(overdue([{ kind: 'death', at: T, source: 'Patient/p' }], [], types, deadlines, h(1000))).toEqual([]);
  });
});
