import type { ChargeItem, DiagnosticReport, Invoice, MedicationAdministration, MedicationRequest, Observation, Resource } from '@medplum/fhirtypes';
import { withStoredText } from '../common/fhir-json-text.js';
import { pdfPages } from '../../test/support/pdf-text.js';
import { costLines } from './cost-sheet.js';
import type { Paper } from './paper.js';
import { renderPdf } from './pdf-renderer.js';
import { partSections } from './record-parts.js';

/** The text of a copy holding `resources` under part `code`, as a reader copies it out (no white space). */
async function printed(code: string, resources: Resource[]): Promise<string> {
  const paper: Paper = { timeZone: 'Asia/Shanghai', names: new Map() };
  const sections = partSections([{ code, title: code, resources }], { header: { name: '王小明', number: { label: '患者ID', value: 'p1' } }, stays: new Map() }, paper);
  const pdf = await renderPdf({ title: '病历复印件', reference: 'CR-1', createdAt: new Date('2026-03-05T00:00:00Z'), sections });
  return (await pdfPages(pdf.bytes)).join('').replace(/\s+/g, '');
}

/** A resource as the store reads it: parsed from its stored text, which it carries (docs/decisions/0014). */
const stored = <T extends Resource>(text: string): T => withStoredText(JSON.parse(text) as T, text);

describe('the numbers of a copy as the sender wrote them (R-31, docs/decisions/0014)', () => {
  it('R-31: a lab result sent as 4.50, its range 3.50–5.30, print with their trailing zeros', async () => {
    const potassium = stored<Observation>(
      '{"resourceType":"Observation","id":"k","meta":{"versionId":"1"},"status":"final","code":{"text":"血钾 K"},"valueQuantity":{"value":4.50,"unit":"mmol/L"},"referenceRange":[{"low":{"value":3.50},"high":{"value":5.30}}]}',
    );
    const report: DiagnosticReport = { resourceType: 'DiagnosticReport', id: 'bmp', status: 'final', code: { text: '电解质' }, result: [{ reference: 'Observation/k' }] };
    expect(await printed('test-report', [report, potassium])).toContain('血钾K4.50mmol/L3.50–5.30');
  });

  it('R-31: a vital sign sent as 65.0 kg and a blood pressure sent as 120.0/80.0 print as sent on the temperature chart', async () => {
    const vital = (code: string, rest: string) =>
      stored<Observation>(
        `{"resourceType":"Observation","id":"${code}","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"${code}"}],"text":"体重"},"effectiveDateTime":"2026-03-01T02:00:00Z",${rest}}`,
      );
    const weight = vital('29463-7', '"valueQuantity":{"value":65.0,"unit":"kg"}');
    const bp = vital(
      '85354-9',
      '"component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":120.0,"unit":"mmHg"}},{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":80.0,"unit":"mmHg"}}]',
    );
    const text = await printed('temperature-chart', [weight, bp]);
    expect(text).toContain('体重65.0kg');
    expect(text).toContain('120.0/80.0');
  });
});

describe('the labels of the orders sheet (R-31)', () => {
  const order: MedicationRequest = {
    resourceType: 'MedicationRequest',
    id: 'mr',
    status: 'completed',
    intent: 'order',
    courseOfTherapyType: { coding: [{ code: 'acute' }] },
    medicationCodeableConcept: { text: '对乙酰氨基酚片' },
    subject: { reference: 'Patient/p1' },
    authoredOn: '2026-03-01T02:00:00Z',
    requester: { display: '李医生' },
    performer: { display: '计划执行护士' },
  };
  const given: MedicationAdministration = {
    resourceType: 'MedicationAdministration',
    id: 'ma',
    status: 'completed',
    medicationCodeableConcept: { text: '对乙酰氨基酚片' },
    subject: { reference: 'Patient/p1' },
    effectiveDateTime: '2026-03-01T03:00:00Z',
    request: { reference: 'MedicationRequest/mr' },
    performer: [{ actor: { display: '王护士' } }],
  };

  it('R-31: the nurse column names who gave the order (an administration), never the order\'s intended performer', async () => {
    expect(await printed('orders', [order])).not.toContain('计划执行护士');
    const text = await printed('orders', [order, given]);
    expect(text).toContain('王护士');
    expect(text).not.toContain('计划执行护士');
  });
});

describe('the cost record adds up (R-31)', () => {
  const charge = (id: string, total: number, currency: 'CNY' | 'USD' = 'CNY'): ChargeItem => ({ resourceType: 'ChargeItem', id, status: 'billed', code: { text: `项目${id}` }, subject: { reference: 'Patient/p1' }, quantity: { value: 1 }, priceOverride: { value: total, currency } });
  const invoice = (gross: number): Invoice => ({
    resourceType: 'Invoice',
    id: 'inv',
    status: 'issued',
    totalGross: { value: gross, currency: 'CNY' },
    lineItem: [
      { chargeItemReference: { reference: 'ChargeItem/c1' }, priceComponent: [{ type: 'base', amount: { value: 150, currency: 'CNY' } }] },
      { chargeItemReference: { reference: 'ChargeItem/pending', display: '注射费' }, priceComponent: [{ type: 'base', amount: { value: 99, currency: 'CNY' } }] },
      { chargeItemCodeableConcept: { text: '材料费' }, priceComponent: [{ type: 'base', amount: { value: 10, currency: 'CNY' } }] },
    ],
  });

  it('R-31: an invoice line billing a charge the copy does not hold is printed and marked, so the total equals the invoiced total', async () => {
    const { lines, totals, invoiced } = costLines([charge('c1', 150), invoice(259)], 'Asia/Shanghai');
    expect(lines.map((l) => [l.item, l.amount, l.notInCopy ?? false])).toEqual([
      ['项目c1', 15000, false],
      ['注射费', 9900, true],
      ['材料费', 1000, false],
    ]);
    expect([totals.get('CNY'), invoiced.get('CNY')]).toEqual([25900, 25900]);
    const text = await printed('cost-record', [charge('c1', 150), invoice(259)]);
    for (const t of ['注射费（未含于本复印件notinthiscopy）1¥99.00¥99.00', '合计Total¥259.00', '发票合计Invoicedtotal:¥259.00']) expect(text).toContain(t);
    expect(text).not.toContain('相差');
  });

  it('R-31: a total that still differs from the invoices says by how much; an amount in USD is printed and totalled as USD, never added into ¥', async () => {
    const text = await printed('cost-record', [charge('c1', 150), charge('usd', 12, 'USD'), invoice(300)]);
    for (const t of ['项目usd1USD12.00USD12.00', '合计Total¥259.00', '合计Total(USD)USD12.00', '合计与发票合计相差Totalandinvoicedtotaldifferby¥41.00']) expect(text).toContain(t);
    expect(costLines([charge('c1', 150), charge('usd', 12, 'USD')], 'Asia/Shanghai').totals).toEqual(
      new Map([
        ['CNY', 15000],
        ['USD', 1200],
      ]),
    );
  });
});
