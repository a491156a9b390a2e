import type { ChargeItem, Invoice, InvoiceLineItem, Money, Resource } from '@medplum/fhirtypes';
import { hospitalTime } from '../common/hospital-time.js';
import { referenceKey } from './reference-key.js';
import type { PdfSection } from './pdf-renderer.js';
import { tableFigure, versionsLine, type TableRow } from './pdf-table.js';
import { concept } from './resource-text.js';

/**
 * The cost record (费用清单, R-31) as the billing office prints it: one line per charge —
 * item, quantity, unit price, amount (two decimals) — and the total; then the invoices with
 * their gross and net totals. A charge's amount is its `priceOverride` (FHIR R4: the charge's
 * total price), else the base price of the invoice line that bills it; the unit price is the
 * amount over the quantity. An invoice line billing a charge this copy does not hold (still
 * pending, or left out) is printed too, marked 未含于本复印件, so that the total and the
 * invoices' total agree, or the difference is stated. Sums are taken in hundredths (fen),
 * never in floating yuan, and per currency: an amount in another currency than CNY is printed
 * with its code and never added into ¥.
 */

const CNY = 'CNY';

/** One line of the list; `amount` in hundredths of `currency` (fen for CNY), undefined when not priced. */
export interface CostLine {
  item: string;
  date?: string;
  quantity: number;
  amount?: number;
  currency: string;
  /** An invoice line billing a charge the copy does not hold. */
  notInCopy?: boolean;
}

/** The lines (charges, then invoice lines billing no charge the copy holds), their totals and the invoices' gross totals, per currency. */
/** `timeZone`: the zone a charge's date is printed in (the policy's). */
export function costLines(resources: readonly Resource[], timeZone: string): { lines: CostLine[]; totals: Map<string, number>; invoiced: Map<string, number> } {
  const charges = resources.filter((r): r is ChargeItem => r.resourceType === 'ChargeItem');
  const invoices = resources.filter((r): r is Invoice => r.resourceType === 'Invoice');
  const invoiceLines = invoices.flatMap((i) => i.lineItem ?? []);
  const base = (line: InvoiceLineItem | undefined) => line?.priceComponent?.find((p) => p.type === 'base')?.amount;
  const billedAt = (charge: ChargeItem) => base(invoiceLines.find((l) => referenceKey(l.chargeItemReference?.reference) === `ChargeItem/${charge.id}`));
  const line = (item: string, quantity: number, price: Money | undefined, extra: Partial<CostLine> = {}): CostLine => ({
    item,
    quantity,
    currency: price?.currency ?? CNY,
    ...(price?.value !== undefined ? { amount: Math.round(price.value * 100) } : {}),
    ...extra,
  });
  const lines: CostLine[] = charges.map((c) => {
    const date = hospitalTime(c.occurrenceDateTime ?? c.occurrencePeriod?.start ?? c.enteredDate, timeZone);
    return line(concept(c.code) ?? `ChargeItem/${c.id}`, c.quantity?.value ?? 1, c.priceOverride ?? billedAt(c), date ? { date } : {});
  });
  const held = new Set(charges.map((c) => `ChargeItem/${c.id}`));
  for (const l of invoiceLines) {
    const charge = referenceKey(l.chargeItemReference?.reference);
    if (charge && held.has(charge)) continue;
    if (l.chargeItemReference) lines.push(line(l.chargeItemReference.display ?? charge ?? l.chargeItemReference.reference ?? '', 1, base(l), { notInCopy: true }));
    else if (l.chargeItemCodeableConcept) lines.push(line(concept(l.chargeItemCodeableConcept) ?? '', 1, base(l)));
  }
  const totals = sumBy(lines.flatMap((l) => (l.amount === undefined ? [] : [{ currency: l.currency, amount: l.amount }])));
  const invoiced = sumBy(invoices.flatMap((i) => (i.totalGross?.value === undefined ? [] : [{ currency: i.totalGross.currency ?? CNY, amount: Math.round(i.totalGross.value * 100) }])));
  return { lines, totals, invoiced };
}

/** `¥1,234.50` from fen. */
export function yuan(fenAmount: number): string {
  return amountText(fenAmount, CNY);
}

/** An amount in hundredths of its currency: `¥1,234.50`, `USD 12.00`. */
export function amountText(hundredths: number, currency: string): string {
  const sign = hundredths < 0 ? '-' : '';
  const abs = Math.abs(hundredths);
  const figures = `${Math.floor(abs / 100).toLocaleString('en-US')}.${String(abs % 100).padStart(2, '0')}`;
  return currency === CNY ? `${sign}¥${figures}` : `${currency} ${sign}${figures}`;
}

/** The list and the invoices, as one section each. */
export function costSections(resources: readonly Resource[], timeZone: string): PdfSection[] {
  const { lines, totals, invoiced } = costLines(resources, timeZone);
  const rows: TableRow[] = lines.map((l) => {
    const unit = l.amount !== undefined && l.quantity ? amountText(Math.round(l.amount / l.quantity), l.currency) : '';
    const item = l.notInCopy ? `${l.item}（未含于本复印件 not in this copy）` : l.item;
    return { cells: [item, l.date ?? '', String(l.quantity), unit, l.amount !== undefined ? amountText(l.amount, l.currency) : '未计价'] };
  });
  for (const [currency, sum] of totals.size ? byCurrency(totals) : [[CNY, 0] as const]) {
    rows.push({ cells: [currency === CNY ? '合计 Total' : `合计 Total (${currency})`, '', '', '', amountText(sum, currency)], bold: true });
  }
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
    const unpriced = lines.filter((l) => l.amount === undefined).length;
    sections.push({
      heading: '发票 Invoices',
      lines: [
        versionsLine(invoices),
        ...invoices.map((i) => {
          const number = (i.identifier ?? []).map((x) => x.value).join(', ');
          return [`Invoice/${i.id}`, number, hospitalTime(i.date, timeZone), i.status, `总额 ${money(i.totalGross)}`, `净额 ${money(i.totalNet)}`].filter(Boolean).join(' · ');
        }),
        ...(invoiced.size ? [`发票合计 Invoiced total: ${byCurrency(invoiced).map(([c, sum]) => amountText(sum, c)).join('; ')}`] : []),
        ...byCurrency(invoiced)
          .filter(([c, sum]) => (totals.get(c) ?? 0) !== sum)
          .map(([c, sum]) => `合计与发票合计相差 Total and invoiced total differ by ${amountText(sum - (totals.get(c) ?? 0), c)}: ${DIFFERENCE}${unpriced ? `; ${unpriced} 项未计价 unpriced` : ''}`),
      ],
    });
  }
  return sections;
}

/** Why a list's total may differ from its invoices' gross total. */
const DIFFERENCE = '发票的其他价格组成（附加费、折扣、税）或未开列的费用 (the invoices\' surcharges, discounts or taxes, or charges not itemised)';

/** Sums of hundredths by currency. */
function sumBy(amounts: readonly { currency: string; amount: number }[]): Map<string, number> {
  const sums = new Map<string, number>();
  for (const a of amounts) sums.set(a.currency, (sums.get(a.currency) ?? 0) + a.amount);
  return sums;
}

/** The sums in print order: CNY first, then the others by code. */
function byCurrency(sums: ReadonlyMap<string, number>): [string, number][] {
  return [...sums].sort(([a], [b]) => (a === CNY ? -1 : b === CNY ? 1 : a.localeCompare(b)));
}

function money(m: Money | undefined): string {
  if (m?.value === undefined) return '-';
  return amountText(Math.round(m.value * 100), m.currency ?? CNY);
}
