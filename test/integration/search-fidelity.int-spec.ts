import { jest } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { Condition, Observation, Quantity, Resource } from '@medplum/fhirtypes';
import { ChartWardenDatabase } from '../../src/database/chartwarden-database.js';
import { PostgresFhirStore } from '../../src/store/postgres/postgres-fhir.store.js';
import { INDEX_LIMITS } from '../../src/store/search/index-limits.js';
import { MAX_SEARCH_UNITS } from '../../src/store/search/search-values.js';
import { StoreError, StoreErrorCode } from '../../src/store/store.errors.js';
import { openTestStore, type TestStore } from '../support/test-store.js';

/**
 * The search index's bounds and its number semantics, through the embedded store
 * (review of issue #16): what a writer sends can neither block the server (composite rows,
 * rows per resource) nor fail it (btree row size), and `eq` finds a value at the precision the
 * HIS wrote it (R4 search.html#number: only the searched value's precision counts).
 */
describe('Search index bounds and precision (issue #16, R-51)', () => {
  const UCUM = 'http://unitsofmeasure.org';
  const system = `urn:test:${randomUUID()}`;
  let opened: TestStore;
  let db: ChartWardenDatabase;
  let store: PostgresFhirStore;

  const ids = (type: string, query: string) => opened.ids(type, query);
  const create = <T extends Resource>(resource: T) => opened.create(resource);
  const stored = async (type: string): Promise<number> => {
    const rows = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM fhir_resource r, jsonb_array_elements(r.content->'identifier') i WHERE r.resource_type = $1 AND i->>'system' = $2`,
      [type, system],
    );
    return rows[0].n;
  };
  const observation = (name: string, more: Partial<Observation>): Observation => ({
    resourceType: 'Observation',
    identifier: [{ system, value: name }],
    status: 'final',
    code: { text: name },
    ...more,
  });

  beforeAll(async () => {
    opened = await openTestStore();
    ({ db, store } = opened);
  });
  afterAll(() => opened.close());

  it('R-51: a composite of N×N combinations in one element is refused with 422 too-costly naming the parameter; nothing is stored', async () => {
    const codings = (n: number, p: string) => Array.from({ length: n }, (_, i) => ({ system: 'urn:test', code: `${p}${i}` }));
    const crafted = observation('crafted', { code: { coding: codings(60, 'c') }, valueCodeableConcept: { coding: codings(60, 'v') } });
    const before = await stored('Observation');
    const error = await store.create(crafted).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StoreError);
    const e = error as StoreError;
    expect([e.code, e.answer.status, e.answer.issue]).toEqual([StoreErrorCode.IndexTooLarge, 422, 'too-costly']);
    expect(e.expression?.[0]).toMatch(/code-value-concept$/);
    expect(e.message).toContain(`more than ${INDEX_LIMITS.compositeRowsPerElement}`);
    expect(await stored('Observation')).toBe(before);
  });

  it('long coded text is stored and found by :text with its prefix; an over-long identifier is stored, not indexed, never a 500', async () => {
    const long = `慢性阻塞性肺疾病${'伴急性加重'.repeat(240)}`; // 1,208 characters, 3,624 UTF-8 bytes
    const condition = await create<Condition>({
      resourceType: 'Condition',
      identifier: [{ system, value: 'long-text' }],
      subject: { reference: 'Patient/nobody' },
      code: { text: long },
    });
    const conditions = (q: string) => ids('Condition', `identifier=${system}|&${q}`);
    expect(await conditions(`code:text=慢性阻塞性肺疾病`)).toEqual([condition.id]);
    // The whole text, as searched, is cut like the indexed one: it finds the resource too.
    expect(await conditions(`code:text=${long}`)).toEqual([condition.id]);
    expect(await conditions(`code:text=肺炎`)).toEqual([]);

    const identifier = 'A'.repeat(3000);
    const obs = await create(observation('long-id', { identifier: [{ system, value: 'long-id' }, { system, value: identifier }] }));
    expect(await ids('Observation', `identifier=${system}|long-id`)).toEqual([obs.id]);
    expect(await ids('Observation', `identifier=${system}|${identifier}`)).toEqual([]);
  });

  describe('eq and the other prefixes at the precision the HIS sent: a stored 37.0 Cel', () => {
    let temp: Observation & { id: string };
    let sodium: Observation & { id: string };
    const cel = (value: number): Quantity => ({ value, unit: '°C', system: UCUM, code: 'Cel' });
    const mine = (q: string) => ids('Observation', `identifier=${system}|&${q}`);

    beforeAll(async () => {
      temp = await create(observation('temp', { valueQuantity: cel(37.0) }));
      sodium = await create(observation('glucose', { valueQuantity: { value: 5.4, unit: 'mmol/L', system: UCUM, code: 'mmol/L' } }));
    });

    it('is found by 37.0, 37 and 98.6 [degF], not by 36.95', async () => {
      expect(await mine(`value-quantity=37.0|${UCUM}|Cel`)).toEqual([temp.id]);
      expect(await mine(`value-quantity=37|${UCUM}|Cel`)).toEqual([temp.id]);
      expect(await mine(`value-quantity=37.0`)).toEqual([temp.id]);
      expect(await mine(`value-quantity=98.6|${UCUM}|[degF]`)).toEqual([temp.id]);
      expect(await mine(`value-quantity=36.95|${UCUM}|Cel`)).toEqual([]);
      expect(await mine(`value-quantity=5.40|${UCUM}|mmol/L`)).toEqual([sodium.id]);
      expect(await mine(`value-quantity=5.4||mmol/L`)).toEqual([sodium.id]);
    });

    it('splits the number line consistently: lt | eq | gt, le = lt ∪ eq, ge = eq ∪ gt, ne = lt ∪ gt', async () => {
      const q = (prefix: string, v: string) => mine(`value-quantity=${prefix}${v}|${UCUM}|Cel`);
      const found = [temp.id];
      for (const [prefix, at36_95, at37_0, at37_1] of [
        ['eq', [], found, []],
        ['ne', found, [], found],
        ['gt', found, [], []],
        ['sa', found, [], []],
        ['ge', found, found, []],
        ['lt', [], [], found],
        ['eb', [], [], found],
        ['le', [], found, found],
        ['ap', found, found, found],
      ] as [string, string[], string[], string[]][]) {
        expect([prefix, await q(prefix, '36.95'), await q(prefix, '37.0'), await q(prefix, '37.1')]).toEqual([prefix, at36_95, at37_0, at37_1]);
      }
    });
  });

  it('R-51: a weird unit is matched as text, silently; more than the distinct units a search may name is 400 too-costly', async () => {
    const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((m) => jest.spyOn(console, m));
    try {
      expect(await ids('Observation', `identifier=${system}|&value-quantity=1|${UCUM}|6-+4_()`)).toEqual([]);
      for (const spy of spies) expect(spy).not.toHaveBeenCalled();
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    const units = Array.from({ length: MAX_SEARCH_UNITS + 1 }, (_, i) => `1|${UCUM}|mg${i}`).join(',');
    const error = await ids('Observation', `value-quantity=${encodeURIComponent(units)}`).then(
      () => undefined,
      (e: unknown) => e as StoreError,
    );
    expect([error?.code, error?.answer.status, error?.answer.issue]).toEqual([StoreErrorCode.SearchTooCostly, 400, 'too-costly']);
  });
});
