import 'reflect-metadata';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import { SystemClock } from '../../src/common/clock.js';
import { ChartWardenDatabase } from '../../src/database/chartwarden-database.js';
import { MIGRATIONS } from '../../migrations/index.js';
import { CHARTWARDEN_ENTITIES } from '../../src/schema.js';
import { loadR4Definitions } from '../../src/store/fhir-definitions.js';
import { OWNER_PARAM, PatientCompartment } from '../../src/store/patient-compartment.js';
import { PostgresFhirStore } from '../../src/store/postgres/postgres-fhir.store.js';
import { SearchParameterRegistry } from '../../src/store/search/search-parameter.registry.js';
import { sql, urlOf } from '../support/database-admin.js';
import { testDatabaseUrl } from '../support/test-app.js';
import { dropThrowawayDatabase } from '../support/throwaway-database.js';

/**
 * The owner row (decision 0016): each stored resource of the Patient compartment carries one
 * index row (`_patient`) naming the patient whose record it is: the first of its type's
 * compartment links that names a Patient, trying `patient`, `subject`, `beneficiary`,
 * `individual` first, then the compartment's own order; of several Patients behind one link,
 * the first by code unit. The expected owners below are read off the R4 CompartmentDefinition
 * by hand (checked against `PatientCompartment.linkParams` in the first test), not computed by
 * the code under test. Then: an update moves the row, a Provenance naming no patient follows its
 * record at decision time, and migration `CompartmentFacts1765300000000` backfills exactly the
 * rows the write path writes.
 */
const compartment = PatientCompartment.fromProfiles();
const registry = SearchParameterRegistry.fromProfiles();

/** The link parameters each tricky type is judged by, in the order decision 0016 gives them (by hand, from compartmentdefinition-patient.json). */
const LINK_ORDER: Record<string, string[]> = {
  Invoice: ['patient', 'subject', 'recipient'], // compartment order: subject, patient, recipient
  Communication: ['subject', 'sender', 'recipient'],
  Coverage: ['beneficiary', 'policy-holder', 'subscriber', 'payor'], // compartment order: policy-holder, subscriber, beneficiary, payor
  Observation: ['subject', 'performer'],
  MedicationAdministration: ['patient', 'subject', 'performer'], // compartment order: patient, performer, subject
  Account: ['subject'],
  Appointment: ['actor'],
  Provenance: ['patient'],
  Group: ['member'],
};

/** The owner rows of these resources, `Type/id → patient` (absent when none). */
async function ownersIn(url: string, where = ''): Promise<Record<string, string[]>> {
  const rows = await sql<{ key: string; patient: string }>(
    url,
    `SELECT resource_type || '/' || resource_id AS key, target_id AS patient FROM fhir_search_reference
      WHERE param = $1 AND target_type = 'Patient' ${where} ORDER BY 1, 2`,
    [OWNER_PARAM],
  );
  const out: Record<string, string[]> = {};
  for (const r of rows) (out[r.key] ??= []).push(r.patient);
  return out;
}

/**
 * Writes, through `store`, one of each tricky case for patients `a`, `b` (and `zed` < `alpha`
 * by code unit); returns the keys and each one's expected owner (undefined: no owner row).
 */
async function writeTrickyRecords(store: PostgresFhirStore, prefix: string) {
  const id = (name: string) => `${prefix}-${name}`;
  const [a, b, zed, alpha] = [id('a'), id('b'), id('Zed'), id('alpha')];
  const put = async (resource: Resource & { id: string }) => `${resource.resourceType}/${(await store.update(resource)).resource.id}`;
  for (const p of [a, b, zed, alpha]) await put({ resourceType: 'Patient', id: p });
  const ref = (p: string) => ({ reference: `Patient/${p}` });
  const expected: Record<string, string | undefined> = {
    // `patient` (= subject where Patient) before `recipient`.
    [await put({ resourceType: 'Invoice', id: id('invoice'), status: 'issued', subject: ref(a), recipient: ref(b) })]: a,
    // `subject` before `recipient`…
    [await put({ resourceType: 'Communication', id: id('comm-subject'), status: 'completed', subject: ref(b), recipient: [ref(a)] })]: b,
    // …and with no subject, the compartment's order: `sender` before `recipient`.
    [await put({ resourceType: 'Communication', id: id('comm-sender'), status: 'completed', sender: ref(b), recipient: [ref(a)] })]: b,
    [await put({ resourceType: 'Communication', id: id('comm-recipient'), status: 'completed', recipient: [ref(a)] })]: a,
    // `beneficiary` is preferred over the compartment's first links (policy-holder, subscriber).
    [await put({ resourceType: 'Coverage', id: id('coverage'), status: 'active', policyHolder: ref(b), subscriber: ref(b), beneficiary: ref(a), payor: [ref(b)] })]: a,
    // A Group subject is no patient: no owner row…
    [await put({ resourceType: 'Observation', id: id('obs-group'), status: 'final', code: { text: 'x' }, subject: { reference: `Group/${id('ward')}` } })]: undefined,
    // …unless another compartment link names one (`performer`).
    [await put({ resourceType: 'Observation', id: id('obs-group-performer'), status: 'final', code: { text: 'x' }, subject: { reference: `Group/${id('ward')}` }, performer: [ref(b)] })]: b,
    // `subject` before `performer` (R4 lists performer first).
    [await put({
      resourceType: 'MedicationAdministration',
      id: id('medadmin'),
      status: 'completed',
      medicationCodeableConcept: { text: 'x' },
      subject: ref(a),
      performer: [{ actor: ref(b) }],
      effectiveDateTime: '2026-01-01T08:00:00+08:00',
    })]: a,
    // Two Patients behind one link: the first by code unit ("Z" sorts before "a"; no locale order).
    [await put({ resourceType: 'Account', id: id('account'), status: 'active', subject: [ref(alpha), ref(zed)] })]: zed,
    // A patient named only as a participant.
    [await put({ resourceType: 'Appointment', id: id('appointment'), status: 'proposed', participant: [{ actor: ref(a), status: 'needs-action' }] })]: a,
    // A Provenance naming no patient has no row of its own: its patient is read from its target at decision time.
    [await put({ resourceType: 'Provenance', id: id('prov'), target: [{ reference: `Invoice/${id('invoice')}` }], recorded: '2026-01-01T08:00:00+08:00', agent: [{ who: { reference: 'Practitioner/x' } }] })]: undefined,
    // A Group is a compartment member through `member`, but it lists many patients and belongs to none of their records (decision 0016).
    [await put({ resourceType: 'Group', id: id('group'), type: 'person', actual: true, member: [{ entity: ref(b) }, { entity: ref(a) }] })]: undefined,
    // A Patient is its own record: no row.
    [`Patient/${a}`]: undefined,
  };
  return { a, b, expected };
}

describe('Compartment facts: one owner row per resource (decision 0016)', () => {
  let db: ChartWardenDatabase;
  let store: PostgresFhirStore;
  const run = randomUUID().slice(0, 8);

  beforeAll(async () => {
    loadR4Definitions();
    db = await ChartWardenDatabase.connect(testDatabaseUrl(), 4);
    store = new PostgresFhirStore(db, registry, compartment, new SystemClock());
  });
  afterAll(() => db.onApplicationShutdown());

  it('the link order this suite expects is the compartment\'s, with patient/subject/beneficiary/individual first', () => {
    for (const [type, params] of Object.entries(LINK_ORDER)) expect({ type, params: compartment.linkParams(type) }).toEqual({ type, params });
  });

  it('each tricky type gets the owner the rule names, as one row (or none)', async () => {
    const { expected } = await writeTrickyRecords(store, run);
    const owners = await ownersIn(testDatabaseUrl(), `AND resource_id LIKE '${run}-%'`);
    const want = Object.fromEntries(Object.entries(expected).filter(([, p]) => p !== undefined).map(([k, p]) => [k, [p]]));
    expect(owners).toEqual(want);
  });

  it('an update naming another patient moves the owner row; a Provenance of the record follows it at decision time', async () => {
    const prefix = `${run}-mv`;
    const { a, b } = await writeTrickyRecords(store, prefix);
    const invoice = `${prefix}-invoice`;
    const facts = (type: string, id: string) => store.accessFacts(type, id, { careWindowDays: 30, withoutContext: true });
    expect((await facts('Provenance', `${prefix}-prov`)).patient).toBe(a);

    await store.update({ resourceType: 'Invoice', id: invoice, status: 'issued', subject: { reference: `Patient/${b}` }, recipient: { reference: `Patient/${a}` } });
    expect(await ownersIn(testDatabaseUrl(), `AND resource_type = 'Invoice' AND resource_id = '${invoice}'`)).toEqual({ [`Invoice/${invoice}`]: [b] });
    expect((await facts('Invoice', invoice)).patient).toBe(b);
    // The signature's own index did not change: it is filed under the record's patient as the record is now.
    expect(await ownersIn(testDatabaseUrl(), `AND resource_type = 'Provenance' AND resource_id = '${prefix}-prov'`)).toEqual({});
    expect((await facts('Provenance', `${prefix}-prov`)).patient).toBe(b);

    // Naming no patient any more: the row goes.
    await store.update({ resourceType: 'Invoice', id: invoice, status: 'issued', subject: { reference: `Group/${prefix}-ward` } });
    expect(await ownersIn(testDatabaseUrl(), `AND resource_type = 'Invoice' AND resource_id = '${invoice}'`)).toEqual({});
    expect((await facts('Invoice', invoice)).patient).toBeUndefined();
  });

  describe('migration CompartmentFacts1765300000000 on a database written before it', () => {
    const name = `cw_compartment_${Date.now()}_${randomBytes(4).toString('hex')}`;
    const BEFORE = 'AuditDisclosures1765200000000';
    const open: ChartWardenDatabase[] = [];
    const connect = async () => {
      const fresh = await ChartWardenDatabase.connect(urlOf(name), 2, 0, { as: 'owner' }, CHARTWARDEN_ENTITIES);
      open.push(fresh);
      return fresh;
    };
    const applied = async (on: ChartWardenDatabase) => (await on.query<{ name: string }>('SELECT name FROM chartwarden_migrations ORDER BY id')).map((r) => r.name);
    const holdsFunction = async (on: ChartWardenDatabase) => (await on.query(`SELECT 1 FROM pg_proc WHERE proname = 'chartwarden_holds'`)).length;

    beforeAll(() => sql(urlOf(), `CREATE DATABASE "${name}"`));
    afterAll(async () => {
      for (const o of open) await o.onApplicationShutdown();
      await dropThrowawayDatabase(urlOf(), name);
    });

    it('backfills, per resource, the owner row the write path writes, and drops chartwarden_holds; undoing it removes the rows', async () => {
      const fresh = await connect();
      const freshStore = new PostgresFhirStore(fresh, registry, compartment, new SystemClock());
      const { expected } = await writeTrickyRecords(freshStore, 'm');
      const written = await ownersIn(urlOf(name));
      expect(written).toEqual(Object.fromEntries(Object.entries(expected).filter(([, p]) => p !== undefined).map(([k, p]) => [k, [p]])));
      expect(await holdsFunction(fresh)).toBe(0);

      // Back to the schema before it: the data as the code before it left it (every reference row, no owner row).
      while ((await applied(fresh)).at(-1) !== BEFORE) await fresh.dataSource.undoLastMigration({ transaction: 'all' });
      expect(await ownersIn(urlOf(name))).toEqual({});
      expect(await holdsFunction(fresh)).toBe(1);
      const references = await sql(urlOf(name), `SELECT count(*)::int AS n FROM fhir_search_reference WHERE target_type = 'Patient'`);
      expect(references[0].n).toBeGreaterThan(0);

      // Migrating again: the backfill writes exactly the rows the write path wrote.
      const again = await connect();
      expect(await applied(again)).toEqual(MIGRATIONS.map((m) => m.name));
      expect(await ownersIn(urlOf(name))).toEqual(written);
      expect(await holdsFunction(again)).toBe(0);
    });
  });
});
