import type { Encounter, Observation, Patient, Resource } from '@medplum/fhirtypes';
import { pdfPages } from '../../test/support/pdf-text.js';
import type { PatientRecordIndex, RecordRef } from '../store/patient-record-index.port.js';
import { chartPatient, MAX_CHART_SHEETS, temperatureChartSections, type ChartPatient } from './chart-sheets.js';
import type { Paper } from './paper.js';
import { patientOnPaper } from './patient-block.js';
import { recordEncounters } from './reference-key.js';
import { renderPdf } from './pdf-renderer.js';
import type { PdfSection } from './pdf-renderer.js';

const LOINC = 'http://loinc.org';
const temperature = (id: string, at: string, value: number, encounter?: string): Observation => ({
  resourceType: 'Observation',
  id,
  meta: { versionId: '1' },
  status: 'final',
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
  code: { coding: [{ system: LOINC, code: '8310-5' }], text: '体温' },
  subject: { reference: 'Patient/p1' },
  ...(encounter ? { encounter: { reference: `Encounter/${encounter}` } } : {}),
  effectiveDateTime: at,
  valueQuantity: { value, unit: '°C', system: 'http://unitsofmeasure.org', code: 'Cel' },
});
const patient = (stays: [string, string][]): ChartPatient => ({ header: { name: '王小明', number: { label: '病案号', value: 'MR-7' } }, stays: new Map(stays.map(([id, admitted]) => [id, { admitted }])) });
const paper: Paper = { timeZone: 'Asia/Shanghai', names: new Map() };
const render = (sections: PdfSection[]) => renderPdf({ title: '病历复印件', reference: 'CR-1', createdAt: new Date('2026-03-05T00:00:00Z'), sections });
const sheets = (sections: PdfSection[]) => sections.filter((s) => s.newPage).map((s) => s.heading);

describe('the temperature chart: a chart per stay, weeks with readings, a bounded copy (R-31)', () => {
  it('R-31: readings dated 0001 and 9999 give a sheet each, not every week between, and render quickly', async () => {
    const readings = [temperature('t-old', '0001-01-01T02:00:00Z', 36.8), temperature('t-far', '9999-12-30T02:00:00Z', 37.1), temperature('t-beyond', '9999-12-31T23:00:00Z', 37.4)];
    const started = Date.now();
    const sections = temperatureChartSections(readings, patient([]), paper);
    const pdf = await render(sections);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(sheets(sections)).toEqual(['体温单 Temperature chart · 第 1 周 0001-01-01 起', expect.stringMatching(/^体温单 Temperature chart · 第 \d+ 周 9999-12-\d\d 起$/)]);
    expect(pdf.pages).toBeLessThanOrEqual(4);
    // 23:00 UTC on 31 Dec 9999 is in year 10000 in Beijing: no day of the chart, so it is listed, not dropped.
    const text = (await pdfPages(pdf.bytes)).join('').replace(/\s+/g, '');
    expect(text).toContain('未能标绘的体征');
    expect(text).toContain('Observation/t-beyondv1');
  });

  it('R-31: two stays a year apart are two charts, each from its admission day, 住院天数 counted from it; a week without readings is no sheet', async () => {
    const readings = [
      temperature('a1', '2024-03-02T02:00:00Z', 38.2, 'e-2024'),
      temperature('a2', '2024-03-20T02:00:00Z', 37.0, 'e-2024'),
      temperature('b1', '2025-03-12T02:00:00Z', 36.9, 'e-2025'),
    ];
    const sections = temperatureChartSections(readings, patient([['e-2024', '2024-03-01'], ['e-2025', '2025-03-10']]), paper);
    // 2024-03-20 is in the stay's third week; its second week has no reading and prints no sheet.
    expect(sheets(sections)).toEqual([
      '体温单 Temperature chart · 入院 2024-03-01 · 第 1 周 2024-03-01 起',
      '体温单 Temperature chart · 入院 2024-03-01 · 第 3 周 2024-03-15 起',
      '体温单 Temperature chart · 入院 2025-03-10 · 第 1 周 2025-03-10 起',
    ]);
    const pages = (await pdfPages((await render(sections)).bytes)).map((p) => p.replace(/\s+/g, ''));
    expect(pages).toHaveLength(3);
    expect(pages[2]).toContain('入院日期2025-03-10');
    expect(pages[2]).toContain('病案号MR-7');
    // Each day's column: the date, the day of the stay, the slots' hours.
    expect(pages[2]).toContain('2025-03-101261014');
    expect(pages[2]).toContain('2025-03-167261014');
    expect(pages[1]).toContain('2024-03-1515261014');
    expect(pages[2]).not.toContain('376');
  });

  it(`R-31: a copy prints at most ${MAX_CHART_SHEETS} sheets; the readings of later weeks are listed one by one, never dropped`, async () => {
    const weekly = Array.from({ length: MAX_CHART_SHEETS + 3 }, (_, w) => temperature(`w${w}`, new Date(Date.parse('2025-01-01T02:00:00Z') + w * 7 * 86_400_000).toISOString(), 37, 'e1'));
    const sections = temperatureChartSections(weekly, patient([['e1', '2025-01-01']]), paper);
    expect(sheets(sections)).toHaveLength(MAX_CHART_SHEETS);
    const listed = sections[sections.length - 1];
    expect(listed.heading).toBe('体温单：未能标绘的体征 Readings not plotted');
    const text = (await pdfPages((await render([listed])).bytes)).join('').replace(/\s+/g, '');
    for (const w of [MAX_CHART_SHEETS, MAX_CHART_SHEETS + 1, MAX_CHART_SHEETS + 2]) expect(text).toContain(`Observation/w${w}v1`);
    expect(text).not.toContain(`Observation/w${MAX_CHART_SHEETS - 1}v1`);
    expect(text).toContain(`以${MAX_CHART_SHEETS}页为限`);
  });
});

describe('the chart\'s patient block (R-30, R-31)', () => {
  const stored: Resource[] = [
    { resourceType: 'Patient', id: 'p1', identifier: [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] }, value: 'BA-2025-0042' }], gender: 'male', name: [{ text: '王小明' }], birthDate: '1990-05-01' } as Patient,
    { resourceType: 'Encounter', id: 'own', status: 'finished', class: { code: 'IMP' }, subject: { reference: 'Patient/p1' }, period: { start: '2025-03-09T20:00:00Z' }, serviceProvider: { reference: 'Organization/resp' } } as Encounter,
    { resourceType: 'Encounter', id: 'other', status: 'finished', class: { code: 'IMP' }, subject: { reference: 'Patient/p2' }, period: { start: '2019-01-01T08:00:00+08:00' } } as Encounter,
    { resourceType: 'Organization', id: 'resp', name: '呼吸内科' },
  ];
  const asked: RecordRef[] = [];
  const records = {
    encountersOfPatient: async (p: string) => (p === 'p1' ? ['own'] : []),
    readMany: async (refs: readonly RecordRef[]) => {
      asked.push(...refs);
      return stored.filter((r) => refs.some((x) => x.type === r.resourceType && x.id === r.id)).map((resource) => ({ resource, versionId: '1', lastUpdated: '2025-03-10T00:00:00Z' }));
    },
  } as unknown as PatientRecordIndex;

  it('R-30/R-31: only the patient\'s own stays count, each with its local admission day and department; another patient\'s stay is not read', async () => {
    const vitals = [temperature('t1', '2025-03-10T02:00:00Z', 37, 'own'), temperature('t2', '2025-03-10T06:00:00Z', 37, 'other')];
    const { block, stays } = await patientOnPaper(records, 'p1', vitals.flatMap(recordEncounters), { at: new Date('2025-03-12T00:00:00Z'), timeZone: 'Asia/Shanghai', recordNumberSystems: [] });
    const chart = chartPatient(block, stays);
    expect(chart).toEqual({ header: { name: '王小明', gender: '男', age: '34岁', number: { label: '病案号', value: 'BA-2025-0042' } }, stays: new Map([['own', { admitted: '2025-03-10', department: '呼吸内科' }]]) });
    expect(asked.map((r) => `${r.type}/${r.id}`)).toEqual(['Patient/p1', 'Encounter/own', 'Organization/resp']);
    // The reading filed under the other patient's stay is charted with no admission day (no stay of this patient's).
    const sections = temperatureChartSections(vitals, chart, paper);
    expect(sheets(sections)).toEqual(['体温单 Temperature chart · 入院 2025-03-10 · 第 1 周 2025-03-10 起', '体温单 Temperature chart · 第 1 周 2025-03-10 起']);
    const first = (await pdfPages((await render(sections)).bytes))[0].replace(/\s+/g, '');
    for (const t of ['姓名王小明', '性别男', '年龄34岁', '科室呼吸内科', '入院日期2025-03-10', '病案号BA-2025-0042', '时间为北京时间']) expect(first).toContain(t);
  });
});
