import { createHash, randomUUID } from 'node:crypto';
import type { Bundle, Composition, DocumentReference, Encounter, Observation, OperationOutcome, Organization, Patient, Resource } from '@medplum/fhirtypes';
import type { Operation } from 'fast-json-patch';
import { canonicalize } from 'json-canonicalize';
import pg from 'pg';
import type { AuditEntry } from '../../src/audit/domain/audit-entry.js';
import { contentSha256 } from '../../src/common/content-hash.js';
import { diffOf, LEDGER_GENESIS, type LedgerEntry } from '../../src/governance/domain/ledger.js';
import type { ChangeHistory, VersionDiff } from '../../src/governance/ledger.service.js';
import { verifyLedger } from '../../src/cli/offline-checks.js';
import type { AuditRow, LedgerRow } from '../support/database-rows.js';
import { inpatientStay } from '../support/fhir-builders.js';
import { httpRequest, type HttpResult } from '../support/http.js';
import { closeAll, connectTestDatabase, startTestServer, testDatabaseUrl, type TestServer } from '../support/test-app.js';

/**
 * The edit ledger of issue #4 end to end, over real HTTP and PostgreSQL: every version of a
 * governed document (Composition, DocumentReference) leaves one hash-chained ledger entry in
 * its own transaction, naming its editor, time, reason, document type and what changed
 * a document that is already final changes only with a stated reason
 * `$changes` reads the ledger to whoever may read the document.
 *
 * The database is shared by every test file of the run: every check filters by this suite's
 * own document ids (server-assigned UUIDs), request ids and token subs, all unique.
 */

const run = randomUUID();
const short = run.slice(0, 8);
const LOINC = 'http://loinc.org';
const ID_SYSTEM = `urn:chartwarden-e2e:edit-ledger:${run}`;
const CODE_SYSTEM = `urn:chartwarden-e2e:edit-ledger-code:${run}`;
const ERROR_CODE_SYSTEM = 'https://chartwarden.dev/fhir/CodeSystem/error-code';
const CARDIO = `led-cardio-${short}`;
const NEURO = `led-neuro-${short}`;
const HIS = `led-his-${run}`;
const ADMIN = `led-admin-${run}`;
const DR_CARDIO = `led-dr-cardio-${run}`;
const DR_CARDIO_REF = `Practitioner/led-dr-cardio-${short}`;
const DR_NEURO = `led-dr-neuro-${run}`;
const UA = `chartwarden-ledger-e2e/${short}`;
const ZERO = Buffer.alloc(32);
const REASON_ZH = '更正诊断';

/** A ledger row with its entry parsed. */
interface Recorded {
  row: LedgerRow;
  entry: LedgerEntry;
}

type Res<T = OperationOutcome> = HttpResult<T> & { rid: string };

interface SendOptions {
  body?: unknown;
  headers?: Record<string, string>;
  /** The `X-Request-Id` to send: a fresh unique one by default. */
  rid?: string;
}

const newRid = (label = 'r') => `led-${label}-${randomUUID()}`;
const sha256 = (prev: Buffer, text: string) => createHash('sha256').update(prev).update(text, 'utf8').digest();
const narrative = (text: string) => ({ status: 'generated' as const, div: `<div xmlns="http://www.w3.org/1999/xhtml">${text}</div>` });

function expectOutcome(res: HttpResult<unknown>, status: number, code: string, chartwardenCode?: string): OperationOutcome {
  expect({ status: res.status, text: res.status === status ? '' : res.text }).toEqual({ status, text: '' });
  const body = res.body as OperationOutcome;
  expect(body?.resourceType).toBe('OperationOutcome');
  expect(body.issue?.[0]).toMatchObject({ severity: 'error', code });
  if (chartwardenCode) expect(body.issue?.[0].details?.coding).toContainEqual({ system: ERROR_CODE_SYSTEM, code: chartwardenCode });
  return body;
}

/** RFC 6902 operations in path order (the order of a first version's adds follows the stored JSON's keys). */
const byPath = (ops: Operation[]) => [...ops].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

/** The resource without its server meta, ready to be PUT back with changes. */
function editable<T extends Resource>(resource: T): T {
  const { meta: _meta, ...rest } = resource;
  return rest as T;
}

describe('R-12 / R-17 / R-51 edit ledger of clinical documents (e2e, real HTTP + PostgreSQL)', () => {
  let server: TestServer;
  let db: pg.Client;
  let his: string;
  let admin: string;
  let drCardio: string;
  let drNeuro: string;
  let patient = '';
  let encounter = '';
  /** Every governed document this suite wrote, verified at the end. */
  const documents = new Set<string>();

  async function send<T = OperationOutcome>(token: string | undefined, method: string, path: string, options: SendOptions = {}): Promise<Res<T>> {
    const rid = options.rid ?? newRid();
    const headers: Record<string, string> = { accept: 'application/fhir+json, application/json', 'user-agent': UA, 'x-request-id': rid, ...options.headers };
    const res = await httpRequest<T>(`${server.fhirBase}/${path}`, method, { token, body: options.body, headers });
    expect(res.headers.get('x-request-id')).toBe(rid);
    return { ...res, rid };
  }

  /** The document's ledger rows in version order, each checked: canonical entry, columns, chain link, hash, stored version. */
  async function ledgerOf(type: string, id: string): Promise<Recorded[]> {
    const { rows } = await db.query<LedgerRow>('SELECT * FROM edit_ledger WHERE resource_type = $1 AND resource_id = $2 ORDER BY version_id', [type, id]);
    const out: Recorded[] = [];
    let previous: Buffer = LEDGER_GENESIS;
    for (const row of rows) {
      const entry = JSON.parse(row.entry) as LedgerEntry;
      expect(canonicalize(entry)).toBe(row.entry);
      expect(entry).toMatchObject({ resourceType: type, id, version: row.version_id, editor: row.editor, kind: row.kind });
      expect(entry.reason ?? null).toBe(row.reason);
      expect(entry.docType ?? null).toBe(row.doc_type);
      expect(Date.parse(entry.recorded)).toBe(row.recorded.getTime());
      expect(row.prev_hash.equals(previous)).toBe(true);
      expect(row.hash.equals(sha256(row.prev_hash, row.entry))).toBe(true);
      const { rows: versions } = await db.query<{ content: Resource }>('SELECT content FROM fhir_resource_version WHERE resource_type = $1 AND id = $2 AND version_id = $3', [type, id, row.version_id]);
      expect(versions).toHaveLength(1);
      expect(contentSha256(versions[0].content)).toBe(entry.contentSha256);
      previous = row.hash;
      out.push({ row, entry });
    }
    return out;
  }

  const ledgerCount = async (type: string, id: string) => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM edit_ledger WHERE resource_type = $1 AND resource_id = $2', [type, id])).rows[0].n;
  /** A version as stored and served: its text, in the sender's key order (decision 0014). */
  const storedVersion = async (type: string, id: string, version: number) => {
    const sql = 'SELECT COALESCE(content_text, content::text) AS text FROM fhir_resource_version WHERE resource_type = $1 AND id = $2 AND version_id = $3';
    const row = (await db.query<{ text: string }>(sql, [type, id, version])).rows[0];
    return row ? (JSON.parse(row.text) as Resource) : undefined;
  };
  const auditOf = async (requestId: string) => (await db.query<AuditRow>('SELECT * FROM audit_entry WHERE request_id = $1 ORDER BY chain, seq', [requestId])).rows;
  /** Ledger rows whose entry names this request id (anywhere in the ledger). */
  const ledgerRowsOfRequest = async (requestId: string) => (await db.query<LedgerRow>(`SELECT * FROM edit_ledger WHERE entry LIKE '%' || $1 || '%'`, [requestId])).rows;
  const historyTotal = async (type: string, id: string) => {
    const res = await send<Bundle>(his, 'GET', `${type}/${id}/_history`);
    expect(res.status).toBe(200);
    return res.body.total;
  };

  const progressNote = (title: string, extra: Partial<Composition> = {}): Composition => ({
    resourceType: 'Composition',
    status: 'preliminary',
    type: { coding: [{ system: LOINC, code: '11506-3', display: 'Progress note' }], text: '日常病程记录' },
    subject: { reference: `Patient/${patient}` },
    encounter: { reference: `Encounter/${encounter}` },
    date: '2026-11-29T10:00:00+08:00',
    author: [{ reference: DR_CARDIO_REF }],
    title,
    section: [{ title: '病情记录', text: narrative('患者胸痛较前缓解，心电监护示窦性心律，继续抗血小板治疗。') }],
    ...extra,
  });

  const dischargeSummary = (docStatus: DocumentReference['docStatus'], extra: Partial<DocumentReference> = {}): DocumentReference => ({
    resourceType: 'DocumentReference',
    status: 'current',
    docStatus,
    type: { coding: [{ system: LOINC, code: '18842-5', display: 'Discharge summary' }] },
    subject: { reference: `Patient/${patient}` },
    description: '出院记录',
    content: [{ attachment: { contentType: 'text/plain; charset=utf-8', data: Buffer.from('出院诊断：急性下壁心肌梗死', 'utf8').toString('base64') } }],
    ...extra,
  });

  /** POSTs a governed document as `token` (HIS by default); 201 expected. */
  async function create<T extends Resource>(resource: T, token = his, rid?: string): Promise<Res<T & { id: string }>> {
    const res = await send<T & { id: string }>(token, 'POST', resource.resourceType, { body: resource, rid });
    expect({ status: res.status, text: res.status === 201 ? '' : res.text }).toEqual({ status: 201, text: '' });
    documents.add(`${resource.resourceType}/${res.body.id}`);
    return res;
  }

  /** PUTs `resource` (with its id); returns the response without judging it. */
  const put = <T extends Resource>(resource: T, options: { token?: string; headers?: Record<string, string>; rid?: string } = {}) =>
    send<T & { id: string }>(options.token ?? his, 'PUT', `${resource.resourceType}/${resource.id}`, { body: editable(resource), headers: options.headers, rid: options.rid });

  const changes = <T = ChangeHistory>(token: string | undefined, type: string, id: string, query = '') => send<T>(token, 'GET', `${type}/${id}/$changes${query}`);
  const reason = (text: string) => ({ 'x-edit-reason': encodeURIComponent(text) });

  beforeAll(async () => {
    server = await startTestServer();
    db = await connectTestDatabase();
    his = await server.token({ sub: HIS });
    admin = await server.token({ sub: ADMIN, roles: ['admin'] });
    drCardio = await server.token({ sub: DR_CARDIO, roles: ['attending'], department: CARDIO, fhirUser: DR_CARDIO_REF });
    drNeuro = await server.token({ sub: DR_NEURO, roles: ['attending'], department: NEURO });
    for (const [id, name] of [
      [CARDIO, 'Cardiology (ledger e2e)'],
      [NEURO, 'Neurology (ledger e2e)'],
    ]) {
      const org: Organization = { resourceType: 'Organization', id, name };
      expect([200, 201]).toContain((await send(his, 'PUT', `Organization/${id}`, { body: org })).status);
    }
    const p = await send<Patient>(his, 'POST', 'Patient', { body: { resourceType: 'Patient', identifier: [{ system: ID_SYSTEM, value: run }], name: [{ text: '王建国' }] } satisfies Patient });
    expect(p.status).toBe(201);
    patient = p.body.id as string;
    const e = await send<Encounter>(his, 'POST', 'Encounter', {
      body: inpatientStay(patient, CARDIO, [DR_CARDIO_REF]),
    });
    expect(e.status).toBe(201);
    encounter = e.body.id as string;
  }, 60_000);

  afterAll(() => closeAll(db, server));

  describe('R-12: one entry per version', () => {
    it('R-12 / R-51: POST a progress note (LOINC 11506-3, Chinese text) → ledger v1: kind create, editor = token sub, docType daily-progress-note, diff of adds, chained from the genesis hash, committed before the response', async () => {
      const created = await create(progressNote('日常病程记录'));
      const { id } = created.body;
      expect(created.body.meta?.versionId).toBe('1');
      const ledger = await ledgerOf('Composition', id);
      expect(ledger).toHaveLength(1);
      const [{ row, entry }] = ledger;
      expect(row).toMatchObject({ version_id: 1, editor: HIS, kind: 'create', reason: null, doc_type: 'daily-progress-note' });
      expect(row.prev_hash.equals(ZERO)).toBe(true);
      expect(entry).toMatchObject({
        resourceType: 'Composition',
        id,
        version: 1,
        recorded: created.body.meta?.lastUpdated,
        editor: HIS,
        practitioner: `Practitioner/${HIS}`,
        kind: 'create',
        docType: 'daily-progress-note',
        requestId: created.rid,
      });
      expect(entry.reason).toBeUndefined();
      // The diff is the whole first version as adds, server meta left out, Chinese text as is.
      const stored = (await storedVersion('Composition', id, 1)) as Composition;
      expect(byPath(entry.diff)).toEqual(byPath(diffOf(undefined, stored)));
      expect(entry.diff.every((op) => op.op === 'add')).toBe(true);
      expect(entry.diff.map((op) => op.path)).not.toContain('/meta');
      expect(entry.diff).toContainEqual({ op: 'add', path: '/title', value: '日常病程记录' });
      expect(entry.diff).toContainEqual({ op: 'add', path: '/status', value: 'preliminary' });
      expect(JSON.stringify(entry.diff)).toContain('患者胸痛较前缓解');
      expect(row.entry).toContain('患者胸痛较前缓解');
      expect(entry.contentSha256).toBe(contentSha256(stored));
    });

    it('R-12: PUT a change → v2: kind update, diff `replace`, chained on v1\'s hash, no reason needed while preliminary', async () => {
      const created = await create(progressNote('日常病程记录'));
      const updated = await put({ ...created.body, title: '日常病程记录（补记）' });
      expect(updated.status).toBe(200);
      expect(updated.body.meta?.versionId).toBe('2');
      const ledger = await ledgerOf('Composition', created.body.id);
      expect(ledger.map((r) => [r.row.version_id, r.row.kind])).toEqual([
        [1, 'create'],
        [2, 'update'],
      ]);
      const v2 = ledger[1];
      expect(v2.row.prev_hash.equals(ledger[0].row.hash)).toBe(true);
      expect(v2.entry).toMatchObject({ version: 2, kind: 'update', editor: HIS, docType: 'daily-progress-note', requestId: updated.rid, recorded: updated.body.meta?.lastUpdated });
      expect(v2.entry.diff).toEqual([{ op: 'replace', path: '/title', value: '日常病程记录（补记）' }]);
      expect(v2.row.reason).toBeNull();
      expect(Date.parse(v2.entry.recorded)).toBeGreaterThanOrEqual(Date.parse(ledger[0].entry.recorded));
    });

    it('R-12: the document type is recorded per version: a note re-coded as a consultation (LOINC 11488-4) says so from that version on', async () => {
      const created = await create(progressNote('会诊'));
      const recoded = await put({ ...created.body, type: { coding: [{ system: LOINC, code: '11488-4' }] } });
      expect(recoded.status).toBe(200);
      const untyped = await put({ ...recoded.body, type: { text: '其他记录' } });
      expect(untyped.status).toBe(200);
      const ledger = await ledgerOf('Composition', created.body.id);
      expect(ledger.map((r) => r.row.doc_type)).toEqual(['daily-progress-note', 'consultation', null]);
      expect(ledger[2].entry.docType).toBeUndefined();
    });

    it('R-12: an attending on the care team edits: editor is their token sub, practitioner their fhirUser', async () => {
      const created = await create(progressNote('主治医师病程记录'), drCardio);
      const updated = await put({ ...created.body, title: '主治医师病程记录（修改）' }, { token: drCardio });
      expect(updated.status).toBe(200);
      const ledger = await ledgerOf('Composition', created.body.id);
      expect(ledger.map((r) => r.row.editor)).toEqual([DR_CARDIO, DR_CARDIO]);
      for (const { entry } of ledger) expect(entry.practitioner).toBe(DR_CARDIO_REF);
    });

    it('R-12: a resource that is not governed (Observation) gets no ledger row, and its $changes lists no versions', async () => {
      const obs: Observation = {
        resourceType: 'Observation',
        status: 'preliminary',
        code: { coding: [{ system: CODE_SYSTEM, code: 'hr' }] },
        subject: { reference: `Patient/${patient}` },
        encounter: { reference: `Encounter/${encounter}` },
        valueQuantity: { value: 88, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
      };
      const created = await send<Observation & { id: string }>(his, 'POST', 'Observation', { body: obs });
      expect(created.status).toBe(201);
      const updated = await put({ ...created.body, status: 'final' });
      expect(updated.status).toBe(200);
      expect(updated.body.meta?.versionId).toBe('2');
      // Even a change to a final Observation needs no reason: it is no clinical document.
      const again = await put({ ...updated.body, valueQuantity: { ...obs.valueQuantity, value: 90 } });
      expect(again.status).toBe(200);
      expect(await ledgerCount('Observation', created.body.id)).toBe(0);
      expect(await ledgerRowsOfRequest(created.rid)).toEqual([]);
      const listed = await changes(his, 'Observation', created.body.id);
      expect(listed.status).toBe(200);
      expect(listed.body).toEqual({ resource: `Observation/${created.body.id}`, versions: [] });
    });

    it('R-12: a no-op update (the same body) adds no version and no ledger row, also for a final document without a reason', async () => {
      const created = await create(progressNote('无变化'));
      const same = await put(created.body);
      expect(same.status).toBe(200);
      expect(same.body.meta?.versionId).toBe('1');
      expect(await ledgerCount('Composition', created.body.id)).toBe(1);

      const final = await put({ ...created.body, status: 'final' });
      expect(final.status).toBe(200);
      expect(final.body.meta?.versionId).toBe('2');
      const sameFinal = await put(final.body);
      expect(sameFinal.status).toBe(200);
      expect(sameFinal.body.meta?.versionId).toBe('2');
      expect(await ledgerCount('Composition', created.body.id)).toBe(2);
      expect(await historyTotal('Composition', created.body.id)).toBe(2);
      expect(await ledgerRowsOfRequest(sameFinal.rid)).toEqual([]);
    });

    it('R-12: a PUT to a new id creates the document (ledger v1, kind create); a conditional create that matches an existing document writes nothing', async () => {
      const id = `led-put-${randomUUID()}`;
      const created = await send<Composition>(his, 'PUT', `Composition/${id}`, { body: { ...progressNote('PUT 新建'), id } });
      expect(created.status).toBe(201);
      documents.add(`Composition/${id}`);
      const [v1] = await ledgerOf('Composition', id);
      expect(v1.row).toMatchObject({ version_id: 1, kind: 'create', editor: HIS, doc_type: 'daily-progress-note' });
      expect(v1.entry.requestId).toBe(created.rid);

      const identifier = { system: ID_SYSTEM, value: `conditional-${randomUUID()}` };
      const ifNoneExist = { 'if-none-exist': `identifier=${identifier.system}|${identifier.value}` };
      const first = await send<Composition & { id: string }>(his, 'POST', 'Composition', { body: progressNote('条件新建', { identifier }), headers: ifNoneExist });
      expect(first.status).toBe(201);
      documents.add(`Composition/${first.body.id}`);
      const again = await send<Composition & { id: string }>(his, 'POST', 'Composition', { body: progressNote('条件新建', { identifier }), headers: ifNoneExist });
      expect(again.status).toBe(200);
      expect(again.body.id).toBe(first.body.id);
      expect(await ledgerCount('Composition', first.body.id)).toBe(1);
      expect(await ledgerRowsOfRequest(again.rid)).toEqual([]);
    });

    it('R-12: a PUT with a stale If-Match → 412 and no ledger row', async () => {
      const created = await create(progressNote('并发'));
      const stale = await send(his, 'PUT', `Composition/${created.body.id}`, { body: { ...editable(created.body), title: '过期' }, headers: { 'if-match': 'W/"7"' } });
      expectOutcome(stale, 412, 'conflict');
      expect(await ledgerCount('Composition', created.body.id)).toBe(1);
      expect(await ledgerRowsOfRequest(stale.rid)).toEqual([]);
    });

    it('R-51 / R-20: the ledger entry and the audit entry of a write share the request id (create and update)', async () => {
      const created = await create(progressNote('审计'));
      const updated = await put({ ...created.body, title: '审计（修改）' });
      expect(updated.status).toBe(200);
      const ledger = await ledgerOf('Composition', created.body.id);
      for (const [res, version, subtype] of [
        [created, 1, 'create'],
        [updated, 2, 'update'],
      ] as const) {
        const entry = ledger.find((r) => r.row.version_id === version)?.entry;
        expect(entry?.requestId).toBe(res.rid);
        const audit = await auditOf(res.rid);
        expect(audit).toHaveLength(1);
        expect(audit[0]).toMatchObject({ actor: HIS, subtype, outcome: 0, entity_type: 'Composition', entity_id: created.body.id });
        const content = JSON.parse(audit[0].content) as AuditEntry;
        expect(content).toMatchObject({ requestId: res.rid, entity: { type: 'Composition', id: created.body.id, version: String(version) }, patient });
        expect((await ledgerRowsOfRequest(res.rid)).map((r) => r.version_id)).toEqual([version]);
      }
    });

    it('R-12 / R-17: concurrent updates of one document: every version has exactly one entry, chained in version order; verifyLedger finds it intact', async () => {
      const created = await create(progressNote('并发修改'));
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => put({ ...created.body, title: `并发修改 ${i}` })));
      expect(results.map((r) => r.status)).toEqual(Array(6).fill(200));
      expect(results.map((r) => Number(r.body.meta?.versionId)).sort((a, b) => a - b)).toEqual([2, 3, 4, 5, 6, 7]);
      const ledger = await ledgerOf('Composition', created.body.id);
      expect(ledger.map((r) => r.row.version_id)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      // Each version's entry names the request that wrote it.
      for (const r of results) expect(ledger.find((l) => l.row.version_id === Number(r.body.meta?.versionId))?.entry.requestId).toBe(r.rid);
      const report = await verifyLedger(testDatabaseUrl(), { document: `Composition/${created.body.id}` });
      expect(report).toMatchObject({ documents: 1, entries: 7, breaks: [] });
      expect(report.broken).toBeUndefined();
    });
  });

  describe('R-12: a final (signed) document changes only with a stated reason', () => {
    it('R-12: PUT to a final note without X-Edit-Reason → 422 business-rule governance.reason-required; nothing written (version, _history, ledger); the audit trail records the failure', async () => {
      const created = await create(progressNote('首次病程记录'));
      const final = await put({ ...created.body, status: 'final' });
      expect(final.status).toBe(200);
      expect(final.body.meta?.versionId).toBe('2');
      const before = { ledger: await ledgerCount('Composition', created.body.id), history: await historyTotal('Composition', created.body.id) };
      expect(before).toEqual({ ledger: 2, history: 2 });

      const refused = await put({ ...final.body, title: '首次病程记录（改）' });
      const outcome = expectOutcome(refused, 422, 'business-rule', 'governance.reason-required');
      expect(outcome.issue?.[0].diagnostics).toMatch(/X-Edit-Reason/);

      const read = await send<Composition>(his, 'GET', `Composition/${created.body.id}`);
      expect(read.status).toBe(200);
      expect(read.body.meta?.versionId).toBe('2');
      expect(read.body.title).toBe('首次病程记录');
      expect(await historyTotal('Composition', created.body.id)).toBe(2);
      expect(await ledgerCount('Composition', created.body.id)).toBe(2);
      expect(await ledgerRowsOfRequest(refused.rid)).toEqual([]);
      expect(await storedVersion('Composition', created.body.id, 3)).toBeUndefined();

      const audit = await auditOf(refused.rid);
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({ actor: HIS, action: 'U', subtype: 'update', outcome: 4, entity_type: 'Composition', entity_id: created.body.id });
      expect(JSON.parse(audit[0].content)).toMatchObject({ status: 422, error: 'governance.reason-required', outcome: 4 });
    });

    it('R-12: a blank X-Edit-Reason is no reason (422); changing the status to amended or entered-in-error needs one too', async () => {
      const created = await create(progressNote('上级医师查房记录', { status: 'final' }));
      expectOutcome(await put({ ...created.body, title: 'x' }, { headers: { 'x-edit-reason': '   ' } }), 422, 'business-rule', 'governance.reason-required');
      expectOutcome(await put({ ...created.body, status: 'amended' }), 422, 'business-rule', 'governance.reason-required');
      expectOutcome(await put({ ...created.body, status: 'entered-in-error' }), 422, 'business-rule', 'governance.reason-required');
      expect(await ledgerCount('Composition', created.body.id)).toBe(1);
      expect((await send<Composition>(his, 'GET', `Composition/${created.body.id}`)).body.meta?.versionId).toBe('1');
    });

    it('R-12: with X-Edit-Reason percent-encoded UTF-8 (更正诊断) → 200; the ledger entry, its column and $changes carry the decoded reason', async () => {
      const created = await create(progressNote('日常病程记录', { status: 'final' }));
      // A document created final needs no reason to be created.
      expect((await ledgerOf('Composition', created.body.id))[0].row).toMatchObject({ kind: 'create', reason: null });
      const changed = await put({ ...created.body, title: '日常病程记录（更正）' }, { headers: reason(REASON_ZH) });
      expect(changed.status).toBe(200);
      expect(changed.body.meta?.versionId).toBe('2');
      const [, v2] = await ledgerOf('Composition', created.body.id);
      expect(v2.row).toMatchObject({ version_id: 2, kind: 'update', reason: REASON_ZH });
      expect(v2.entry.reason).toBe(REASON_ZH);
      expect(v2.row.entry).toContain(`"reason":"${REASON_ZH}"`);
      const listed = await changes(his, 'Composition', created.body.id);
      expect(listed.body.versions.map((v) => v.reason)).toEqual([undefined, REASON_ZH]);

      // Now amended, it still needs a reason; a plain ASCII reason is taken as it is.
      const amended = await put({ ...changed.body, status: 'amended' }, { headers: { 'x-edit-reason': 'Addendum after senior review' } });
      expect(amended.status).toBe(200);
      expectOutcome(await put({ ...amended.body, title: 'again' }), 422, 'business-rule', 'governance.reason-required');
      const ledger = await ledgerOf('Composition', created.body.id);
      expect(ledger.map((r) => r.row.reason)).toEqual([null, REASON_ZH, 'Addendum after senior review']);
    });

    it('R-12: a malformed X-Edit-Reason (broken percent-encoding) → 400, nothing written', async () => {
      const created = await create(progressNote('编码', { status: 'final' }));
      const bad = await put({ ...created.body, title: '编码（改）' }, { headers: { 'x-edit-reason': '%E6%9B%B' } });
      expectOutcome(bad, 400, 'invalid', 'fhir.invalid-request');
      expect(await ledgerCount('Composition', created.body.id)).toBe(1);
      expect((await send<Composition>(his, 'GET', `Composition/${created.body.id}`)).body.meta?.versionId).toBe('1');
    });

    it('R-12: a DocumentReference with docStatus final is governed the same way (discharge summary, LOINC 18842-5)', async () => {
      const created = await create(dischargeSummary('final'));
      const [v1] = await ledgerOf('DocumentReference', created.body.id);
      expect(v1.row).toMatchObject({ kind: 'create', editor: HIS, doc_type: 'discharge-record', reason: null });
      expect(v1.entry.requestId).toBe(created.rid);

      const refused = await put({ ...created.body, description: '出院记录（修改）' });
      expectOutcome(refused, 422, 'business-rule', 'governance.reason-required');
      expect(await ledgerCount('DocumentReference', created.body.id)).toBe(1);
      expect(await historyTotal('DocumentReference', created.body.id)).toBe(1);
      expect((await auditOf(refused.rid))[0]).toMatchObject({ outcome: 4, entity_type: 'DocumentReference', entity_id: created.body.id });

      const changed = await put({ ...created.body, description: '出院记录（修改）' }, { headers: reason(REASON_ZH) });
      expect(changed.status).toBe(200);
      const ledger = await ledgerOf('DocumentReference', created.body.id);
      expect(ledger.map((r) => [r.row.version_id, r.row.kind, r.row.reason])).toEqual([
        [1, 'create', null],
        [2, 'update', REASON_ZH],
      ]);
      expect(ledger[1].entry.diff).toEqual([{ op: 'replace', path: '/description', value: '出院记录（修改）' }]);
    });

    it('R-12: a DocumentReference still preliminary changes without a reason; its `status` (current) is not what makes it final', async () => {
      const created = await create(dischargeSummary('preliminary'));
      const changed = await put({ ...created.body, description: '出院小结（草稿二）' });
      expect(changed.status).toBe(200);
      const signed = await put({ ...changed.body, docStatus: 'final' });
      expect(signed.status).toBe(200);
      expectOutcome(await put({ ...signed.body, description: '出院小结（改）' }), 422, 'business-rule', 'governance.reason-required');
      expect((await ledgerOf('DocumentReference', created.body.id)).map((r) => r.row.version_id)).toEqual([1, 2, 3]);
    });
  });

  describe('R-12: $changes', () => {
    let id = '';
    let v1: Composition & { id: string };

    beforeAll(async () => {
      v1 = (await create(progressNote('日常病程记录'))).body;
      const v2 = await put({ ...v1, title: '日常病程记录（补记）' });
      expect(v2.status).toBe(200);
      const v3 = await put({ ...v2.body, status: 'final', confidentiality: 'N' });
      expect(v3.status).toBe(200);
      const v4 = await put({ ...v3.body, section: [{ title: '病情记录', text: narrative('患者胸痛消失。') }] }, { headers: reason(REASON_ZH) });
      expect(v4.status).toBe(200);
      id = v1.id;
    });

    it('R-12: lists every version with version, recorded, editor, practitioner, kind, reason, docType, readable changes and the diff', async () => {
      const res = await changes(his, 'Composition', id);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const ledger = await ledgerOf('Composition', id);
      expect(res.body.resource).toBe(`Composition/${id}`);
      expect(res.body.versions.map((v) => [v.version, v.kind, v.editor, v.practitioner, v.docType, v.reason])).toEqual([
        [1, 'create', HIS, `Practitioner/${HIS}`, 'daily-progress-note', undefined],
        [2, 'update', HIS, `Practitioner/${HIS}`, 'daily-progress-note', undefined],
        [3, 'update', HIS, `Practitioner/${HIS}`, 'daily-progress-note', undefined],
        [4, 'update', HIS, `Practitioner/${HIS}`, 'daily-progress-note', REASON_ZH],
      ]);
      for (const [i, v] of res.body.versions.entries()) {
        expect(v.recorded).toBe(ledger[i].entry.recorded);
        expect(v.diff).toEqual(ledger[i].entry.diff);
        expect(v.changes).toHaveLength(v.diff.length);
      }
      const [c1, c2, c3, c4] = res.body.versions.map((v) => v.changes);
      expect(c1).toContain('added /title: "日常病程记录"');
      expect(c1).toContain('added /status: "preliminary"');
      expect(c2).toEqual(['replaced /title: "日常病程记录" → "日常病程记录（补记）"']);
      expect([...c3].sort()).toEqual(['added /confidentiality: "N"', 'replaced /status: "preliminary" → "final"']);
      expect(c4).toEqual([
        'replaced /section/0/text/div: "<div xmlns=\\"http://www.w3.org/1999/xhtml\\">患者胸痛较前缓解，心电监护示窦性心律，继续抗血小板治疗。</div>" → "<div xmlns=\\"http://www.w3.org/1999/xhtml\\">患者胸痛消失。</div>"',
      ]);
      // The read of the history is itself in the audit trail.
      const audit = await auditOf(res.rid);
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({ actor: HIS, outcome: 0, entity_type: 'Composition', entity_id: id });
    });

    it('R-12: ?from=1&to=2 → the diff between two versions, in words; reversed and wider ranges too; the same version → no changes', async () => {
      const one = await changes<VersionDiff>(his, 'Composition', id, '?from=1&to=2');
      expect(one.status).toBe(200);
      expect(one.body).toEqual({
        resource: `Composition/${id}`,
        from: 1,
        to: 2,
        changes: ['replaced /title: "日常病程记录" → "日常病程记录（补记）"'],
        diff: [{ op: 'replace', path: '/title', value: '日常病程记录（补记）' }],
      });
      const back = await changes<VersionDiff>(his, 'Composition', id, '?from=2&to=1');
      expect(back.body).toMatchObject({ from: 2, to: 1, changes: ['replaced /title: "日常病程记录（补记）" → "日常病程记录"'] });
      const wide = await changes<VersionDiff>(his, 'Composition', id, '?from=1&to=3');
      expect([...wide.body.changes].sort()).toEqual([
        'added /confidentiality: "N"',
        'replaced /status: "preliminary" → "final"',
        'replaced /title: "日常病程记录" → "日常病程记录（补记）"',
      ]);
      const [a, b] = [await storedVersion('Composition', id, 1), await storedVersion('Composition', id, 3)];
      expect(wide.body.diff).toEqual(diffOf(a, b as Resource));
      const same = await changes<VersionDiff>(his, 'Composition', id, '?from=3&to=3');
      expect(same.body).toEqual({ resource: `Composition/${id}`, from: 3, to: 3, changes: [], diff: [] });
    });

    it('R-12: only one of from/to, or a version that is not a number → 400; a version the document lacks → 404 governance.version-not-found', async () => {
      expectOutcome(await changes(his, 'Composition', id, '?from=1'), 400, 'invalid', 'fhir.invalid-request');
      expectOutcome(await changes(his, 'Composition', id, '?to=2'), 400, 'invalid', 'fhir.invalid-request');
      expectOutcome(await changes(his, 'Composition', id, '?from=one&to=2'), 400, 'invalid', 'fhir.invalid-request');
      expectOutcome(await changes(his, 'Composition', id, '?from=-1&to=2'), 400, 'invalid', 'fhir.invalid-request');
      const missingTo = expectOutcome(await changes(his, 'Composition', id, '?from=1&to=9'), 404, 'not-found', 'governance.version-not-found');
      expect(missingTo.issue?.[0].diagnostics).toContain('9');
      const missingFrom = expectOutcome(await changes(his, 'Composition', id, '?from=0&to=2'), 404, 'not-found', 'governance.version-not-found');
      expect(missingFrom.issue?.[0].diagnostics).toContain('0');
    });

    it('R-12 / R-02: $changes needs read permission on the document: admin → 403, another department\'s attending → 403, no token → 401; the care team\'s attending reads it', async () => {
      const byAdmin = await changes(admin, 'Composition', id);
      expectOutcome(byAdmin, 403, 'forbidden', 'access.forbidden');
      expect((byAdmin.body as unknown as ChangeHistory).versions).toBeUndefined();
      expect((await auditOf(byAdmin.rid))[0]).toMatchObject({ actor: ADMIN, outcome: 4 });
      expectOutcome(await changes(admin, 'Composition', id, '?from=1&to=2'), 403, 'forbidden', 'access.forbidden');
      expectOutcome(await changes(drNeuro, 'Composition', id), 403, 'forbidden', 'access.forbidden');
      expectOutcome(await changes(undefined, 'Composition', id), 401, 'login');
      const byCareTeam = await changes(drCardio, 'Composition', id);
      expect(byCareTeam.status).toBe(200);
      expect(byCareTeam.body.versions).toHaveLength(4);
    });

    it('R-12: $changes of a document that does not exist → 404 not-found (for the HIS and for an admin alike)', async () => {
      const missing = randomUUID();
      expectOutcome(await changes(his, 'Composition', missing), 404, 'not-found');
      expectOutcome(await changes(admin, 'Composition', missing), 404, 'not-found');
      expectOutcome(await changes(his, 'DocumentReference', missing, '?from=1&to=2'), 404, 'not-found');
    });
  });

  describe('R-12 / R-51: transaction Bundles', () => {
    it('R-12 / R-51: a transaction creating a Composition (and an Observation) writes the Composition\'s ledger row under the Bundle\'s request id', async () => {
      const bundle: Bundle = {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { fullUrl: `urn:uuid:${randomUUID()}`, resource: progressNote('事务病程记录'), request: { method: 'POST', url: 'Composition' } },
          {
            fullUrl: `urn:uuid:${randomUUID()}`,
            resource: { resourceType: 'Observation', status: 'final', code: { coding: [{ system: CODE_SYSTEM, code: 'bp' }] }, subject: { reference: `Patient/${patient}` } } satisfies Observation,
            request: { method: 'POST', url: 'Observation' },
          },
        ],
      };
      const res = await send<Bundle>(his, 'POST', '', { body: bundle });
      expect({ status: res.status, text: res.status === 200 ? '' : res.text }).toEqual({ status: 200, text: '' });
      const [composition, observation] = (res.body.entry ?? []).map((e) => e.resource as Resource & { id: string });
      expect(composition.resourceType).toBe('Composition');
      documents.add(`Composition/${composition.id}`);
      const [v1] = await ledgerOf('Composition', composition.id);
      expect(v1.row).toMatchObject({ version_id: 1, kind: 'create', editor: HIS, doc_type: 'daily-progress-note' });
      expect(v1.entry.requestId).toBe(res.rid);
      expect(await ledgerCount('Observation', observation.id)).toBe(0);
    });

    it('R-51: a transaction that fails writes no ledger row (its Composition is rolled back with it)', async () => {
      const sub = `led-his-tx-${run}`;
      const token = await server.token({ sub });
      const bundle: Bundle = {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { fullUrl: `urn:uuid:${randomUUID()}`, resource: progressNote('失败事务'), request: { method: 'POST', url: 'Composition' } },
          // Invalid: an Observation needs a status.
          { resource: { resourceType: 'Observation', code: { text: 'x' } } as Observation, request: { method: 'POST', url: 'Observation' } },
        ],
      };
      const res = await send(token, 'POST', '', { body: bundle });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect((await db.query('SELECT 1 FROM edit_ledger WHERE editor = $1', [sub])).rowCount).toBe(0);
      expect(await ledgerRowsOfRequest(res.rid)).toEqual([]);
    });

    it('R-12 / R-51: a transaction changing a final document without a reason → 422 for the whole Bundle: its other entries are not written either', async () => {
      const created = await create(progressNote('事务签名', { status: 'final' }));
      const sub = `led-his-tx2-${run}`;
      const token = await server.token({ sub });
      const bundle: Bundle = {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { fullUrl: `urn:uuid:${randomUUID()}`, resource: progressNote('同一事务新建'), request: { method: 'POST', url: 'Composition' } },
          { resource: { ...editable(created.body), title: '事务签名（改）' }, request: { method: 'PUT', url: `Composition/${created.body.id}` } },
        ],
      };
      const res = await send(token, 'POST', '', { body: bundle });
      expectOutcome(res, 422, 'business-rule', 'governance.reason-required');
      expect((await db.query('SELECT 1 FROM edit_ledger WHERE editor = $1', [sub])).rowCount).toBe(0);
      expect(await ledgerCount('Composition', created.body.id)).toBe(1);

      // The same Bundle with a reason commits, both documents in the ledger.
      const ok = await send<Bundle>(token, 'POST', '', { body: bundle, headers: reason(REASON_ZH) });
      expect({ status: ok.status, text: ok.status === 200 ? '' : ok.text }).toEqual({ status: 200, text: '' });
      const rows = (await db.query<LedgerRow>('SELECT * FROM edit_ledger WHERE editor = $1 ORDER BY version_id', [sub])).rows;
      expect(rows.map((r) => [r.version_id, r.kind, r.reason])).toEqual([
        [1, 'create', REASON_ZH],
        [2, 'update', REASON_ZH],
      ]);
      for (const r of rows) documents.add(`${r.resource_type}/${r.resource_id}`);
    });
  });


  it('R-12 / R-17: every document this suite wrote verifies intact (verifyLedger per document)', async () => {
    expect(documents.size).toBeGreaterThan(15);
    for (const document of documents) {
      const report = await verifyLedger(testDatabaseUrl(), { document });
      expect({ document, breaks: report.breaks, documents: report.documents }).toEqual({ document, breaks: [], documents: 1 });
    }
  });
});
