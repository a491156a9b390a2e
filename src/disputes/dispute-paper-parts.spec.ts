import type { Composition, Encounter, Observation } from '@medplum/fhirtypes';
import { DocumentTypes } from '../policy/domain/document-types.js';
import type { PatientWitness } from './domain/dispute-case.js';
import { pagesText } from './sealed-copy.papers.js';
import { hospitalSideText, patientSideText, practitionerOnPaper, printedTime, printedRecordDate, recordName, type PaperSettings } from './dispute-paper-parts.js';

const settings: PaperSettings = {
  hospitalName: '示例医院',
  stamp: { sealed: '病历封存专用章', colour: '#d7261e' },
  timeZone: 'Asia/Shanghai',
  documentTypes: DocumentTypes.fromProfiles(),
  roleTitles: new Map([['medical-affairs', '医务处']]),
};

describe('the parts of a dispute paper (R-40, R-43)', () => {
  it('names a record by its document type in Chinese, else by its type, with its own title or item when that says more', () => {
    const discharge: Composition = { resourceType: 'Composition', status: 'final', type: { coding: [{ system: 'http://loinc.org', code: '18842-5' }] }, date: '2026-03-01', author: [], title: '出院记录' };
    expect(recordName(discharge, settings)).toBe('出院记录');
    expect(recordName({ ...discharge, type: { coding: [{ system: 'http://loinc.org', code: '11506-3' }] }, title: '病程记录' }, settings)).toBe('日常病程记录');
    const lab: Observation = { resourceType: 'Observation', status: 'final', code: { text: '血红蛋白' } };
    expect(recordName(lab, settings)).toBe('检验检查结果（血红蛋白）');
    // A code without words is not printed as a system URL.
    expect(recordName({ ...lab, code: { coding: [{ system: 'http://loinc.org', code: '718-7' }] } }, settings)).toBe('检验检查结果');
    const stay: Encounter = { resourceType: 'Encounter', status: 'finished', class: { code: 'IMP' } };
    expect(recordName(stay, settings)).toBe('就诊记录（住院）');
    expect(recordName({ resourceType: 'Basic', code: {} }, settings)).toBe('Basic');
  });

  it("dates a record by its own date in the hospital's zone, a visit by its days", () => {
    expect(printedRecordDate({ resourceType: 'Observation', status: 'final', code: {}, effectiveDateTime: '2026-02-28T16:30:00Z' }, 'Asia/Shanghai')).toBe('2026-03-01 00:30');
    expect(printedRecordDate({ resourceType: 'Observation', status: 'final', code: {}, effectiveDateTime: '2026-02-28T16:30:00Z' }, 'UTC')).toBe('2026-02-28 16:30');
    expect(printedRecordDate({ resourceType: 'Observation', status: 'final', code: {}, issued: '2026-03-02T01:00:00+08:00' }, 'Asia/Shanghai')).toBe('2026-03-02 01:00');
    expect(printedRecordDate({ resourceType: 'Composition', status: 'final', type: {}, date: '2026-03-01', author: [], title: 't' }, 'Asia/Shanghai')).toBe('2026-03-01');
    expect(printedRecordDate({ resourceType: 'Encounter', status: 'finished', class: {}, period: { start: '2026-02-26T17:00:00Z', end: '2026-03-01T02:00:00Z' } }, 'Asia/Shanghai')).toBe(
      '2026-02-27 至 2026-03-01',
    );
    expect(printedRecordDate({ resourceType: 'Provenance', target: [], recorded: '2026-03-01T00:29:15Z', agent: [] }, 'Asia/Shanghai')).toBe('2026-03-01 08:29');
    expect(printedRecordDate({ resourceType: 'Observation', status: 'final', code: {} }, 'Asia/Shanghai')).toBeUndefined();
  });

  it('prints people by name and role, the patient side with its relationship in Chinese and its ID masked, times with their zone', () => {
    const names = new Map([['Practitioner/w', '李卫东']]);
    expect(hospitalSideText({ practitioner: 'Practitioner/w', roles: ['medical-affairs', 'custom'] }, names, settings)).toBe('李卫东（医务处、custom）');
    expect(practitionerOnPaper('Practitioner/nobody', names)).toBe('nobody（姓名未登记）');
    const spouse: PatientWitness = { name: '王小明', relationship: 'spouse', idDocument: { type: 'resident-id-card', number: '110101199001011234' }, confirmed: true };
    expect(patientSideText(spouse)).toBe('王小明（配偶），居民身份证 ****1234');
    expect(printedTime(new Date('2026-03-01T00:29:15Z'), 'Asia/Shanghai')).toBe('2026-03-01 08:29（北京时间）');
    expect(printedTime(new Date('2026-03-01T00:29:15Z'), 'Europe/London')).toBe('2026-03-01 00:29（Europe/London）');
  });

  it('states how many pages a record takes and where', () => {
    expect(pagesText({ first: 3, count: 1 })).toBe('1（第3页）');
    expect(pagesText({ first: 3, count: 2 })).toBe('2（第3–4页）');
  });
});
