import { randomUUID } from 'node:crypto';
import type { Composition, DocumentReference, Encounter, Observation, Patient, Provenance, Resource } from '@medplum/fhirtypes';
import { SystemClock } from '../../src/common/clock.js';
import { ChartWardenDatabase } from '../../src/database/chartwarden-database.js';
import type { AccessCondition } from '../../src/store/access-facts.js';
import { loadR4Definitions } from '../../src/store/fhir-definitions.js';
import type { IndexedRecord, PatientRecordIndex, RecordRef } from '../../src/store/patient-record-index.port.js';
import { PatientCompartment } from '../../src/store/patient-compartment.js';
import { PostgresFhirStore } from '../../src/store/postgres/postgres-fhir.store.js';
import { PostgresRecordIndex } from '../../src/store/postgres/postgres-record-index.js';
import { SearchParameterRegistry } from '../../src/store/search/search-parameter.registry.js';
import { parseSearchRequest } from '../../src/store/search/search-request.js';
import { asReplica, sql } from '../support/database-admin.js';
import { TestClock, testDatabaseUrl } from '../support/test-app.js';

/**
 * `PatientRecordIndex` over the embedded store: every answer on records written through the
 * store's own create/update, so the search index behind it is the real one. Ids carry this
 * run's prefix, so the suite shares the database with others.
 */
describe('PostgresRecordIndex', () => {
  let db: ChartWardenDatabase;
  let store: PostgresFhirStore;
  let records: PatientRecordIndex;
  const run = randomUUID().slice(0, 8);
  const id = (name: string) => `${run}-${name}`;
  const [P, Q, DEPT, OTHER_DEPT] = [id('p'), id('q'), id('dept'), id('dept2')];
  const [E1, E2, E3, EQ] = [id('e1'), id('e2'), id('e3'), id('eq')];
  const CLOSED = ['final', 'amended', 'entered-in-error'];
  const put = async <T extends Resource>(resource: T & { id: string }): Promise<T> => (await store.update(resource)).resource;
  /** Whether another session could lock the row now (`SHARE` is refused by FOR UPDATE, `UPDATE` by any lock). */
  const free = async (type: string, rid: string, mode: 'UPDATE' | 'SHARE') =>
    (
      await sql<{ n: number }>(
        testDatabaseUrl(),
        `SELECT count(*)::int AS n FROM (SELECT 1 FROM fhir_resource WHERE resource_type = $1 AND id = $2 FOR ${mode} SKIP LOCKED) s`,
        [type, rid],
      )
    )[0].n === 1;
  const refs = (rows: IndexedRecord[]) => rows.map((r) => `${r.resource.resourceType}/${r.resource.id}`);
  const keys = (rows: RecordRef[]) => rows.map((r) => `${r.type}/${r.id}`);

  const encounter = (eid: string, extra: Partial<Encounter>): Encounter & { id: string } => ({
    resourceType: 'Encounter',
    id: eid,
    status: 'finished',
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
    subject: { reference: `Patient/${P}` },
    serviceProvider: { reference: `Organization/${DEPT}` },
    ...extra,
  });

  beforeAll(async () => {
    loadR4Definitions();
    db = await ChartWardenDatabase.connect(testDatabaseUrl(), 4);
    store = new PostgresFhirStore(db, SearchParameterRegistry.fromProfiles(), PatientCompartment.fromProfiles(), new SystemClock());
    records = store.records;
    await put<Patient>({ resourceType: 'Patient', id: P, name: [{ text: '张三' }] });
    await put<Patient>({ resourceType: 'Patient', id: Q });
    // E1: an inpatient stay in January; E2: an outpatient visit on 1 March (+08:00), its patient as an absolute reference;
    // E3: an open stay of another department; EQ: another patient's.
    await put(encounter(E1, { period: { start: '2024-01-01T08:00:00+08:00', end: '2024-01-10T10:00:00+08:00' } }));
    await put(encounter(E2, {
      subject: { reference: `https://his.example/fhir/Patient/${P}` },
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
      period: { start: '2024-03-01T08:00:00+08:00', end: '2024-03-01T10:00:00+08:00' },
    }));
    await put(encounter(E3, { status: 'in-progress', period: { start: '2024-05-01T08:00:00+08:00' }, serviceProvider: { reference: `Organization/${OTHER_DEPT}` } }));
    await put(encounter(EQ, { subject: { reference: `Patient/${Q}` }, period: { start: '2024-01-02', end: '2024-01-03' } }));
    const composition = (cid: string, status: Composition['status'], enc: string): Composition & { id: string } => ({
      resourceType: 'Composition',
      id: cid,
      status,
      type: { text: 'progress note' },
      subject: { reference: `Patient/${P}` },
      encounter: { reference: enc },
      date: '2024-01-02',
      author: [{ reference: 'Practitioner/x' }],
      title: cid,
    });
    await put(composition(id('c1'), 'preliminary', `Encounter/${E1}`));
    // Filed under E1 by a versioned reference: the index resolves it as any other.
    await put(composition(id('c2'), 'final', `Encounter/${E1}/_history/1`));
    await put<DocumentReference>({
      resourceType: 'DocumentReference',
      id: id('d1'),
      status: 'current',
      docStatus: 'preliminary',
      subject: { reference: `Patient/${P}` },
      context: { encounter: [{ reference: `Encounter/${E2}` }] },
      content: [{ attachment: { contentType: 'text/plain', data: 'YQ==' } }],
    });
    // Another patient's record filed under P's encounter, and P's record with no encounter.
    await put<Observation>({ resourceType: 'Observation', id: id('oq'), status: 'final', code: { text: 'x' }, subject: { reference: `Patient/${Q}` }, encounter: { reference: `Encounter/${E1}` } });
    await put<Observation>({ resourceType: 'Observation', id: id('op'), status: 'final', code: { text: 'x' }, subject: { reference: `Patient/${P}` } });
    await put<Provenance>({
      resourceType: 'Provenance',
      id: id('v1'),
      target: [{ reference: `Composition/${id('c1')}` }],
      recorded: '2024-01-02T10:00:00+08:00',
      agent: [{ who: { reference: 'Practitioner/x' } }],
    });
  });
  afterAll(() => db.onApplicationShutdown());

  it("encountersOfPatient: the patient's encounters by subject in any reference form, sorted", async () => {
    expect(await records.encountersOfPatient(P)).toEqual([E1, E2, E3]);
    expect(await records.encountersOfPatient(Q)).toEqual([EQ]);
    expect(await records.encountersOfPatient(id('nobody'))).toEqual([]);
  });

  it('encountersOfPatient: a period keeps the encounters overlapping it, an open one included once it started', async () => {
    const day = (d: string) => ({ from: `${d}T00:00:00+08:00`, to: `${d}T23:59:59.999+08:00` });
    expect(await records.encountersOfPatient(P, day('2024-03-01'))).toEqual([E2]);
    expect(await records.encountersOfPatient(P, day('2024-02-01'))).toEqual([]);
    // Ends at 10:00:00 +08:00 on the 10th (that whole second): a period starting within it overlaps, one after it does not.
    expect(await records.encountersOfPatient(P, { from: '2024-01-10T10:00:00.999+08:00', to: '2024-02-01T00:00:00+08:00' })).toEqual([E1]);
    expect(await records.encountersOfPatient(P, { from: '2024-01-10T10:00:01+08:00', to: '2024-02-01T00:00:00+08:00' })).toEqual([]);
    // …and one ending as it starts (08:00 on the 1st) overlaps too.
    expect(await records.encountersOfPatient(P, { from: '2023-12-01T00:00:00+08:00', to: '2024-01-01T08:00:00+08:00' })).toEqual([E1]);
    expect(await records.encountersOfPatient(P, { from: '2023-12-01T00:00:00+08:00', to: '2024-01-01T07:59:59.999+08:00' })).toEqual([]);
    expect(await records.encountersOfPatient(P, { from: '2024-01-05T00:00:00+08:00', to: '2024-06-01T00:00:00+08:00' })).toEqual([E1, E2, E3]);
  });

  it("encountersOfDepartment: the department's encounters, of a class when given, newest first, limited", async () => {
    const ids = (es: Encounter[]) => es.map((e) => e.id);
    expect(ids(await records.encountersOfDepartment(DEPT, { limit: 10 }))).toEqual([EQ, E2, E1]);
    expect(ids(await records.encountersOfDepartment(DEPT, { classCode: 'IMP', limit: 10 }))).toEqual([EQ, E1]);
    expect(ids(await records.encountersOfDepartment(DEPT, { classCode: 'IMP', limit: 1 }))).toEqual([EQ]);
    expect(ids(await records.encountersOfDepartment(OTHER_DEPT, { classCode: 'IMP', limit: 10 }))).toEqual([E3]);
  });

  it('recordsOfEncounters: records of the types filed under the encounters, each with its encounter, whoever their patient', async () => {
    const found = await records.recordsOfEncounters([E1, E2], ['Composition', 'DocumentReference', 'Observation']);
    expect(found.map((r) => [`${r.resource.resourceType}/${r.resource.id}`, r.encounter])).toEqual([
      [`Composition/${id('c1')}`, E1],
      [`Composition/${id('c2')}`, E1],
      [`DocumentReference/${id('d1')}`, E2],
      [`Observation/${id('oq')}`, E1],
    ]);
    const c1 = found[0];
    expect(c1.versionId).toBe('1');
    expect(c1.lastUpdated).toBe(c1.resource.meta?.lastUpdated);
    expect(await records.recordsOfEncounters([E1], ['DocumentReference'])).toEqual([]);
    expect(await records.recordsOfEncounters([], ['Composition'])).toEqual([]);
  });

  it('recordsOfEncounters: excludingStatuses leaves out by docStatus, else status', async () => {
    const open = await records.recordsOfEncounters([E1, E2], ['Composition', 'DocumentReference'], { excludingStatuses: CLOSED });
    expect(refs(open)).toEqual([`Composition/${id('c1')}`, `DocumentReference/${id('d1')}`]);
    // DocumentReference.status is `current`; its docStatus decides.
    expect(refs(await records.recordsOfEncounters([E2], ['DocumentReference'], { excludingStatuses: ['current'] }))).toEqual([`DocumentReference/${id('d1')}`]);
    expect(await records.recordsOfEncounters([E2], ['DocumentReference'], { excludingStatuses: ['preliminary'] })).toEqual([]);
  });

  it("documentKeysOfDepartment: open documents of the department's encounters", async () => {
    expect(keys(await records.documentKeysOfDepartment(DEPT, ['Composition', 'DocumentReference'], CLOSED))).toEqual([`Composition/${id('c1')}`, `DocumentReference/${id('d1')}`]);
    expect(await records.documentKeysOfDepartment(OTHER_DEPT, ['Composition', 'DocumentReference'], CLOSED)).toEqual([]);
  });

  it('recordsOfPatient: by subject, optionally under encounters, oldest update first', async () => {
    const types = ['Composition', 'DocumentReference', 'Observation'];
    expect(refs(await records.recordsOfPatient(P, types))).toEqual([`Composition/${id('c1')}`, `Composition/${id('c2')}`, `DocumentReference/${id('d1')}`, `Observation/${id('op')}`]);
    expect(refs(await records.recordsOfPatient(P, types, { encounters: [E2] }))).toEqual([`DocumentReference/${id('d1')}`]);
    expect(refs(await records.recordsOfPatient(Q, types))).toEqual([`Observation/${id('oq')}`]);
  });

  it('R-40: sealScope takes the encounters, their records of the patient, their signatures, never another patient’s record nor the Patient', async () => {
    const scope = await records.sealScope({ patient: P, encounters: [E1], wholeRecord: false, also: [] }, false);
    expect(refs(scope)).toEqual([`Composition/${id('c1')}`, `Composition/${id('c2')}`, `Encounter/${E1}`, `Provenance/${id('v1')}`]);
    const whole = await records.sealScope({ patient: P, encounters: [E1, E2, E3], wholeRecord: true, also: [{ type: 'Observation', id: id('oq') }] }, false);
    expect(refs(whole)).toEqual([
      `Composition/${id('c1')}`,
      `Composition/${id('c2')}`,
      `DocumentReference/${id('d1')}`,
      `Encounter/${E1}`,
      `Encounter/${E2}`,
      `Encounter/${E3}`,
      `Observation/${id('op')}`,
      `Observation/${id('oq')}`, // only because `also` names it (a pending line, wherever it is now)
      `Provenance/${id('v1')}`,
    ]);
  });

  it('sealScope with lock holds the records FOR UPDATE until the transaction ends', async () => {
    await store.transaction(async (tx) => {
      const locked = await tx.records.sealScope({ patient: P, encounters: [E2], wholeRecord: false, also: [] }, true);
      expect(refs(locked)).toEqual([`DocumentReference/${id('d1')}`, `Encounter/${E2}`]);
      expect(await free('DocumentReference', id('d1'), 'SHARE')).toBe(false);
      expect(await free('Encounter', E2, 'SHARE')).toBe(false);
      expect(await free('Encounter', E1, 'SHARE')).toBe(true);
    });
    expect(await free('Encounter', E2, 'UPDATE')).toBe(true);
  });

  it('R-18: lastVisits gives per patient the end of the last outpatient visit and inpatient stay, and whether one is open', async () => {
    const visits = (await records.lastVisits(['AMB', 'EMER'])).filter((v) => v.patient === P || v.patient === Q);
    expect(visits).toEqual([
      { patient: P, lastOutpatient: new Date('2024-03-01T02:00:00.999Z'), lastInpatient: expect.any(Date), open: true },
      { patient: Q, lastInpatient: new Date('2024-01-03T15:59:59.999Z'), open: false },
    ]);
    // E3 is open: its end is the end of time, later than E1's.
    expect(visits[0].lastInpatient?.getTime()).toBeGreaterThan(Date.parse('9999-01-01'));
  });

  it('readMany, versions and currentVersions answer for known records and leave out the unknown', async () => {
    const c1 = id('c1');
    await put<Composition>({ ...((await store.read('Composition', c1)) as Composition & { id: string }), title: 'revised' });
    const many = await records.readMany([{ type: 'Composition', id: c1 }, { type: 'Encounter', id: E1 }, { type: 'Composition', id: id('none') }]);
    expect(refs(many).sort()).toEqual([`Composition/${c1}`, `Encounter/${E1}`]);
    expect(many.find((r) => r.resource.id === c1)?.versionId).toBe('2');
    const versions = await records.versions([
      { type: 'Composition', id: c1, version: '1' },
      { type: 'Composition', id: c1, version: '2' },
      { type: 'Composition', id: c1, version: '3' },
      { type: 'Composition', id: c1, version: 'abc' },
    ]);
    expect([...versions.keys()].sort()).toEqual([`Composition/${c1}/1`, `Composition/${c1}/2`]);
    expect((versions.get(`Composition/${c1}/1`) as Composition).title).toBe(c1);
    expect((versions.get(`Composition/${c1}/2`) as Composition).title).toBe('revised');
    const current = await records.currentVersions([{ type: 'Composition', id: c1 }, { type: 'Encounter', id: E1 }, { type: 'Patient', id: id('none') }]);
    expect(Object.fromEntries(current)).toEqual({ [`Composition/${c1}`]: '2', [`Encounter/${E1}`]: '1' });
  });

  it('firstTimes: when the first version was written and when a version first reached a status', async () => {
    const cid = id('signed');
    const v1 = await put<Composition>({
      resourceType: 'Composition',
      id: cid,
      status: 'preliminary',
      type: { text: 't' },
      date: '2024-01-01',
      author: [{ reference: 'Practitioner/x' }],
      title: 'a',
      subject: { reference: `Patient/${P}` },
    });
    const v2 = await put<Composition>({ ...(v1 as Composition & { id: string }), status: 'final' });
    await put<Composition>({ ...(v2 as Composition & { id: string }), title: 'b' });
    const times = await records.firstTimes({ type: 'Composition', id: cid }, ['final', 'amended']);
    expect(times.created.toISOString()).toBe(v1.meta?.lastUpdated);
    expect(times.reached?.toISOString()).toBe(v2.meta?.lastUpdated);
    expect((await records.firstTimes({ type: 'Composition', id: id('c2') }, ['amended'])).reached).toBeUndefined();
  });

  it('recordsUpdatedSince and currentDiffersFromVersion: keys for integrity checks', async () => {
    const since = new Date((await store.read('Composition', id('c2'))).meta?.lastUpdated as string);
    const mine = (refs: { type: string; id: string }[]) => refs.filter((r) => r.id.startsWith(run));
    expect(mine(await records.recordsUpdatedSince(['Composition', 'DocumentReference'], since))).toEqual(
      expect.arrayContaining([{ type: 'Composition', id: id('c1') }, { type: 'Composition', id: id('c2') }, { type: 'DocumentReference', id: id('d1') }]),
    );
    expect(await records.recordsUpdatedSince(['Composition'], since, { type: 'Composition', id: id('c2') })).toEqual([{ type: 'Composition', id: id('c2') }]);
    expect(await records.recordsUpdatedSince(['Composition'], new Date(Date.now() + 3_600_000), { type: 'Composition', id: id('c2') })).toEqual([]);
    expect(await records.currentDiffersFromVersion(['Composition'], { type: 'Composition', id: id('c2') })).toEqual([]);
    // An edit made in the database, behind the store.
    await asReplica(testDatabaseUrl(), [[`UPDATE fhir_resource SET content = jsonb_set(content, '{title}', '"forged"') WHERE resource_type = 'Composition' AND id = $1`, [id('c2')]]]);
    expect(await records.currentDiffersFromVersion(['Composition'], { type: 'Composition', id: id('c2') })).toEqual([{ type: 'Composition', id: id('c2'), version: '1' }]);
    expect(mine(await records.currentDiffersFromVersion(['Composition', 'DocumentReference']))).toEqual([{ type: 'Composition', id: id('c2'), version: '1' }]);
  });

  it('lock holds the records in the bound transaction (update: FOR UPDATE; key-share: against FOR UPDATE only)', async () => {
    await store.transaction(async (tx) => {
      await tx.records.lock([{ type: 'Encounter', id: E1 }, { type: 'Patient', id: P }], 'update');
      expect(await free('Encounter', E1, 'SHARE')).toBe(false);
      expect(await free('Patient', P, 'SHARE')).toBe(false);
      expect(await free('Encounter', E2, 'UPDATE')).toBe(true);
    });
    await store.transaction(async (tx) => {
      await tx.records.lock([{ type: 'Encounter', id: E1 }], 'key-share');
      expect(await free('Encounter', E1, 'SHARE')).toBe(true);
      expect(await free('Encounter', E1, 'UPDATE')).toBe(false);
    });
    expect(await free('Encounter', E1, 'UPDATE')).toBe(true);
  });

  it('an index over an offline command’s own client answers the same', async () => {
    const pg = (await import('pg')).default;
    const client = new pg.Client({ connectionString: testDatabaseUrl() });
    await client.connect();
    try {
      expect(await PostgresRecordIndex.overClient(client).encountersOfPatient(P)).toEqual([E1, E2, E3]);
      const scope = await PostgresRecordIndex.overClient(client).sealScope({ patient: P, encounters: [E1], wholeRecord: false, also: [] }, false);
      expect(refs(scope)).toEqual([`Composition/${id('c1')}`, `Composition/${id('c2')}`, `Encounter/${E1}`, `Provenance/${id('v1')}`]);
    } finally {
      await client.end();
    }
  });
});

describe("PostgresFhirStore: the care window's now is the store's clock", () => {
  let db: ChartWardenDatabase;
  let store: PostgresFhirStore;
  const clock = new TestClock();
  const registry = SearchParameterRegistry.fromProfiles();

  beforeAll(async () => {
    loadR4Definitions();
    db = await ChartWardenDatabase.connect(testDatabaseUrl(), 4);
    store = new PostgresFhirStore(db, registry, PatientCompartment.fromProfiles(), clock);
  });
  afterAll(() => db.onApplicationShutdown());

  it('R-03: a visit that ended 10 days ago is inside a 30-day care window until the clock moves past it', async () => {
    const patient = (await store.create<Patient>({ resourceType: 'Patient' })).resource;
    const ended = new Date(clock.now().getTime() - 10 * 86_400_000).toISOString();
    const visit = (await store.create<Encounter>({
      resourceType: 'Encounter',
      status: 'finished',
      class: { code: 'AMB' },
      subject: { reference: `Patient/${patient.id}` },
      period: { start: ended, end: ended },
    })).resource;
    const note: Observation = {
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'n' },
      subject: { reference: `Patient/${patient.id}` },
      encounter: { reference: `Encounter/${visit.id}` },
    };
    const stored = (await store.create(note)).resource;
    const options = { careWindowDays: 30 };
    const inWindow: AccessCondition = { operator: 'eq', field: 'withinCareWindow', value: true };
    const search = () =>
      store.search({
        ...parseSearchRequest('Observation', [['patient', patient.id as string]], registry, { defaultCount: 20, maxCount: 100, lenient: false }),
        access: { condition: inWindow, options },
      });
    const decided = async () => ({
      stored: (await store.accessFacts('Observation', stored.id as string, options)).withinCareWindow,
      incoming: (await store.accessFactsOf(note, options)).withinCareWindow,
      check: (await store.check('Observation', stored.id as string, [inWindow], options, false)).firstMatch,
      many: (await store.checkMany('Observation', [stored.id as string], [inWindow], options)).get(stored.id as string)?.firstMatch,
      found: (await search()).matches.map((m) => m.id),
      everything: (await store.everything(patient.id as string, { count: 10, offset: 0, access: { condition: inWindow, options } })).total,
    });
    expect(await decided()).toEqual({ stored: true, incoming: true, check: 0, many: 0, found: [stored.id], everything: 3 });
    clock.advance(21 * 86_400_000);
    expect(await decided()).toEqual({ stored: false, incoming: false, check: -1, many: -1, found: [], everything: 0 });
  });
});
