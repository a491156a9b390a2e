import type { Observation, Quantity } from '@medplum/fhirtypes';
import { addDays, daysBetween, hospitalClock, zoneLabel } from '../common/hospital-time.js';
import type { PatientBlock } from './patient-block.js';
import { MARGINS, PAGE, printable, type PdfFigure } from './pdf-renderer.js';
import { concept, quantity } from './resource-text.js';
import { writtenNumber } from './written-number.js';

/**
 * The temperature chart (体温单, R-31) as a ward prints it: one sheet per week, a column per
 * day split into six 4-hourly slots (2, 6, 10, 14, 18, 22 o'clock, the hospital's wall clock), a row per
 * 0.2 °C from 35 to 42 °C; temperature plotted as blue ×, pulse as red ● on the shared scale
 * (1 °C = 20 次/分, 35 °C = 40), each joined by lines; respiration (次/分) written in its row
 * slot by slot, blood pressure and the other vital signs in theirs, day by day; numbers as the
 * sender wrote them. Which sheets a copy prints (a chart per stay, weeks with readings, a cap)
 * is `chart-sheets.ts`'s.
 */

const LOINC = 'http://loinc.org';
/** Body temperature: the vital-signs code, and the measured-site codes HIS send (oral, axillary, rectal, tympanic). */
const TEMPERATURE = ['8310-5', '8331-1', '8328-7', '8332-9', '8333-7'];
const PULSE = ['8867-4', '8889-8'];
const RESPIRATION = ['9279-1'];
const BLOOD_PRESSURE = '85354-9';
const SYSTOLIC = '8480-6';
const DIASTOLIC = '8462-4';

/** The hours the six slots of a day are printed as. */
export const SLOT_HOURS = [2, 6, 10, 14, 18, 22] as const;
export const DAYS_PER_SHEET = 7;
/** The scale: 35–42 °C, a row per 0.2 °C; pulse on the same lines, 40 次/分 at 35 °C, 20 次/分 per °C. */
export const SCALE = { low: 35, high: 42, step: 0.2, pulseAtLow: 40, pulsePerDegree: 20 };
export const COLOURS = { temperature: '#0033cc', pulse: '#dd0000', grid: '#b0b0b0', major: '#505050' };

/**
 * The sheet's geometry in points (origin top left), at fixed places so that a reader of the
 * printed page (or a test of the rendered image) finds a reading where the grid says it is.
 */
export const CHART = (() => {
  const left = MARGINS.left;
  const width = PAGE.width - MARGINS.left - MARGINS.right;
  const label = 57;
  const top = 100;
  const headerRow = 13;
  const gridTop = top + 18 + 3 * headerRow;
  const row = 11;
  const rows = Math.round((SCALE.high - SCALE.low) / SCALE.step);
  return { left, width, label, top, headerRow, gridLeft: left + label, slot: (width - label) / (DAYS_PER_SHEET * 6), gridTop, row, rows, gridBottom: gridTop + rows * row };
})();

/** Where a reading is drawn: the centre of its slot, and the height of its value on the scale (clamped to the grid). */
export function chartPoint(day: number, slot: number, celsius: number): { x: number; y: number } {
  const t = Math.min(SCALE.high, Math.max(SCALE.low, celsius));
  return { x: CHART.gridLeft + (day * 6 + slot + 0.5) * CHART.slot, y: CHART.gridTop + ((SCALE.high - t) / SCALE.step) * CHART.row };
}

/** A pulse rate as the temperature it is drawn at. */
export function pulseAsCelsius(rate: number): number {
  return SCALE.low + (rate - SCALE.pulseAtLow) / SCALE.pulsePerDegree;
}

/** A reading placed on the chart: its local day, its slot (0–5), its value (°C for a temperature), and the number as written. */
export interface Reading {
  date: string;
  slot: number;
  value: number;
  text: string;
}

/** What the sheet shows, read from the vital-sign Observations. */
export interface ChartData {
  temperature: Reading[];
  pulse: Reading[];
  respiration: Reading[];
  /** Per local day: blood pressures (`120/80`) and other vital signs (`体重 65 kg`), as printed. */
  bloodPressure: Map<string, string[]>;
  other: Map<string, string[]>;
  /** Readings with no time, or with no value the chart can show: listed under the chart, never dropped. */
  unplaced: Observation[];
}

/** Sorts a sheet's vital signs onto the chart, by their day and hour in `timeZone`; the sheet's days come from its stay (`chart-sheets.ts`). */
export function chartData(observations: readonly Observation[], timeZone: string): ChartData {
  const data: ChartData = { temperature: [], pulse: [], respiration: [], bloodPressure: new Map(), other: new Map(), unplaced: [] };
  const push = <K>(map: Map<K, string[]>, key: K, text: string) => map.set(key, [...(map.get(key) ?? []), text]);
  const sorted = [...observations].sort((a, b) => Date.parse(effective(a) ?? '') - Date.parse(effective(b) ?? ''));
  for (const o of sorted) {
    const clock = hospitalClock(effective(o), timeZone);
    if (!clock) {
      data.unplaced.push(o);
      continue;
    }
    const value = o.valueQuantity?.value;
    const at = { date: clock.date, slot: Math.floor(clock.hour / 4), text: writtenNumber(o, '/valueQuantity/value', value) ?? '' };
    if (hasCode(o, TEMPERATURE) && value !== undefined) data.temperature.push({ ...at, value: celsius(o.valueQuantity as Quantity) });
    else if (hasCode(o, PULSE) && value !== undefined) data.pulse.push({ ...at, value });
    else if (hasCode(o, RESPIRATION) && value !== undefined) data.respiration.push({ ...at, value });
    else if (hasCode(o, [BLOOD_PRESSURE])) push(data.bloodPressure, clock.date, bloodPressure(o));
    else if (value !== undefined) push(data.other, clock.date, `${concept(o.code) ?? ''} ${quantity(o.valueQuantity, at.text)}`.trim());
    else data.unplaced.push(o);
  }
  return data;
}

/**
 * The block printed at the top of a sheet: the patient, the number the hospital files the
 * record under (病案号, else the record's id as 患者ID), the stay's department, and the day the
 * stay began, from which 住院天数 counts; `timeZone`: the zone its hours are read in.
 */
export interface SheetHeader {
  name: string;
  gender?: string;
  age?: string;
  number: PatientBlock['recordNumber'];
  department?: string;
  admitted?: string;
  timeZone: string;
}

/** One sheet: the week of `data` from `from` (`YYYY-MM-DD`, local) on the grid. */
export function chartSheet(data: ChartData, header: SheetHeader, from: string): PdfFigure {
  return {
    draw(doc) {
      const c = CHART;
      const days = Array.from({ length: DAYS_PER_SHEET }, (_, d) => addDays(from, d));
      const dayWidth = 6 * c.slot;
      const cell = (text: string, x: number, y: number, width: number, height: number, size = 7, colour = 'black') => {
        doc.font('regular').fontSize(size).fillColor(colour);
        doc.text(printable(text), x, y + (height - size * 1.2) / 2, { width, align: 'center', lineBreak: false, height });
      };
      const { admitted } = header;
      const block = [
        `姓名 ${header.name}`,
        header.gender ? `性别 ${header.gender}` : '',
        header.age ? `年龄 ${header.age}` : '',
        header.department ? `科室 ${header.department}` : '',
        admitted ? `入院日期 ${admitted}` : '',
        `${header.number.label} ${header.number.value}`,
      ];
      // One line above the grid: a long name or department shrinks the line (to 6 pt at most) rather than running off the sheet.
      const line = printable(block.filter(Boolean).join('　　'));
      doc.font('regular').fontSize(9);
      const size = Math.max(6, Math.min(9, (9 * c.width) / doc.widthOfString(line)));
      doc.fontSize(size).fillColor('black').text(line, c.left, c.top, { lineBreak: false });

      // Header rows: date, day of stay, the slots' hours (afternoon and night in red, as printed forms do).
      const headerTop = c.top + 18;
      const rowsAbove = ['日期', '住院天数', '时间'];
      rowsAbove.forEach((label, r) => cell(label, c.left, headerTop + r * c.headerRow, c.label, c.headerRow, 7.5));
      days.forEach((day, d) => {
        const x = c.gridLeft + d * dayWidth;
        cell(day, x, headerTop, dayWidth, c.headerRow);
        cell(admitted && day >= admitted ? String(daysBetween(admitted, day) + 1) : '', x, headerTop + c.headerRow, dayWidth, c.headerRow);
        SLOT_HOURS.forEach((h, s) => cell(String(h), x + s * c.slot, headerTop + 2 * c.headerRow, c.slot, c.headerRow, 6, s >= 3 ? COLOURS.pulse : 'black'));
      });

      // The grid: a line per 0.2 °C, heavier each degree; a column per slot, heavier each day.
      doc.lineWidth(0.3).strokeColor(COLOURS.grid);
      for (let r = 0; r <= c.rows; r++) if (r % 5 !== 0) hline(doc, c.gridLeft, c.left + c.width, c.gridTop + r * c.row);
      for (let s = 0; s <= DAYS_PER_SHEET * 6; s++) if (s % 6 !== 0) vline(doc, c.gridLeft + s * c.slot, headerTop + 2 * c.headerRow, c.gridBottom);
      doc.lineWidth(0.8).strokeColor(COLOURS.major);
      for (let r = 0; r <= c.rows; r += 5) hline(doc, c.left, c.left + c.width, c.gridTop + r * c.row);
      for (let d = 0; d <= DAYS_PER_SHEET; d++) vline(doc, c.gridLeft + d * dayWidth, headerTop, c.gridBottom + 3 * c.headerRow);
      for (let r = 0; r <= 3; r++) hline(doc, c.left, c.left + c.width, headerTop + r * c.headerRow);
      vline(doc, c.left, headerTop, c.gridBottom + 3 * c.headerRow);
      vline(doc, c.left + c.width, headerTop, c.gridBottom + 3 * c.headerRow);

      // The scales, each degree: pulse (次/分) on the left half, temperature (°C) on the right.
      // Each label sits just above its line; the top line carries the scales' names instead.
      cell('脉搏', c.left, c.gridTop + 1, c.label / 2, 9, 6.5, COLOURS.pulse);
      cell('体温', c.left + c.label / 2, c.gridTop + 1, c.label / 2, 9, 6.5, COLOURS.temperature);
      for (let t = SCALE.low; t < SCALE.high; t++) {
        const y = c.gridTop + ((SCALE.high - t) / SCALE.step) * c.row;
        cell(String(SCALE.pulseAtLow + (t - SCALE.low) * SCALE.pulsePerDegree), c.left, y - 9, c.label / 2, 8, 6.5, COLOURS.pulse);
        cell(`${t}°C`, c.left + c.label / 2, y - 9, c.label / 2, 8, 6.5, COLOURS.temperature);
      }

      const onSheet = (r: Reading) => daysBetween(from, r.date) >= 0 && daysBetween(from, r.date) < DAYS_PER_SHEET;
      plot(doc, data.pulse.filter(onSheet).map((r) => chartPoint(daysBetween(from, r.date), r.slot, pulseAsCelsius(r.value))), COLOURS.pulse, 'dot');
      plot(doc, data.temperature.filter(onSheet).map((r) => chartPoint(daysBetween(from, r.date), r.slot, r.value)), COLOURS.temperature, 'cross');

      // Below the grid: respiration slot by slot (alternately high and low, as written by hand), then blood pressure and the rest day by day.
      const below = ['呼吸(次/分)', '血压(mmHg)', '其他'];
      below.forEach((label, r) => cell(label, c.left, c.gridBottom + r * c.headerRow, c.label, c.headerRow, 6.5));
      for (let r = 1; r <= 3; r++) hline(doc.lineWidth(0.8).strokeColor(COLOURS.major), c.left, c.left + c.width, c.gridBottom + r * c.headerRow);
      data.respiration.filter(onSheet).forEach((r, i) => {
        const x = c.gridLeft + (daysBetween(from, r.date) * 6 + r.slot) * c.slot;
        cell(r.text, x, c.gridBottom + (i % 2 ? 3 : -2), c.slot, c.headerRow, 5.5);
      });
      days.forEach((day, d) => {
        const x = c.gridLeft + d * dayWidth;
        cell((data.bloodPressure.get(day) ?? []).join(' '), x, c.gridBottom + c.headerRow, dayWidth, c.headerRow, 5);
        cell((data.other.get(day) ?? []).join(' '), x, c.gridBottom + 2 * c.headerRow, dayWidth, c.headerRow, 5);
      });
      cell(`体温 × (蓝)\u3000脉搏 ● (红)\u3000时间为${zoneLabel(header.timeZone)}`, c.left, c.gridBottom + 3 * c.headerRow + 4, c.width, 10, 7);
      doc.x = c.left;
      doc.y = c.gridBottom + 3 * c.headerRow + 18;
    },
  };
}

/** Markers joined by lines, in time order. */
function plot(doc: PDFKit.PDFDocument, points: readonly { x: number; y: number }[], colour: string, marker: 'dot' | 'cross'): void {
  doc.save();
  doc.lineWidth(0.9).strokeColor(colour).fillColor(colour);
  points.forEach((p, i) => {
    if (i > 0) doc.moveTo(points[i - 1].x, points[i - 1].y).lineTo(p.x, p.y).stroke();
  });
  for (const p of points) {
    if (marker === 'dot') doc.circle(p.x, p.y, 2.4).fill();
    else {
      doc.lineWidth(1.4);
      doc.moveTo(p.x - 3, p.y - 3).lineTo(p.x + 3, p.y + 3).stroke();
      doc.moveTo(p.x - 3, p.y + 3).lineTo(p.x + 3, p.y - 3).stroke();
    }
  }
  doc.restore();
}

function hline(doc: PDFKit.PDFDocument, x1: number, x2: number, y: number): void {
  doc.moveTo(x1, y).lineTo(x2, y).stroke();
}

function vline(doc: PDFKit.PDFDocument, x: number, y1: number, y2: number): void {
  doc.moveTo(x, y1).lineTo(x, y2).stroke();
}

/** When a reading was taken. */
export function effective(o: Observation): string | undefined {
  return o.effectiveDateTime ?? o.effectiveInstant ?? o.effectivePeriod?.start;
}

function hasCode(o: Observation, codes: readonly string[]): boolean {
  return (o.code?.coding ?? []).some((c) => c.system === LOINC && codes.includes(c.code ?? ''));
}

/** °C from a temperature in °C or °F (UCUM `Cel`, `[degF]`). */
function celsius(q: Quantity): number {
  const value = q.value as number;
  return q.code === '[degF]' || q.unit === '°F' || q.unit === '℉' ? Math.round(((value - 32) * 5) / 9 * 10) / 10 : value;
}

function bloodPressure(o: Observation): string {
  const part = (code: string) => {
    const i = (o.component ?? []).findIndex((c) => (c.code?.coding ?? []).some((x) => x.system === LOINC && x.code === code));
    return i < 0 ? undefined : writtenNumber(o, `/component/${i}/valueQuantity/value`, o.component?.[i].valueQuantity?.value);
  };
  return `${part(SYSTOLIC) ?? '-'}/${part(DIASTOLIC) ?? '-'}`;
}
