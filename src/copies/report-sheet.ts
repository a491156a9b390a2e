import type { DiagnosticReport, ImagingStudy, Observation, ObservationReferenceRange, Resource } from '@medplum/fhirtypes';
import { nameOf, paperTime, type Paper } from './paper.js';
import { referenceKey, referenceText } from './reference-key.js';
import type { PdfSection } from './pdf-renderer.js';
import { tableFigure, versionsLine, type TableColumn, type TableRow } from './pdf-table.js';
import { concept } from './resource-text.js';
import { xhtmlText } from './xhtml-text.js';
import { writtenNumber } from './written-number.js';

/**
 * Reports (检验报告, 检查报告, 病理报告, R-31) as the laboratory or the imaging department
 * prints them: the report's name, specimen, times (in the hospital's zone), who performed and
 * who verified it (审核者, by name), then its results as a table — item, result, unit, reference range and
 * the flag (↑ high, ↓ low) from `interpretation` — and its conclusion; numbers as the sender
 * wrote them (`4.50` stays `4.50`, docs/decisions/0014). Results the copy holds
 * without a report are tabled on their own; imaging studies are listed with their series.
 */

const COLUMNS: TableColumn[] = [
  { header: '项目', weight: 30 },
  { header: '结果', weight: 16, align: 'right' },
  { header: '单位', weight: 14 },
  { header: '参考范围', weight: 22 },
  { header: '提示', weight: 8, align: 'center' },
];

/** The flag printed beside a result, from its interpretation (HL7 v3 ObservationInterpretation). */
export function flagOf(o: Pick<Observation, 'interpretation'>): string {
  const codes = (o.interpretation ?? []).flatMap((i) => (i.coding ?? []).map((c) => c.code ?? ''));
  if (codes.some((c) => ['H', 'HH', 'HU', '>'].includes(c))) return '↑';
  if (codes.some((c) => ['L', 'LL', 'LU', '<'].includes(c))) return '↓';
  if (codes.some((c) => ['A', 'AA', 'POS', 'DET'].includes(c))) return '*';
  return '';
}

/** The sections of one part's reports; `title`: the part's printed name (e.g. `检验报告 Test report`). */
export function reportSections(title: string, resources: readonly Resource[], paper: Paper): PdfSection[] {
  const byRef = new Map(resources.map((r) => [`${r.resourceType}/${r.id}`, r]));
  const reports = resources.filter((r): r is DiagnosticReport => r.resourceType === 'DiagnosticReport');
  const tabled = new Set(reports.flatMap((r) => (r.result ?? []).map((x) => referenceKey(x.reference)).filter(Boolean)));
  const sections = reports.map((r) => reportSection(title, r, byRef, paper));
  const alone = resources.filter((r): r is Observation => r.resourceType === 'Observation' && !tabled.has(`Observation/${r.id}`));
  if (alone.length) {
    sections.push({ heading: `${title} · 其他结果 Results`, lines: [versionsLine(alone)], figure: tableFigure(COLUMNS, alone.flatMap((o) => resultRows(o))) });
  }
  for (const study of resources.filter((r): r is ImagingStudy => r.resourceType === 'ImagingStudy')) sections.push(studySection(study, paper));
  return sections;
}

function reportSection(title: string, r: DiagnosticReport, byRef: ReadonlyMap<string, Resource>, paper: Paper): PdfSection {
  const lines = [
    versionsLine([r]),
    field('报告名称', concept(r.code)),
    field('标本', (r.specimen ?? []).map(referenceText).join(', ')),
    field('采集时间', paperTime(r.effectiveDateTime ?? r.effectivePeriod?.start, paper)),
    field('报告时间', paperTime(r.issued, paper)),
    field('检验/检查者', (r.performer ?? []).map((x) => nameOf(x, paper, r)).join(', ')),
    field('审核者', (r.resultsInterpreter ?? []).map((x) => nameOf(x, paper, r)).join(', ')),
    field('状态', r.status),
    field('结论', r.conclusion),
    field('结论编码', (r.conclusionCode ?? []).map(concept).join(', ')),
    ...(r.presentedForm ?? []).flatMap((a) => (a.data && /^text\//i.test(a.contentType ?? '') ? xhtmlOrText(Buffer.from(a.data, 'base64').toString('utf8'), a.contentType) : [])),
  ].filter((l): l is string => !!l);
  const rows = (r.result ?? []).flatMap((x): TableRow[] => {
    const ref = referenceKey(x.reference);
    const held = ref ? byRef.get(ref) : undefined;
    if (held?.resourceType === 'Observation') return resultRows(held as Observation);
    return [{ cells: [`${x.display ?? x.reference ?? ''}（未含于本复印件 not in this copy）`, '', '', '', ''] }];
  });
  return { heading: `${title} · ${concept(r.code) ?? r.id}`, lines, ...(rows.length ? { figure: tableFigure(COLUMNS, rows) } : {}) };
}

/** One row per result; a panel's components (blood pressure…) each their own row. */
function resultRows(o: Observation): TableRow[] {
  type Valued = Pick<Observation, 'code' | 'valueQuantity' | 'valueString' | 'valueCodeableConcept' | 'dataAbsentReason' | 'referenceRange' | 'interpretation'>;
  /** `at`: where `v` is in `o` (`''`, or `/component/1`), to find its numbers as written. */
  const row = (v: Valued, at: string): TableRow => {
    const written = (path: string, value: number | undefined) => writtenNumber(o, `${at}${path}`, value);
    const number = written('/valueQuantity/value', v.valueQuantity?.value);
    const value = number !== undefined ? `${v.valueQuantity?.comparator ?? ''}${number}` : (v.valueString ?? concept(v.valueCodeableConcept) ?? concept(v.dataAbsentReason));
    const ranges = (v.referenceRange ?? []).map((r, i) => rangeOf(r, (end: 'low' | 'high') => written(`/referenceRange/${i}/${end}/value`, r[end]?.value)));
    return { cells: [concept(v.code) ?? '', value ?? '', v.valueQuantity?.unit ?? v.valueQuantity?.code ?? '', ranges.filter(Boolean).join('; '), flagOf(v)] };
  };
  const own = o.valueQuantity || o.valueString || o.valueCodeableConcept || !o.component?.length ? [row(o, '')] : [];
  const parts = (o.component ?? []).map((c, i) => row(c, `/component/${i}`));
  return [...own, ...parts];
}

/** A reference range as printed: its text, else `low–high` with each bound as written. */
function rangeOf(r: ObservationReferenceRange, bound: (end: 'low' | 'high') => string | undefined): string {
  return r.text ?? (r.low || r.high ? `${bound('low') ?? ''}–${bound('high') ?? ''}` : '');
}

function studySection(s: ImagingStudy, paper: Paper): PdfSection {
  return {
    heading: `检查 Imaging study · ${s.description ?? (s.modality ?? []).map((m) => m.code).join('/')}`,
    lines: [
      versionsLine([s]),
      field('检查时间', paperTime(s.started, paper)),
      field('设备类型 modality', (s.modality ?? []).map((m) => m.display ?? m.code).join(', ')),
      field('状态', s.status),
      field('检查号', (s.identifier ?? []).map((i) => i.value).join(', ')),
      ...(s.series ?? []).map((x) => {
        const what = [x.number, x.modality?.code, x.bodySite?.display, x.description].filter((v) => v !== undefined && v !== '').join(' ');
        return `序列 series ${what} · ${x.numberOfInstances ?? x.instance?.length ?? 0} 幅`;
      }),
    ].filter((l): l is string => !!l),
  };
}

function xhtmlOrText(text: string, type: string | undefined): string[] {
  return /^text\/html/i.test(type ?? '') ? xhtmlText(text) : text.split(/\r\n?|\n/);
}

function field(label: string, value: string | undefined): string | undefined {
  return value ? `${label}: ${value}` : undefined;
}
