import { randomUUID } from 'node:crypto';
import type { Observation, Patient, Provenance } from '@medplum/fhirtypes';
import type { AccessFilter } from '../../src/store/access-facts.js';
import { SearchParameterRegistry } from '../../src/store/search/search-parameter.registry.js';
import { parseSearchRequest, type SearchRequest } from '../../src/store/search/search-request.js';
import { openTestStore, type TestStore } from '../support/test-store.js';

/**
 * Decision 0018 (issue #13): whose record a resource is, kept as `fhir_resource.owner` by every
 * write, and a patient's pages read in order from the patient's own index. These tests hold the
 * column to what the record says (a signature follows its record, even one written before the
 * record), and the page plans to the order and totals of the general plan.
 */
describe('Record owner and patient pages (decision 0018)', () => {
  let opened: TestStore;
  let registry: SearchParameterRegistry;
  /** An access filter that lets everything through: the patient page plans apply only with one. */
  const everyone: AccessFilter = { condition: { operator: 'and', value: [] }, options: { careWindowDays: 30 } };

  beforeAll(async () => {
    opened = await openTestStore();
    registry = SearchParameterRegistry.fromProfiles();
  });
  afterAll(() => opened.close());

  const ownerOf = async (type: string, id: string) =>
    (await opened.db.query<{ owner: string | null }>('SELECT owner FROM fhir_resource WHERE resource_type = $1 AND id = $2', [type, id]))[0]?.owner;
  const request = (type: string, query: string, extra: Partial<SearchRequest> = {}): SearchRequest => ({
    ...parseSearchRequest(type, [...new URLSearchParams(query).entries()], registry, { defaultCount: 20, maxCount: 1000, lenient: false }),
    access: everyone,
    ...extra,
  });
  const patient = () => opened.create<Patient>({ resourceType: 'Patient', name: [{ family: randomUUID() }] });
  const vital = (patientId: string, at?: string): Observation => ({
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
    subject: { reference: `Patient/${patientId}` },
    ...(at ? { effectiveDateTime: at } : {}),
  });

  it('a Patient owns itself; a record is its patient\'s; a signature written before its record is filed under it when the record comes', async () => {
    const a = await patient();
    expect(await ownerOf('Patient', a.id)).toBe(a.id);
    const obsId = randomUUID();
    const signature = await opened.create<Provenance>({
      resourceType: 'Provenance',
      target: [{ reference: `Observation/${obsId}` }],
      recorded: '2026-12-06T08:00:00+08:00',
      agent: [{ who: { reference: 'Practitioner/dr-owner' } }],
    });
    expect(await ownerOf('Provenance', signature.id)).toBeNull();
    await opened.store.update({ ...vital(a.id), id: obsId });
    expect(await ownerOf('Observation', obsId)).toBe(a.id);
    expect(await ownerOf('Provenance', signature.id)).toBe(a.id);
  });

  it('a record moved to another patient takes its date rows and its signatures along; a signature naming its own patient stays', async () => {
    const [a, b] = [await patient(), await patient()];
    const obs = await opened.create(vital(a.id, '2026-12-01T10:00:00+08:00'));
    const follows = await opened.create<Provenance>({ resourceType: 'Provenance', target: [{ reference: `Observation/${obs.id}` }], recorded: '2026-12-06T08:00:00+08:00', agent: [{ who: { reference: 'Practitioner/dr-owner' } }] });
    // Names its patient itself (R4's Provenance `patient` parameter: a target that is a Patient).
    const named = await opened.create<Provenance>({
      resourceType: 'Provenance',
      target: [{ reference: `Observation/${obs.id}` }, { reference: `Patient/${a.id}` }],
      recorded: '2026-12-06T08:00:00+08:00',
      agent: [{ who: { reference: 'Practitioner/dr-owner' } }],
    });
    await opened.store.update({ ...obs, subject: { reference: `Patient/${b.id}` } });
    expect(await ownerOf('Observation', obs.id)).toBe(b.id);
    expect(await ownerOf('Provenance', follows.id)).toBe(b.id);
    expect(await ownerOf('Provenance', named.id)).toBe(a.id);
    for (const table of ['fhir_search_date', 'fhir_search_token']) {
      const rows = await opened.db.query<{ owner: string }>(`SELECT owner FROM ${table} WHERE resource_type = 'Observation' AND resource_id = $1`, [obs.id]);
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.map((d) => d.owner)).toEqual(rows.map(() => b.id));
    }
    // A signature's index rows carry no owner: it may follow its records without a version of its own.
    expect(await opened.db.query(`SELECT 1 FROM fhir_search_token WHERE resource_type = 'Provenance' AND resource_id = $1 AND owner IS NOT NULL`, [follows.id])).toEqual([]);
    // The moved record is in b's pages and no longer in a's.
    expect((await opened.store.search(request('Observation', `patient=Patient/${b.id}&_sort=-date`))).matches.map((m) => m.id)).toEqual([obs.id]);
    expect((await opened.store.search(request('Observation', `patient=Patient/${a.id}&_sort=-date`))).matches).toEqual([]);
  });

  it('a patient\'s page by date reads the dated records, then the undated, in the order of the general plan, across page boundaries', async () => {
    const p = await patient();
    const created: Observation[] = [];
    // 7 dated (two at the same instant: ties break by id) and 4 without a date.
    for (const at of ['2026-12-01T08:00:00+08:00', '2026-12-03T08:00:00+08:00', '2026-12-02T08:00:00+08:00', '2026-12-03T08:00:00+08:00', '2026-11-30', '2026-12-05T23:59:00+08:00', '2026-12-04T12:00:00Z']) {
      created.push(await opened.create(vital(p.id, at)));
    }
    for (let n = 0; n < 4; n++) created.push(await opened.create(vital(p.id)));
    for (const sort of ['-date', 'date']) {
      // The general plan: the same search without the patient's own index (no access filter).
      const general = (await opened.store.search(request('Observation', `patient=Patient/${p.id}&_sort=${sort}&_count=100`, { access: undefined }))).matches.map((m) => m.id);
      expect(general).toHaveLength(11);
      const paged: string[] = [];
      for (let offset = 0; offset < 12; offset += 3) {
        const page = await opened.store.search(request('Observation', `patient=Patient/${p.id}&_sort=${sort}&_count=3`, { offset }));
        paged.push(...page.matches.map((m) => m.id as string));
      }
      expect(paged).toEqual(general);
    }
  });

  it('_total: exact up to countUpTo and left out beyond it by default; accurate counts every match; none never counts', async () => {
    const p = await patient();
    for (let n = 0; n < 12; n++) await opened.create(vital(p.id, `2026-12-0${1 + (n % 5)}T08:00:00+08:00`));
    const q = `patient=Patient/${p.id}&_count=5`;
    const estimated = await opened.store.search(request('Observation', q, { countUpTo: 10 }));
    expect(estimated.matches).toHaveLength(5);
    expect(estimated.total).toBeUndefined();
    expect((await opened.store.search(request('Observation', q, { countUpTo: 12 }))).total).toBe(12);
    expect((await opened.store.search(request('Observation', `${q}&_total=accurate`, { countUpTo: 10 }))).total).toBe(12);
    expect((await opened.store.search(request('Observation', `${q}&_total=none`))).total).toBeUndefined();
    // The last page knows its total without counting, whatever the cap.
    expect((await opened.store.search(request('Observation', q, { countUpTo: 1, offset: 10 }))).total).toBe(12);
  });

  it('$everything: the Patient first, then its record by type, with a record of another patient naming it by a second link', async () => {
    const [a, b] = [await patient(), await patient()];
    const own = await opened.create(vital(a.id, '2026-12-01T08:00:00+08:00'));
    const performedOnA = await opened.create<Observation>({ ...vital(b.id), performer: [{ reference: `Patient/${a.id}` }] });
    const all = await opened.store.everything(a.id, { count: 10, offset: 0, access: everyone });
    expect(`${all.matches[0].resourceType}/${all.matches[0].id}`).toBe(`Patient/${a.id}`);
    expect(all.matches.slice(1).map((m) => m.id).sort()).toEqual([own.id, performedOnA.id].sort());
    expect(all.total).toBe(3);
    const second = await opened.store.everything(a.id, { count: 2, offset: 2, access: everyone });
    expect(second.matches.map((m) => m.id)).toEqual([all.matches[2].id]);
  });

  it('$everything pages through several types and the linked stream with nothing lost or repeated, whatever the page size', async () => {
    const [a, b] = [await patient(), await patient()];
    const expected = [`Patient/${a.id}`];
    for (let n = 0; n < 5; n++) expected.push(`Observation/${(await opened.create(vital(a.id, `2026-12-0${n + 1}T08:00:00+08:00`))).id}`);
    for (let n = 0; n < 3; n++) {
      expected.push(`Condition/${(await opened.create({ resourceType: 'Condition', subject: { reference: `Patient/${a.id}` }, code: { text: `c${n}` } })).id}`);
    }
    expected.push(`Encounter/${(await opened.create({ resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, subject: { reference: `Patient/${a.id}` } })).id}`);
    expected.push(`Observation/${(await opened.create<Observation>({ ...vital(b.id), performer: [{ reference: `Patient/${a.id}` }] })).id}`);
    const key = (m: { resourceType: string; id?: string }) => `${m.resourceType}/${m.id}`;
    const whole = await opened.store.everything(a.id, { count: 100, offset: 0, access: everyone });
    expect(whole.matches.map(key).sort()).toEqual([...expected].sort());
    expect(whole.total).toBe(expected.length);
    for (const size of [1, 2, 4, 7]) {
      const paged: string[] = [];
      for (let offset = 0; offset < expected.length + size; offset += size) {
        const page = await opened.store.everything(a.id, { count: size, offset, access: everyone });
        expect(page.matches.length).toBeLessThanOrEqual(size);
        paged.push(...page.matches.map(key));
      }
      expect(paged).toEqual(whole.matches.map(key));
    }
  });
});
