import { randomUUID } from 'node:crypto';
import type { Encounter, Group, Observation, Patient } from '@medplum/fhirtypes';
import { MIGRATIONS } from '../../migrations/index.js';
import { SystemClock } from '../../src/common/clock.js';
import { ChartWardenDatabase } from '../../src/database/chartwarden-database.js';
import type { AccessFilter } from '../../src/store/access-facts.js';
import { OWNER_PARAM, PatientCompartment } from '../../src/store/patient-compartment.js';
import { PostgresFhirStore } from '../../src/store/postgres/postgres-fhir.store.js';
import { searchSql } from '../../src/store/postgres/search-sql.js';
import { SearchParameterRegistry } from '../../src/store/search/search-parameter.registry.js';
import { parseSearchRequest, type SearchRequest } from '../../src/store/search/search-request.js';
import { sql, urlOf } from '../support/database-admin.js';
import { openTestStore, type TestStore } from '../support/test-store.js';
import { dropThrowawayDatabase } from '../support/throwaway-database.js';

/**
 * Issue #13, decision 0018: each resource's links to patients on its own row
 * (`fhir_resource.patient_links`, `src/store/postgres/patient-links.ts`), so that a count of
 * every match of a patient's search judges its `patient=` criterion from the row instead of
 * probing the row's reference rows.
 * The column must say exactly what those rows say, after every kind of write and after the
 * migration fills it; and a criterion read from it must match exactly what the probe matched,
 * including a record filed under the patient by another link.
 */
describe('A resource\'s links to patients on its row (issue #13, decision 0018)', () => {
  let opened: TestStore;
  let registry: SearchParameterRegistry;
  /** Lets everything through: the patient page's plans, where the column is read, apply only with a filter. */
  const everyone: AccessFilter = { condition: { operator: 'and', value: [] }, options: { careWindowDays: 30 } };

  beforeAll(async () => {
    opened = await openTestStore();
    registry = SearchParameterRegistry.fromProfiles();
  });
  afterAll(() => opened.close());

  const request = (type: string, query: string): SearchRequest => ({
    ...parseSearchRequest(type, [...new URLSearchParams(query).entries()], registry, { defaultCount: 100, maxCount: 1000, lenient: false }),
    access: everyone,
  });
  /**
   * What a patient's search finds under a filter and without one (the general plan's probes): the
   * ids of its page, its count of every match (`_summary=count`), and its default total counted up
   * to the cap behind a page of none (`capped`, `_count=0`): the two statements that read the column. A page
   * that holds every match knows its total without counting, so each is asked for directly.
   */
  const bothWays = async (type: string, query: string) => {
    const found = async (access: AccessFilter | undefined) => ({
      ids: (await opened.store.search({ ...request(type, query), access })).matches.map((r) => r.id).sort(),
      total: (await opened.store.search({ ...request(type, query), access, countOnly: true })).total,
      capped: (await opened.store.search({ ...request(type, query), access, count: 0 })).total,
    });
    return { filtered: await found(everyone), general: await found(undefined) };
  };
  /** Rows whose `patient_links` differ from their reference rows naming a Patient (none, when the column holds). */
  const mismatched = (db: ChartWardenDatabase) =>
    db.query<{ resource_type: string; id: string }>(
      `SELECT r.resource_type, r.id FROM fhir_resource r
        WHERE ARRAY(SELECT unnest(r.patient_links) ORDER BY 1) IS DISTINCT FROM
              ARRAY(SELECT DISTINCT x.param || '|' || x.target_id FROM fhir_search_reference x
                     WHERE x.resource_type = r.resource_type AND x.resource_id = r.id AND x.target_type = 'Patient' ORDER BY 1)`,
    );
  const linksOf = async (type: string, id: string) =>
    (await opened.db.query<{ patient_links: string[] }>('SELECT patient_links FROM fhir_resource WHERE resource_type = $1 AND id = $2', [type, id]))[0].patient_links;
  const patient = () => opened.create<Patient>({ resourceType: 'Patient', name: [{ family: randomUUID() }] });
  const vital = (subject: string, extra: Partial<Observation> = {}): Observation => ({
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
    subject: { reference: subject },
    ...extra,
  });

  it('every write keeps the column equal to the reference rows: a create, an update that moves the record, the creates of a transaction', async () => {
    const [a, b] = [await patient(), await patient()];
    const obs = await opened.create(vital(`Patient/${a.id}`));
    expect(await linksOf('Observation', obs.id)).toEqual([`_patient|${a.id}`, `patient|${a.id}`, `subject|${a.id}`]);
    expect(await linksOf('Patient', a.id)).toEqual([]);

    await opened.store.update({ ...vital(`Patient/${b.id}`), id: obs.id });
    expect(await linksOf('Observation', obs.id)).toEqual([`_patient|${b.id}`, `patient|${b.id}`, `subject|${b.id}`]);

    const [visit, second] = await opened.store.transaction(async (tx) => [
      (await tx.create<Encounter>({ resourceType: 'Encounter', status: 'in-progress', class: { code: 'IMP' }, subject: { reference: `Patient/${a.id}` } })).resource,
      (await tx.create(vital(`Patient/${a.id}`, { performer: [{ reference: `Patient/${b.id}` }] }))).resource,
    ]);
    expect(await linksOf('Encounter', visit.id as string)).toEqual([`_patient|${a.id}`, `patient|${a.id}`, `subject|${a.id}`]);
    expect(await linksOf('Observation', second.id as string)).toEqual([`_patient|${a.id}`, `patient|${a.id}`, `performer|${b.id}`, `subject|${a.id}`]);
    expect(await mismatched(opened.db)).toEqual([]);
  });

  it('no search parameter\'s code contains "|": an entry `<param>|<id>` names one (param, id) pair whatever the id holds', () => {
    const codes = registry.indexedTypes().flatMap((type) => registry.forType(type).map((def) => def.code));
    expect(codes.length).toBeGreaterThan(1000);
    expect(codes.filter((code) => code.includes('|'))).toEqual([]);
    expect(OWNER_PARAM).not.toContain('|');
  });

  it('a count of every match reads the criterion from the column and counts exactly what the probes find: a record filed under the patient by another link is no match for patient=', async () => {
    const [x, y] = [await patient(), await patient()];
    const group = await opened.create<Group>({ resourceType: 'Group', type: 'person', actual: true, member: [{ entity: { reference: `Patient/${x.id}` } }] });
    const bySubject = await opened.create(vital(`Patient/${x.id}`));
    // Filed under x by its performer (its subject is a Group): x's record, but not `patient=x`.
    const byPerformer = await opened.create(vital(`Group/${group.id}`, { performer: [{ reference: `Patient/${x.id}` }] }));
    // x's by its subject, y performing: `performer=Patient/y` does not fix the page to y, and stays y's link.
    const both = await opened.create(vital(`Patient/${x.id}`, { performer: [{ reference: `Patient/${y.id}` }] }));
    expect(await linksOf('Observation', byPerformer.id)).toEqual([`_patient|${x.id}`, `performer|${x.id}`]);

    const cases: [string, string[]][] = [
      [`patient=${x.id}`, [bySubject.id, both.id]],
      [`subject=Patient/${x.id}`, [bySubject.id, both.id]],
      [`patient=${x.id}&performer=Patient/${y.id}`, [both.id]],
      [`patient=${x.id}&performer=Patient/${x.id}`, []],
      [`subject=Patient/${x.id}&patient=${y.id}`, []],
      [`patient=${y.id}`, []],
    ];
    for (const [query, expected] of cases) {
      const found = await bothWays('Observation', query);
      expect({ query, ...found.filtered }).toEqual({ query, ids: [...expected].sort(), total: expected.length, capped: expected.length });
      expect({ query, ...found.general }).toEqual({ query, ids: [...expected].sort(), total: expected.length, capped: expected.length });
    }
    // The record filed by its performer is x's: a search by performer finds it on x's page.
    expect((await bothWays('Observation', `performer=Patient/${x.id}`)).general.ids).toEqual([byPerformer.id]);
  });

  it('a count, of every match or up to the cap, reads no reference row of the rows it counts; a page still probes them, walking the owner index as before', async () => {
    const x = await patient();
    for (let n = 0; n < 12; n++) await opened.create(vital(`Patient/${x.id}`));
    const built = searchSql(request('Observation', `patient=${x.id}`));
    const plans = { every: built.count, capped: built.countUpTo(500), page: built.page };
    for (const [which, statement] of Object.entries(plans)) {
      const [{ 'QUERY PLAN': [plan] }] = await opened.db.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${statement.text}`, statement.params);
      const probes = nodes(plan.Plan).filter((n) => n['Relation Name'] === 'fhir_search_reference').reduce((sum, n) => sum + n['Actual Loops'], 0);
      expect({ which, probes }).toEqual({ which, probes: which === 'page' ? 12 : 0 });
      expect(nodes(plan.Plan).some((n) => n['Index Name'] === 'ix_fhir_resource_owner' && n['Actual Rows'] === 12)).toBe(true);
    }
    // `_summary=count` and `_total=accurate` count with it, and find what the probes find.
    const counted = await opened.store.search({ ...request('Observation', `patient=${x.id}`), countOnly: true });
    expect(counted.total).toBe(12);
  });

  it('the migration fills the column from the reference rows: undone and run again, every row holds what its writes wrote', async () => {
    const database = `chartwarden_patient_links_${Date.now()}_${process.pid}`;
    await sql(urlOf(), `CREATE DATABASE "${database}"`);
    const db = await ChartWardenDatabase.connect(urlOf(database), 2);
    try {
      const s = new PostgresFhirStore(db, registry, PatientCompartment.fromProfiles(), new SystemClock());
      const x = (await s.create<Patient>({ resourceType: 'Patient' })).resource.id as string;
      const y = (await s.create<Patient>({ resourceType: 'Patient' })).resource.id as string;
      for (let n = 0; n < 5; n++) await s.create(vital(`Patient/${n % 2 ? x : y}`, { performer: [{ reference: `Patient/${n % 2 ? y : x}` }] }));
      const snapshot = async () => db.query<{ id: string; patient_links: string[] }>('SELECT id, patient_links FROM fhir_resource ORDER BY resource_type, id');
      const written = await snapshot();
      expect(written.filter((r) => r.patient_links.length > 0)).toHaveLength(5);

      expect(MIGRATIONS.at(-1)?.name).toBe('PatientLinks1765800000000');
      await db.dataSource.undoLastMigration({ transaction: 'all' });
      expect(await db.query(`SELECT 1 FROM information_schema.columns WHERE table_name = 'fhir_resource' AND column_name = 'patient_links'`)).toHaveLength(0);
      await db.dataSource.runMigrations({ transaction: 'all' });
      const filled = await snapshot();
      expect(filled.map((r) => ({ ...r, patient_links: [...r.patient_links].sort() }))).toEqual(written);
      expect(await mismatched(db)).toEqual([]);
    } finally {
      await db.onApplicationShutdown();
      await dropThrowawayDatabase(urlOf(), database);
    }
  });
});

/** One node of `EXPLAIN (ANALYZE, FORMAT JSON)`. */
interface PlanNode {
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  Plans?: PlanNode[];
}

const nodes = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodes)];
