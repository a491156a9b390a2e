import type { Observation } from '@medplum/fhirtypes';
import { addDays, daysBetween, hospitalClock } from '../common/hospital-time.js';
import { paperTime, type Paper } from './paper.js';
import type { PatientBlock, Stay } from './patient-block.js';
import type { PdfSection } from './pdf-renderer.js';
import { tableFigure, type TableRow } from './pdf-table.js';
import { encounterIdOf } from './reference-key.js';
import { concept, quantity } from './resource-text.js';
import { chartData, chartSheet, DAYS_PER_SHEET, effective, type SheetHeader } from './temperature-chart.js';
import { writtenNumber } from './written-number.js';

/**
 * Which temperature-chart sheets a copy prints (R-31): a chart per stay, as the ward kept one —
 * the stay being the patient's own Encounter a reading names — its weeks counted from the
 * admission day, so that 住院天数 is that stay's; only the weeks with a reading are printed
 * (a week of a stay with none is no sheet the ward filled in); and at most `MAX_CHART_SHEETS`
 * sheets a copy. Whatever is not on a sheet (past the cap, or with no time) is listed in a table
 * under the chart, reading by reading: never dropped, and the copy's length never unbounded by
 * readings dated years apart.
 */

/**
 * The most chart sheets one copy prints: 30 weeks covers all but exceptional stays, and bounds
 * the memory and time of a production (a sheet is a page held until the page count is known).
 * A fixed number until the policy carries one (issue #18 owns copy settings).
 */
export const MAX_CHART_SHEETS = 30;

/** The patient as the chart prints them, and the patient's own stays the copied records name. */
export interface ChartPatient {
  /** What every sheet prints of the patient. */
  header: Pick<SheetHeader, 'name' | 'gender' | 'age' | 'number'>;
  /** By Encounter id, the patient's own stays: the local day each began and its department, when known. */
  stays: ReadonlyMap<string, { admitted?: string; department?: string }>;
}

/** The chart's patient, from the paper's patient block and the patient's own stays (`patientOnPaper`). */
export function chartPatient(block: PatientBlock, stays: readonly Stay[]): ChartPatient {
  return {
    header: { name: block.name, ...(block.gender ? { gender: block.gender } : {}), ...(block.age ? { age: block.age } : {}), number: block.recordNumber },
    stays: new Map(stays.map((s) => [s.id, { ...(s.admitted ? { admitted: s.admitted } : {}), ...(s.department ? { department: s.department } : {}) }])),
  };
}

/** A chart: the stay's readings, its first day (the admission, or the first reading when earlier or unknown), its sheets' weeks. */
interface Chart {
  admitted?: string;
  department?: string;
  first: string;
  weeks: Map<number, Observation[]>;
}

/** The chart's sheets (a section each, on a page of its own), then the readings not on a sheet. */
export function temperatureChartSections(observations: readonly Observation[], patient: ChartPatient, paper: Paper): PdfSection[] {
  const { timeZone } = paper;
  const notPlotted = observations.filter((o) => !hospitalClock(effective(o), timeZone));
  const sheets: PdfSection[] = [];
  for (const chart of chartsOf(observations, patient, timeZone)) {
    for (const week of [...chart.weeks.keys()].sort((a, b) => a - b)) {
      const readings = chart.weeks.get(week) as Observation[];
      if (sheets.length >= MAX_CHART_SHEETS) {
        notPlotted.push(...readings);
        continue;
      }
      const from = addDays(chart.first, week * DAYS_PER_SHEET);
      const data = chartData(readings, timeZone);
      notPlotted.push(...data.unplaced);
      const header: SheetHeader = { ...patient.header, ...(chart.admitted ? { admitted: chart.admitted } : {}), ...(chart.department ? { department: chart.department } : {}), timeZone };
      const stay = chart.admitted ? `入院 ${chart.admitted} · ` : '';
      sheets.push({ heading: `体温单 Temperature chart · ${stay}第 ${week + 1} 周 ${from} 起`, lines: [], newPage: true, figure: chartSheet(data, header, from) });
    }
  }
  if (notPlotted.length) sheets.push(notPlottedSection(notPlotted, sheets.length >= MAX_CHART_SHEETS, paper));
  return sheets;
}

/** The readings with a time, a chart per stay (readings naming no stay of the patient's share one), in the order the charts begin. */
function chartsOf(observations: readonly Observation[], patient: ChartPatient, timeZone: string): Chart[] {
  const byStay = new Map<string, { date: string; o: Observation }[]>();
  for (const o of observations) {
    const date = hospitalClock(effective(o), timeZone)?.date;
    if (!date) continue;
    const encounter = encounterIdOf(o.encounter?.reference);
    const stay = encounter !== undefined && patient.stays.has(encounter) ? encounter : '';
    let readings = byStay.get(stay);
    if (!readings) byStay.set(stay, (readings = []));
    readings.push({ date, o });
  }
  const charts = [...byStay].map(([stay, readings]): Chart => {
    const { admitted, department } = (stay ? patient.stays.get(stay) : undefined) ?? {};
    const earliest = readings.reduce((min, r) => (r.date < min ? r.date : min), readings[0].date);
    const first = admitted && admitted <= earliest ? admitted : earliest;
    const weeks = new Map<number, Observation[]>();
    for (const r of readings) {
      const week = Math.floor(daysBetween(first, r.date) / DAYS_PER_SHEET);
      let held = weeks.get(week);
      if (!held) weeks.set(week, (held = []));
      held.push(r.o);
    }
    return { ...(admitted ? { admitted } : {}), ...(department ? { department } : {}), first, weeks };
  });
  return charts.sort((a, b) => a.first.localeCompare(b.first));
}

const COLUMNS = [
  { header: '项目', weight: 30 },
  { header: '时间', weight: 22 },
  { header: '结果', weight: 22 },
  { header: '记录', weight: 26 },
];

/** The readings not on a sheet, one row each, in time order (those with no time last). */
function notPlottedSection(readings: readonly Observation[], capped: boolean, paper: Paper): PdfSection {
  const at = (o: Observation) => Date.parse(effective(o) ?? '');
  const sorted = [...readings].sort((a, b) => (Number.isNaN(at(a)) ? 1 : Number.isNaN(at(b)) ? -1 : at(a) - at(b)));
  const rows: TableRow[] = sorted.map((o) => ({ cells: [concept(o.code) ?? '', paperTime(effective(o), paper) ?? '', result(o), `Observation/${o.id} v${o.meta?.versionId ?? '1'}`] }));
  const why = [
    ...(capped ? [`本复印件体温单以 ${MAX_CHART_SHEETS} 页为限，其后各周的体征逐条列于此 (the copy prints at most ${MAX_CHART_SHEETS} chart sheets; later weeks are listed here)`] : []),
    '无测量时间或无法标绘的体征亦列于此 (readings with no time or no value to plot are listed here too)',
  ];
  return { heading: '体温单：未能标绘的体征 Readings not plotted', lines: why, figure: tableFigure(COLUMNS, rows) };
}

/** A reading's value as written: its quantity, or a panel's components (`128/82 mmHg`), or its text. */
function result(o: Observation): string {
  const own = quantity(o.valueQuantity, writtenNumber(o, '/valueQuantity/value', o.valueQuantity?.value)) ?? o.valueString ?? concept(o.valueCodeableConcept);
  if (own) return own;
  return (o.component ?? [])
    .map((c, i) => `${concept(c.code) ?? ''} ${quantity(c.valueQuantity, writtenNumber(o, `/component/${i}/valueQuantity/value`, c.valueQuantity?.value)) ?? ''}`.trim())
    .join('; ');
}
