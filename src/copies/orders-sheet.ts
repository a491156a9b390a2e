import type { Dosage, MedicationAdministration, MedicationRequest, Resource, ServiceRequest, Timing } from '@medplum/fhirtypes';
import { nameOf, paperTime, type Paper } from './paper.js';
import { referenceKey, referenceText } from './reference-key.js';
import type { PdfSection } from './pdf-renderer.js';
import { tableFigure, versionsLine, type TableColumn } from './pdf-table.js';
import { concept, quantity } from './resource-text.js';

/**
 * The orders sheets (医嘱单, R-31) as a ward prints them: long-term orders (长期医嘱单) and
 * temporary orders (临时医嘱单), each a table of start time, order, dose and usage, stop time
 * (for a temporary order, the time it was carried out; times in the hospital's zone), the
 * ordering doctor (`requester`) and the nurse who carried it out, by name: a MedicationAdministration's performer, else blank — never the
 * order's `performer`, which names who was meant to carry it out, not who did. Orders are
 * copied as they stand, their status printed.
 */

/** Long-term (长期, repeated until stopped) or temporary (临时, carried out once). */
export type OrderTerm = 'long-term' | 'temporary';

/**
 * A MedicationRequest's `courseOfTherapyType` says it (continuous or seasonal: long-term; acute:
 * temporary); otherwise, and for a ServiceRequest, a timing that repeats with no count (or more
 * than one) is long-term, anything else (a date, once, no timing) temporary.
 */
export function orderTerm(order: MedicationRequest | ServiceRequest): OrderTerm {
  if (order.resourceType === 'MedicationRequest') {
    const course = order.courseOfTherapyType?.coding?.map((c) => c.code) ?? [];
    if (course.includes('continuous') || course.includes('seasonal')) return 'long-term';
    if (course.includes('acute')) return 'temporary';
    return (order.dosageInstruction ?? []).some((d) => repeats(d.timing)) ? 'long-term' : 'temporary';
  }
  return repeats(order.occurrenceTiming) ? 'long-term' : 'temporary';
}

function repeats(timing: Timing | undefined): boolean {
  const r = timing?.repeat;
  if (!r) return Boolean(timing?.code) && !timing?.event?.length;
  return (r.count === undefined || r.count > 1) && (r.frequency !== undefined || r.period !== undefined || r.when !== undefined || r.timeOfDay !== undefined);
}

const STATUS: Readonly<Record<string, string>> = {
  active: '执行中',
  'on-hold': '暂停',
  completed: '已完成',
  stopped: '已停止',
  unknown: '未知',
};

/** The two sheets, for the orders of a copy and the administrations that carried them out. */
export function ordersSections(resources: readonly Resource[], paper: Paper): PdfSection[] {
  const time = (value: string | undefined) => paperTime(value, paper);
  const orders = resources.filter((r): r is MedicationRequest | ServiceRequest => r.resourceType === 'MedicationRequest' || r.resourceType === 'ServiceRequest');
  const administrations = resources.filter((r): r is MedicationAdministration => r.resourceType === 'MedicationAdministration');
  const given = (order: Resource) => administrations.filter((a) => referenceKey(a.request?.reference) === `${order.resourceType}/${order.id}`);
  const sheet = (term: OrderTerm, heading: string, stopHeader: string): PdfSection | undefined => {
    const mine = orders.filter((o) => orderTerm(o) === term).sort((a, b) => (startOf(a) ?? '').localeCompare(startOf(b) ?? ''));
    if (mine.length === 0) return undefined;
    const columns: TableColumn[] = [
      { header: '开始时间', weight: 13 },
      { header: '医嘱内容', weight: 24 },
      { header: '剂量/用法', weight: 20 },
      { header: stopHeader, weight: 13 },
      { header: '医生', weight: 10 },
      { header: '护士', weight: 10 },
      { header: '状态', weight: 7 },
    ];
    const rows = mine.map((o) => {
      const administered = given(o);
      const stop = time(term === 'temporary' ? (administeredAt(administered[0]) ?? stopOf(o)) : stopOf(o));
      const nurse = administered.flatMap((a) => (a.performer ?? []).map((p) => nameOf(p.actor, paper, a))).find(Boolean);
      return { cells: [time(startOf(o)) ?? '', contentOf(o), usageOf(o), stop ?? '', nameOf(o.requester, paper, o) ?? '', nurse ?? '', STATUS[o.status] ?? o.status] };
    });
    return { heading, lines: [versionsLine(mine)], figure: tableFigure(columns, rows) };
  };
  const sheets = [sheet('long-term', '长期医嘱单 Long-term orders', '停止时间'), sheet('temporary', '临时医嘱单 Temporary orders', '执行时间')].filter((s): s is PdfSection => !!s);
  // Administrations of orders this copy does not hold are listed, never dropped.
  const held = new Set(orders.map((o) => `${o.resourceType}/${o.id}`));
  const orphans = administrations.filter((a) => !held.has(referenceKey(a.request?.reference) ?? ''));
  if (orphans.length) {
    sheets.push({
      heading: '医嘱执行记录 Administrations',
      lines: orphans.map((a) => {
        const medication = concept(a.medicationCodeableConcept) ?? referenceText(a.medicationReference) ?? '';
        const by = (a.performer ?? []).map((p) => nameOf(p.actor, paper, a)).join(' ');
        return `MedicationAdministration/${a.id}: ${medication} ${time(administeredAt(a)) ?? ''} ${by} ${a.status}`;
      }),
    });
  }
  return sheets;
}

function startOf(o: MedicationRequest | ServiceRequest): string | undefined {
  if (o.resourceType === 'MedicationRequest') return o.dosageInstruction?.[0]?.timing?.repeat?.boundsPeriod?.start ?? o.authoredOn;
  return o.occurrencePeriod?.start ?? o.occurrenceDateTime ?? o.occurrenceTiming?.repeat?.boundsPeriod?.start ?? o.authoredOn;
}

function stopOf(o: MedicationRequest | ServiceRequest): string | undefined {
  if (o.resourceType === 'MedicationRequest') return o.dosageInstruction?.[0]?.timing?.repeat?.boundsPeriod?.end ?? o.dispenseRequest?.validityPeriod?.end;
  return o.occurrencePeriod?.end ?? o.occurrenceTiming?.repeat?.boundsPeriod?.end;
}

function contentOf(o: MedicationRequest | ServiceRequest): string {
  if (o.resourceType === 'MedicationRequest') return concept(o.medicationCodeableConcept) ?? referenceText(o.medicationReference) ?? '';
  return concept(o.code) ?? '';
}

function usageOf(o: MedicationRequest | ServiceRequest): string {
  if (o.resourceType === 'MedicationRequest') return (o.dosageInstruction ?? []).map(dosage).join('; ');
  return [o.occurrenceTiming?.code ? concept(o.occurrenceTiming.code) : undefined, quantity(o.quantityQuantity), o.patientInstruction].filter(Boolean).join(' ');
}

/** A dosage as written on the sheet: its text, else dose, route and frequency. */
function dosage(d: Dosage): string {
  if (d.text) return d.text;
  return [quantity(d.doseAndRate?.[0]?.doseQuantity), concept(d.route), d.timing?.code ? concept(d.timing.code) : undefined].filter(Boolean).join(' ');
}

function administeredAt(a: MedicationAdministration | undefined): string | undefined {
  return a?.effectiveDateTime ?? a?.effectivePeriod?.start;
}
