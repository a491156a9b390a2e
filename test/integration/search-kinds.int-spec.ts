import { randomUUID } from 'node:crypto';
import type { Observation, Quantity, Resource, RiskAssessment, ValueSet } from '@medplum/fhirtypes';
import { ChartWardenDatabase } from '../../src/database/chartwarden-database.js';
import { PostgresFhirStore } from '../../src/store/postgres/postgres-fhir.store.js';
import { openTestStore, type TestStore } from '../support/test-store.js';

/**
 * Number, quantity and composite parameters and the `:not`, `:text`, `:above`, `:below`
 * modifiers, end to end through the embedded store: written with the version, replaced with
 * the next one, and searched as R4 defines (https://hl7.org/fhir/R4/search.html). Each test's
 * resources carry this run's identifier system (or url base), so the suite shares the database.
 */
describe('Search of every parameter type (issue #16)', () => {
  const UCUM = 'http://unitsofmeasure.org';
  const LOINC = 'http://loinc.org';
  const system = `urn:test:${randomUUID()}`;
  let opened: TestStore;
  let db: ChartWardenDatabase;
  let store: PostgresFhirStore;

  const ids = (type: string, query: string) => opened.ids(type, query);
  const mine = (query: string, of = system) => ids('Observation', `identifier=${of}|&${query}`);
  const create = <T extends Resource>(resource: T) => opened.create(resource);
  const mmHg = (value: number): Quantity => ({ value, unit: 'mmHg', system: UCUM, code: 'mm[Hg]' });
  const bloodPressure = (name: string, systolic: number, diastolic: number, of = system): Observation => ({
    resourceType: 'Observation',
    identifier: [{ system: of, value: name }],
    status: 'final',
    code: { coding: [{ system: LOINC, code: '85354-9', display: 'Blood pressure panel' }], text: '血压' },
    component: [
      { code: { coding: [{ system: LOINC, code: '8480-6' }] }, valueQuantity: mmHg(systolic) },
      { code: { coding: [{ system: LOINC, code: '8462-4' }] }, valueQuantity: mmHg(diastolic) },
    ],
  });
  const glucose = (name: string, valueQuantity: Quantity): Observation => ({
    resourceType: 'Observation',
    identifier: [{ system, value: name }],
    status: 'final',
    code: { coding: [{ system: LOINC, code: '2339-0', display: 'Glucose' }] },
    valueQuantity,
  });

  let high: Observation & { id: string }; // 120/80
  let inverted: Observation & { id: string }; // 90/130: only its diastolic is above 100
  let mgdl: Observation & { id: string }; // 99 mg/dL = 0.99 g/L
  let gl: Observation & { id: string }; // 1.5 g/L = 150 mg/dL
  let mmol: Observation & { id: string }; // 5.4 mmol/L: no conversion to mass without a molar mass
  let uncoded: Observation & { id: string }; // code.text only

  beforeAll(async () => {
    opened = await openTestStore();
    ({ db, store } = opened);
    high = await create(bloodPressure('bp-high', 120, 80));
    inverted = await create(bloodPressure('bp-inverted', 90, 130));
    mgdl = await create(glucose('glu-mgdl', { value: 99, unit: 'mg/dL', system: UCUM, code: 'mg/dL' }));
    gl = await create(glucose('glu-gl', { value: 1.5, unit: 'g/L', system: UCUM, code: 'g/L' }));
    mmol = await create(glucose('glu-mmol', { value: 5.4, unit: 'mmol/L', system: UCUM, code: 'mmol/L' }));
    uncoded = await create<Observation>({ resourceType: 'Observation', identifier: [{ system, value: 'uncoded' }], status: 'final', code: { text: 'note' } });
  });
  afterAll(() => opened.close());

  it('a composite matches code and value of the same component, not of two different ones', async () => {
    expect(await mine(`component-code-value-quantity=${LOINC}|8480-6$gt100`)).toEqual([high.id]);
    expect(await mine(`component-code-value-quantity=${LOINC}|8462-4$gt100`)).toEqual([inverted.id]);
    expect(await mine(`component-code-value-quantity=8480-6$lt100|${UCUM}|mm[Hg]`)).toEqual([inverted.id]);
    // A token component without a system matches any system; one with a system only that system.
    expect(await mine(`component-code-value-quantity=http://other.test|8480-6$gt0`)).toEqual([]);
    // Two values are OR-ed.
    expect(await mine(`component-code-value-quantity=8480-6$gt100,8462-4$gt100`)).toEqual([high.id, inverted.id].sort());
    // combo- covers the observation's own value and its components'.
    expect(await mine(`combo-code-value-quantity=2339-0$ge140|${UCUM}|mg/dL`)).toEqual([gl.id]);
    expect(await mine(`combo-code-value-quantity=8462-4$130`)).toEqual([inverted.id]);
  });

  it('the next version replaces the composite, quantity and text rows of the previous one', async () => {
    const own = `${system}:changing`;
    const changed = bloodPressure('bp-changing', 150, 95, own);
    const v1 = await create(changed);
    expect(await mine(`component-code-value-quantity=8480-6$gt140`, own)).toEqual([v1.id]);
    expect(await mine(`code:text=血压`, own)).toEqual([v1.id]);
    const v2 = (await store.update({ ...v1, component: [{ ...changed.component![0], valueQuantity: mmHg(110) }], code: { text: 'bp' } })).resource;
    expect(v2.meta?.versionId).not.toBe(v1.meta?.versionId);
    expect(await mine(`component-code-value-quantity=8480-6$gt140`, own)).toEqual([]);
    expect(await mine(`component-code-value-quantity=8480-6$110`, own)).toEqual([v1.id]);
    expect(await mine(`component-value-quantity=95`, own)).toEqual([]);
    expect(await mine(`code:text=血压`, own)).toEqual([]);
    expect(await mine(`code:text=bp`, own)).toEqual([v1.id]);
    const rows = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM fhir_search_composite WHERE resource_type = 'Observation' AND resource_id = $1 AND param = 'component-code-value-quantity'`,
      [v1.id],
    );
    expect(rows[0].n).toBe(1);
  });

  it('quantities compare in canonical UCUM units where the units convert (mg/dL against g/L)', async () => {
    expect(await mine(`value-quantity=gt1.0|${UCUM}|g/L`)).toEqual([gl.id]);
    expect(await mine(`value-quantity=lt100|${UCUM}|mg/dL`)).toEqual([mgdl.id]);
    expect(await mine(`value-quantity=0.99|${UCUM}|g/L`)).toEqual([mgdl.id]);
    expect(await mine(`value-quantity=ge140|${UCUM}|mg/dL`)).toEqual([gl.id]);
    // mmol/L is an amount, not a mass: it never compares with mg/dL.
    expect(await mine(`value-quantity=gt0|${UCUM}|mg/dL`)).toEqual([mgdl.id, gl.id].sort());
    expect(await mine(`value-quantity=5.4|${UCUM}|mmol/L`)).toEqual([mmol.id]);
    // Without a system the unit is matched as written (code or unit); without a unit, any unit.
    expect(await mine(`value-quantity=5.4||mmol/L`)).toEqual([mmol.id]);
    expect(await mine(`value-quantity=ap100`)).toEqual([mgdl.id]);
    expect(await mine(`value-quantity=ne99`)).toEqual([gl.id, mmol.id].sort());
    expect(await mine(`value-quantity:missing=true&code=85354-9`)).toEqual([high.id, inverted.id].sort());
  });

  it('numbers match by the precision of the value searched (probability=0.25 is [0.245, 0.255), 0.3 is [0.25, 0.35))', async () => {
    const risk = (p: number): RiskAssessment => ({
      resourceType: 'RiskAssessment',
      identifier: [{ system, value: String(p) }],
      status: 'final',
      subject: { reference: 'Patient/nobody' },
      prediction: [{ probabilityDecimal: p }],
    });
    const low = await create(risk(0.25));
    const likely = await create(risk(0.8));
    const risks = (q: string) => ids('RiskAssessment', `identifier=${system}|&${q}`);
    expect(await risks('probability=0.25')).toEqual([low.id]);
    // A stored number is the point it is: only the searched value's precision counts (as in HAPI).
    expect(await risks('probability=0.3')).toEqual([low.id]);
    expect(await risks('probability=0.2')).toEqual([]);
    expect(await risks('probability=0.26')).toEqual([]);
    expect(await risks('probability=gt0.5')).toEqual([likely.id]);
    expect(await risks('probability=le0.25')).toEqual([low.id]);
    expect(await risks('probability=ap0.75')).toEqual([likely.id]);
  });

  it(':not finds the resources without a matching token, those without any included; :text searches the token text', async () => {
    expect(await mine('code:not=85354-9')).toEqual([mgdl.id, gl.id, mmol.id, uncoded.id].sort());
    expect(await mine(`code:not=${LOINC}|2339-0,85354-9`)).toEqual([uncoded.id]);
    expect(await mine('code:text=BLOOD pres')).toEqual([high.id, inverted.id].sort());
    expect(await mine('code:text=血')).toEqual([high.id, inverted.id].sort());
    expect(await mine('code:text=note')).toEqual([uncoded.id]);
    expect(await mine('code:text=pressure')).toEqual([]);
  });

  it(':below finds a uri and those under it by path segment; :above finds the uri and its parents', async () => {
    const base = `http://acme.test/${randomUUID()}/fhir`;
    const valueSet = (url: string): ValueSet => ({ resourceType: 'ValueSet', url, status: 'active' });
    const root = await create(valueSet(`${base}/ValueSet/vitals`));
    const child = await create(valueSet(`${base}/ValueSet/vitals/v2`));
    const sibling = await create(valueSet(`${base}/ValueSet/vitalsigns`));
    expect(await ids('ValueSet', `url:below=${base}/ValueSet/vitals`)).toEqual([root.id, child.id].sort());
    expect(await ids('ValueSet', `url:below=${base}/`)).toEqual([root.id, child.id, sibling.id].sort());
    expect(await ids('ValueSet', `url:above=${base}/ValueSet/vitals/v2/extra`)).toEqual([root.id, child.id].sort());
    expect(await ids('ValueSet', `url=${base}/ValueSet/vitals`)).toEqual([root.id]);
  });
});
