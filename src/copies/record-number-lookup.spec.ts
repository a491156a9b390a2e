import type { Identifier, Patient } from '@medplum/fhirtypes';
import type { PatientRecordIndex, RecordRef } from '../store/patient-record-index.port.js';
import { StoreError, StoreErrorCode } from '../store/store.errors.js';
import { recordNumber } from './patient-block.js';
import { isRecordNumber, patientsWithRecordNumber } from './record-number-lookup.js';

const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';
const MRN = 'urn:hospital:mrn';
const ID_CARD = 'urn:oid:2.16.156.10011.1.3';
const MR_TYPE = { coding: [{ system: V2_0203, code: 'MR' }] };

/** An index over `patients` answering only what the lookup asks: candidates by identifier value (sorted, paged) and reads. */
function indexOf(patients: Patient[]): PatientRecordIndex & { pages: number } {
  const byId = new Map(patients.map((p) => [p.id as string, p]));
  const index = {
    pages: 0,
    async patientsWithIdentifierValue(value: string, page: { limit: number; after?: string }) {
      index.pages++;
      const ids = patients.filter((p) => (p.identifier ?? []).some((i) => i.value === value)).map((p) => p.id as string);
      return ids.sort().filter((id) => page.after === undefined || id > page.after).slice(0, page.limit);
    },
    async readMany(refs: readonly RecordRef[]) {
      return refs.flatMap((r) => (byId.has(r.id) ? [{ resource: byId.get(r.id) as Patient, versionId: '1', lastUpdated: '2026-01-01T00:00:00Z' }] : []));
    },
  };
  return index as unknown as PatientRecordIndex & { pages: number };
}

const patient = (id: string, ...identifier: Identifier[]): Patient => ({ resourceType: 'Patient', id, identifier });

describe('the patients a 病案号 names (R-20: the access report by recordNumber)', () => {
  it('an identifier is a 病案号 exactly when the papers would print it as one', () => {
    const cases: Identifier[] = [
      { system: MRN, value: 'A1' },
      { system: 'urn:other', value: 'A2', type: MR_TYPE },
      { value: 'A3', type: MR_TYPE },
      { system: ID_CARD, value: '11010519491231002X' },
      { system: MRN, value: 'A4', use: 'old' },
      { system: 'urn:other', value: 'A5', type: { coding: [{ system: 'urn:not-v2', code: 'MR' }] } },
    ];
    expect(cases.map((i) => isRecordNumber(i, [MRN]))).toEqual([true, true, true, false, false, false]);
    for (const i of cases) expect(isRecordNumber(i, [MRN])).toBe(recordNumber({ resourceType: 'Patient', identifier: [i] }, 'x', [MRN]).label === '病案号');
    // Without the policy's system, only the MR type says so.
    expect(isRecordNumber({ system: MRN, value: 'A1' }, [])).toBe(false);
  });

  it('keeps the patients holding the value in a 病案号, not in an ID-card number, an old number, or another identifier', async () => {
    const index = indexOf([
      patient('p1', { system: MRN, value: 'X' }),
      patient('p2', { system: ID_CARD, value: 'X' }),
      patient('p3', { system: MRN, value: 'X', use: 'old' }, { system: MRN, value: 'Y' }),
      patient('p4', { system: 'urn:branch', value: 'X', type: MR_TYPE }),
      patient('p5', { system: ID_CARD, value: 'X' }, { system: MRN, value: 'Z' }),
    ]);
    expect(await patientsWithRecordNumber(index, 'X', [MRN])).toEqual(['p1', 'p4']);
    expect(await patientsWithRecordNumber(index, 'X', [MRN], 1)).toEqual(['p1']);
    expect(await patientsWithRecordNumber(index, 'Y', [MRN])).toEqual(['p3']);
    expect(await patientsWithRecordNumber(index, 'nobody', [MRN])).toEqual([]);
  });

  it('pages through candidates until enough are found, and refuses (400 too-costly) past a thousand candidates', async () => {
    const idCards = Array.from({ length: 250 }, (_, n) => patient(`a${String(n).padStart(4, '0')}`, { system: ID_CARD, value: 'X' }));
    const withOne = indexOf([...idCards, patient('z1', { system: MRN, value: 'X' })]);
    expect(await patientsWithRecordNumber(withOne, 'X', [MRN])).toEqual(['z1']);
    expect(withOne.pages).toBe(3);

    const crowd = indexOf(Array.from({ length: 1200 }, (_, n) => patient(`c${String(n).padStart(5, '0')}`, { system: ID_CARD, value: 'X' })));
    const refused = await patientsWithRecordNumber(crowd, 'X', [MRN]).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(StoreError);
    expect(refused).toMatchObject({ code: StoreErrorCode.SearchTooCostly, expression: ['recordNumber'] });
    expect((refused as StoreError).answer).toMatchObject({ status: 400 });
    expect(crowd.pages).toBe(10);
  });
});
