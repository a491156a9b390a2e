import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { AuditEvent, Bundle, Encounter, Observation, OperationOutcome, Organization, Patient, Resource } from '@medplum/fhirtypes';
import { canonicalize } from 'json-canonicalize';
import pg from 'pg';
import { parse } from 'yaml';
import type { AccessGrant } from '../../src/access/access-grant.repository.js';
import type { AccessReport, AccessReportRow } from '../../src/audit/audit-reader.service.js';
import { hashedText, type AuditEntry } from '../../src/audit/domain/audit-entry.js';
import type { AuditRow } from '../support/database-rows.js';
import { httpRequest, type HttpResult } from '../support/http.js';
import { closeAll, connectTestDatabase, startTestServer, type TestServer } from '../support/test-app.js';

/**
 * The audit trail of issue #5 end to end, over real HTTP and PostgreSQL: every request leaves
 * its entries before its response (R-20), entries are hash-chained, canonical and append-only
 * (R-21), the trail reads as IHE BALP AuditEvents with their search parameters and the
 * patient's access report (R-22), and a write's entry commits with its version (R-51).
 *
 * The database is shared by every test file of the run: every check filters the trail by this
 * suite's own request ids (`X-Request-Id`), actors, patients or records, all made unique.
 */

const run = randomUUID();
const short = run.slice(0, 8);
const ID_SYSTEM = `urn:chartwarden-e2e:audit-trail:${run}`;
const CODE_SYSTEM = `urn:chartwarden-e2e:audit-trail-code:${run}`;
const CARDIO = `aud-cardio-${short}`;
const NEURO = `aud-neuro-${short}`;
const DR_CARDIO_REF = `Practitioner/aud-dr-cardio-${short}`;
const DR_NEURO_REF = `Practitioner/aud-dr-neuro-${short}`;
const HIS = `aud-his-${run}`;
const AUDITOR = `aud-auditor-${run}`;
const RECORD_ROOM = `aud-record-room-${run}`;
const DR_CARDIO = `aud-dr-cardio-${run}`;
const DR_NEURO = `aud-dr-neuro-${run}`;
const ADMIN = `aud-admin-${run}`;
const MEDICAL_AFFAIRS = `aud-ma-${run}`;
const UA = `chartwarden-audit-e2e/${short}`;
const BTG_CATEGORY = 'http://terminology.hl7.org/CodeSystem/v3-ActReason#BTG; scheme="http://hl7.org/fhir/tag/security"';
const ERROR_CODE_SYSTEM = 'https://chartwarden.dev/fhir/CodeSystem/error-code';
const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const RESTFUL = 'http://hl7.org/fhir/restful-interaction';
const LIFECYCLE = 'http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle';
const SUBTYPE = 'https://chartwarden.dev/fhir/CodeSystem/audit-subtype';
const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role';
const ACT_REASON = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';
const AUDIT_EXT = 'https://chartwarden.dev/fhir/StructureDefinition/audit';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const LOCALHOST = expect.stringMatching(/127\.0\.0\.1/);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const POLICY_VERSION = (parse(readFileSync(fileURLToPath(new URL('../../policy/default.policy.yaml', import.meta.url)), 'utf8')) as { version: string }).version;

/** A row with its content parsed. */
interface Recorded {
  row: AuditRow;
  entry: AuditEntry;
  /** The AuditEvent id of the row: `<chain>-<seq>`. */
  id: string;
}

type Res<T = OperationOutcome> = HttpResult<T> & { rid: string };

interface SendOptions {
  body?: unknown;
  headers?: Record<string, string>;
  /** The `X-Request-Id` to send: a fresh unique one by default; `null` sends none. */
  rid?: string | null;
}

const newRid = (label = 'r') => `aud-${label}-${randomUUID()}`;
/** The +08:00 calendar day of an instant (the hospital's day, as the access report counts). */
const hospitalDay = (ms: number) => new Date(ms + 8 * HOUR).toISOString().slice(0, 10);
const ids = (b: Bundle) => (b.entry ?? []).map((e) => e.resource?.id as string);
const events = (b: Bundle) => (b.entry ?? []).map((e) => e.resource as AuditEvent);

/** The ChartWarden extension of an AuditEvent, as `{ url: value }`. */
function auditExtension(event: AuditEvent): Record<string, string | number | undefined> {
  const outer = event.extension?.find((e) => e.url === AUDIT_EXT);
  expect(outer).toBeDefined();
  return Object.fromEntries((outer?.extension ?? []).map((e) => [e.url, e.valueString ?? e.valueInteger]));
}

function expectOutcome(res: HttpResult<unknown>, status: number, code: string, chartwardenCode?: string): OperationOutcome {
  expect(res.status).toBe(status);
  const body = res.body as OperationOutcome;
  expect(body?.resourceType).toBe('OperationOutcome');
  expect(body.issue?.[0]).toMatchObject({ severity: 'error', code });
  if (chartwardenCode) expect(body.issue?.[0].details?.coding).toContainEqual({ system: ERROR_CODE_SYSTEM, code: chartwardenCode });
  return body;
}

describe('R-20 / R-21 / R-22 / R-51 audit trail (e2e, real HTTP + PostgreSQL)', () => {
  let server: TestServer;
  let db: pg.Client;
  let his: string;
  let auditor: string;
  let recordRoom: string;
  let drCardio: string;
  let drNeuro: string;
  let admin: string;
  let medicalAffairs: string;

  /** One HTTP call with this suite's user agent and a unique `X-Request-Id`, which must come back. */
  async function send<T = OperationOutcome>(url: string, method: string, token: string | undefined, options: SendOptions = {}): Promise<Res<T>> {
    const rid = options.rid === undefined ? newRid() : options.rid;
    const headers: Record<string, string> = { accept: 'application/fhir+json, application/json', 'user-agent': UA, ...options.headers };
    if (rid !== null) headers['x-request-id'] = rid;
    const res = await httpRequest<T>(url, method, { token, body: options.body, headers });
    if (rid !== null) expect(res.headers.get('x-request-id')).toBe(rid);
    return { ...res, rid: res.headers.get('x-request-id') as string };
  }
  const fhir = <T = OperationOutcome>(token: string | undefined, method: string, path: string, options: SendOptions = {}) =>
    send<T>(`${server.fhirBase}/${path}`, method, token, options);
  const auditEvents = (token: string | undefined, params: string, options: SendOptions = {}) => fhir<Bundle>(token, 'GET', `AuditEvent?${params}`, options);
  const report = <T = AccessReport>(token: string | undefined, params: string, options: SendOptions = {}) => send<T>(`${server.root}/audit/access-report?${params}`, 'GET', token, options);

  /** The entries recorded under a request id (committed before the response: no waiting), each checked for R-21. */
  async function entriesOf(requestId: string): Promise<Recorded[]> {
    const { rows } = await db.query<AuditRow>('SELECT * FROM audit_entry WHERE request_id = $1 ORDER BY chain, seq', [requestId]);
    // One client: one query at a time.
    const out: Recorded[] = [];
    for (const row of rows) out.push(await checked(row));
    return out;
  }

  /** R-21: each entry is canonical JSON of what its columns say, hashed over its predecessor, linked to it. */
  async function checked(row: AuditRow): Promise<Recorded> {
    expect(row.hash).toHaveLength(32);
    expect(row.prev_hash).toHaveLength(32);
    const entry = JSON.parse(row.content) as AuditEntry;
    // The hash covers the content and the searchable columns (decision 0006).
    expect(createHash('sha256').update(row.prev_hash).update(hashedText(entry), 'utf8').digest().equals(row.hash)).toBe(true);
    expect(canonicalize(entry)).toBe(row.content);
    expect(entry.requestId).toBe(row.request_id);
    expect(entry.action).toBe(row.action.trim());
    expect(entry.subtype).toBe(row.subtype);
    expect(entry.outcome).toBe(row.outcome);
    expect(entry.agent.id ?? null).toBe(row.actor);
    expect(entry.patient ?? null).toBe(row.patient);
    expect(entry.entity?.type ?? null).toBe(row.entity_type);
    expect(entry.entity?.id ?? null).toBe(row.entity_id);
    expect(Date.parse(entry.recorded)).toBe(row.recorded.getTime());
    const seq = BigInt(row.seq);
    if (seq > 1n) {
      const prev = await db.query<{ hash: Buffer }>('SELECT hash FROM audit_entry WHERE chain = $1 AND seq = $2', [row.chain, (seq - 1n).toString()]);
      expect(prev.rows).toHaveLength(1);
      expect(prev.rows[0].hash.equals(row.prev_hash)).toBe(true);
    }
    return { row, entry, id: `${row.chain}-${row.seq}` };
  }

  /** The single entry of a request. */
  async function onlyEntryOf(requestId: string): Promise<Recorded> {
    const entries = await entriesOf(requestId);
    expect(entries).toHaveLength(1);
    return entries[0];
  }

  const seed = async <T extends Resource>(resource: T): Promise<T & { id: string }> => {
    const res = await fhir<T & { id: string }>(his, 'POST', resource.resourceType, { body: resource });
    if (res.status !== 201) throw new Error(`seeding ${resource.resourceType} failed: ${res.status} ${res.text}`);
    return res.body;
  };
  const observation = (patient: string, encounter: string, code: string): Observation => ({
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: CODE_SYSTEM, code }] },
    subject: { reference: `Patient/${patient}` },
    encounter: { reference: `Encounter/${encounter}` },
    valueQuantity: { value: 72, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
  });

  /** A cardio inpatient with dr-cardio on the care team, and one Observation coded `code`. */
  const seedPatient = async (label: string, code = `hr-${label}`) => {
    const patient = await seed<Patient>({ resourceType: 'Patient', identifier: [{ system: ID_SYSTEM, value: `${label}-${randomUUID()}` }], name: [{ family: `Audit${label}` }] });
    const encounter = await seed<Encounter>({
      resourceType: 'Encounter',
      status: 'in-progress',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
      subject: { reference: `Patient/${patient.id}` },
      serviceProvider: { reference: `Organization/${CARDIO}` },
      participant: [{ individual: { reference: DR_CARDIO_REF } }],
    });
    const obs = await seed(observation(patient.id, encounter.id, code));
    return { patient: patient.id, encounter: encounter.id, obs: obs.id, code };
  };

  beforeAll(async () => {
    server = await startTestServer();
    db = await connectTestDatabase();
    his = await server.token({ sub: HIS });
    auditor = await server.token({ sub: AUDITOR, roles: ['auditor'] });
    recordRoom = await server.token({ sub: RECORD_ROOM, roles: ['record-room'] });
    drCardio = await server.token({ sub: DR_CARDIO, roles: ['attending'], department: CARDIO, fhirUser: DR_CARDIO_REF });
    drNeuro = await server.token({ sub: DR_NEURO, roles: ['attending'], department: NEURO, fhirUser: DR_NEURO_REF });
    admin = await server.token({ sub: ADMIN, roles: ['admin'] });
    medicalAffairs = await server.token({ sub: MEDICAL_AFFAIRS, roles: ['medical-affairs'] });
    for (const [id, name] of [
      [CARDIO, 'Cardiology (audit e2e)'],
      [NEURO, 'Neurology (audit e2e)'],
    ]) {
      const org: Organization = { resourceType: 'Organization', id, name };
      const res = await fhir(his, 'PUT', `Organization/${id}`, { body: org });
      expect([200, 201]).toContain(res.status);
    }
  }, 60_000);
  afterAll(() => closeAll(db, server));

  describe('R-20 request ids', () => {
    let A: Awaited<ReturnType<typeof seedPatient>>;
    beforeAll(async () => {
      A = await seedPatient('rid');
    });

    it('R-20: a sane caller X-Request-Id (letters, digits and . _ : @ -) is echoed and names the request\'s one entry', async () => {
      const rid = `HIS.batch_7:req@ward-3.${randomUUID()}`;
      const res = await fhir<Observation>(his, 'GET', `Observation/${A.obs}`, { rid });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ resourceType: 'Observation', id: A.obs });
      expect(res.headers.get('x-request-id')).toBe(rid);
      const { row, entry } = await onlyEntryOf(rid);
      expect(row).toMatchObject({ request_id: rid, actor: HIS, patient: A.patient, subtype: 'read' });
      expect(entry.requestId).toBe(rid);
    });

    it('R-20: a path segment longer than any FHIR id is still recorded (clipped to the trail\'s 64 characters), with or without a token', async () => {
      const long = 'a'.repeat(70);
      const anonymous = await fhir(undefined, 'GET', `Composition/${long}`);
      expect(anonymous.status).toBe(401);
      const refused = await onlyEntryOf(anonymous.rid);
      expect(refused.row).toMatchObject({ actor: null, entity_type: 'Composition', outcome: 4 });
      expect(refused.row.entity_id).toBe(`${'a'.repeat(63)}…`);
      const invalid = await fhir(his, 'GET', `Composition/${long}/$changes`);
      expect(invalid.status).toBeGreaterThanOrEqual(400);
      expect(invalid.status).toBeLessThan(500);
      expect((await onlyEntryOf(invalid.rid)).row).toMatchObject({ actor: HIS, outcome: 4 });
    });

    it('R-20: without X-Request-Id the server makes a UUID, echoes it and records the request under it', async () => {
      const res = await fhir<Observation>(his, 'GET', `Observation/${A.obs}`, { rid: null });
      expect(res.status).toBe(200);
      expect(res.rid).toMatch(UUID);
      const { row } = await onlyEntryOf(res.rid);
      expect(row).toMatchObject({ actor: HIS, patient: A.patient, action: 'R', subtype: 'read', entity_id: A.obs });
    });

    it('R-20: an unsafe X-Request-Id (spaces, markup, 129 characters, quotes, semicolons) is replaced by a generated UUID; nothing is recorded under it', async () => {
      const unsafe = [`has space ${short}`, `<script>${short}</script>`, `${short}-${'x'.repeat(120)}`, `quote"${short}`, `semi;colon-${short}`];
      expect(unsafe[2]).toHaveLength(129);
      for (const given of unsafe) {
        const res = await httpRequest<Observation>(`${server.fhirBase}/Observation/${A.obs}`, 'GET', { token: his, headers: { 'x-request-id': given, 'user-agent': UA } });
        expect(res.status).toBe(200);
        const echoed = res.headers.get('x-request-id') as string;
        expect(echoed).toMatch(UUID);
        expect(echoed).not.toBe(given);
        expect((await db.query('SELECT 1 FROM audit_entry WHERE request_id = $1', [given])).rowCount).toBe(0);
        const { row } = await onlyEntryOf(echoed);
        expect(row).toMatchObject({ actor: HIS, patient: A.patient, subtype: 'read' });
      }
      // The longest sane id (128 characters) is kept as it is.
      const longest = `${short}-${'y'.repeat(119)}`;
      expect(longest).toHaveLength(128);
      const kept = await fhir(his, 'GET', `Observation/${A.obs}`, { rid: longest });
      expect(kept.status).toBe(200);
      expect((await onlyEntryOf(longest)).row.request_id).toBe(longest);
    });

    it('R-20: /access/* and /audit/* answers carry X-Request-Id and are recorded; the public GET /fhir/metadata leaves no entry', async () => {
      const explained = await send<{ allowed: boolean }>(
        `${server.root}/access/explain?${new URLSearchParams({ actor: DR_NEURO, roles: 'attending', dept: NEURO, action: 'read', resource: `Observation/${A.obs}` })}`,
        'GET',
        auditor,
      );
      expect(explained.status).toBe(200);
      expect(explained.body.allowed).toBe(false);
      expect((await onlyEntryOf(explained.rid)).row).toMatchObject({ actor: AUDITOR, action: 'E', subtype: 'explain', entity_type: 'Policy', outcome: 0 });

      const reported = await report(auditor, `patient=Patient/${A.patient}`);
      expect(reported.status).toBe(200);
      expect((await onlyEntryOf(reported.rid)).row).toMatchObject({ actor: AUDITOR, action: 'E', subtype: 'access-report', patient: A.patient, outcome: 0 });

      const generated = await send(`${server.root}/access/grants?grantee=${DR_NEURO}`, 'GET', drNeuro, { rid: null });
      expect(generated.status).toBe(200);
      expect(generated.rid).toMatch(UUID);
      expect((await onlyEntryOf(generated.rid)).row).toMatchObject({ actor: DR_NEURO, action: 'E', subtype: 'grant-list', entity_type: 'AccessGrant' });

      const rid = newRid('metadata');
      const metadata = await httpRequest(`${server.fhirBase}/metadata`, 'GET', { headers: { 'x-request-id': rid } });
      expect(metadata.status).toBe(200);
      expect((metadata.body as unknown as Resource).resourceType).toBe('CapabilityStatement');
      expect(await entriesOf(rid)).toEqual([]);
    });
  });

  describe('R-20 / R-51 the entries each FHIR interaction leaves', () => {
    let A: Awaited<ReturnType<typeof seedPatient>>;
    beforeAll(async () => {
      A = await seedPatient('interactions');
    });

    it('R-20: read → one entry R/read with the record, its version and patient, the deciding rule and the policy version', async () => {
      const res = await fhir<Observation>(his, 'GET', `Observation/${A.obs}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ resourceType: 'Observation', id: A.obs, meta: { versionId: '1' } });
      const { row, entry } = await onlyEntryOf(res.rid);
      expect(row).toMatchObject({ actor: HIS, patient: A.patient, action: 'R', subtype: 'read', outcome: 0, entity_type: 'Observation', entity_id: A.obs });
      expect(entry).toEqual({
        recorded: expect.any(String),
        requestId: res.rid,
        action: 'R',
        subtype: 'read',
        lifecycle: 'access',
        outcome: 0,
        status: 200,
        agent: { id: HIS, practitioner: `Practitioner/${HIS}`, roles: ['his-system'], ip: LOCALHOST, userAgent: UA },
        entity: { type: 'Observation', id: A.obs, version: '1' },
        patient: A.patient,
        policyVersion: POLICY_VERSION,
        rule: 'his-system.records',
        method: 'GET',
        path: `/fhir/Observation/${A.obs}`,
      });
      expect(Math.abs(Date.parse(entry.recorded) - Date.now())).toBeLessThan(60_000);
    });

    it('R-20: reading a Patient records the patient as its own patient; a care-team clinician\'s read names practitioner, department and rule', async () => {
      const res = await fhir<Patient>(his, 'GET', `Patient/${A.patient}`);
      expect(res.status).toBe(200);
      expect((await onlyEntryOf(res.rid)).row).toMatchObject({ patient: A.patient, entity_type: 'Patient', entity_id: A.patient, subtype: 'read' });

      const byClinician = await fhir<Observation>(drCardio, 'GET', `Observation/${A.obs}`);
      expect(byClinician.status).toBe(200);
      const { entry } = await onlyEntryOf(byClinician.rid);
      expect(entry.agent).toEqual({ id: DR_CARDIO, practitioner: DR_CARDIO_REF, roles: ['attending'], department: CARDIO, ip: LOCALHOST, userAgent: UA });
      expect(['attending.care-team', 'attending.department']).toContain(entry.rule);
      expect(entry).toMatchObject({ patient: A.patient, outcome: 0, status: 200, policyVersion: POLICY_VERSION });
    });

    it('R-20: vread → one entry R/vread naming the version read', async () => {
      const res = await fhir<Observation>(his, 'GET', `Observation/${A.obs}/_history/1`);
      expect(res.status).toBe(200);
      expect(res.body.meta?.versionId).toBe('1');
      const { row, entry } = await onlyEntryOf(res.rid);
      expect(row).toMatchObject({ action: 'R', subtype: 'vread', patient: A.patient, outcome: 0 });
      expect(entry).toMatchObject({
        action: 'R',
        subtype: 'vread',
        lifecycle: 'access',
        status: 200,
        entity: { type: 'Observation', id: A.obs, version: '1' },
        rule: 'his-system.records',
        path: `/fhir/Observation/${A.obs}/_history/1`,
      });
    });

    it('R-22: a search → one E/search-type entry per patient in the results (BALP), all under the request id, each with the raw query', async () => {
      const code = `search-${randomUUID()}`;
      const P1 = await seedPatient('search-1', code);
      const P2 = await seedPatient('search-2', code);
      // A second match for P1: still one entry for P1.
      await seed(observation(P1.patient, P1.encounter, code));
      const query = new URLSearchParams({ code: `${CODE_SYSTEM}|${code}`, _count: '10' }).toString();
      const res = await fhir<Bundle>(his, 'GET', `Observation?${query}`);
      expect(res.status).toBe(200);
      expect(res.body.total).toBe(3);
      expect(new Set((res.body.entry ?? []).map((e) => (e.resource as Observation).subject?.reference))).toEqual(new Set([`Patient/${P1.patient}`, `Patient/${P2.patient}`]));

      const entries = await entriesOf(res.rid);
      expect(entries).toHaveLength(2);
      expect(entries.map((e) => e.row.patient).sort()).toEqual([P1.patient, P2.patient].sort());
      for (const { row, entry } of entries) {
        expect(row).toMatchObject({ request_id: res.rid, actor: HIS, action: 'E', subtype: 'search-type', outcome: 0, entity_type: 'Observation', entity_id: null });
        expect(entry).toMatchObject({
          action: 'E',
          subtype: 'search-type',
          lifecycle: 'access',
          status: 200,
          entity: { type: 'Observation', query },
          policyVersion: POLICY_VERSION,
          method: 'GET',
          path: '/fhir/Observation',
        });
        expect(entry.entity).toEqual({ type: 'Observation', query });
      }
    });

    it('R-22: a search whose results concern no patient (none found) → exactly one entry with patient NULL', async () => {
      const query = new URLSearchParams({ code: `${CODE_SYSTEM}|nothing-${randomUUID()}` }).toString();
      const res = await fhir<Bundle>(his, 'GET', `Observation?${query}`);
      expect(res.status).toBe(200);
      expect(res.body.total).toBe(0);
      const { row, entry } = await onlyEntryOf(res.rid);
      expect(row).toMatchObject({ patient: null, action: 'E', subtype: 'search-type', outcome: 0, entity_type: 'Observation' });
      expect(entry.entity).toEqual({ type: 'Observation', query });
      expect(entry.patient).toBeUndefined();

      // A clinician whose search the policy filters to nothing leaves one entry without a patient either.
      const filtered = await fhir<Bundle>(drNeuro, 'GET', `Observation?patient=${A.patient}`);
      expect(filtered.status).toBe(200);
      expect(filtered.body.total).toBe(0);
      expect((await onlyEntryOf(filtered.rid)).row).toMatchObject({ actor: DR_NEURO, patient: null, outcome: 0, subtype: 'search-type' });
    });

    it('R-51: create Patient → exactly one C/create entry (originate) naming the new id and version; the patient is itself', async () => {
      const res = await fhir<Patient>(his, 'POST', 'Patient', { body: { resourceType: 'Patient', identifier: [{ system: ID_SYSTEM, value: `create-${randomUUID()}` }] } });
      expect(res.status).toBe(201);
      const id = res.body.id as string;
      expect(res.headers.get('location')).toMatch(new RegExp(`/Patient/${id}/_history/1$`));
      const { row, entry } = await onlyEntryOf(res.rid);
      expect(row).toMatchObject({ actor: HIS, patient: id, action: 'C', subtype: 'create', outcome: 0, entity_type: 'Patient', entity_id: id });
      expect(entry).toEqual({
        recorded: expect.any(String),
        requestId: res.rid,
        action: 'C',
        subtype: 'create',
        lifecycle: 'originate',
        outcome: 0,
        status: 201,
        agent: { id: HIS, practitioner: `Practitioner/${HIS}`, roles: ['his-system'], ip: LOCALHOST, userAgent: UA },
        entity: { type: 'Patient', id, version: '1' },
        patient: id,
        policyVersion: POLICY_VERSION,
        rule: 'his-system.records',
        method: 'POST',
        path: '/fhir/Patient',
      });
      // The whole trail holds exactly one entry for the new Patient (not repeated after the commit), and the version it names exists.
      const stored = await db.query('SELECT 1 FROM audit_entry WHERE entity_type = $1 AND entity_id = $2', ['Patient', id]);
      expect(stored.rowCount).toBe(1);
      expect((await fhir<Patient>(his, 'GET', `Patient/${id}`)).body.meta?.versionId).toBe('1');
    });

    it('R-51: create Observation → exactly one entry, its patient the subject; update → exactly one U/update (amend) entry for version 2', async () => {
      const created = await fhir<Observation>(his, 'POST', 'Observation', { body: observation(A.patient, A.encounter, `write-${randomUUID()}`) });
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      const c = await onlyEntryOf(created.rid);
      expect(c.row).toMatchObject({ action: 'C', subtype: 'create', patient: A.patient, entity_type: 'Observation', entity_id: id, outcome: 0 });
      expect(c.entry.entity).toEqual({ type: 'Observation', id, version: '1' });

      const updated = await fhir<Observation>(his, 'PUT', `Observation/${id}`, { body: { ...created.body, status: 'amended' }, headers: { 'if-match': 'W/"1"' } });
      expect(updated.status).toBe(200);
      expect(updated.body.meta?.versionId).toBe('2');
      const u = await onlyEntryOf(updated.rid);
      expect(u.row).toMatchObject({ actor: HIS, action: 'U', subtype: 'update', patient: A.patient, entity_type: 'Observation', entity_id: id, outcome: 0 });
      expect(u.entry).toMatchObject({ lifecycle: 'amend', status: 200, entity: { type: 'Observation', id, version: '2' }, rule: 'his-system.records', method: 'PUT', path: `/fhir/Observation/${id}` });

      const all = await db.query<{ subtype: string }>('SELECT subtype FROM audit_entry WHERE entity_type = $1 AND entity_id = $2 ORDER BY recorded', ['Observation', id]);
      expect(all.rows.map((r) => r.subtype)).toEqual(['create', 'update']);
    });

    it('R-51: a transaction → one C/create entry per created resource (each with its version) and an E/transaction entry, all under one request id', async () => {
      const urn = `urn:uuid:${randomUUID()}`;
      const bundle: Bundle = {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { fullUrl: urn, resource: { resourceType: 'Patient', identifier: [{ system: ID_SYSTEM, value: `tx-${randomUUID()}` }] }, request: { method: 'POST', url: 'Patient' } },
          {
            resource: { resourceType: 'Observation', status: 'final', code: { coding: [{ system: CODE_SYSTEM, code: 'tx' }] }, subject: { reference: urn } },
            request: { method: 'POST', url: 'Observation' },
          },
        ],
      };
      const res = await send<Bundle>(server.fhirBase, 'POST', his, { body: bundle });
      expect(res.status).toBe(200);
      expect(res.body.type).toBe('transaction-response');
      const [patientLocation, obsLocation] = (res.body.entry ?? []).map((e) => e.response?.location as string);
      const patientId = /Patient\/([^/]+)\//.exec(patientLocation)?.[1] as string;
      const obsId = /Observation\/([^/]+)\//.exec(obsLocation)?.[1] as string;
      const entries = await entriesOf(res.rid);
      const creates = entries.filter((e) => e.row.subtype === 'create');
      expect(creates.map((e) => `${e.row.entity_type}/${e.row.entity_id}`).sort()).toEqual([`Observation/${obsId}`, `Patient/${patientId}`].sort());
      for (const c of creates) {
        expect(c.row).toMatchObject({ action: 'C', outcome: 0, patient: patientId, actor: HIS });
        expect(c.entry).toMatchObject({ lifecycle: 'originate', status: 201, method: 'POST', path: '/fhir' });
        expect(c.entry.entity?.version).toBe('1');
      }
      const summary = entries.filter((e) => e.row.subtype !== 'create');
      expect(summary.length).toBeGreaterThanOrEqual(1);
      for (const t of summary) expect(t.row).toMatchObject({ action: 'E', subtype: 'transaction', entity_type: 'Bundle', outcome: 0, actor: HIS });
    });

    it('R-20: no token → 401, recorded with actor NULL, outcome 4, status 401 and the identity error code', async () => {
      const res = await fhir(undefined, 'GET', `Observation/${A.obs}`);
      expectOutcome(res, 401, 'login', 'identity.missing-token');
      const { row, entry } = await onlyEntryOf(res.rid);
      expect(row).toMatchObject({ actor: null, patient: null, action: 'R', subtype: 'read', outcome: 4, entity_type: 'Observation', entity_id: A.obs });
      expect(entry).toEqual({
        recorded: expect.any(String),
        requestId: res.rid,
        action: 'R',
        subtype: 'read',
        lifecycle: 'access',
        outcome: 4,
        status: 401,
        error: 'identity.missing-token',
        agent: { roles: [], ip: LOCALHOST, userAgent: UA },
        entity: { type: 'Observation', id: A.obs },
        method: 'GET',
        path: `/fhir/Observation/${A.obs}`,
      });

      const forged = await fhir(`${his.slice(0, -4)}AAAA`, 'GET', `Observation/${A.obs}`);
      expect(forged.status).toBe(401);
      expect((await onlyEntryOf(forged.rid)).row).toMatchObject({ actor: null, outcome: 4 });
      expect((await onlyEntryOf(forged.rid)).entry.status).toBe(401);
    });

    it('R-20: a refused read → 403, recorded for the record\'s patient with outcome 4, status 403 and access.forbidden', async () => {
      const res = await fhir(drNeuro, 'GET', `Observation/${A.obs}`);
      expectOutcome(res, 403, 'forbidden', 'access.forbidden');
      const { row, entry } = await onlyEntryOf(res.rid);
      expect(row).toMatchObject({ actor: DR_NEURO, patient: A.patient, action: 'R', subtype: 'read', outcome: 4, entity_type: 'Observation', entity_id: A.obs });
      expect(entry).toMatchObject({
        outcome: 4,
        status: 403,
        error: 'access.forbidden',
        agent: { id: DR_NEURO, practitioner: DR_NEURO_REF, roles: ['attending'], department: NEURO },
        patient: A.patient,
        policyVersion: POLICY_VERSION,
      });
      expect(entry.rule).toBeUndefined();
      expect(entry.purpose).toBeUndefined();

      // A refused write is recorded too, and nothing is written.
      const write = await fhir(drNeuro, 'POST', 'Observation', { body: observation(A.patient, A.encounter, `refused-${randomUUID()}`) });
      expectOutcome(write, 403, 'forbidden', 'access.forbidden');
      const w = await onlyEntryOf(write.rid);
      expect(w.row).toMatchObject({ actor: DR_NEURO, patient: A.patient, action: 'C', subtype: 'create', outcome: 4, entity_id: null });
      expect(w.entry).toMatchObject({ status: 403, error: 'access.forbidden' });
    });

    it('R-20: an unknown id → 404, recorded with outcome 4, status 404, store.not-found and no patient', async () => {
      const missing = randomUUID();
      const res = await fhir(his, 'GET', `Observation/${missing}`);
      expectOutcome(res, 404, 'not-found', 'store.not-found');
      const { row, entry } = await onlyEntryOf(res.rid);
      expect(row).toMatchObject({ actor: HIS, patient: null, action: 'R', subtype: 'read', outcome: 4, entity_type: 'Observation', entity_id: missing });
      expect(entry).toMatchObject({ status: 404, error: 'store.not-found', entity: { type: 'Observation', id: missing } });
    });

    it('R-51: update with a stale If-Match → 412; the stored version is unchanged and exactly one (failure) entry exists', async () => {
      const obs = await seed(observation(A.patient, A.encounter, `stale-${randomUUID()}`));
      const res = await fhir(his, 'PUT', `Observation/${obs.id}`, { body: { ...obs, status: 'amended' }, headers: { 'if-match': 'W/"7"' } });
      expectOutcome(res, 412, 'conflict', 'store.version-conflict');
      const { row, entry } = await onlyEntryOf(res.rid);
      expect(row).toMatchObject({ actor: HIS, patient: A.patient, action: 'U', subtype: 'update', outcome: 4, entity_type: 'Observation', entity_id: obs.id });
      expect(entry).toMatchObject({ status: 412, error: 'store.version-conflict', lifecycle: 'amend' });
      expect(entry.entity).toEqual({ type: 'Observation', id: obs.id });

      const now = await fhir<Observation>(his, 'GET', `Observation/${obs.id}`);
      expect(now.body).toMatchObject({ status: 'final', meta: { versionId: '1' } });
      const updates = await db.query<{ outcome: number }>("SELECT outcome FROM audit_entry WHERE entity_type = 'Observation' AND entity_id = $1 AND subtype = 'update'", [obs.id]);
      expect(updates.rows).toEqual([{ outcome: 4 }]);
    });

    it('R-20: invalid resources (400) and malformed JSON are recorded as failures, and nothing is created', async () => {
      const code = `invalid-${randomUUID()}`;
      const invalid = await fhir(his, 'POST', 'Observation', { body: { ...observation(A.patient, A.encounter, code), effectiveDateTime: 'not-a-date', foo: 1 } });
      expect(invalid.status).toBe(400);
      expect(invalid.body.resourceType).toBe('OperationOutcome');
      expect((invalid.body.issue ?? []).flatMap((i) => i.expression ?? [])).toEqual(expect.arrayContaining(['Observation.foo']));
      const v = await onlyEntryOf(invalid.rid);
      expect(v.row).toMatchObject({ actor: HIS, action: 'C', subtype: 'create', outcome: 4, entity_type: 'Observation', entity_id: null });
      expect(v.entry).toMatchObject({ status: 400, outcome: 4, method: 'POST', path: '/fhir/Observation' });
      expect((await fhir<Bundle>(his, 'GET', `Observation?${new URLSearchParams({ code: `${CODE_SYSTEM}|${code}` })}`)).body.total).toBe(0);

      const malformed = await fhir(his, 'POST', 'Observation', { body: '{"resourceType": "Observation",' });
      expectOutcome(malformed, 400, 'structure', 'fhir.malformed-body');
      const m = await onlyEntryOf(malformed.rid);
      expect(m.row).toMatchObject({ actor: HIS, action: 'C', subtype: 'create', outcome: 4 });
      expect(m.entry).toMatchObject({ status: 400, error: 'fhir.malformed-body' });

      const mismatch = await fhir(his, 'PUT', `Observation/${A.obs}`, { body: { ...observation(A.patient, A.encounter, 'x'), id: 'another-id' } });
      expectOutcome(mismatch, 400, 'invalid', 'fhir.id-mismatch');
      expect((await onlyEntryOf(mismatch.rid)).entry).toMatchObject({ action: 'U', subtype: 'update', outcome: 4, status: 400, error: 'fhir.id-mismatch' });
      expect((await fhir<Observation>(his, 'GET', `Observation/${A.obs}`)).body.meta?.versionId).toBe('1');
    });

    it('R-21: the trail is append-only: the database refuses UPDATE and DELETE of an entry', async () => {
      const res = await fhir(his, 'GET', `Observation/${A.obs}`);
      const { row } = await onlyEntryOf(res.rid);
      await expect(db.query("UPDATE audit_entry SET actor = 'mallory' WHERE chain = $1 AND seq = $2", [row.chain, row.seq])).rejects.toThrow(/append-only/);
      await expect(db.query('DELETE FROM audit_entry WHERE chain = $1 AND seq = $2', [row.chain, row.seq])).rejects.toThrow(/append-only/);
      const after = await onlyEntryOf(res.rid);
      expect(after.row.actor).toBe(HIS);
      expect(after.row.hash.equals(row.hash)).toBe(true);
    });
  });

  describe('R-22 the trail as FHIR AuditEvents (IHE BALP)', () => {
    let A: Awaited<ReturnType<typeof seedPatient>>;
    let B: Awaited<ReturnType<typeof seedPatient>>;
    /** Requests made on A by this block, with their entries. */
    let read: Recorded;
    let vread: Recorded;
    let searched: Recorded;
    let refused: Recorded;
    let anonymous: Recorded;
    let searchQuery: string;

    beforeAll(async () => {
      A = await seedPatient('balp-A');
      B = await seedPatient('balp-B');
      read = await onlyEntryOf((await fhir(his, 'GET', `Observation/${A.obs}`)).rid);
      vread = await onlyEntryOf((await fhir(his, 'GET', `Observation/${A.obs}/_history/1`)).rid);
      searchQuery = new URLSearchParams({ patient: A.patient, code: `${CODE_SYSTEM}|${A.code}` }).toString();
      searched = await onlyEntryOf((await fhir(his, 'GET', `Observation?${searchQuery}`)).rid);
      refused = await onlyEntryOf((await fhir(drNeuro, 'GET', `Observation/${A.obs}`)).rid);
      anonymous = await onlyEntryOf((await fhir(undefined, 'GET', `Observation/${A.obs}`)).rid);
      await fhir(his, 'GET', `Observation/${B.obs}`);
    });

    it('R-22: a read renders as DCM 110110 with restful-interaction read + lifecycle access, the user, patient (role 1), record (role 4) and the ChartWarden extension', async () => {
      const res = await auditEvents(auditor, `entity=Observation/${A.obs}&subtype=read&agent=${HIS}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ resourceType: 'Bundle', type: 'searchset' });
      const event = events(res.body).find((e) => e.id === read.id) as AuditEvent;
      expect(event).toBeDefined();
      expect(res.body.entry?.find((e) => e.resource?.id === read.id)?.fullUrl).toBe(`${server.fhirBase}/AuditEvent/${read.id}`);
      expect(event).toMatchObject({
        resourceType: 'AuditEvent',
        id: read.id,
        type: { system: DCM, code: '110110' },
        action: 'R',
        recorded: read.entry.recorded,
        outcome: '0',
      });
      expect(event.subtype).toEqual([
        { system: RESTFUL, code: 'read' },
        { system: LIFECYCLE, code: 'access' },
      ]);
      expect(event.agent).toHaveLength(1);
      expect(event.agent[0]).toMatchObject({ requestor: true, who: { identifier: { value: HIS } }, network: { address: LOCALHOST } });
      expect(event.agent[0].role?.[0].coding?.[0].code).toBe('his-system');
      expect(event.entity).toEqual([
        expect.objectContaining({ what: { reference: `Patient/${A.patient}` }, role: expect.objectContaining({ system: OBJECT_ROLE, code: '1' }) }),
        expect.objectContaining({ what: { reference: `Observation/${A.obs}/_history/1` }, role: expect.objectContaining({ system: OBJECT_ROLE, code: '4' }) }),
      ]);
      expect(auditExtension(event)).toMatchObject({
        requestId: read.row.request_id,
        request: `GET /fhir/Observation/${A.obs}`,
        httpStatus: 200,
        policyVersion: POLICY_VERSION,
        rule: 'his-system.records',
        hash: read.row.hash.toString('hex'),
        userAgent: UA,
      });
      expect(auditExtension(event).hash).toMatch(/^[0-9a-f]{64}$/);
    });

    it('R-22: GET /fhir/AuditEvent/<chain>-<seq> reads the same event; a vread renders with subtype vread', async () => {
      const one = await fhir<AuditEvent>(auditor, 'GET', `AuditEvent/${read.id}`);
      expect(one.status).toBe(200);
      const listed = events((await auditEvents(auditor, `entity=Observation/${A.obs}&subtype=read&agent=${HIS}`)).body).find((e) => e.id === read.id);
      expect(one.body).toEqual(listed);
      expect(read.id).toMatch(/^\d+-\d+$/);

      const v = await fhir<AuditEvent>(auditor, 'GET', `AuditEvent/${vread.id}`);
      expect(v.status).toBe(200);
      expect(v.body).toMatchObject({ action: 'R', subtype: [{ system: RESTFUL, code: 'vread' }, { system: LIFECYCLE, code: 'access' }] });
      expect(v.body.entity?.[1]?.what?.reference).toBe(`Observation/${A.obs}/_history/1`);

      expectOutcome(await fhir(auditor, 'GET', `AuditEvent/${read.row.chain}-999999999999`), 404, 'not-found');
      expectOutcome(await fhir(auditor, 'GET', 'AuditEvent/not-an-id'), 404, 'not-found');
    });

    it('R-22: a search renders with action E, subtype search-type and the query as entity role 24 (base64)', async () => {
      const res = await fhir<AuditEvent>(auditor, 'GET', `AuditEvent/${searched.id}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ action: 'E', outcome: '0', type: { system: DCM, code: '110110' } });
      expect(res.body.subtype).toContainEqual({ system: RESTFUL, code: 'search-type' });
      const query = res.body.entity?.find((e) => e.role?.code === '24');
      expect(query).toMatchObject({ role: { system: OBJECT_ROLE, code: '24' }, what: { display: 'Observation' } });
      expect(Buffer.from(query?.query as string, 'base64').toString('utf8')).toBe(searchQuery);
      expect(res.body.entity?.find((e) => e.role?.code === '1')?.what?.reference).toBe(`Patient/${A.patient}`);
      expect(auditExtension(res.body)).toMatchObject({ request: 'GET /fhir/Observation', httpStatus: 200, policyVersion: POLICY_VERSION });
    });

    it('R-22: failures render with outcome "4", the status and error code; an unidentified caller as such', async () => {
      const res = await fhir<AuditEvent>(auditor, 'GET', `AuditEvent/${refused.id}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ action: 'R', outcome: '4', outcomeDesc: 'HTTP 403 access.forbidden' });
      expect(res.body.agent[0]).toMatchObject({ who: { reference: DR_NEURO_REF, identifier: { value: DR_NEURO } } });
      expect(auditExtension(res.body)).toMatchObject({ httpStatus: 403, department: NEURO });
      expect(res.body.entity?.[0].what?.reference).toBe(`Patient/${A.patient}`);

      const anon = await fhir<AuditEvent>(auditor, 'GET', `AuditEvent/${anonymous.id}`);
      expect(anon.status).toBe(200);
      expect(anon.body).toMatchObject({ outcome: '4', outcomeDesc: 'HTTP 401 identity.missing-token', agent: [{ who: { display: 'unidentified caller' } }] });
      expect(anon.body.agent[0].who?.identifier).toBeUndefined();
    });

    it('R-22: a create renders with restful-interaction create + lifecycle originate and the new version as role 4; workflow steps use the ChartWarden subtype system', async () => {
      const created = await fhir<Observation>(his, 'POST', 'Observation', { body: observation(A.patient, A.encounter, `balp-create-${randomUUID()}`) });
      expect(created.status).toBe(201);
      const c = await onlyEntryOf(created.rid);
      const res = await fhir<AuditEvent>(auditor, 'GET', `AuditEvent/${c.id}`);
      expect(res.body).toMatchObject({ action: 'C', outcome: '0', type: { code: '110110' } });
      expect(res.body.subtype).toEqual([
        { system: RESTFUL, code: 'create' },
        { system: LIFECYCLE, code: 'originate' },
      ]);
      expect(res.body.entity?.[1]).toMatchObject({ what: { reference: `Observation/${created.body.id}/_history/1` }, role: { code: '4' } });
      expect(auditExtension(res.body)).toMatchObject({ request: 'POST /fhir/Observation', httpStatus: 201 });

      const explained = await send(`${server.root}/access/explain?${new URLSearchParams({ actor: DR_NEURO, roles: 'attending', dept: NEURO, action: 'read', resource: `Observation/${A.obs}` })}`, 'GET', auditor);
      const e = await onlyEntryOf(explained.rid);
      const step = await fhir<AuditEvent>(auditor, 'GET', `AuditEvent/${e.id}`);
      expect(step.body.subtype).toEqual([{ system: SUBTYPE, code: 'explain' }]);
      expect(step.body.action).toBe('E');
    });

    it('R-22: search by patient, entity (Patient/x also matches entries about x), agent, action, subtype and outcome', async () => {
      const byPatient = await auditEvents(auditor, `patient=Patient/${A.patient}&_count=500`);
      expect(byPatient.status).toBe(200);
      expect(ids(byPatient.body)).toEqual(expect.arrayContaining([read.id, vread.id, searched.id, refused.id]));
      expect(ids(byPatient.body)).not.toContain(anonymous.id);
      for (const ev of events(byPatient.body)) expect(ev.entity?.[0].what?.reference).toBe(`Patient/${A.patient}`);
      // A bare id works as well as Patient/<id>.
      // (the search above is itself an entry about A now, so the second answer holds one more)
      const bare = ids((await auditEvents(auditor, `patient=${A.patient}&_count=500`)).body);
      expect(bare).toEqual(expect.arrayContaining(ids(byPatient.body)));
      expect(bare).toHaveLength(ids(byPatient.body).length + 1);

      const byEntity = await auditEvents(auditor, `entity=Observation/${A.obs}&_count=500`);
      expect(ids(byEntity.body)).toEqual(expect.arrayContaining([read.id, vread.id, refused.id, anonymous.id]));
      expect(ids(byEntity.body)).not.toContain(searched.id);
      for (const ev of events(byEntity.body)) expect(ev.entity?.find((x) => x.role?.code === '4')?.what?.reference).toMatch(new RegExp(`^Observation/${A.obs}(/|$)`));
      const byPatientEntity = await auditEvents(auditor, `entity=Patient/${A.patient}&_count=500`);
      expect(ids(byPatientEntity.body)).toEqual(expect.arrayContaining([read.id, searched.id, refused.id]));

      const byAgent = await auditEvents(auditor, `agent=${DR_NEURO}&entity=Observation/${A.obs}`);
      expect(ids(byAgent.body)).toEqual([refused.id]);
      const byPractitioner = await auditEvents(auditor, `agent=${DR_NEURO_REF}&entity=Observation/${A.obs}`);
      expect(ids(byPractitioner.body)).toEqual([refused.id]);

      const byAction = await auditEvents(auditor, `action=E&patient=${A.patient}&agent=${HIS}&_count=500`);
      expect(ids(byAction.body)).toContain(searched.id);
      expect(events(byAction.body).every((e) => e.action === 'E')).toBe(true);
      expect(ids(byAction.body)).not.toContain(read.id);

      const bySubtype = await auditEvents(auditor, `subtype=vread&entity=Observation/${A.obs}`);
      expect(ids(bySubtype.body)).toEqual([vread.id]);
      const bySystemSubtype = await auditEvents(auditor, `subtype=${encodeURIComponent(`${RESTFUL}|read`)}&entity=Observation/${A.obs}&agent=${HIS}`);
      expect(ids(bySystemSubtype.body)).toContain(read.id);
      expect(ids(bySystemSubtype.body)).not.toContain(vread.id);

      const failures = await auditEvents(auditor, `outcome=4&entity=Observation/${A.obs}`);
      expect(ids(failures.body).sort()).toEqual([refused.id, anonymous.id].sort());
      expect(events(failures.body).every((e) => e.outcome === '4')).toBe(true);
      const successes = await auditEvents(auditor, `outcome=0&entity=Observation/${A.obs}&_count=500`);
      expect(ids(successes.body)).toEqual(expect.arrayContaining([read.id, vread.id]));
      expect(ids(successes.body)).not.toContain(refused.id);
      // Two values of one parameter are OR'd.
      const either = await auditEvents(auditor, `agent=${DR_NEURO},${HIS}&entity=Observation/${A.obs}&outcome=4`);
      expect(ids(either.body)).toEqual([refused.id]);
      // Patient B's entries never appear under A.
      const bEntries = await auditEvents(auditor, `patient=${B.patient}&entity=Observation/${A.obs}`);
      expect(bEntries.body.total).toBe(0);
    });

    it('R-22: search by date with ge / gt / le / lt / eq, on days and instants', async () => {
      const t = Date.parse(read.entry.recorded);
      const iso = (ms: number) => encodeURIComponent(new Date(ms).toISOString());
      const find = async (date: string) => ids((await auditEvents(auditor, `entity=Observation/${A.obs}&agent=${HIS}&subtype=read&date=${date}&_count=500`)).body);
      expect(await find(`ge${iso(t)}`)).toContain(read.id);
      expect(await find(`ge${iso(t + 1)}`)).not.toContain(read.id);
      expect(await find(`gt${iso(t - 1)}`)).toContain(read.id);
      expect(await find(`lt${iso(t + 1)}`)).toContain(read.id);
      expect(await find(`lt${iso(t)}`)).not.toContain(read.id);
      expect(await find(`le${iso(t - 1)}`)).not.toContain(read.id);
      expect(await find(`le${iso(t + 1000)}`)).toContain(read.id);
      expect(await find(`gt${iso(t + 1000)}`)).not.toContain(read.id);
      const day = hospitalDay(t);
      const dayAfter = hospitalDay(t + DAY);
      const dayBefore = hospitalDay(t - DAY);
      expect(await find(day)).toContain(read.id);
      expect(await find(`eq${day}`)).toContain(read.id);
      expect(await find(`eq${dayBefore}`)).not.toContain(read.id);
      expect(await find(`ge${day}`)).toContain(read.id);
      expect(await find(`lt${day}`)).not.toContain(read.id);
      expect(await find(`le${day}`)).toContain(read.id);
      expect(await find(`gt${dayBefore}`)).toContain(read.id);
      expect(await find(`ge${dayAfter}`)).not.toContain(read.id);
      // A range: both bounds apply.
      expect(await find(`ge${iso(t - 1000)}&date=lt${iso(t + 1000)}`)).toContain(read.id);
      expect(await find(`ge${iso(t - 2000)}&date=lt${iso(t - 1000)}`)).not.toContain(read.id);
      // An instant given without a zone is in the hospital's +08:00.
      const local = new Date(t + 8 * HOUR).toISOString().replace('Z', '');
      expect(await find(`ge${encodeURIComponent(local)}`)).toContain(read.id);
      expect(await find(`lt${encodeURIComponent(local)}`)).not.toContain(read.id);
      expectOutcome(await auditEvents(auditor, 'date=yesterday'), 400, 'invalid', 'fhir.invalid-request');
    });

    it('R-22: newest first; _count and _offset page through the results with a total and links', async () => {
      // Filtered to the HIS: the auditor's own searches about A (recorded as they run) do not shift the pages.
      const all = await auditEvents(auditor, `patient=${A.patient}&agent=${HIS}&_count=500`);
      const recorded = events(all.body).map((e) => Date.parse(e.recorded));
      expect(recorded.length).toBeGreaterThanOrEqual(5);
      for (let i = 1; i < recorded.length; i++) expect(recorded[i - 1]).toBeGreaterThanOrEqual(recorded[i]);
      expect(all.body.total).toBe(recorded.length);

      const first = await auditEvents(auditor, `patient=${A.patient}&agent=${HIS}&_count=2`);
      expect(first.status).toBe(200);
      expect(ids(first.body)).toHaveLength(2);
      expect(first.body.total).toBe(all.body.total);
      expect(first.body.link?.find((l) => l.relation === 'next')?.url).toContain('_offset=2');
      const second = await auditEvents(auditor, `patient=${A.patient}&agent=${HIS}&_count=2&_offset=2`);
      expect(ids(second.body)).toHaveLength(2);
      expect(second.body.link?.find((l) => l.relation === 'previous')).toBeDefined();
      // Newest first: the first pages are the newest of the full list, in order, without overlap.
      expect([...ids(first.body), ...ids(second.body)]).toEqual(ids(all.body).slice(0, 4));
      const fixed = await auditEvents(auditor, `entity=Observation/${A.obs}&agent=${HIS}&_count=500`);
      const pageA = await auditEvents(auditor, `entity=Observation/${A.obs}&agent=${HIS}&_count=1`);
      const pageB = await auditEvents(auditor, `entity=Observation/${A.obs}&agent=${HIS}&_count=1&_offset=1`);
      expect([...ids(pageA.body), ...ids(pageB.body)]).toEqual(ids(fixed.body).slice(0, 2));
      expect(pageA.body.total).toBe(fixed.body.total);

      const none = await auditEvents(auditor, `entity=Observation/${A.obs}&_count=0`);
      expect(none.status).toBe(200);
      expect(none.body.entry ?? []).toEqual([]);
      expect(none.body.total).toBeGreaterThanOrEqual(4);
    });

    it('R-22: unknown or malformed search parameters → 400 OperationOutcome (and the refusal is recorded)', async () => {
      for (const params of ['sql=1%3D1', 'name=smith', `entity=not-a-reference`, 'outcome=5', '_count=-1', '_offset=abc', 'date=ge24-01-01', 'date=sometime']) {
        const res = await auditEvents(auditor, params);
        expectOutcome(res, 400, 'invalid', 'fhir.invalid-request');
        expect((res.body as unknown as Bundle).entry).toBeUndefined();
        const { row, entry } = await onlyEntryOf(res.rid);
        expect(row).toMatchObject({ actor: AUDITOR, action: 'E', subtype: 'search-type', entity_type: 'AuditEvent', outcome: 4 });
        expect(entry).toMatchObject({ status: 400, error: 'fhir.invalid-request' });
      }
    });

    it('R-20: reading the trail is itself recorded: E/search-type on AuditEvent (with the patient when one is named), and reads of an event', async () => {
      const search = await auditEvents(auditor, `patient=Patient/${A.patient}&action=R`);
      expect(search.status).toBe(200);
      const { row, entry } = await onlyEntryOf(search.rid);
      expect(row).toMatchObject({ actor: AUDITOR, patient: A.patient, action: 'E', subtype: 'search-type', entity_type: 'AuditEvent', outcome: 0 });
      expect(entry).toMatchObject({
        agent: { id: AUDITOR, roles: ['auditor'] },
        entity: { type: 'AuditEvent', query: `patient=Patient/${A.patient}&action=R` },
        policyVersion: POLICY_VERSION,
        rule: 'auditor.audit',
        status: 200,
      });

      const whole = await auditEvents(auditor, `agent=${HIS}&_count=1`);
      expect((await onlyEntryOf(whole.rid)).row).toMatchObject({ actor: AUDITOR, patient: null, subtype: 'search-type', entity_type: 'AuditEvent' });

      const one = await fhir<AuditEvent>(auditor, 'GET', `AuditEvent/${read.id}`);
      expect(one.status).toBe(200);
      expect((await onlyEntryOf(one.rid)).row).toMatchObject({ actor: AUDITOR, patient: A.patient, action: 'R', subtype: 'read', entity_type: 'AuditEvent', entity_id: read.id, outcome: 0 });
      // The auditing of the trail shows up in the trail.
      const meta = await auditEvents(auditor, `agent=${AUDITOR}&entity=AuditEvent/${read.id}`);
      expect(ids(meta.body)).toContain((await onlyEntryOf(one.rid)).id);
    });

    it('R-20: the record room reads the trail of exactly one named patient: patient= → 200 with that patient\'s entries only; otherwise 403', async () => {
      const res = await auditEvents(recordRoom, `patient=Patient/${A.patient}&_count=500`);
      expect(res.status).toBe(200);
      expect(ids(res.body)).toEqual(expect.arrayContaining([read.id, searched.id, refused.id]));
      for (const ev of events(res.body)) expect(ev.entity?.[0].what?.reference).toBe(`Patient/${A.patient}`);
      expect((await onlyEntryOf(res.rid)).row).toMatchObject({ actor: RECORD_ROOM, patient: A.patient, outcome: 0, subtype: 'search-type' });
      expect((await onlyEntryOf(res.rid)).entry.rule).toBe('record-room.access-accounting');
      const narrowed = await auditEvents(recordRoom, `patient=${A.patient}&agent=${DR_NEURO}`);
      expect(ids(narrowed.body)).toEqual([refused.id]);

      for (const params of ['', `agent=${HIS}`, `entity=Observation/${A.obs}`, `patient=${A.patient},${B.patient}`, `patient=${A.patient}&patient=${B.patient}`]) {
        const refusedSearch = await auditEvents(recordRoom, params);
        expectOutcome(refusedSearch, 403, 'forbidden', 'access.forbidden');
        expect((refusedSearch.body as unknown as Bundle).entry).toBeUndefined();
        const { row, entry } = await onlyEntryOf(refusedSearch.rid);
        expect(row).toMatchObject({ actor: RECORD_ROOM, subtype: 'search-type', entity_type: 'AuditEvent', outcome: 4 });
        expect(entry).toMatchObject({ status: 403, error: 'access.forbidden' });
      }
    });

    it('R-20: the record room reads single events that concern a patient; an event without a patient is 404 to it', async () => {
      const withPatient = await fhir<AuditEvent>(recordRoom, 'GET', `AuditEvent/${read.id}`);
      expect(withPatient.status).toBe(200);
      expect(withPatient.body).toMatchObject({ resourceType: 'AuditEvent', id: read.id, action: 'R' });
      expect(anonymous.row.patient).toBeNull();
      const withoutPatient = await fhir(recordRoom, 'GET', `AuditEvent/${anonymous.id}`);
      expectOutcome(withoutPatient, 404, 'not-found');
      expect((await onlyEntryOf(withoutPatient.rid)).row).toMatchObject({ actor: RECORD_ROOM, outcome: 4, subtype: 'read', entity_type: 'AuditEvent' });
    });

    it('R-20: clinicians, admins and the HIS may not read the trail at all (403), searches and single events alike', async () => {
      for (const [token, sub] of [
        [drCardio, DR_CARDIO],
        [drNeuro, DR_NEURO],
        [admin, ADMIN],
        [his, HIS],
        [medicalAffairs, MEDICAL_AFFAIRS],
      ]) {
        const search = await auditEvents(token, `patient=${A.patient}`);
        expectOutcome(search, 403, 'forbidden', 'access.forbidden');
        expect((await onlyEntryOf(search.rid)).row).toMatchObject({ actor: sub, outcome: 4, entity_type: 'AuditEvent' });
        const all = await auditEvents(token, '');
        expectOutcome(all, 403, 'forbidden', 'access.forbidden');
        const one = await fhir(token, 'GET', `AuditEvent/${read.id}`);
        expectOutcome(one, 403, 'forbidden', 'access.forbidden');
        expect((await onlyEntryOf(one.rid)).entry).toMatchObject({ status: 403, error: 'access.forbidden' });
      }
      expectOutcome(await auditEvents(undefined, `patient=${A.patient}`), 401, 'login');
    });

    it('R-21: POST /fhir/AuditEvent, PUT and DELETE /fhir/AuditEvent/<id> → 405 OperationOutcome; nothing is written into the trail but the refusal', async () => {
      const forged: AuditEvent = {
        resourceType: 'AuditEvent',
        type: { system: DCM, code: '110110' },
        recorded: new Date().toISOString(),
        agent: [{ requestor: true, who: { identifier: { value: `forger-${run}` } } }],
        source: { observer: { display: 'forger' } },
      };
      for (const token of [auditor, his]) {
        const post = await fhir(token, 'POST', 'AuditEvent', { body: forged });
        expectOutcome(post, 405, 'not-supported', 'fhir.method-not-supported');
        expect(post.headers.get('allow')).toBeTruthy();
        expect((await onlyEntryOf(post.rid)).entry).toMatchObject({ outcome: 4, status: 405, error: 'fhir.method-not-supported', method: 'POST', path: '/fhir/AuditEvent' });

        const put = await fhir(token, 'PUT', `AuditEvent/${read.id}`, { body: { ...forged, id: read.id } });
        expectOutcome(put, 405, 'not-supported', 'fhir.method-not-supported');
        expect((await onlyEntryOf(put.rid)).entry).toMatchObject({ outcome: 4, status: 405, method: 'PUT' });

        const del = await fhir(token, 'DELETE', `AuditEvent/${read.id}`);
        expect(del.status).toBe(405);
        expect(del.body.resourceType).toBe('OperationOutcome');
        expect((await onlyEntryOf(del.rid)).entry).toMatchObject({ action: 'D', outcome: 4, status: 405, method: 'DELETE' });
      }
      expect((await db.query('SELECT 1 FROM audit_entry WHERE actor = $1', [`forger-${run}`])).rowCount).toBe(0);
      const still = await fhir<AuditEvent>(auditor, 'GET', `AuditEvent/${read.id}`);
      expect(auditExtension(still.body).hash).toBe(read.row.hash.toString('hex'));
      expect(still.body.agent[0].who?.identifier?.value).toBe(HIS);
    });
  });

  describe('R-20 the patient\'s access report ("who looked at my record")', () => {
    type Counts = Pick<AccessReportRow, 'accesses' | 'reads' | 'searches' | 'writes' | 'refused'>;
    const zero: Counts = { accesses: 0, reads: 0, searches: 0, writes: 0, refused: 0 };

    /** Rows summed per actor (robust to a run that crosses the hospital's midnight). */
    const perActor = (rows: Pick<AccessReportRow, 'actor' | keyof Counts>[]) => {
      const map: Record<string, Counts> = {};
      for (const r of rows) {
        const c = (map[r.actor] ??= { ...zero });
        for (const k of Object.keys(zero) as (keyof Counts)[]) c[k] += r[k];
      }
      return map;
    };

    /** The raw body (fetch's text() would drop the BOM). */
    async function rawCsv(url: string, token: string, accept: string): Promise<{ status: number; type: string | null; bytes: Buffer; rid: string }> {
      const rid = newRid('csv');
      const res = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept, 'x-request-id': rid, 'user-agent': UA } });
      expect(res.headers.get('x-request-id')).toBe(rid);
      return { status: res.status, type: res.headers.get('content-type'), bytes: Buffer.from(await res.arrayBuffer()), rid };
    }

    function parseCsv(bytes: Buffer) {
      expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
      const text = bytes.subarray(3).toString('utf8');
      expect(text.endsWith('\r\n')).toBe(true);
      const lines = text.slice(0, -2).split('\r\n');
      expect(lines.every((l) => !l.includes('\n') && !l.includes('\r'))).toBe(true);
      expect(lines[0]).toBe('day,actor,practitioner,roles,department,accesses,reads,searches,writes,refused,first,last');
      return lines.slice(1).map((line) => {
        const [day, actor, practitioner, roles, department, accesses, reads, searches, writes, refused, first, last] = line.split(',');
        return { day, actor, practitioner, roles, department, accesses: +accesses, reads: +reads, searches: +searches, writes: +writes, refused: +refused, first, last };
      });
    }

    let R: Awaited<ReturnType<typeof seedPatient>>;
    let started = 0;
    let days: string[] = [];
    const expected: Record<string, Counts> = {};

    beforeAll(async () => {
      started = Date.now();
      // HIS: 3 writes (Patient, Encounter, Observation).
      R = await seedPatient('report');
      // HIS: 2 reads and 1 search.
      expect((await fhir(his, 'GET', `Observation/${R.obs}`)).status).toBe(200);
      expect((await fhir(his, 'GET', `Patient/${R.patient}`)).status).toBe(200);
      expect((await fhir<Bundle>(his, 'GET', `Observation?patient=${R.patient}`)).body.total).toBe(1);
      // dr-neuro: refused twice (a read, and a write attempt).
      expect((await fhir(drNeuro, 'GET', `Observation/${R.obs}`)).status).toBe(403);
      expect((await fhir(drNeuro, 'PUT', `Observation/${R.obs}`, { body: { ...observation(R.patient, R.encounter, R.code), id: R.obs, status: 'amended' } })).status).toBe(403);
      // dr-cardio (care team): 1 read, 1 search, 1 write.
      expect((await fhir(drCardio, 'GET', `Encounter/${R.encounter}`)).status).toBe(200);
      expect((await fhir<Bundle>(drCardio, 'GET', `Encounter?patient=${R.patient}`)).body.total).toBe(1);
      expect((await fhir(drCardio, 'POST', 'Observation', { body: observation(R.patient, R.encounter, `cardio-${randomUUID()}`) })).status).toBe(201);
      // The record room: 1 read.
      expect((await fhir(recordRoom, 'GET', `Patient/${R.patient}`)).status).toBe(200);
      Object.assign(expected, {
        [HIS]: { accesses: 6, reads: 2, searches: 1, writes: 3, refused: 0 },
        [DR_NEURO]: { accesses: 2, reads: 0, searches: 0, writes: 0, refused: 2 },
        [DR_CARDIO]: { accesses: 3, reads: 1, searches: 1, writes: 1, refused: 0 },
        [RECORD_ROOM]: { accesses: 1, reads: 1, searches: 0, writes: 0, refused: 0 },
      });
      days = [...new Set([hospitalDay(started), hospitalDay(Date.now())])];
    });

    it('R-20: JSON report: one row per actor and +08:00 day with accesses, reads, searches, writes, refused, first and last, matching the trail', async () => {
      const from = days[0];
      const to = days[days.length - 1];
      const res = await report(auditor, `patient=Patient/${R.patient}&from=${from}&to=${to}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/json/);
      expect(res.body).toMatchObject({ patient: `Patient/${R.patient}`, from, to });
      expect(perActor(res.body.rows)).toEqual(expected);
      for (const row of res.body.rows) expect(days).toContain(row.day);
      const byActor = Object.fromEntries(res.body.rows.map((r) => [r.actor, r]));
      expect(byActor[DR_CARDIO]).toMatchObject({ practitioner: DR_CARDIO_REF, roles: ['attending'], department: CARDIO });
      expect(byActor[DR_NEURO]).toMatchObject({ practitioner: DR_NEURO_REF, roles: ['attending'], department: NEURO });
      // Without a fhirUser claim the practitioner is derived from the token's sub.
      expect(byActor[HIS]).toMatchObject({ roles: ['his-system'], practitioner: `Practitioner/${HIS}` });
      expect(byActor[HIS].department).toBeUndefined();
      expect(byActor[RECORD_ROOM]).toMatchObject({ roles: ['record-room'] });
      // Days are ordered, then actors; first/last are the actor's earliest and latest entries about the patient.
      const order = res.body.rows.map((r) => `${r.day} ${r.actor}`);
      expect(order).toEqual([...order].sort());
      if (days.length === 1) {
        for (const sub of [HIS, DR_NEURO, DR_CARDIO, RECORD_ROOM]) {
          const span = await db.query<{ first: Date; last: Date }>('SELECT min(recorded) AS first, max(recorded) AS last FROM audit_entry WHERE patient = $1 AND actor = $2', [R.patient, sub]);
          expect(byActor[sub].first).toBe(span.rows[0].first.toISOString());
          expect(byActor[sub].last).toBe(span.rows[0].last.toISOString());
          expect(Date.parse(byActor[sub].first)).toBeLessThanOrEqual(Date.parse(byActor[sub].last));
        }
      }
      expect(Date.parse(byActor[HIS].first)).toBeGreaterThanOrEqual(started - 1000);
      // The report itself is recorded against the patient: it shows in the next report.
      const { row, entry } = await onlyEntryOf(res.rid);
      expect(row).toMatchObject({ actor: AUDITOR, patient: R.patient, action: 'E', subtype: 'access-report', entity_type: 'AuditEvent', outcome: 0 });
      expect(entry).toMatchObject({ lifecycle: 'access', status: 200, rule: 'auditor.audit', path: '/audit/access-report' });
      expected[AUDITOR] = { ...zero, accesses: 1 };

      const again = await report(auditor, `patient=${R.patient}`);
      expect(again.status).toBe(200);
      expect(again.body.patient).toBe(`Patient/${R.patient}`);
      expect(again.body.from).toBeUndefined();
      expect(perActor(again.body.rows)).toEqual(expected);
      expected[AUDITOR].accesses += 1;
    });

    it('R-20: CSV report (Accept: text/csv or _format=csv): UTF-8 BOM, the header line, CRLF line ends, the same counts', async () => {
      const url = `${server.root}/audit/access-report?patient=Patient/${R.patient}`;
      const byAccept = await rawCsv(url, auditor, 'text/csv');
      expect(byAccept.status).toBe(200);
      expect(byAccept.type).toMatch(/^text\/csv/);
      const rows = parseCsv(byAccept.bytes);
      // The JSON test may or may not have run first: compare with what the trail holds now, minus this request.
      const json = await report(auditor, `patient=${R.patient}`);
      const now = perActor(json.body.rows);
      now[AUDITOR].accesses -= 1; // the JSON call above counted the CSV call
      expect(perActor(rows)).toEqual(now);
      for (const r of rows) {
        const match = json.body.rows.find((j) => j.actor === r.actor && j.day === r.day) as AccessReportRow;
        expect(match).toBeDefined();
        expect(r).toMatchObject({ practitioner: match.practitioner ?? '', roles: match.roles.join(' '), department: match.department ?? '', first: match.first });
      }
      expect(rows.find((r) => r.actor === DR_CARDIO)).toMatchObject({ practitioner: DR_CARDIO_REF, roles: 'attending', department: CARDIO });
      expect(rows.find((r) => r.actor === HIS)).toMatchObject({ practitioner: `Practitioner/${HIS}`, roles: 'his-system', department: '', writes: 3, reads: 2, searches: 1 });
      expect((await onlyEntryOf(byAccept.rid)).row).toMatchObject({ actor: AUDITOR, patient: R.patient, subtype: 'access-report', outcome: 0 });

      const byFormat = await rawCsv(`${url}&_format=csv`, recordRoom, 'application/json');
      expect(byFormat.status).toBe(200);
      expect(byFormat.type).toMatch(/^text\/csv/);
      const formatted = perActor(parseCsv(byFormat.bytes));
      expect(formatted[HIS]).toEqual(expected[HIS]);
      expect(formatted[DR_NEURO]).toEqual(expected[DR_NEURO]);
      expect(formatted[DR_CARDIO]).toEqual(expected[DR_CARDIO]);
      expect((await onlyEntryOf(byFormat.rid)).row).toMatchObject({ actor: RECORD_ROOM, patient: R.patient, subtype: 'access-report', outcome: 0 });
    });

    it('R-20: from/to bound the report by +08:00 days; a range without entries has no rows', async () => {
      const later = hospitalDay(Date.now() + 2 * DAY);
      const earlier = hospitalDay(started - 2 * DAY);
      const future = await report(auditor, `patient=Patient/${R.patient}&from=${later}`);
      expect(future.status).toBe(200);
      expect(future.body).toEqual({ patient: `Patient/${R.patient}`, from: later, rows: [] });
      const past = await report(auditor, `patient=Patient/${R.patient}&to=${earlier}`);
      expect(past.body).toEqual({ patient: `Patient/${R.patient}`, to: earlier, rows: [] });
      const spanning = await report(auditor, `patient=Patient/${R.patient}&from=${earlier}&to=${later}`);
      expect(perActor(spanning.body.rows)[HIS]).toEqual(expected[HIS]);
      expectOutcome(await report(auditor, `patient=Patient/${R.patient}&from=last-week`), 400, 'invalid', 'fhir.invalid-request');
    });

    it('R-20: the report is for auditors and the record room; clinicians and admins → 403, a missing patient → 400, no token → 401 (all recorded)', async () => {
      expect((await report(recordRoom, `patient=Patient/${R.patient}`)).status).toBe(200);
      for (const [token, sub] of [
        [drCardio, DR_CARDIO],
        [drNeuro, DR_NEURO],
        [admin, ADMIN],
        [medicalAffairs, MEDICAL_AFFAIRS],
      ]) {
        const res = await report(token, `patient=Patient/${R.patient}`);
        expectOutcome(res, 403, 'forbidden', 'access.forbidden');
        expect((res.body as unknown as AccessReport).rows).toBeUndefined();
        const { row, entry } = await onlyEntryOf(res.rid);
        expect(row).toMatchObject({ actor: sub, patient: R.patient, subtype: 'access-report', outcome: 4 });
        expect(entry).toMatchObject({ status: 403, error: 'access.forbidden' });
      }
      for (const token of [auditor, recordRoom]) {
        const missing = await report(token, 'from=2026-01-01');
        expectOutcome(missing, 400, 'invalid', 'fhir.invalid-request');
        expect((await onlyEntryOf(missing.rid)).row).toMatchObject({ subtype: 'access-report', outcome: 4, patient: null });
      }
      const anonymous = await report(undefined, `patient=Patient/${R.patient}`);
      expectOutcome(anonymous, 401, 'login');
      expect((await onlyEntryOf(anonymous.rid)).row).toMatchObject({ actor: null, outcome: 4, subtype: 'access-report' });
    });
  });

  describe('R-20 workflow steps: grants and break-the-glass', () => {
    it('R-20: POST /access/grants → C/grant-request on the new AccessGrant for its patient; approval → U/grant-approve', async () => {
      const G = await seedPatient('grant');
      const until = new Date(Date.now() + DAY).toISOString();
      const requested = await send<AccessGrant>(`${server.root}/access/grants`, 'POST', drNeuro, {
        body: { grantee: DR_NEURO, patient: G.patient, purpose: 'research', reason: `Audit e2e ${run}`, until },
        headers: { 'content-type': 'application/json' },
      });
      expect(requested.status).toBe(201);
      expect(requested.body).toMatchObject({ kind: 'grant', grantee: DR_NEURO, patientId: G.patient, status: 'requested' });
      const r = await onlyEntryOf(requested.rid);
      expect(r.row).toMatchObject({ actor: DR_NEURO, patient: G.patient, action: 'C', subtype: 'grant-request', entity_type: 'AccessGrant', entity_id: requested.body.id, outcome: 0 });
      expect(r.entry).toMatchObject({ status: 201, method: 'POST', path: '/access/grants', agent: { id: DR_NEURO, roles: ['attending'] } });

      const approved = await send<AccessGrant>(`${server.root}/access/grants/${requested.body.id}/approve`, 'POST', medicalAffairs, { body: {}, headers: { 'content-type': 'application/json' } });
      expect(approved.status).toBe(200);
      expect(approved.body).toMatchObject({ id: requested.body.id, status: 'approved' });
      const a = await onlyEntryOf(approved.rid);
      expect(a.row).toMatchObject({ actor: MEDICAL_AFFAIRS, patient: G.patient, action: 'U', subtype: 'grant-approve', entity_type: 'AccessGrant', entity_id: requested.body.id, outcome: 0 });

      // A read under the grant names it.
      const readUnderGrant = await fhir(drNeuro, 'GET', `Observation/${G.obs}`);
      expect(readUnderGrant.status).toBe(200);
      const g = await onlyEntryOf(readUnderGrant.rid);
      expect(g.entry).toMatchObject({ rule: 'attending.grant', patient: G.patient, outcome: 0, status: 200 });

      // The AuditEvent of the request uses the ChartWarden subtype system.
      const event = await fhir<AuditEvent>(auditor, 'GET', `AuditEvent/${r.id}`);
      expect(event.body).toMatchObject({ action: 'C', subtype: [{ system: SUBTYPE, code: 'grant-request' }] });
      expect(event.body.entity?.map((e) => e.what?.reference)).toEqual([`Patient/${G.patient}`, `AccessGrant/${requested.body.id}`]);
      expect(auditExtension((await fhir<AuditEvent>(auditor, 'GET', `AuditEvent/${g.id}`)).body).rule).toBe('attending.grant');

      // A refused approval (the requester is no approver) is recorded as a failed grant-approve.
      const self = await send(`${server.root}/access/grants/${requested.body.id}/approve`, 'POST', drNeuro, { body: {}, headers: { 'content-type': 'application/json' } });
      expect(self.status).toBe(403);
      expect((await onlyEntryOf(self.rid)).row).toMatchObject({ actor: DR_NEURO, subtype: 'grant-approve', outcome: 4, entity_id: requested.body.id });
    });

    it('R-20: a break-the-glass read is recorded with purpose BTG, the reason, the opening and rule; the AuditEvent carries purposeOfEvent BTG', async () => {
      const E = await seedPatient('btg');
      const reason = `Unconscious in neuro ICU, cardiac history needed (${run})`;
      const res = await fhir<Observation>(drNeuro, 'GET', `Observation/${E.obs}`, { headers: { category: BTG_CATEGORY, 'x-break-glass-reason': reason } });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ resourceType: 'Observation', id: E.obs });
      const { row, entry, id } = await onlyEntryOf(res.rid);
      expect(row).toMatchObject({ actor: DR_NEURO, patient: E.patient, action: 'R', subtype: 'read', outcome: 0, entity_id: E.obs });
      expect(entry).toMatchObject({ purpose: 'BTG', breakGlass: { reason, id: expect.any(String) }, rule: 'attending.break-glass', patient: E.patient, status: 200 });

      const listed = await send<AccessGrant[]>(`${server.root}/access/break-glass`, 'GET', medicalAffairs);
      const opening = listed.body.find((b) => b.patientId === E.patient && b.grantee === DR_NEURO);
      expect(opening?.id).toBe(entry.breakGlass?.id);

      const event = await fhir<AuditEvent>(auditor, 'GET', `AuditEvent/${id}`);
      expect(event.status).toBe(200);
      expect(event.body.purposeOfEvent).toEqual([{ coding: [{ system: ACT_REASON, code: 'BTG' }] }]);
      expect(event.body.agent[0].purposeOfUse).toEqual([{ coding: [{ system: ACT_REASON, code: 'BTG' }] }]);
      expect(auditExtension(event.body)).toMatchObject({ breakGlassReason: reason, breakGlass: opening?.id, rule: 'attending.break-glass' });

      // Later reads within the opening, without the header, are not marked BTG but name the opening's rule.
      const later = await fhir(drNeuro, 'GET', `Encounter/${E.encounter}`);
      expect(later.status).toBe(200);
      const l = await onlyEntryOf(later.rid);
      expect(l.entry.purpose).toBeUndefined();
      expect(l.entry).toMatchObject({ rule: 'attending.break-glass', patient: E.patient });

      // Breaking the glass without a reason is refused, and the refusal is recorded.
      const noReason = await fhir(drNeuro, 'GET', `Observation/${E.obs}`, { headers: { category: BTG_CATEGORY } });
      expect(noReason.status).toBe(400);
      expect((await onlyEntryOf(noReason.rid)).row).toMatchObject({ actor: DR_NEURO, outcome: 4, subtype: 'read' });
    });
  });
});
