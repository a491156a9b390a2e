import type { Observation, Resource } from '@medplum/fhirtypes';
import { temperatureChartSections, type ChartPatient } from './chart-sheets.js';
import { isDocument } from './clinical-document.js';
import { costSections } from './cost-sheet.js';
import { ordersSections } from './orders-sheet.js';
import type { Paper } from './paper.js';
import type { PdfSection } from './pdf-renderer.js';
import { reportSections } from './report-sheet.js';
import { resourceSection } from './resource-text.js';

/**
 * The body of a certified copy, part by part, in the order the regulation lists them
 * and the record room files them: each part's documents printed as written (times in the
 * hospital's zone, people by name: `paper`), its structured
 * records the way the hospital prints that part (the temperature chart as a chart, orders
 * and reports and charges as tables). A part or a type with no sheet of its own prints each
 * record (`resourceSection`): a copy may be plain, never incomplete.
 */

/** The versions a copy holds of one part (a document type code, e.g. `orders`), and its printed name. */
export interface CopiedPart {
  code: string;
  title: string;
  resources: Resource[];
}

/** The parts in R-31's order (2013 copy rules art. 19); parts a hospital adds come after, as given. */
export const PART_ORDER = [
  'outpatient-record',
  'admission-record',
  'temperature-chart',
  'orders',
  'test-report',
  'imaging-report',
  'consent-form',
  'anaesthesia-record',
  'operation-record',
  'pathology-report',
  'nursing-record',
  'discharge-record',
  'death-record',
  'cost-record',
];

/** The sections of every part; `patient`: the block printed on each sheet of the temperature chart. */
export function partSections(parts: readonly CopiedPart[], patient: ChartPatient, paper: Paper): PdfSection[] {
  const rank = (code: string) => (PART_ORDER.includes(code) ? PART_ORDER.indexOf(code) : PART_ORDER.length);
  return [...parts].sort((a, b) => rank(a.code) - rank(b.code)).flatMap((part) => sectionsOf(part, patient, paper));
}

function sectionsOf(part: CopiedPart, patient: ChartPatient, paper: Paper): PdfSection[] {
  const sheet = SHEETS[part.code];
  const onSheet = part.resources.filter((r) => !isDocument(r) && sheet?.types.includes(r.resourceType));
  // Documents, and records of a type the part's sheet does not print, each as written.
  const each = part.resources.filter((r) => !onSheet.includes(r)).map((r) => resourceSection(r, paper));
  return [...each, ...(sheet && onSheet.length ? sheet.render(onSheet, part.title, patient, paper) : [])];
}

/** A part's printed sheet: the types it prints, and how. */
interface Sheet {
  types: readonly string[];
  render(records: readonly Resource[], title: string, patient: ChartPatient, paper: Paper): PdfSection[];
}

const REPORTS: Sheet = { types: ['DiagnosticReport', 'Observation', 'ImagingStudy'], render: (records, title, _patient, paper) => reportSections(title, records, paper) };

const SHEETS: Readonly<Record<string, Sheet>> = {
  'temperature-chart': { types: ['Observation'], render: (records, _title, patient, paper) => temperatureChartSections(records as Observation[], patient, paper) },
  orders: { types: ['MedicationRequest', 'ServiceRequest', 'MedicationAdministration'], render: (records, _title, _patient, paper) => ordersSections(records, paper) },
  'test-report': REPORTS,
  'imaging-report': REPORTS,
  'pathology-report': REPORTS,
  'cost-record': { types: ['ChargeItem', 'Invoice'], render: (records, _title, _patient, paper) => costSections(records, paper.timeZone) },
};
