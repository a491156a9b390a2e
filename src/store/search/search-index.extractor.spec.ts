import { createHash } from 'node:crypto';
import type { ChargeItem, Encounter, Observation, Patient, RiskAssessment } from '@medplum/fhirtypes';
import { loadR4Definitions } from '../fhir-definitions.js';
import { StoreError, StoreErrorCode } from '../store.errors.js';
import { INDEX_LIMITS } from './index-limits.js';
import { MAX_STRING_CHARS, normalizeString } from './index-values.js';
import { extractSearchIndex } from './search-index.extractor.js';
import { SearchParameterRegistry } from './search-parameter.registry.js';

describe('extractSearchIndex', () => {
  const registry = SearchParameterRegistry.fromProfiles();
  beforeAll(() => loadR4Definitions());

  it('indexes a Patient: identifiers, names (parts and the whole Chinese name), gender and birth date', () => {
    const patient: Patient = {
      resourceType: 'Patient',
      id: 'p1',
      identifier: [{ system: 'urn:oid:2.16.156', value: '110101' }],
      name: [{ family: '张', given: ['三'] }],
      gender: 'male',
      birthDate: '1980-02-03',
    };
    const index = extractSearchIndex(patient, registry.forType('Patient'));
    expect(index.tokens).toEqual(expect.arrayContaining([
      { param: 'identifier', system: 'urn:oid:2.16.156', code: '110101' },
      { param: 'gender', system: '', code: 'male' },
    ]));
    expect(index.strings.filter((s) => s.param === 'name').map((s) => s.value).sort()).toEqual(['三', '张', '张三'].sort());
    expect(index.dates).toContainEqual({ param: 'birthdate', low: '1980-02-02T16:00:00.000Z', high: '1980-02-03T15:59:59.999Z' });
  });

  it('indexes references with their target type, and patient only when the subject is a Patient', () => {
    const obs: Observation = {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
      subject: { reference: 'Patient/p1' },
      encounter: { reference: 'http://other.example/fhir/Encounter/e1/_history/2' },
      effectivePeriod: { start: '2024-03-05T10:00:00+08:00' },
    };
    const index = extractSearchIndex(obs, registry.forType('Observation'));
    expect(index.references).toEqual(expect.arrayContaining([
      { param: 'subject', targetType: 'Patient', targetId: 'p1' },
      { param: 'patient', targetType: 'Patient', targetId: 'p1' },
      { param: 'encounter', targetType: 'Encounter', targetId: 'e1' },
    ]));
    expect(index.dates).toContainEqual({ param: 'date', low: '2024-03-05T02:00:00.000Z', high: 'infinity' });
    const groupSubject = extractSearchIndex({ ...obs, subject: { reference: 'Group/g1' } }, registry.forType('Observation'));
    expect(groupSubject.references.find((r) => r.param === 'patient')).toBeUndefined();
  });

  it('skips references it cannot resolve to a type and id (contained, urn:uuid)', () => {
    const enc: Encounter = { resourceType: 'Encounter', status: 'finished', class: { code: 'IMP' }, subject: { reference: 'urn:uuid:1234' } };
    expect(extractSearchIndex(enc, registry.forType('Encounter')).references).toEqual([]);
  });

  it('never produces the same row twice', () => {
    const patient: Patient = { resourceType: 'Patient', name: [{ family: 'Li' }, { family: 'Li' }] };
    const rows = extractSearchIndex(patient, registry.forType('Patient')).strings.filter((s) => s.param === 'family');
    expect(rows).toEqual([{ param: 'family', value: 'li', exact: 'Li' }]);
  });

  it('normalises case and accents for string search', () => {
    expect(normalizeString('  MÜLLER ')).toBe('muller');
  });

  describe('number, quantity and composite parameters, and token text', () => {
    const UCUM = 'http://unitsofmeasure.org';
    const bloodPressure: Observation = {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '85354-9', display: 'Blood pressure panel' }], text: '血压' },
      component: [
        { code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] }, valueQuantity: { value: 120, unit: 'mmHg', system: UCUM, code: 'mm[Hg]' } },
        { code: { coding: [{ system: 'http://loinc.org', code: '8462-4' }] }, valueQuantity: { value: 80, unit: 'mmHg', system: UCUM, code: 'mm[Hg]' } },
      ],
    };

    it('indexes each component pairing the code and value of the same component only', () => {
      const rows = extractSearchIndex(bloodPressure, registry.forType('Observation')).composites.filter((c) => c.param === 'component-code-value-quantity');
      expect(rows.map((r) => [r.code, r.low, r.high, r.canonicalCode])).toEqual([
        ['8480-6', '120', '120', 'g.m-1.s-2'],
        ['8462-4', '80', '80', 'g.m-1.s-2'],
      ]);
      expect(new Set(rows.map((r) => r.tuple)).size).toBe(2);
    });

    it('indexes combo parameters from the observation and from each component', () => {
      const index = extractSearchIndex({ ...bloodPressure, valueQuantity: { value: 5.5, system: UCUM, code: 'mmol/L' } }, registry.forType('Observation'));
      const combo = index.composites.filter((c) => c.param === 'combo-code-value-quantity').map((c) => `${c.code}=${c.low}`);
      expect(combo.sort()).toEqual(['8462-4=80', '8480-6=120', '85354-9=5.5']);
      expect(index.quantities.filter((q) => q.param === 'component-value-quantity').map((q) => q.low).sort()).toEqual(['120', '80']);
    });

    it('gives a value read by several parameters the same rows in each, and identical combinations the same digest', () => {
      const temperature: Observation = {
        resourceType: 'Observation',
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '8310-5' }] },
        valueQuantity: { value: 37.2, unit: '°C', system: UCUM, code: 'Cel' },
      };
      const index = extractSearchIndex(temperature, registry.forType('Observation'));
      const quantity = (param: string) => index.quantities.filter((q) => q.param === param).map(({ param: _, ...q }) => q);
      const kelvin = { canonicalCode: 'K', canonicalLow: '310.35', canonicalHigh: '310.35' };
      expect(quantity('value-quantity')).toEqual([{ system: UCUM, code: 'Cel', unit: '°C', low: '37.2', high: '37.2', ...kelvin }]);
      expect(quantity('combo-value-quantity')).toEqual(quantity('value-quantity'));
      const composite = (param: string) => index.composites.filter((c) => c.param === param).map(({ param: _, ...c }) => c);
      const [row] = composite('code-value-quantity');
      expect(row).toMatchObject({ system: 'http://loinc.org', code: '8310-5', valueSystem: UCUM, valueCode: 'Cel', low: '37.2', high: '37.2', ...kelvin });
      // The tuple is the digest of the row's values, whichever composite the row is of.
      const values = [row.system, row.code, row.valueSystem, row.valueCode, row.low, row.high, row.canonicalCode, row.canonicalLow, row.canonicalHigh];
      expect(row.tuple).toBe(createHash('sha256').update(JSON.stringify(values)).digest('base64url'));
      expect(composite('combo-code-value-quantity')).toEqual([row]);
    });

    it('indexes a quantity in canonical units only when its system is UCUM and its code converts', () => {
      const glucose = (valueQuantity: Observation['valueQuantity']): Observation => ({ resourceType: 'Observation', status: 'final', code: { text: 'glucose' }, valueQuantity });
      const valueQuantity = (o: Observation) => extractSearchIndex(o, registry.forType('Observation')).quantities.filter((q) => q.param === 'value-quantity');
      const [ucum] = valueQuantity(glucose({ value: 99, system: UCUM, code: 'mg/dL', unit: 'mg/dL' }));
      expect(ucum).toEqual({
        param: 'value-quantity', system: UCUM, code: 'mg/dL', unit: 'mg/dL', low: '99', high: '99',
        canonicalCode: 'g.m-3', canonicalLow: '990', canonicalHigh: '990',
      });
      const [local] = valueQuantity(glucose({ value: 99, unit: '毫克每分升' }));
      expect([local.unit, local.canonicalCode, local.canonicalLow]).toEqual(['毫克每分升', null, null]);
    });

    it('indexes Money as a quantity in its currency, and decimals as the point they are (the search value carries the precision)', () => {
      const charge: ChargeItem = { resourceType: 'ChargeItem', status: 'billable', code: { text: 'x' }, subject: { reference: 'Patient/p1' }, priceOverride: { value: 12.5, currency: 'CNY' } };
      expect(extractSearchIndex(charge, registry.forType('ChargeItem')).quantities).toContainEqual(
        expect.objectContaining({ param: 'price-override', system: 'urn:iso:std:iso:4217', code: 'CNY', low: '12.5', high: '12.5' }),
      );
      const risk: RiskAssessment = { resourceType: 'RiskAssessment', status: 'final', subject: { reference: 'Patient/p1' }, prediction: [{ probabilityDecimal: 0.25 }] };
      expect(extractSearchIndex(risk, registry.forType('RiskAssessment')).numbers).toEqual([{ param: 'probability', low: '0.25', high: '0.25' }]);
    });

    it("indexes a token's text (CodeableConcept.text, Coding.display) under code:text for :text", () => {
      const text = extractSearchIndex(bloodPressure, registry.forType('Observation')).strings.filter((s) => s.param === 'code:text');
      expect(text.map((s) => s.value).sort()).toEqual(['blood pressure panel', '血压']);
    });
  });

  describe('bounds of one resource\'s index (R-51)', () => {
    const refusal = (f: () => unknown): StoreError => {
      try {
        f();
      } catch (e) {
        return e as StoreError;
      }
      throw new Error('not refused');
    };
    const codings = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => ({ system: 'urn:test', code: `${prefix}${i}` }));

    it('refuses a composite whose element gives more combinations than the bound (422 too-costly), before building them', () => {
      // N codings in `code` and N in `valueCodeableConcept`: N² combinations for combo-code-value-concept.
      const n = 40;
      const crafted: Observation = { resourceType: 'Observation', status: 'final', code: { coding: codings(n, 'c') }, valueCodeableConcept: { coding: codings(n, 'v') } };
      const e = refusal(() => extractSearchIndex(crafted, registry.forType('Observation')));
      expect(e).toBeInstanceOf(StoreError);
      expect([e.code, e.answer.status, e.answer.issue]).toEqual([StoreErrorCode.IndexTooLarge, 422, 'too-costly']);
      expect(e.message).toContain(`${n} × ${n}`);
      expect(e.expression?.[0]).toMatch(/^(combo-)?code-value-concept$/);
      // Within the bound the combinations are all indexed.
      const fine = extractSearchIndex({ ...crafted, code: { coding: codings(10, 'c') }, valueCodeableConcept: { coding: codings(10, 'v') } }, registry.forType('Observation'));
      expect(fine.composites.filter((c) => c.param === 'code-value-concept')).toHaveLength(100);
    });

    it('refuses a resource that gives more index rows than the bound', () => {
      const many: Observation = { resourceType: 'Observation', status: 'final', code: { coding: codings(INDEX_LIMITS.rowsPerResource + 1, 'c') } };
      const e = refusal(() => extractSearchIndex(many, registry.forType('Observation')));
      expect([e.code, e.answer.status, e.message]).toEqual([StoreErrorCode.IndexTooLarge, 422, expect.stringContaining(`more than ${INDEX_LIMITS.rowsPerResource} index rows`)]);
    });

    it('keeps a bounded prefix of long text and leaves out codes too long for an index row', () => {
      const long = '肺'.repeat(1200);
      const condition: Observation = {
        resourceType: 'Observation',
        status: 'final',
        identifier: [{ system: 'urn:test', value: 'x'.repeat(3000) }, { system: 'urn:test', value: 'short' }],
        code: { text: long },
      };
      const index = extractSearchIndex(condition, registry.forType('Observation'));
      const [text] = index.strings.filter((s) => s.param === 'code:text');
      expect([text.value, text.exact]).toEqual([long.slice(0, MAX_STRING_CHARS), long]);
      expect(index.tokens.filter((t) => t.param === 'identifier').map((t) => t.code)).toEqual(['short']);
    });
  });
});
