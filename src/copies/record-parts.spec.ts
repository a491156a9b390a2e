import type { ChargeItem, DiagnosticReport, Invoice, MedicationAdministration, MedicationRequest, Observation, Resource, ServiceRequest } from '@medplum/fhirtypes';
import * as mupdf from 'mupdf';
import { pdfPages } from '../../test/support/pdf-text.js';
import type { Paper } from './paper.js';
import { costLines, yuan } from './cost-sheet.js';
import { orderTerm } from './orders-sheet.js';
import { renderPdf } from './pdf-renderer.js';
import { partSections } from './record-parts.js';
import { flagOf } from './report-sheet.js';
import { chartData, chartPoint, COLOURS, pulseAsCelsius } from './temperature-chart.js';

const LOINC = 'http://loinc.org';
/** The hospital's zone, and the practitioners the records name only by reference. */
const paper: Paper = { timeZone: 'Asia/Shanghai', names: new Map([['Practitioner/rn-wang', '王护士'], ['Practitioner/dr-zhao', '赵审核']]) };
const chartOf = (number: { label: '病案号' | '患者ID'; value: string }, stays: [string, string][] = []) => ({ header: { name: '王小明', gender: '男', number }, stays: new Map(stays.map(([id, admitted]) => [id, { admitted }])) });
const vital = (id: string, code: string, at: string, value: number, unit = 'Cel'): Observation => ({
  resourceType: 'Observation',
  id,
  meta: { versionId: '1' },
  status: 'final',
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
  code: { coding: [{ system: LOINC, code }] },
  subject: { reference: 'Patient/p1' },
  effectiveDateTime: at,
  valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit },
});
const bp: Observation = {
  ...vital('bp', '85354-9', '2026-03-02T08:00:00+08:00', 0),
  valueQuantity: undefined,
  component: [
    { code: { coding: [{ system: LOINC, code: '8480-6' }] }, valueQuantity: { value: 128, unit: 'mmHg' } },
    { code: { coding: [{ system: LOINC, code: '8462-4' }] }, valueQuantity: { value: 82, unit: 'mmHg' } },
  ],
};
const longTerm: MedicationRequest = {
  resourceType: 'MedicationRequest',
  id: 'mr-long',
  status: 'active',
  intent: 'order',
  courseOfTherapyType: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy', code: 'continuous' }] },
  medicationCodeableConcept: { text: '阿莫西林胶囊' },
  subject: { reference: 'Patient/p1' },
  authoredOn: '2026-03-01T01:30:00Z',
  requester: { reference: 'Practitioner/d1', display: '李医生' },
  dosageInstruction: [{ text: '0.5g 口服 tid' }],
};
const temporary: ServiceRequest = {
  resourceType: 'ServiceRequest',
  id: 'sr-once',
  status: 'completed',
  intent: 'order',
  code: { text: '胸部CT平扫' },
  subject: { reference: 'Patient/p1' },
  occurrenceDateTime: '2026-03-01T03:00:00Z',
  requester: { display: '李医生' },
};
const given: MedicationAdministration = {
  resourceType: 'MedicationAdministration',
  id: 'ma1',
  status: 'completed',
  medicationCodeableConcept: { text: '阿莫西林胶囊' },
  subject: { reference: 'Patient/p1' },
  effectiveDateTime: '2026-03-01T02:00:00Z',
  request: { reference: 'MedicationRequest/mr-long' },
  performer: [{ actor: { reference: 'Practitioner/rn-wang' } }],
};
const wbc: Observation = {
  resourceType: 'Observation',
  id: 'wbc',
  status: 'final',
  code: { text: '白细胞计数 WBC' },
  valueQuantity: { value: 12.3, unit: '10*9/L' },
  referenceRange: [{ low: { value: 3.5 }, high: { value: 9.5 } }],
  interpretation: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code: 'H' }] }],
};
const cbc: DiagnosticReport = {
  resourceType: 'DiagnosticReport',
  id: 'cbc',
  status: 'final',
  code: { text: '血常规' },
  issued: '2026-03-01T06:15:00Z',
  resultsInterpreter: [{ reference: 'Practitioner/dr-zhao' }],
  result: [{ reference: 'Observation/wbc' }, { reference: 'Observation/not-copied', display: '血红蛋白' }],
};
const charge = (id: string, item: string, qty: number, total: number): ChargeItem => ({
  resourceType: 'ChargeItem',
  id,
  status: 'billed',
  code: { text: item },
  subject: { reference: 'Patient/p1' },
  quantity: { value: qty },
  priceOverride: { value: total, currency: 'CNY' },
});
const invoice: Invoice = { resourceType: 'Invoice', id: 'inv', status: 'issued', totalGross: { value: 336.1, currency: 'CNY' }, totalNet: { value: 300, currency: 'CNY' } };

describe('the parts of a copy as a hospital prints them (R-31)', () => {
  it('R-31: the temperature chart places each reading in its local day and 4-hourly slot (the hospital\'s zone); pulse shares the scale (40/min at 35 °C, 20/min per °C)', () => {
    const data = chartData([vital('t1', '8310-5', '2026-03-01T06:30:00Z', 38.6), vital('t2', '8310-5', '2026-03-01T17:00:00Z', 99.5, '[degF]'), vital('p', '8867-4', '2026-03-02T01:00:00+08:00', 96), bp], 'Asia/Shanghai');
    // 06:30Z is 14:30 in Beijing (slot 14); 17:00Z is 01:00 the next day (slot 2).
    expect(data.temperature).toEqual([
      { date: '2026-03-01', slot: 3, value: 38.6, text: '38.6' },
      { date: '2026-03-02', slot: 0, value: 37.5, text: '99.5' },
    ]);
    expect(data.pulse).toEqual([{ date: '2026-03-02', slot: 0, value: 96, text: '96' }]);
    expect(data.bloodPressure.get('2026-03-02')).toEqual(['128/82']);
    expect(pulseAsCelsius(80)).toBe(37);
    const at = chartPoint(0, 0, 42);
    expect(chartPoint(0, 1, 42).x - at.x).toBeCloseTo(chartPoint(1, 0, 42).x - chartPoint(0, 5, 42).x);
    expect(chartPoint(0, 0, 41).y - at.y).toBeCloseTo(5 * (chartPoint(0, 0, 40.8).y - chartPoint(0, 0, 41).y));
    // The same readings in a hospital in Berlin (UTC+1 in March): 06:30Z is 07:30 (slot 6), 17:00Z is 18:00 the same day (slot 18).
    const berlin = chartData([vital('t1', '8310-5', '2026-03-01T06:30:00Z', 38.6), vital('t2', '8310-5', '2026-03-01T17:00:00Z', 99.5, '[degF]')], 'Europe/Berlin');
    expect(berlin.temperature.map((r) => [r.date, r.slot])).toEqual([
      ['2026-03-01', 1],
      ['2026-03-01', 4],
    ]);
  });

  it('R-31: orders are long-term or temporary by their course of therapy, else by whether their timing repeats', () => {
    expect(orderTerm(longTerm)).toBe('long-term');
    expect(orderTerm({ ...longTerm, courseOfTherapyType: { coding: [{ code: 'acute' }] } })).toBe('temporary');
    const timed = (repeat: object): MedicationRequest => ({ ...longTerm, courseOfTherapyType: undefined, dosageInstruction: [{ timing: { repeat } }] });
    expect(orderTerm(timed({ frequency: 3, period: 1, periodUnit: 'd' }))).toBe('long-term');
    expect(orderTerm(timed({ frequency: 1, period: 1, periodUnit: 'd', count: 1 }))).toBe('temporary');
    expect(orderTerm(temporary)).toBe('temporary');
    expect(orderTerm({ ...temporary, occurrenceDateTime: undefined, occurrenceTiming: { repeat: { frequency: 1, period: 1, periodUnit: 'd' } } })).toBe('long-term');
  });

  it('R-31: a result is flagged ↑/↓ from its interpretation; charges are summed in fen and printed in yuan with two decimals', () => {
    expect(flagOf(wbc)).toBe('↑');
    expect(flagOf({ interpretation: [{ coding: [{ code: 'L' }] }] })).toBe('↓');
    expect(flagOf({})).toBe('');
    const { lines, totals, invoiced } = costLines([charge('c1', '床位费', 3, 150), charge('c2', '血常规', 1, 25.3), charge('c3', '头孢', 7, 160.8), invoice], paper.timeZone);
    expect(lines.map((l) => l.amount)).toEqual([15000, 2530, 16080]);
    expect([...totals, ...invoiced]).toEqual([
      ['CNY', 33610],
      ['CNY', 33610],
    ]);
    expect(yuan(123456789)).toBe('¥1,234,567.89');
    expect(yuan(5)).toBe('¥0.05');
  });

  it('R-31: a copy prints the chart, the orders sheets, the lab table and the cost list in the order R-31 lists the parts, every record traced to its version, signers by name', async () => {
    const part = (code: string, title: string, resources: Resource[]) => ({ code, title, resources });
    const parts = (): Parameters<typeof partSections>[0] => [
        part('cost-record', '费用清单', [charge('c1', '床位费', 3, 150), invoice]),
        part('test-report', '检验报告', [cbc, wbc]),
        part('orders', '医嘱单', [longTerm, temporary, given]),
        part('temperature-chart', '体温单', [vital('t1', '8310-5', '2026-03-01T06:30:00Z', 38.6), vital('r', '9279-1', '2026-03-01T06:30:00Z', 22)]),
    ];
    const sections = partSections(parts(), chartOf({ label: '病案号', value: 'MR-001' }), paper);
    expect(sections.map((s) => s.heading.split(' ')[0])).toEqual(['体温单', '长期医嘱单', '临时医嘱单', '检验报告', '费用清单', '发票']);
    const pdf = await renderPdf({ title: '病历复印件', reference: 'CR-1', createdAt: new Date('2026-03-05T00:00:00Z'), sections });
    const text = (await pdfPages(pdf.bytes)).join('\n').replace(/\s+/g, '');
    for (const expected of ['姓名王小明', '脉搏', '体温', '呼吸(次/分)', '22', '开始时间', '医嘱内容', '剂量/用法', '停止时间', '执行时间', '医生', '护士']) expect(text).toContain(expected);
    for (const expected of ['阿莫西林胶囊', '0.5g口服tid', '2026-03-0109:30', '李医生', '王护士', '胸部CT平扫', '2026-03-0111:00']) expect(text).toContain(expected);
    for (const expected of ['项目', '结果', '单位', '参考范围', '提示', '白细胞计数WBC', '12.3', '10*9/L', '3.5–9.5', '↑', '报告时间:2026-03-0114:15', '审核者:赵审核', '血红蛋白（未含于本复印件notinthiscopy）']) {
      expect(text).toContain(expected);
    }
    for (const expected of ['床位费', '¥50.00', '¥150.00', '合计Total', '发票合计Invoicedtotal:¥336.10']) expect(text).toContain(expected);
    for (const expected of ['MedicationRequest/mr-longv1', 'DiagnosticReport/cbcv1', 'ChargeItem/c1v1']) expect(text).toContain(expected);
    for (const reference of ['Practitioner/rn-wang', 'Practitioner/dr-zhao']) expect(text).not.toContain(reference);
    expect(text).toContain('时间为北京时间');

    // The same copy for a hospital in Berlin: its wall clock (UTC+1 in March), its zone named; a signer the store does not know prints as referenced.
    const berlin = partSections(parts(), chartOf({ label: '病案号', value: 'MR-001' }), { timeZone: 'Europe/Berlin', names: new Map([['Practitioner/rn-wang', '王护士']]) });
    const elsewhere = (await pdfPages((await renderPdf({ title: '病历复印件', reference: 'CR-1', createdAt: new Date('2026-03-05T00:00:00Z'), sections: berlin })).bytes)).join('\n').replace(/\s+/g, '');
    for (const expected of ['2026-03-0102:30', '报告时间:2026-03-0107:15', '时间为Europe/Berlin', '审核者:Practitioner/dr-zhao']) expect(elsewhere).toContain(expected);
    expect(elsewhere).not.toContain('2026-03-0109:30');
  });
});

describe('the temperature chart as printed (R-31)', () => {
  it('R-31: the rendered sheet shows a blue mark where each temperature is and a red one where each pulse is, nothing where there is no reading', async () => {
    const temps: [string, number, number, number][] = [
      ['2026-03-01T06:00:00Z', 38.6, 0, 3],
      ['2026-03-01T10:00:00Z', 39.2, 0, 4],
      ['2026-03-02T02:00:00Z', 37.4, 1, 2],
      ['2026-03-03T06:00:00Z', 36.8, 2, 3],
    ];
    const observations = [
      ...temps.map(([at, value], i) => vital(`t${i}`, '8310-5', at, value)),
      vital('p0', '8867-4', '2026-03-01T06:00:00Z', 110),
      vital('p1', '8867-4', '2026-03-03T06:00:00Z', 72),
    ];
    const inStay = observations.map((o) => ({ ...o, encounter: { reference: 'Encounter/e1' } }));
    const sections = partSections([{ code: 'temperature-chart', title: '体温单', resources: inStay }], chartOf({ label: '患者ID', value: 'p1' }, [['e1', '2026-03-01']]), paper);
    const pdf = await renderPdf({ title: '病历复印件', reference: 'CR-1', createdAt: new Date('2026-03-05T00:00:00Z'), sections });
    const scale = 2;
    const pixmap = mupdf.Document.openDocument(pdf.bytes, 'application/pdf').loadPage(0).toPixmap(mupdf.Matrix.scale(scale, scale), mupdf.ColorSpace.DeviceRGB);
    const [width, pixels] = [pixmap.getWidth(), pixmap.getPixels()];
    const rgb = (hex: string) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
    /** A pixel of `colour` (within a tolerance) within 3 points of (x, y). */
    const near = (x: number, y: number, colour: string) => {
      const want = rgb(colour);
      for (let dy = -3 * scale; dy <= 3 * scale; dy++) {
        for (let dx = -3 * scale; dx <= 3 * scale; dx++) {
          const i = (Math.round(y * scale + dy) * width + Math.round(x * scale + dx)) * 3;
          if (want.every((c, k) => Math.abs(pixels[i + k] - c) < 60)) return true;
        }
      }
      return false;
    };
    for (const [, value, day, slot] of temps) {
      const p = chartPoint(day, slot, value);
      expect({ value, blue: near(p.x, p.y, COLOURS.temperature) }).toEqual({ value, blue: true });
    }
    for (const [day, rate] of [[0, 110], [2, 72]]) {
      const p = chartPoint(day, 3, pulseAsCelsius(rate));
      expect({ rate, red: near(p.x, p.y, COLOURS.pulse) }).toEqual({ rate, red: true });
    }
    // Day 5 has no reading: no mark at 38.6 or at 36 there.
    for (const value of [38.6, 36]) expect(near(chartPoint(5, 3, value).x, chartPoint(5, 3, value).y, COLOURS.temperature)).toBe(false);
  });
});
