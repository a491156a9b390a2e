import type { ChargeItem, Invoice, Money, Resource } from '@medplum/fhirtypes';
import { beijingTime } from './beijing-time.js';
import { referenceKey } from './reference-key.js';
import type { PdfSection } from './pdf-renderer.js';
import { tableFigure, versionsLine, type TableRow } from './pdf-table.js';
import { concept } from './resource-text.js';

/**
 * The cost record (费用清单, R-31) as the billing office prints it: one line per charge —
 * item, quantity, unit price, amount (¥, two decimals) — and the total; then the invoices with
 * their gross and net totals. A charge's amount is its `priceOverride` (FHIR R4: the charge's
 * total price), else the base price of the invoice line that bills it; the unit price is the
 * amount over the quantity. Sums are taken in fen (分), never in floating yuan.
 */

/** One line of the list, in fen. */
export interface CostLine {
  item: string;
  date?: string;
  quantity: number;
  amountFen?: number;
}

/** The charges' lines (and invoice lines billing no charge the copy holds), the lines' total, and the invoices' gross total. */
export function costLines(resources: readonly Resource[]): { lines: CostLine[]; totalFen: number; invoicedFen?: number } {
  const charges = resources.filter((r): r is ChargeItem => r.resourceType === 'ChargeItem');
  const invoices = resources.filter((r): r is Invoice => r.resourceType === 'Invoice');
  const invoiceLines = invoices.flatMap((i) => i.lineItem ?? []);
  const billedAt = (charge: ChargeItem) =>
    invoiceLines.find((l) => referenceKey(l.chargeItemReference?.reference) === `ChargeItem/${charge.id}`)?.priceComponent?.find((p) => p.type === 'base')?.amount;
  const lines: CostLine[] = charges.map((c) => ({
    item: concept(c.code) ?? `ChargeItem/${c.id}`,
    date: beijingTime(c.occurrenceDateTime ?? c.occurrencePeriod?.start ?? c.enteredDate),
    quantity: c.quantity?.value ?? 1,
    amountFen: fen(c.priceOverride ?? billedAt(c)),
  }));
  for (const line of invoiceLines) {
    if (line.chargeItemReference || !line.chargeItemCodeableConcept) continue;
    lines.push({ item: concept(line.chargeItemCodeableConcept) ?? '', quantity: 1, amountFen: fen(line.priceComponent?.find((p) => p.type === 'base')?.amount) });
  }
  const totalFen = lines.reduce((sum, l) => sum + (l.amountFen ?? 0), 0);
  const gross = invoices.map((i) => fen(i.totalGross)).filter((f): f is number => f !== undefined);
  return { lines, totalFen, ...(gross.length ? { invoicedFen: gross.reduce((a, b) => a + b, 0) } : {}) };
}

/** `¥1,234.50` from fen. */
export function yuan(fenAmount: number): string {
  const sign = fenAmount < 0 ? '-' : '';
  const abs = Math.abs(fenAmount);
  return `${sign}¥${Math.floor(abs / 100).toLocaleString('en-US')}.${String(abs % 100).padStart(2, '0')}`;
}

/** The list and the invoices, as one section each. */
export function costSections(resources: readonly Resource[]): PdfSection[] {
  const { lines, totalFen, invoicedFen } = costLines(resources);
  const rows: TableRow[] = lines.map((l) => {
    const unit = l.amountFen !== undefined && l.quantity ? yuan(Math.round(l.amountFen / l.quantity)) : '';
    return { cells: [l.item, l.date ?? '', String(l.quantity), unit, l.amountFen !== undefined ? yuan(l.amountFen) : '未计价'] };
  });
  rows.push({ cells: ['合计 Total', '', '', '', yuan(totalFen)], bold: true });
  const charges = resources.filter((r) => r.resourceType === 'ChargeItem');
  const sections: PdfSection[] = [
    {
      heading: '费用清单 Cost record',
      lines: charges.length ? [versionsLine(charges)] : [],
      figure: tableFigure(
        [
          { header: '项目', weight: 36 },
          { header: '日期', weight: 18 },
          { header: '数量', weight: 10, align: 'right' },
          { header: '单价', weight: 16, align: 'right' },
          { header: '金额', weight: 16, align: 'right' },
        ],
        rows,
      ),
    },
  ];
  const invoices = resources.filter((r): r is Invoice => r.resourceType === 'Invoice');
  if (invoices.length) {
    sections.push({
      heading: '发票 Invoices',
      lines: [
        versionsLine(invoices),
        ...invoices.map((i) => {
          const number = (i.identifier ?? []).map((x) => x.value).join(', ');
          return [`Invoice/${i.id}`, number, beijingTime(i.date), i.status, `总额 ${money(i.totalGross)}`, `净额 ${money(i.totalNet)}`].filter(Boolean).join(' · ');
        }),
        ...(invoicedFen !== undefined ? [`发票合计 Invoiced total: ${yuan(invoicedFen)}`] : []),
      ],
    });
  }
  return sections;
}

/** Money in fen; undefined when there is no value. Amounts other than CNY keep their currency in `money`, and count as written. */
function fen(m: Money | undefined): number | undefined {
  return m?.value === undefined ? undefined : Math.round(m.value * 100);
}

function money(m: Money | undefined): string {
  if (m?.value === undefined) return '-';
  const amount = fen(m) as number;
  return !m.currency || m.currency === 'CNY' ? yuan(amount) : `${m.currency} ${(amount / 100).toFixed(2)}`;
}
