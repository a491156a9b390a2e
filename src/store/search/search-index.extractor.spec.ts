import type { ChargeItem, Encounter, Observation, Patient, RiskAssessment } from '@medplum/fhirtypes';
import { loadR4Definitions } from '../fhir-definitions.js';
import { normalizeString } from './index-values.js';
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
        ['8480-6', '119.5', '120.5', 'g.m-1.s-2'],
        ['8462-4', '79.5', '80.5', 'g.m-1.s-2'],
      ]);
      expect(new Set(rows.map((r) => r.tuple)).size).toBe(2);
    });

    it('indexes combo parameters from the observation and from each component', () => {
      const index = extractSearchIndex({ ...bloodPressure, valueQuantity: { value: 5.5, system: UCUM, code: 'mmol/L' } }, registry.forType('Observation'));
      const combo = index.composites.filter((c) => c.param === 'combo-code-value-quantity').map((c) => `${c.code}=${c.low}`);
      expect(combo.sort()).toEqual(['8462-4=79.5', '8480-6=119.5', '85354-9=5.45']);
      expect(index.quantities.filter((q) => q.param === 'component-value-quantity').map((q) => q.low).sort()).toEqual(['119.5', '79.5']);
    });

    it('indexes a quantity in canonical units only when its system is UCUM and its code converts', () => {
      const glucose = (valueQuantity: Observation['valueQuantity']): Observation => ({ resourceType: 'Observation', status: 'final', code: { text: 'glucose' }, valueQuantity });
      const valueQuantity = (o: Observation) => extractSearchIndex(o, registry.forType('Observation')).quantities.filter((q) => q.param === 'value-quantity');
      const [ucum] = valueQuantity(glucose({ value: 99, system: UCUM, code: 'mg/dL', unit: 'mg/dL' }));
      expect(ucum).toEqual({
        param: 'value-quantity', system: UCUM, code: 'mg/dL', unit: 'mg/dL', low: '98.5', high: '99.5',
        canonicalCode: 'g.m-3', canonicalLow: '985', canonicalHigh: '995',
      });
      const [local] = valueQuantity(glucose({ value: 99, unit: '毫克每分升' }));
      expect([local.unit, local.canonicalCode, local.canonicalLow]).toEqual(['毫克每分升', null, null]);
    });

    it('indexes Money as a quantity in its currency, and decimals as the range of their precision', () => {
      const charge: ChargeItem = { resourceType: 'ChargeItem', status: 'billable', code: { text: 'x' }, subject: { reference: 'Patient/p1' }, priceOverride: { value: 12.5, currency: 'CNY' } };
      expect(extractSearchIndex(charge, registry.forType('ChargeItem')).quantities).toContainEqual(
        expect.objectContaining({ param: 'price-override', system: 'urn:iso:std:iso:4217', code: 'CNY', low: '12.45', high: '12.55' }),
      );
      const risk: RiskAssessment = { resourceType: 'RiskAssessment', status: 'final', subject: { reference: 'Patient/p1' }, prediction: [{ probabilityDecimal: 0.25 }] };
      expect(extractSearchIndex(risk, registry.forType('RiskAssessment')).numbers).toEqual([{ param: 'probability', low: '0.245', high: '0.255' }]);
    });

    it("indexes a token's text (CodeableConcept.text, Coding.display) under code:text for :text", () => {
      const text = extractSearchIndex(bloodPressure, registry.forType('Observation')).strings.filter((s) => s.param === 'code:text');
      expect(text.map((s) => s.value).sort()).toEqual(['blood pressure panel', '血压']);
    });
  });
});
