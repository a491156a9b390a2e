import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { parse } from 'yaml';
import type { AuditEvent, Bundle, Composition, Encounter, OperationOutcome, Patient, Resource } from '@medplum/fhirtypes';
import type { AccessReport } from '../../src/audit/audit-reader.service.js';
import type { CopyRequestView, ProductionView } from '../../src/release/dto/copy-request.view.js';
import { expectOutcome, expectStatus } from '../support/fhir-expect.js';
import { httpRequest, type HttpResult, seedAs } from '../support/http.js';
import { startTestServer, testDatabaseUrl, type TestServer } from '../support/test-app.js';

/**
 * Hardening of the record room's release of information (issue #12 items 11 and 14, and the
 * version rule of item 1 for copies), over real HTTP and PostgreSQL:
 * - R-34 separation of duties: the clerk who received or verified a request does not approve it
 *   (policy `copyRequests.separationOfDuties`, default on); with the setting off one clerk may do all.
 * - disclosures name what they disclosed: a print, a produced and a delivered copy
 *   each name every version (`Type/id/_history/v`); the auditor finds them by the document, and
 *   the patient's access report shows them.
 * - the version rule: a copy holds, and later hands out, a version only while the office
 *   may copy that version by its own facts AND the current version by its facts, each the
 *   patient's record.
 */
const run = randomUUID().slice(0, 8);
const DEPT = `cw-rel-${run}`;
const DR = `Practitioner/dr-rel-${run}`;
const LOINC = 'http://loinc.org';
const CONFIDENTIALITY = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';
const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082',
  'hex',
);
const ID_NUMBER = '110101198801015678';
const DELIVERY = { recipient: { name: '王小明', idNumber: ID_NUMBER }, identityChecked: true, requesterChecked: true };

/** One ChartWarden under test with its own signing key: its HIS, clerks, doctor and auditor. */
interface Site {
  server: TestServer;
  root: string;
  his: string;
  clerk: (name: string) => Promise<string>;
}

async function site(server: TestServer): Promise<Site> {
  return {
    server,
    root: server.fhirBase.replace(/\/fhir$/, ''),
    his: await server.token(),
    clerk: (name) => server.token({ sub: `${name}-${run}`, roles: ['record-room'] }),
  };
}

describe('Release hardening: separation of duties, disclosures naming versions, the version rule in copies (e2e)', () => {
  let strict: Site;
  let loose: Site;
  let db: pg.Client;
  let intake: string;
  let checker: string;
  let approver: string;
  let auditor: string;
  let attending: string;

  const fhir = <T = OperationOutcome>(s: Site, token: string, method: string, path: string, body?: unknown): Promise<HttpResult<T>> =>
    httpRequest<T>(`${s.server.fhirBase}/${path}`, method, { token, body });
  /** The HIS changes a signed document, saying why. */
  const amend = (id: string, body: Composition, reason: string) =>
    httpRequest(`${strict.server.fhirBase}/Composition/${id}`, 'PUT', { token: strict.his, body, headers: { 'x-edit-reason': encodeURIComponent(reason) } });
  const copies = <T = CopyRequestView>(s: Site, token: string, method: string, path: string, body?: unknown) =>
    httpRequest<T>(`${s.root}/copy-requests${path}`, method, { token, body, contentType: 'application/json', headers: { accept: 'application/json' } });
  const upload = async (s: Site, token: string, id: string) => {
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'image/png' };
    const res = await fetch(`${s.root}/copy-requests/${id}/evidence?proves=id-card`, { method: 'POST', headers, body: PNG });
    expect(res.status).toBe(201);
  };
  const doc = (patient: string, encounter: string, code: string, title: string, extra: Partial<Composition> = {}): Composition => ({
    resourceType: 'Composition',
    status: 'final',
    type: { coding: [{ system: LOINC, code }] },
    subject: { reference: `Patient/${patient}` },
    encounter: { reference: `Encounter/${encounter}` },
    date: new Date().toISOString(),
    author: [{ reference: DR }],
    attester: [{ mode: 'legal', time: new Date().toISOString(), party: { reference: DR } }],
    title,
    section: [{ title, text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${title}：王小明。</div>` } }],
    ...extra,
  });
  /** A patient with one inpatient stay and two signed, objective documents. */
  const record = async (s: Site) => {
    const seed = <T extends Resource>(r: T) => seedAs(s.server.fhirBase, s.his, r);
    const patient = await seed<Patient>({ resourceType: 'Patient', name: [{ text: '王小明' }], gender: 'male' });
    const encounter = await seed<Encounter>({
      resourceType: 'Encounter',
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
      subject: { reference: `Patient/${patient.id}` },
      period: { start: new Date(Date.now() - 3 * 86_400_000).toISOString(), end: new Date().toISOString() },
      serviceProvider: { reference: `Organization/${DEPT}` },
      participant: [{ individual: { reference: DR } }],
    });
    const admission = await seed(doc(patient.id, encounter.id, '34117-2', '入院记录'));
    const discharge = await seed(doc(patient.id, encounter.id, '18842-5', '出院记录'));
    return { patient: patient.id, encounter: encounter.id, admission, discharge };
  };
  /** A patient's request, received by `receivedBy` with an ID card, and verified by `verifiedBy`. */
  const verified = async (s: Site, patient: string, receivedBy: string, verifiedBy: string) => {
    const requester = { name: '王小明', idNumber: ID_NUMBER };
    const body = { patient: `Patient/${patient}`, requesterType: 'patient', requester, purpose: '复诊', scope: { all: true } };
    const created = await copies(s, receivedBy, 'POST', '', body);
    expectStatus(created, 201);
    await upload(s, receivedBy, created.body.id);
    expectStatus(await copies(s, verifiedBy, 'POST', `/${created.body.id}/verify`, { identityChecked: true }), 200);
    return created.body.id;
  };
  /** Received, verified, approved and produced by separate clerks: copy 1. */
  const produced = async (patient: string) => {
    const id = await verified(strict, patient, intake, checker);
    expectStatus(await copies(strict, approver, 'POST', `/${id}/approve`, {}), 200);
    const copy = await copies<ProductionView>(strict, intake, 'POST', `/${id}/produce`);
    expectStatus(copy, 201);
    return { id, copy: copy.body, rid: copy.headers.get('x-request-id') as string };
  };
  type Row = { subtype: string; outcome: number; patient: string | null; actor: string | null; entity_type: string | null; entity_id: string | null };
  type Entry = { disclosed?: { type: string; id: string; version: string }[]; entity?: Record<string, string>; error?: string; rule?: string };
  /** The audit rows one request left, with their content parsed. */
  const entriesOf = async (requestId: string | null) =>
    (
      await db.query<Row & { content: string }>(
        'SELECT subtype, outcome, patient, actor, entity_type, entity_id, content FROM audit_entry WHERE request_id = $1 ORDER BY seq',
        [requestId],
      )
    ).rows.map((r) => ({ ...r, entry: JSON.parse(r.content) as Entry & { lifecycle?: string } }));
  const auditEvents = (query: string) => fhir<Bundle<AuditEvent>>(strict, auditor, 'GET', `AuditEvent?${query}&_count=200`);
  const requestIdOf = (e: AuditEvent) => e.extension?.[0].extension?.find((x) => x.url === 'requestId')?.valueString;
  const viewOf = async (s: Site, token: string, id: string) => (await copies(s, token, 'GET', `/${id}`)).body;

  beforeAll(async () => {
    strict = await site(await startTestServer());
    const shipped = readFileSync(fileURLToPath(new URL('../../policy/default.policy.yaml', import.meta.url)), 'utf8');
    const policy = parse(shipped) as { copyRequests: Record<string, unknown> };
    policy.copyRequests.separationOfDuties = false;
    loose = await site(await startTestServer({ policy: policy as unknown as Record<string, unknown> }));
    db = new pg.Client({ connectionString: testDatabaseUrl() });
    await db.connect();
    intake = await strict.clerk('rr-intake');
    checker = await strict.clerk('rr-checker');
    approver = await strict.clerk('rr-approver');
    auditor = await strict.server.token({ sub: `auditor-rel-${run}`, roles: ['auditor'] });
    attending = await strict.server.token({ sub: `dr-rel-${run}`, roles: ['attending'], department: DEPT, licence: 'licensed', fhirUser: DR });
    // Both servers share the run's database.
    expectStatus(await fhir(strict, strict.his, 'PUT', `Organization/${DEPT}`, { resourceType: 'Organization', id: DEPT, name: DEPT }), 201);
  });
  afterAll(async () => {
    await db?.end();
    await strict?.server.close();
    await loose?.server.close();
  });

  describe('R-34 separation of duties (policy copyRequests.separationOfDuties)', () => {
    it('R-34: the clerk who received and verified a request may not approve it: 403 naming who did what; nothing changes; the refusal is audited', async () => {
      const r = await record(strict);
      const id = await verified(strict, r.patient, intake, intake);
      const before = await viewOf(strict, intake, id);
      const res = await copies(strict, intake, 'POST', `/${id}/approve`, {});
      const text = expectOutcome(res, 403, 'forbidden', 'copy.separation-of-duties').issue?.[0].details?.text;
      expect(text).toBe(
        `Copy request ${id}: rr-intake-${run} received and verified this request; ` +
          'under separation of duties (policy copyRequests.separationOfDuties) another clerk of the record room approves it (R-34)',
      );
      expect(await viewOf(strict, intake, id)).toEqual(before);
      expect(before.status).toBe('verified');
      const entries = await entriesOf(res.headers.get('x-request-id'));
      expect(entries.map((e) => [e.subtype, e.outcome, e.patient, e.actor])).toEqual([['copy-approve', 4, r.patient, `rr-intake-${run}`]]);
      expect(entries[0].entry).toMatchObject({ error: 'copy.separation-of-duties', rule: 'copyRequests.separationOfDuties' });
      // Nothing can be produced from the request it did not approve.
      expectOutcome(await copies(strict, intake, 'POST', `/${id}/produce`), 409, 'conflict', 'copy.wrong-state');
      expect((await db.query('SELECT 1 FROM copy_production WHERE request_id = $1', [id])).rowCount).toBe(0);
    });

    it('R-34: received by one clerk and verified by another: neither may approve, each told who did the other step; a third clerk approves', async () => {
      const r = await record(strict);
      const id = await verified(strict, r.patient, intake, checker);
      const byIntake = expectOutcome(await copies(strict, intake, 'POST', `/${id}/approve`, {}), 403, 'forbidden', 'copy.separation-of-duties');
      expect(byIntake.issue?.[0].details?.text).toContain(`rr-intake-${run} received this request (verified by rr-checker-${run})`);
      const byChecker = expectOutcome(await copies(strict, checker, 'POST', `/${id}/approve`, {}), 403, 'forbidden', 'copy.separation-of-duties');
      expect(byChecker.issue?.[0].details?.text).toContain(`rr-checker-${run} verified this request (received by rr-intake-${run})`);
      expect((await viewOf(strict, intake, id)).status).toBe('verified');
      const approved = await copies(strict, approver, 'POST', `/${id}/approve`, {});
      expectStatus(approved, 200);
      expect(approved.body.status).toBe('approved');
      expect(approved.body.events.map((e) => [e.step, e.by])).toEqual([
        ['received', `rr-intake-${run}`],
        ['evidence', `rr-intake-${run}`],
        ['verified', `rr-checker-${run}`],
        ['approved', `rr-approver-${run}`],
      ]);
    });

    it('R-34: refusing is not subject to it (it hands nothing out and carries its reason): the intake clerk refuses their own intake', async () => {
      const r = await record(strict);
      const id = await verified(strict, r.patient, intake, intake);
      const refused = await copies(strict, intake, 'POST', `/${id}/refuse`, { reason: '身份证件与本人不符' });
      expectStatus(refused, 200);
      expect(refused.body).toMatchObject({ status: 'refused', closedAt: expect.any(String) });
      expect(refused.body.events.at(-1)).toMatchObject({ step: 'refused', by: `rr-intake-${run}`, reason: '身份证件与本人不符' });
    });

    it('R-34: with copyRequests.separationOfDuties false, one clerk receives, verifies, approves, produces and delivers', async () => {
      const r = await record(loose);
      const alone = await loose.clerk('rr-alone');
      const id = await verified(loose, r.patient, alone, alone);
      expectStatus(await copies(loose, alone, 'POST', `/${id}/approve`, {}), 200);
      expectStatus(await copies(loose, alone, 'POST', `/${id}/produce`), 201);
      const delivered = await copies(loose, alone, 'POST', `/${id}/deliver`, DELIVERY);
      expectStatus(delivered, 200);
      expect(delivered.body.status).toBe('delivered');
      expect(delivered.body.events.map((e) => e.step)).toEqual(['received', 'evidence', 'verified', 'approved', 'produced', 'delivered']);
      expect(new Set(delivered.body.events.map((e) => e.by))).toEqual(new Set([`rr-alone-${run}`]));
    });
  });

  describe('R-20/R-22/R-34 disclosures name each version they disclosed', () => {
    it('R-20/R-22: a print names the version printed (Composition/{id}/_history/{v}); found by the document and by that version only', async () => {
      const r = await record(strict);
      const first = await fetch(`${strict.server.fhirBase}/Composition/${r.discharge.id}/$print`, { headers: { authorization: `Bearer ${attending}` } });
      expect(first.status).toBe(200);
      const [v1] = await entriesOf(first.headers.get('x-request-id'));
      expect(v1).toMatchObject({ subtype: 'print', outcome: 0, patient: r.patient, entity_type: 'Composition', entity_id: r.discharge.id });
      const printed = { type: 'Composition', id: r.discharge.id, version: '1' };
      expect(v1.entry).toMatchObject({ lifecycle: 'disclose', entity: printed, disclosed: [printed] });
      // A new version; the next print names it.
      const { meta: _meta, ...current } = (await fhir<Composition>(strict, strict.his, 'GET', `Composition/${r.discharge.id}`)).body;
      expectStatus(await amend(r.discharge.id, { ...current, title: '出院记录（更正）' }, '标题更正'), 200);
      const second = await fetch(`${strict.server.fhirBase}/Composition/${r.discharge.id}/$print`, { headers: { authorization: `Bearer ${attending}` } });
      expect(second.status).toBe(200);
      expect((await entriesOf(second.headers.get('x-request-id')))[0].entry.disclosed).toEqual([{ type: 'Composition', id: r.discharge.id, version: '2' }]);

      const prints = async (query: string) =>
        ((await auditEvents(query)).body.entry ?? []).map((e) => e.resource as AuditEvent).filter((e) => e.subtype?.[0].code === 'print');
      const all = await prints(`entity=Composition/${r.discharge.id}`);
      expect(all.map(requestIdOf).sort()).toEqual([first.headers.get('x-request-id'), second.headers.get('x-request-id')].sort());
      const one = await prints(`entity=Composition/${r.discharge.id}/_history/1`);
      expect(one.map(requestIdOf)).toEqual([first.headers.get('x-request-id')]);
      expect(one[0].type).toMatchObject({ code: '110106' });
      expect(one[0].entity?.map((e) => e.what?.reference)).toEqual([`Patient/${r.patient}`, `Composition/${r.discharge.id}/_history/1`]);
    });

    it('R-20/R-22/R-34: a produced and a delivered copy name each version they hold; the auditor finds both by the document (DCM 110106)', async () => {
      const r = await record(strict);
      const { id, copy, rid: produceRid } = await produced(r.patient);
      const versions = copy.manifest.map((m) => ({ type: m.type, id: m.id, version: String(m.version) }));
      expect(versions).toEqual([
        { type: 'Composition', id: r.admission.id, version: '1' },
        { type: 'Composition', id: r.discharge.id, version: '1' },
      ]);
      const json = await httpRequest(copy.json, 'GET', { token: intake });
      expectStatus(json, 200);
      const delivered = await copies(strict, intake, 'POST', `/${id}/deliver`, DELIVERY);
      expectStatus(delivered, 200);
      const deliverRid = delivered.headers.get('x-request-id') as string;

      // The trail: one entry per step (as before), each naming the request, the patient and every version.
      for (const [rid, subtype] of [[produceRid, 'copy-produce'], [deliverRid, 'copy-deliver'], [json.headers.get('x-request-id'), 'copy-copies']] as const) {
        const entries = await entriesOf(rid);
        const rows = entries.map((e) => [e.subtype, e.outcome, e.patient, e.entity_type, e.entity_id]);
        expect({ subtype, rows }).toEqual({ subtype, rows: [[subtype, 0, r.patient, 'CopyRequest', id]] });
        expect({ subtype, disclosed: entries[0].entry.disclosed }).toEqual({ subtype, disclosed: versions });
      }

      // Found by the document (either version-less or by its version), rendered with each version as an entity.
      for (const query of [`entity=Composition/${r.admission.id}`, `entity=Composition/${r.admission.id}/_history/1`]) {
        const found = (await auditEvents(query)).body.entry?.map((e) => e.resource as AuditEvent) ?? [];
        const byRid = new Map(found.map((e) => [requestIdOf(e), e]));
        expect({ query, produce: byRid.has(produceRid), deliver: byRid.has(deliverRid) }).toEqual({ query, produce: true, deliver: true });
        for (const rid of [produceRid, deliverRid]) {
          const event = byRid.get(rid) as AuditEvent;
          expect(event.type).toMatchObject({ code: '110106', display: 'Export' });
          expect(event.entity?.map((e) => e.what?.reference)).toEqual([
            `Patient/${r.patient}`,
            `CopyRequest/${id}`,
            `Composition/${r.admission.id}/_history/1`,
            `Composition/${r.discharge.id}/_history/1`,
          ]);
        }
      }
      // A version the copy does not hold finds none of its entries.
      const other = (await auditEvents(`entity=Composition/${r.admission.id}/_history/2`)).body;
      expect(other.total).toBe(0);
      // A failed production discloses nothing: its entry names no version.
      const again = await copies(strict, intake, 'POST', `/${id}/produce`);
      expectStatus(again, 409);
      const [failed] = await entriesOf(again.headers.get('x-request-id'));
      expect(failed).toMatchObject({ subtype: 'copy-produce', outcome: 4 });
      expect(failed.entry.disclosed).toBeUndefined();
    });

    it('R-20: the patient\'s access report counts each clerk\'s disclosures and lists the versions they handed out', async () => {
      const r = await record(strict);
      const { id, copy } = await produced(r.patient);
      // The approver reads the copy file: an access that names the versions, not a disclosure.
      expectStatus(await httpRequest(copy.json, 'GET', { token: approver }), 200);
      expectStatus(await copies(strict, intake, 'POST', `/${id}/deliver`, DELIVERY), 200);
      const print = await fetch(`${strict.server.fhirBase}/Composition/${r.discharge.id}/$print`, { headers: { authorization: `Bearer ${attending}` } });
      expect(print.status).toBe(200);
      const url = `${strict.root}/audit/access-report?patient=Patient/${r.patient}`;
      const report = await httpRequest<AccessReport>(url, 'GET', { token: auditor, headers: { accept: 'application/json' } });
      expectStatus(report, 200);
      const sum = (actor: string) => {
        const rows = report.body.rows.filter((row) => row.actor === actor);
        return { disclosures: rows.reduce((n, row) => n + row.disclosures, 0), disclosed: [...new Set(rows.flatMap((row) => row.disclosed))].sort() };
      };
      const copied = copy.manifest.map((m) => `${m.type}/${m.id}/_history/${m.version}`).sort();
      // The intake clerk produced and delivered (two disclosures); the approver disclosed nothing; the doctor printed once.
      expect(sum(`rr-intake-${run}`)).toEqual({ disclosures: 2, disclosed: copied });
      expect(sum(`rr-approver-${run}`)).toEqual({ disclosures: 0, disclosed: [] });
      expect(sum(`dr-rel-${run}`)).toEqual({ disclosures: 1, disclosed: [`Composition/${r.discharge.id}/_history/1`] });
    });

    it('R-20/R-22: Patient/$everything is an export naming each version it handed out; the auditor finds it by any of the documents', async () => {
      const r = await record(strict);
      const exported = await fhir<Bundle>(strict, attending, 'GET', `Patient/${r.patient}/$everything`);
      expectStatus(exported, 200);
      const handedOut = (exported.body.entry ?? []).map(({ resource: x }) => ({ type: x?.resourceType, id: x?.id, version: x?.meta?.versionId }));
      const expected = [
        { type: 'Composition', id: r.admission.id, version: '1' },
        { type: 'Patient', id: r.patient, version: '1' },
      ];
      expect(handedOut).toEqual(expect.arrayContaining(expected));
      const rid = exported.headers.get('x-request-id');
      const [entry] = await entriesOf(rid);
      expect(entry).toMatchObject({ subtype: 'everything', outcome: 0, patient: r.patient });
      expect(entry.entry.lifecycle).toBe('disclose');
      expect([...(entry.entry.disclosed ?? [])].sort(byRef)).toEqual([...handedOut].sort(byRef));
      const found = (await auditEvents(`entity=Composition/${r.discharge.id}`)).body.entry?.map((e) => requestIdOf(e.resource as AuditEvent));
      expect(found).toContain(rid);
    });

    it('R-20: the search by a disclosed version is an index scan (the partial GIN index over disclosures), not a scan of the trail', async () => {
      const client = new pg.Client({ connectionString: testDatabaseUrl() });
      await client.connect();
      try {
        await client.query('BEGIN');
        await client.query('SET LOCAL enable_seqscan = off');
        const plan = await client.query<{ 'QUERY PLAN': unknown }>(
          `EXPLAIN (FORMAT JSON) SELECT count(*) FROM audit_entry e
            WHERE (e.entity_type = 'Composition' AND e.entity_id = 'x')
               OR (strpos(e.content, '"disclosed":[') > 0 AND (e.content::jsonb -> 'disclosed') @> '[{"type":"Composition","id":"x"}]'::jsonb)`,
        );
        const text = JSON.stringify(plan.rows[0]['QUERY PLAN']);
        expect(text).toContain('ix_audit_entry_disclosed');
        expect(text).toContain('ix_audit_entry_entity');
        expect(text).not.toContain('Seq Scan');
        await client.query('ROLLBACK');
      } finally {
        await client.end();
      }
    });
  });

  describe('R-07/R-30 the version rule in copies: that version by its own facts AND the current version by its facts', () => {
    it('R-07: a version copied before the record was labelled R is not handed out (403 copy.withheld naming it); a new copy leaves it out', async () => {
      const r = await record(strict);
      const { id, copy } = await produced(r.patient);
      expect(copy.manifest.map((m) => [m.id, m.version])).toContainEqual([r.admission.id, 1]);
      // The HIS labels the admission record R in version 2.
      const { meta: _meta, ...current } = (await fhir<Composition>(strict, strict.his, 'GET', `Composition/${r.admission.id}`)).body;
      expectStatus(await amend(r.admission.id, { ...current, meta: { security: [{ system: CONFIDENTIALITY, code: 'R' }] } }, '含敏感信息，标为受限'), 200);

      const refused = await copies(strict, intake, 'POST', `/${id}/deliver`, DELIVERY);
      const text = expectOutcome(refused, 403, 'forbidden', 'copy.withheld').issue?.[0].details?.text ?? '';
      expect(text).toContain(`copy 1 holds Composition/${r.admission.id}/_history/1: `);
      expect(text).toContain('not copyable by this office under the access policy (its current version 2: no rule of the office allows it)');
      expect(text).not.toContain(r.discharge.id);
      const after = await viewOf(strict, intake, id);
      expect(after.status).toBe('produced');
      expect(after.events.filter((e) => e.step === 'delivered')).toEqual([]);
      const trail = await entriesOf(refused.headers.get('x-request-id'));
      expect(trail.map((e) => [e.subtype, e.outcome, e.entry.error, e.entry.disclosed])).toEqual([['copy-deliver', 4, 'copy.withheld', undefined]]);
      expectOutcome(await httpRequest(copy.pdf, 'GET', { token: intake }), 403, 'forbidden', 'copy.withheld');

      // A new request: the record is left out with its reason; the discharge record is copied.
      const next = await verified(strict, r.patient, intake, checker);
      expectStatus(await copies(strict, approver, 'POST', `/${next}/approve`, {}), 200);
      const fresh = await copies<ProductionView>(strict, intake, 'POST', `/${next}/produce`);
      expectStatus(fresh, 201);
      expect(fresh.body.manifest.map((m) => [m.id, m.version])).toEqual([[r.discharge.id, 1]]);
      const reason = expect.stringContaining('not copyable by this office under the access policy (version 2:') as unknown;
      expect(fresh.body.excluded).toEqual([{ ref: `Composition/${r.admission.id}`, reason }]);
    });

    it('R-30: a document moved to another patient after it was copied is not handed out in the first one\'s copy; the other\'s holds version 2', async () => {
      const from = await record(strict);
      const to = await record(strict);
      const { id, copy } = await produced(from.patient);
      expect(copy.manifest.map((m) => [m.id, m.version])).toContainEqual([from.admission.id, 1]);
      // Filed under the wrong patient: the HIS moves it (version 2 names the other patient and their stay).
      const { meta: _meta, ...misfiled } = (await fhir<Composition>(strict, strict.his, 'GET', `Composition/${from.admission.id}`)).body;
      const moved = { ...misfiled, subject: { reference: `Patient/${to.patient}` }, encounter: { reference: `Encounter/${to.encounter}` } };
      expectStatus(await amend(from.admission.id, moved, '归档错误，移至正确患者'), 200);

      const refused = await copies(strict, intake, 'POST', `/${id}/deliver`, DELIVERY);
      const text = expectOutcome(refused, 403, 'forbidden', 'copy.withheld').issue?.[0].details?.text ?? '';
      expect(text).toContain(`copy 1 holds Composition/${from.admission.id}/_history/1: moved to Patient/${to.patient} since (current version 2)`);
      expect((await viewOf(strict, intake, id)).status).toBe('produced');
      expectOutcome(await httpRequest(copy.json, 'GET', { token: intake }), 403, 'forbidden', 'copy.withheld');

      // The first patient's new copy no longer names it; the other patient's copy holds version 2 only.
      const again = await verified(strict, from.patient, intake, checker);
      expectStatus(await copies(strict, approver, 'POST', `/${again}/approve`, {}), 200);
      const mine = await copies<ProductionView>(strict, intake, 'POST', `/${again}/produce`);
      expectStatus(mine, 201);
      const named = [...mine.body.manifest.map((m) => `${m.type}/${m.id}`), ...[...mine.body.excluded, ...mine.body.pending].map((m) => m.ref)];
      expect(named).not.toContain(`Composition/${from.admission.id}`);
      expect(named).toContain(`Composition/${from.discharge.id}`);
      const theirs = await verified(strict, to.patient, intake, checker);
      expectStatus(await copies(strict, approver, 'POST', `/${theirs}/approve`, {}), 200);
      const other = await copies<ProductionView>(strict, intake, 'POST', `/${theirs}/produce`);
      expectStatus(other, 201);
      expect(other.body.manifest.filter((m) => m.id === from.admission.id).map((m) => m.version)).toEqual([2]);
      const [entry] = await entriesOf(other.headers.get('x-request-id'));
      expect(entry.entry.disclosed).toContainEqual({ type: 'Composition', id: from.admission.id, version: '2' });
      expect(entry.entry.disclosed).not.toContainEqual({ type: 'Composition', id: from.admission.id, version: '1' });
    });
  });
});

function byRef(a: { type?: string; id?: string; version?: string }, b: { type?: string; id?: string; version?: string }): number {
  const key = (x: typeof a) => `${x.type}/${x.id}/${x.version}`;
  return key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
}
