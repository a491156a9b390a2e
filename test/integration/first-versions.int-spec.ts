import { randomUUID } from 'node:crypto';
import type { DocumentReference, Encounter, Observation, Patient, Provenance, Resource } from '@medplum/fhirtypes';
import { DEFERRED_BOUNDS } from '../../src/store/postgres/first-versions.js';
import { INDEX_TABLES } from '../../src/store/postgres/index-tables.js';
import { SearchParameterRegistry } from '../../src/store/search/search-parameter.registry.js';
import { parseSearchRequest } from '../../src/store/search/search-request.js';
import { StoreError, StoreErrorCode } from '../../src/store/store.errors.js';
import { openTestStore, type TestStore } from '../support/test-store.js';

/**
 * Issue #13, bulk load: the creates of one transaction wait and are written together, in one
 * statement, before the transaction's next statement or its commit (src/store/postgres/first-versions.ts).
 * What is written must be exactly what a create on its own writes (the oracle: the same
 * resources created outside a transaction, one statement each), every statement of the
 * transaction must see them, and a failure must leave nothing behind.
 */
describe('The creates of one transaction, written together (issue #13)', () => {
  let opened: TestStore;

  beforeAll(async () => {
    opened = await openTestStore();
  });
  afterAll(() => opened.close());

  /** Every row the store keeps of one record, its id and the instant left out: version, current row, each index table. */
  const rowsOf = async (type: string, id: string) => {
    const rows: Record<string, unknown[]> = {};
    const current = await opened.db.query<{ version_id: number; owner: string | null; patient_links: string[]; content: Resource; content_text: string }>(
      'SELECT version_id, owner, patient_links, content, content_text FROM fhir_resource WHERE resource_type = $1 AND id = $2',
      [type, id],
    );
    rows.current = current.map((r) => ({ ...r, content: unstamped(r.content), content_text: unstamped(JSON.parse(r.content_text) as Resource) }));
    rows.versions = (
      await opened.db.query<{ version_id: number; method: string; content: Resource }>('SELECT version_id, method, content FROM fhir_resource_version WHERE resource_type = $1 AND id = $2', [type, id])
    ).map((r) => ({ ...r, content: unstamped(r.content) }));
    for (const { table, cols, owned } of Object.values(INDEX_TABLES)) {
      const columns = [...cols, ...(owned ? ['owner'] : [])].join(', ');
      rows[table] = (await opened.db.query(`SELECT ${columns} FROM ${table} WHERE resource_type = $1 AND resource_id = $2`, [type, id]))
        .map((r) => JSON.stringify(r, (_k, v: unknown) => (v instanceof Date ? v.toISOString() : v)))
        .sort();
    }
    return rows;
  };
  const unstamped = (r: Resource) => {
    const { id: _id, meta, ...content } = r;
    const { lastUpdated: _lastUpdated, ...kept } = meta ?? {};
    return { ...content, meta: kept };
  };

  /** A small record of every index kind: a patient, a stay, vital signs with quantities and components, a document with strings and dates. */
  const record = (patient: string, encounter: string): Resource[] => [
    { resourceType: 'Encounter', status: 'in-progress', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' }, subject: { reference: `Patient/${patient}` } } as Encounter,
    {
      resourceType: 'Observation',
      status: 'final',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
      code: { coding: [{ system: 'http://loinc.org', code: '85354-9' }] },
      subject: { reference: `Patient/${patient}` },
      encounter: { reference: `Encounter/${encounter}` },
      effectiveDateTime: '2026-12-01T08:00:00+08:00',
      component: [
        { code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] }, valueQuantity: { value: 120, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' } },
        { code: { coding: [{ system: 'http://loinc.org', code: '8462-4' }] }, valueQuantity: { value: 80.50, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' } },
      ],
    } as Observation,
    {
      resourceType: 'DocumentReference',
      status: 'current',
      docStatus: 'final',
      type: { coding: [{ system: 'http://loinc.org', code: '11506-3' }], text: '病程记录' },
      subject: { reference: `Patient/${patient}` },
      date: '2026-12-01T09:30:00+08:00',
      description: '患者病情平稳',
      content: [{ attachment: { contentType: 'text/plain', data: Buffer.from('病程记录').toString('base64') } }],
      context: { encounter: [{ reference: `Encounter/${encounter}` }], period: { start: '2026-11-30', end: '2026-12-01' } },
    } as DocumentReference,
  ];

  it('writes every row exactly as a create on its own writes it: current row, version, owner, links to patients and every index table', async () => {
    // Both records name one visit by the same reference (the store mints each Encounter's own id).
    const visit = randomUUID();
    const direct: Resource[] = [await opened.create<Patient>({ resourceType: 'Patient', name: [{ text: '张三' }], birthDate: '1950-01-02', gender: 'male' })];
    // Outside a transaction each create is its own statement: the oracle.
    for (const r of record(direct[0].id as string, visit)) direct.push(await opened.create(r));
    const batched = await opened.store.transaction(async (tx) => {
      const out: Resource[] = [(await tx.create<Patient>({ resourceType: 'Patient', name: [{ text: '张三' }], birthDate: '1950-01-02', gender: 'male' })).resource];
      for (const r of record(out[0].id as string, visit)) out.push((await tx.create(r)).resource);
      return out;
    });
    expect(batched.map((r) => r.resourceType)).toEqual(direct.map((r) => r.resourceType));
    for (const [n, one] of direct.entries()) {
      const [a, b] = [await rowsOf(one.resourceType, one.id as string), await rowsOf(batched[n].resourceType, batched[n].id as string)];
      // The rows name their own patient: compare them with its id swapped.
      const swapped = JSON.parse(JSON.stringify(b).replaceAll(batched[0].id as string, direct[0].id as string)) as typeof a;
      expect({ type: one.resourceType, rows: swapped }).toEqual({ type: one.resourceType, rows: a });
      expect(a.current).toHaveLength(1);
    }
    // Not vacuous: each kind the record gives was written.
    const observation = await rowsOf('Observation', batched[2].id as string);
    for (const table of ['fhir_search_token', 'fhir_search_reference', 'fhir_search_date', 'fhir_search_quantity', 'fhir_search_composite']) expect(observation[table].length).toBeGreaterThan(0);
    expect((await rowsOf('DocumentReference', batched[3].id as string)).fhir_search_string.length).toBeGreaterThan(0);
    expect(observation.current[0]).toMatchObject({ owner: batched[0].id });
  });

  it('every statement of the transaction sees the creates before it: reads, searches and the record index', async () => {
    const seen = await opened.store.transaction(async (tx) => {
      const patient = (await tx.create<Patient>({ resourceType: 'Patient', name: [{ text: '李四' }] })).resource;
      const [encounter, observation] = record(patient.id as string, 'not-yet');
      const stay = (await tx.create(encounter)).resource;
      const vital = (await tx.create({ ...observation, encounter: { reference: `Encounter/${stay.id}` } })).resource;
      const read = await tx.read('Observation', vital.id as string);
      const found = await tx.search(searchOf('Observation', `patient=${patient.id}`));
      const visits = await tx.records.encountersOfPatient(patient.id as string);
      return { read: read.id, found: found.matches.map((m) => m.id), visits, expected: { vital: vital.id, stay: stay.id } };
    });
    expect(seen.read).toBe(seen.expected.vital);
    expect(seen.found).toEqual([seen.expected.vital]);
    expect(seen.visits).toEqual([seen.expected.stay]);
  });

  it('a signature written before its record in the same transaction is filed under the record\'s patient, as on its own (decision 0018)', async () => {
    const patient = await opened.create<Patient>({ resourceType: 'Patient', name: [{ text: '王五' }] });
    const owners = await opened.store.transaction(async (tx) => {
      const [, observation] = record(patient.id, randomUUID());
      const id = randomUUID();
      // The Provenance (written at once) signs a record whose id ChartWarden minted for a later entry (a Bundle's urn:uuid).
      const signature = (
        await tx.create<Provenance>({ resourceType: 'Provenance', target: [{ reference: `Observation/${id}` }], recorded: '2026-12-06T08:00:00+08:00', agent: [{ who: { reference: 'Practitioner/dr-a' } }] })
      ).resource;
      await tx.create({ ...observation, encounter: undefined }, { assignedId: id });
      return { signature: signature.id as string };
    });
    const [row] = await opened.db.query<{ owner: string | null }>(`SELECT owner FROM fhir_resource WHERE resource_type = 'Provenance' AND id = $1`, [owners.signature]);
    expect(row.owner).toBe(patient.id);
  });

  it('an id already taken fails the whole transaction with a conflict, and none of its creates is written (R-51)', async () => {
    const taken = await opened.create<Patient>({ resourceType: 'Patient', name: [{ text: '赵六' }] });
    const fresh = randomUUID();
    const failed = opened.store.transaction(async (tx) => {
      await tx.create<Patient>({ resourceType: 'Patient', name: [{ text: '新' }] }, { assignedId: fresh });
      await tx.create<Patient>({ resourceType: 'Patient', name: [{ text: '重' }] }, { assignedId: taken.id });
    });
    await expect(failed).rejects.toBeInstanceOf(StoreError);
    await expect(failed).rejects.toMatchObject({ code: StoreErrorCode.Conflict });
    expect(await opened.db.query('SELECT 1 FROM fhir_resource WHERE resource_type = $1 AND id = $2', ['Patient', fresh])).toEqual([]);
    expect(((await opened.store.read('Patient', taken.id)) as Patient).name).toEqual([{ text: '赵六' }]);
  });

  it('a transaction that fails after its creates leaves none of them (R-51)', async () => {
    const ids: string[] = [];
    const failed = opened.store.transaction(async (tx) => {
      for (let n = 0; n < 3; n++) ids.push((await tx.create<Patient>({ resourceType: 'Patient', name: [{ text: `回滚${n}` }] })).resource.id as string);
      throw new Error('a later entry was refused');
    });
    await expect(failed).rejects.toThrow('a later entry was refused');
    expect(ids).toHaveLength(3);
    expect(await opened.db.query('SELECT id FROM fhir_resource WHERE resource_type = $1 AND id = ANY($2::text[])', ['Patient', ids])).toEqual([]);
    expect(await opened.db.query('SELECT resource_id FROM fhir_search_string WHERE resource_type = $1 AND resource_id = ANY($2::text[])', ['Patient', ids])).toEqual([]);
  });

  it(`more creates than wait at once (${DEFERRED_BOUNDS.versions}) are all written, each with its index`, async () => {
    const patient = await opened.create<Patient>({ resourceType: 'Patient', name: [{ text: '长期住院' }] });
    const code = `bulk-${randomUUID().slice(0, 8)}`;
    const count = DEFERRED_BOUNDS.versions + 7;
    await opened.store.transaction(async (tx) => {
      for (let n = 0; n < count; n++) {
        await tx.create<Observation>({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'urn:test', code }] }, subject: { reference: `Patient/${patient.id}` }, valueQuantity: { value: n } });
      }
    });
    const [indexed] = await opened.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM fhir_search_token WHERE resource_type = 'Observation' AND param = 'code' AND code = $1 AND owner = $2`, [code, patient.id]);
    const [stored] = await opened.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM fhir_resource WHERE resource_type = 'Observation' AND owner = $1`, [patient.id]);
    expect({ indexed: indexed.n, stored: stored.n }).toEqual({ indexed: count, stored: count });
  });

  const searchOf = (type: string, query: string) =>
    parseSearchRequest(type, [...new URLSearchParams(query).entries()], SearchParameterRegistry.fromProfiles(), { defaultCount: 100, maxCount: 1000, lenient: false });
});
