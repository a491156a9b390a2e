import { maskIdNumber } from '../common/id-masking.js';
import type { Encounter, Organization, Patient, Resource } from '@medplum/fhirtypes';
import { pdfPages } from '../../test/support/pdf-text.js';
import type { PatientRecordIndex, RecordRef } from '../store/patient-record-index.port.js';
import { ageOf, isResidentIdNumber, NOT_RECORDED, patientBlock, patientBlockSection, patientOnPaper, type PatientBlock } from './patient-block.js';
import { renderPdf } from './pdf-renderer.js';

const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';
const HOSPITAL_MRN = 'urn:oid:2.16.156.10011.1.13';
const OTHER_MRN = 'urn:chartwarden:branch-mrn';
const SHANGHAI = { timeZone: 'Asia/Shanghai', recordNumberSystems: [] as string[] };

const patient: Patient = {
  resourceType: 'Patient',
  id: 'p1',
  name: [{ use: 'old', text: '王晓明' }, { use: 'official', family: '王', given: ['小明'] }],
  gender: 'male',
  birthDate: '1958-03-01',
  identifier: [
    { type: { coding: [{ system: V2_0203, code: 'MR' }] }, value: 'MR-TYPED' },
    { system: OTHER_MRN, value: 'BR-77' },
    { system: HOSPITAL_MRN, value: 'BA-2026-0042' },
    { system: 'urn:oid:2.16.156.10011.1.3', value: '11010519491231002X' },
  ],
};
const encounter = (id: string, subject: string, start: string, end: string | undefined, department?: string, status: Encounter['status'] = 'finished'): Encounter => ({
  resourceType: 'Encounter',
  id,
  status,
  class: { code: 'IMP' },
  subject: { reference: `Patient/${subject}` },
  period: { start, ...(end ? { end } : {}) },
  ...(department ? { serviceProvider: { reference: `Organization/${department}` } } : {}),
});
const organizations: Organization[] = [
  { resourceType: 'Organization', id: 'cardio', name: '心血管内科' },
  { resourceType: 'Organization', id: 'resp', name: '呼吸内科' },
  { resourceType: 'Organization', id: 'nameless' },
];

/** A PatientRecordIndex over `stored`, recording every record asked for. */
function indexOf(stored: readonly Resource[]) {
  const asked: string[] = [];
  const index = {
    encountersOfPatient: async (p: string) =>
      stored
        .filter((r): r is Encounter => r.resourceType === 'Encounter' && r.subject?.reference === `Patient/${p}`)
        .map((e) => e.id as string)
        .sort(),
    readMany: async (refs: readonly RecordRef[]) => {
      asked.push(...refs.map((r) => `${r.type}/${r.id}`));
      return stored.filter((r) => refs.some((x) => x.type === r.resourceType && x.id === r.id)).map((resource) => ({ resource, versionId: '1', lastUpdated: '2026-01-01T00:00:00Z' }));
    },
  } as unknown as PatientRecordIndex;
  return { index, asked };
}

describe('the patient block of a paper (issue #18, R-31, R-33, R-40)', () => {
  const stays = [
    // Admitted 2026-02-27 21:00 UTC: 2026-02-28 in Shanghai, still 2026-02-27 in Berlin.
    encounter('e-cardio', 'p1', '2026-02-27T21:00:00Z', '2026-03-05T02:00:00Z', 'cardio'),
    encounter('e-resp', 'p1', '2026-03-06T01:00:00Z', '2026-03-10T16:30:00Z', 'resp'),
    encounter('e-foreign', 'p2', '2019-01-01T08:00:00+08:00', '2019-01-02T08:00:00+08:00', 'resp'),
  ];
  const at = new Date('2026-03-11T00:00:00Z');

  it('R-33: name (official, Han order), gender, age, 病案号 of the first policy system, departments and the span of the visits, the ID number masked', async () => {
    const { index } = indexOf([patient, ...stays, ...organizations]);
    const block = await patientBlock(index, 'p1', ['e-resp', 'e-cardio'], { at, ...SHANGHAI, recordNumberSystems: [HOSPITAL_MRN, OTHER_MRN] });
    expect(block).toEqual({
      name: '王小明',
      gender: '男',
      age: '68岁',
      recordNumber: { label: '病案号', value: 'BA-2026-0042' },
      departments: ['心血管内科', '呼吸内科'],
      admitted: '2026-02-28',
      discharged: '2026-03-11',
      idNumber: '****002X',
    } satisfies PatientBlock);
  });

  it('the 病案号: policy systems in their order, then an identifier typed MR, then the record id labelled 患者ID; an old identifier is not the number', async () => {
    const { index } = indexOf([patient]);
    const numberWith = async (recordNumberSystems: string[], p: Patient = patient) =>
      (await patientBlock(indexOf([p]).index, 'p1', [], { at, timeZone: 'Asia/Shanghai', recordNumberSystems })).recordNumber;
    expect(await numberWith([OTHER_MRN, HOSPITAL_MRN])).toEqual({ label: '病案号', value: 'BR-77' });
    expect(await numberWith(['urn:not-held', HOSPITAL_MRN])).toEqual({ label: '病案号', value: 'BA-2026-0042' });
    expect(await numberWith([])).toEqual({ label: '病案号', value: 'MR-TYPED' });
    const untyped = { ...patient, identifier: patient.identifier?.slice(1).map((i) => (i.system === HOSPITAL_MRN ? { ...i, use: 'old' as const } : i)) };
    expect(await numberWith([HOSPITAL_MRN], untyped)).toEqual({ label: '患者ID', value: 'p1' });
    expect((await patientBlock(index, 'p-unknown', [], { at, ...SHANGHAI })).recordNumber).toEqual({ label: '患者ID', value: 'p-unknown' });
  });

  it('R-30: a visit of another patient named in the scope is neither read nor printed; the departments are read through the index', async () => {
    const { index, asked } = indexOf([patient, ...stays, ...organizations]);
    const { block, stays: own } = await patientOnPaper(index, 'p1', ['e-foreign', 'e-resp', 'e-resp'], { at, ...SHANGHAI });
    expect(asked).toEqual(['Patient/p1', 'Encounter/e-resp', 'Organization/resp']);
    expect(own).toEqual([{ id: 'e-resp', admitted: '2026-03-06', discharged: '2026-03-11', department: '呼吸内科' }]);
    expect(block).toMatchObject({ departments: ['呼吸内科'], admitted: '2026-03-06', discharged: '2026-03-11' });
  });

  it('days are local days in the policy zone: the same visits read in Berlin begin and end a day earlier', async () => {
    const { index } = indexOf([patient, ...stays, ...organizations]);
    const block = await patientBlock(index, 'p1', ['e-cardio', 'e-resp'], { at, timeZone: 'Europe/Berlin', recordNumberSystems: [] });
    expect([block.admitted, block.discharged]).toEqual(['2026-02-27', '2026-03-10']);
  });

  it('a visit still open leaves the discharge unprinted; a department without a name falls back to the reference display, else is left out', async () => {
    const open = encounter('e-open', 'p1', '2026-03-09T02:00:00Z', undefined, 'nameless', 'in-progress');
    const shown = { ...encounter('e-shown', 'p1', '2026-03-01T02:00:00Z', '2026-03-02T02:00:00Z'), serviceProvider: { display: '急诊科' } };
    const { index } = indexOf([patient, ...stays, open, shown, ...organizations]);
    const block = await patientBlock(index, 'p1', ['e-open', 'e-cardio', 'e-shown'], { at, ...SHANGHAI });
    expect(block).toMatchObject({ departments: ['心血管内科', '急诊科'], admitted: '2026-02-28' });
    expect(block.discharged).toBeUndefined();
  });

  it('missing data prints as labelled placeholders, never as nothing: a patient with no name, gender, birth date or visits', async () => {
    const { index } = indexOf([{ resourceType: 'Patient', id: 'bare' }]);
    const block = await patientBlock(index, 'bare', [], { at, ...SHANGHAI });
    expect(block).toEqual({ name: '', recordNumber: { label: '患者ID', value: 'bare' }, departments: [] });
    const section = patientBlockSection(block);
    expect(section.lines).toEqual([
      [`姓名 ${NOT_RECORDED}`, `性别 ${NOT_RECORDED}`, `年龄 ${NOT_RECORDED}`, '患者ID bare'].join('\u3000\u3000'),
      [`科室 ${NOT_RECORDED}`, `入院日期 ${NOT_RECORDED}`, `出院日期 ${NOT_RECORDED}`].join('\u3000\u3000'),
    ]);
  });

  it('the printed block reads back from the PDF as a hospital prints it', async () => {
    const { index } = indexOf([patient, ...stays, ...organizations]);
    const block = await patientBlock(index, 'p1', ['e-cardio', 'e-resp'], { at, ...SHANGHAI, recordNumberSystems: [HOSPITAL_MRN] });
    const [page] = await pdfPages((await renderPdf({ title: '病历复印件', reference: 'CR-1', createdAt: at, sections: [patientBlockSection(block)] })).bytes);
    const flat = page.replace(/\s+/g, '');
    for (const t of ['患者信息', '姓名王小明', '性别男', '年龄68岁', '病案号BA-2026-0042', '科室心血管内科、呼吸内科', '入院日期2026-02-28', '出院日期2026-03-11', '身份证号****002X']) expect(flat).toContain(t);
    expect(flat).not.toContain('11010519491231002X');
  });
});

describe('age as a Chinese hospital writes it', () => {
  const tz = 'Asia/Shanghai';
  const age = (birthDate: string, at: string, extra: Partial<Patient> = {}) => ageOf({ birthDate, ...extra }, new Date(at), tz);

  it('whole years from the birthday on, reckoned on the local day of the zone', () => {
    // 2026-02-28 16:00 UTC is already 1 March in Shanghai: the 68th birthday.
    expect(age('1958-03-01', '2026-02-28T15:59:00Z')).toBe('67岁');
    expect(age('1958-03-01', '2026-02-28T16:00:00Z')).toBe('68岁');
    expect(ageOf({ birthDate: '1958-03-01' }, new Date('2026-02-28T16:00:00Z'), 'Europe/Berlin')).toBe('67岁');
    // Born on 29 February: a year older on 1 March in a common year.
    expect(age('2024-02-29', '2025-02-28T04:00:00Z')).toBe('11月');
    expect(age('2024-02-29', '2025-03-01T04:00:00Z')).toBe('1岁');
  });

  it('under a year in months, under a month in days; the day of birth is 0天', () => {
    expect(age('2025-12-15', '2026-03-14T04:00:00Z')).toBe('2月');
    expect(age('2025-12-15', '2026-03-15T04:00:00Z')).toBe('3月');
    expect(age('2026-03-01', '2026-03-13T04:00:00Z')).toBe('12天');
    expect(age('2026-03-13', '2026-03-13T04:00:00Z')).toBe('0天');
  });

  it('a deceased patient is aged at death; a partial birth date prints the range it allows; none, or a future one, prints nothing', () => {
    expect(age('1950-06-01', '2026-03-01T00:00:00Z', { deceasedDateTime: '2020-05-31T10:00:00+08:00' })).toBe('69岁');
    expect(age('1958', '2026-03-01T04:00:00Z')).toBe('67~68岁');
    expect(age('1958-01', '2026-03-01T04:00:00Z')).toBe('68岁');
    expect(ageOf({}, new Date(), tz)).toBeUndefined();
    expect(age('2030-01-01', '2026-03-01T04:00:00Z')).toBeUndefined();
    expect(age('not-a-date', '2026-03-01T04:00:00Z')).toBeUndefined();
  });
});

describe('ID numbers on papers', () => {
  it('a resident ID number is recognised by its check character, and printed masked the one way ChartWarden masks (****1234)', () => {
    expect(isResidentIdNumber('11010519491231002X')).toBe(true);
    expect(isResidentIdNumber('110105194912310021')).toBe(false);
    expect(isResidentIdNumber('BA-2026-0042')).toBe(false);
    expect(maskIdNumber('11010519491231002X')).toBe('****002X');
    expect(maskIdNumber('E12345678')).toBe('****5678');
    expect(maskIdNumber('1234')).toBe('****');
  });
});
