import { randomBytes, randomUUID } from 'node:crypto';
import type { Composition, OperationOutcome, Patient } from '@medplum/fhirtypes';
import pg from 'pg';
import type { IntegrityKindState } from '../../src/audit/integrity-run.service.js';
import type { IntegrityRunView } from '../../src/audit/domain/integrity-run.js';
import { cliStarter, recordRun } from '../../src/audit/integrity-runs.js';
import { verifyLedger } from '../../src/cli/offline-checks.js';
import { applicationRoleName } from '../../src/database/application-role.js';
import { asReplica, sql, urlOf } from '../support/database-admin.js';
import type { AuditRow } from '../support/database-rows.js';
import { httpRequest, type HttpResult } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/test-app.js';
import { dropThrowawayDatabase } from '../support/throwaway-database.js';

/**
 * Integrity runs over real HTTP (issue #18): the auditors' console shows the state of `audit
 * verify` and `ledger verify` and starts runs. R-21: a run of the audit chains finds them intact
 * or names the first break; R-12: a run of the edit ledger counts its documents and versions;
 * R-20: every call is in the audit trail, refusals too; runs are evidence the database keeps
 * (no change once finished, no delete). On a database made for this file alone: rows are
 * tampered with here.
 */

const RUN = randomBytes(4).toString('hex');
const AUDITOR = `integrity-auditor-${RUN}`;
const CLINICIAN = `integrity-dr-${RUN}`;
const CLERK = `integrity-clerk-${RUN}`;
const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}(Z|[+-]\d{2}:\d{2})$/;
const LOINC = 'http://loinc.org';

type State = Record<'audit' | 'ledger', IntegrityKindState>;

describe('Integrity runs (issue #18): the state of audit verify and ledger verify, runs started by auditors', () => {
  const database = `cw_integrity_e2e_${Date.now()}_${RUN}`;
  const url = urlOf(database);
  let server: TestServer;
  let ground: pg.Client;
  let auditor: string;
  let clinician: string;
  let clerk: string;
  /** Runs this suite saw finish intact, by kind (the last one each). */
  const intact: Partial<Record<'audit' | 'ledger', string>> = {};

  const start = (kind: unknown, token = auditor) =>
    httpRequest<IntegrityRunView & OperationOutcome>(`${server.root}/audit/integrity/runs`, 'POST', { token, body: { kind }, contentType: 'application/json' });
  const state = (token = auditor) => httpRequest<State & OperationOutcome>(`${server.root}/audit/integrity`, 'GET', { token });
  const one = (id: string, token = auditor) => httpRequest<IntegrityRunView & OperationOutcome>(`${server.root}/audit/integrity/runs/${id}`, 'GET', { token });
  const rowOf = async (id: string) => (await ground.query<Record<string, unknown>>('SELECT * FROM audit_integrity_run WHERE id = $1', [id])).rows[0];
  const runCount = async () => (await ground.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_integrity_run')).rows[0].n;
  const entriesOf = async (res: HttpResult<unknown>) =>
    (await ground.query<AuditRow>('SELECT * FROM audit_entry WHERE request_id = $1', [res.headers.get('x-request-id')])).rows;
  /** Waits, on the database itself (no request adds to the trail meanwhile), until the run is finished. */
  const finished = async (id: string) => {
    for (let i = 0; i < 200; i++) {
      const row = await rowOf(id);
      if (row?.finished_at) return row;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`run ${id} did not finish`);
  };
  const expectRefused = (res: HttpResult<OperationOutcome>, status: number, issue: string, code: string) => {
    expect({ status: res.status, resourceType: res.body?.resourceType, issue: res.body?.issue?.[0]?.code, code: res.body?.issue?.[0]?.details?.coding?.[0]?.code }).toEqual({
      status,
      resourceType: 'OperationOutcome',
      issue,
      code,
    });
  };

  beforeAll(async () => {
    await sql(urlOf(), `CREATE DATABASE "${database}"`);
    server = await startTestServer({ databaseUrl: url });
    ground = new pg.Client({ connectionString: url });
    await ground.connect();
    auditor = await server.token({ sub: AUDITOR, roles: ['auditor'] });
    clinician = await server.token({ sub: CLINICIAN, roles: ['attending'], department: 'cardio' });
    clerk = await server.token({ sub: CLERK, roles: ['record-room'] });
    // A little history: a patient and a progress note changed once (two ledger entries), read back.
    const his = await server.token({ sub: `integrity-his-${RUN}`, roles: ['his-system'] });
    const post = async <T>(type: string, body: unknown) => (await httpRequest<T & { id: string }>(`${server.fhirBase}/${type}`, 'POST', { token: his, body })).body;
    const patient = await post<Patient>('Patient', { resourceType: 'Patient', name: [{ text: '王五' }] });
    const note: Composition = {
      resourceType: 'Composition',
      status: 'preliminary',
      type: { coding: [{ system: LOINC, code: '11506-3' }] },
      subject: { reference: `Patient/${patient.id}` },
      date: '2026-12-01T10:00:00+08:00',
      author: [{ reference: 'Practitioner/dr-li' }],
      title: '日常病程记录',
    };
    const created = await post<Composition>('Composition', note);
    const updated = await httpRequest(`${server.fhirBase}/Composition/${created.id}`, 'PUT', { token: his, body: { ...note, id: created.id, title: '日常病程记录（补记）' } });
    expect(updated.status).toBe(200);
    expect((await httpRequest(`${server.fhirBase}/Patient/${patient.id}`, 'GET', { token: his })).status).toBe(200);
  }, 60_000);

  afterAll(async () => {
    await ground?.end();
    await server?.close();
    await dropThrowawayDatabase(urlOf(), database);
  });

  it('R-21: an auditor starts an audit run: 202 with its Location; it finishes intact with the chains and entries the trail holds', async () => {
    const before = (await ground.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_entry')).rows[0].n;
    const chains = (await ground.query<{ n: number }>('SELECT count(*)::int AS n FROM (SELECT chain FROM audit_chain UNION SELECT chain FROM audit_entry) c')).rows[0].n;
    const res = await start('audit');
    const afterStart = (await ground.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_entry')).rows[0].n;
    expect(res.status).toBe(202);
    const id = res.body.id;
    expect(res.headers.get('location')).toBe(`/audit/integrity/runs/${id}`);
    expect(res.body).toMatchObject({ kind: 'audit', status: 'running', scope: 'everything' });
    expect(res.body.startedBy).toEqual({ via: 'api', id: AUDITOR, practitioner: `Practitioner/${AUDITOR}`, requestId: res.headers.get('x-request-id') });
    expect(res.body.startedAt).toMatch(ISO_WITH_OFFSET);

    const row = await finished(id);
    // The trail the run saw: everything before the start, and perhaps the start's own entry (recorded as the run began).
    expect(row).toMatchObject({ kind: 'audit', outcome: 'intact', started_via: 'api', started_by: AUDITOR, request_id: res.headers.get('x-request-id'), units_checked: chains });
    expect([before, afterStart]).toContain(Number(row.entries_checked));
    expect(afterStart).toBe(before + 1);
    expect(row.first_break).toBeNull();

    const read = await one(id);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ id, kind: 'audit', status: 'intact', checked: { chains, entries: Number(row.entries_checked) } });
    expect(read.body.finishedAt).toMatch(ISO_WITH_OFFSET);
    expect(Date.parse(read.body.finishedAt as string)).toBe((row.finished_at as Date).getTime());
    expect(read.body.durationMs).toBe(row.duration_ms);
    expect(read.body.firstBreak).toBeUndefined();
    intact.audit = id;

    // the start is in the trail, as the auditor's successful start of this run.
    const [entry] = await entriesOf(res);
    expect(entry).toMatchObject({ actor: AUDITOR, outcome: 0, action: 'E', subtype: 'integrity-run-start', entity_type: 'IntegrityRun', entity_id: id });
    expect(JSON.parse(entry.content)).toMatchObject({ status: 202, path: '/audit/integrity/runs', method: 'POST' });
  });

  it('R-12: a ledger run counts the governed documents and the versions the edit ledger holds', async () => {
    const [counts] = (await ground.query<{ documents: number; versions: number }>(
      'SELECT count(DISTINCT (resource_type, resource_id))::int AS documents, count(*)::int AS versions FROM edit_ledger',
    )).rows;
    expect(counts).toEqual({ documents: 1, versions: 2 });
    const res = await start('ledger');
    expect(res.status).toBe(202);
    const row = await finished(res.body.id);
    expect(row).toMatchObject({ kind: 'ledger', outcome: 'intact', units_checked: counts.documents, entries_checked: String(counts.versions) });
    expect((await one(res.body.id)).body).toMatchObject({ status: 'intact', checked: { documents: 1, versions: 2 } });
    intact.ledger = res.body.id;
  });

  it('R-21: runs while the HIS writes find the trail intact: each sees one snapshot (a head read before entries appended after it would look cut)', async () => {
    const his = await server.token({ sub: `integrity-his-${RUN}`, roles: ['his-system'] });
    let stop = false;
    let writes = 0;
    const load = (async () => {
      while (!stop) {
        const done = await Promise.all(Array.from({ length: 8 }, () => httpRequest(`${server.fhirBase}/Patient`, 'POST', { token: his, body: { resourceType: 'Patient' } })));
        writes += done.filter((r) => r.status === 201).length;
      }
    })();
    try {
      for (let i = 0; i < 3; i++) {
        const res = await start('audit');
        expect(res.status).toBe(202);
        expect(await finished(res.body.id)).toMatchObject({ outcome: 'intact', first_break: null });
        intact.audit = res.body.id;
      }
    } finally {
      stop = true;
      await load;
    }
    expect(writes).toBeGreaterThan(0);
  });

  it('one at a time: while a ledger run is in progress a second start answers 409 conflict naming it, the CLI is refused too, and an audit run may start', async () => {
    // The run's check waits on this lock, so it stays in progress until the test lets it go.
    const blocker = new pg.Client({ connectionString: url });
    await blocker.connect();
    let blocked: string | undefined;
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE edit_ledger IN ACCESS EXCLUSIVE MODE');
      const rows = await runCount();
      // Two starts at once: exactly one wins.
      const [a, b] = await Promise.all([start('ledger'), start('ledger')]);
      expect([a.status, b.status].sort()).toEqual([202, 409]);
      const [won, lost] = a.status === 202 ? [a, b] : [b, a];
      blocked = won.body.id;
      expectRefused(lost, 409, 'conflict', 'integrity.running');
      expect(await runCount()).toBe(rows + 1);

      const during = await state();
      expect(during.status).toBe(200);
      expect(during.body.ledger).toMatchObject({ inProgress: true, running: { id: won.body.id, status: 'running' }, lastRun: { id: intact.ledger, status: 'intact' } });
      const again = await start('ledger');
      expectRefused(again, 409, 'conflict', 'integrity.running');
      // G6: the console shows this text; the other run's start reads on the hospital's clock (the shipped policy: Beijing time).
      const startedBeijing = `${new Date(Date.parse(won.body.startedAt as string) + 8 * 3_600_000).toISOString().slice(0, 16).replace('T', ' ')} 北京时间`;
      expect(again.body.issue?.[0]?.diagnostics).toContain(`run ${won.body.id}, started ${startedBeijing} by ${AUDITOR} from the api`);
      // The CLI's `ledger verify` meets the same lock (another process).
      await expect(recordRun(url, 'ledger', cliStarter(), () => verifyLedger(url))).rejects.toMatchObject({ code: 'integrity.running' });
      expect(await runCount()).toBe(rows + 1);
      // The other kind is not held up.
      const audit = await start('audit');
      expect(audit.status).toBe(202);
      expect((await finished(audit.body.id)).outcome).toBe('intact');
      intact.audit = audit.body.id;
      expect((await rowOf(won.body.id)).finished_at).toBeNull();
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
    }
    // Let go, the run completes.
    expect(await finished(String(blocked))).toMatchObject({ outcome: 'intact', units_checked: 1, entries_checked: '2' });
    expect((await state()).body.ledger).toMatchObject({ inProgress: false, running: null, lastRun: { id: blocked, status: 'intact' }, lastIntactRun: { id: blocked } });
    intact.ledger = blocked;
  });

  it('R-20: a clinician and the record room get 403 OperationOutcomes on every route, no run is recorded, and each refusal is in the trail', async () => {
    const rows = await runCount();
    for (const token of [clinician, clerk]) {
      const refusedStart = await start('audit', token);
      expectRefused(refusedStart, 403, 'forbidden', 'integrity.forbidden');
      const [entry] = await entriesOf(refusedStart);
      expect(entry).toMatchObject({ outcome: 4, subtype: 'integrity-run-start' });
      expect(JSON.parse(entry.content)).toMatchObject({ status: 403, error: 'integrity.forbidden' });
      expectRefused(await state(token), 403, 'forbidden', 'integrity.forbidden');
      expectRefused(await one(intact.audit as string, token), 403, 'forbidden', 'integrity.forbidden');
    }
    expect(await runCount()).toBe(rows);
    expect((await entriesOf(await start('audit', clinician)))[0].actor).toBe(CLINICIAN);
  });

  it('bad input: an unknown kind is 400 invalid; an unknown or malformed run id is 404 not-found', async () => {
    const rows = await runCount();
    const bad = await start('everything');
    expectRefused(bad, 400, 'invalid', 'integrity.invalid');
    expect(JSON.stringify(bad.body)).toContain('kind');
    expectRefused(await start(undefined), 400, 'invalid', 'integrity.invalid');
    expectRefused(await one(randomUUID()), 404, 'not-found', 'integrity.not-found');
    expectRefused(await one('not-a-run'), 404, 'not-found', 'integrity.not-found');
    expect(await runCount()).toBe(rows);
  });

  it('R-21: a tampered audit entry: the run is broken, naming the chain and entry; the last intact run stays the earlier one', async () => {
    const [target] = (await ground.query<AuditRow>("SELECT chain, seq FROM audit_entry WHERE subtype = 'create' AND entity_type = 'Composition' LIMIT 1")).rows;
    await asReplica(url, [["UPDATE audit_entry SET actor = 'mallory' WHERE chain = $1 AND seq = $2", [target.chain, target.seq]]]);
    const res = await start('audit');
    expect(res.status).toBe(202);
    const row = await finished(res.body.id);
    const firstBreak = {
      chain: target.chain,
      seq: Number(target.seq),
      problem: 'content-altered',
      detail: `chain ${target.chain}: entry ${target.seq} does not match its hash (its content or a searchable column was changed)`,
    };
    expect(row).toMatchObject({ outcome: 'broken', breaks: 1, first_break: firstBreak });
    const read = await one(res.body.id);
    expect(read.body).toMatchObject({ status: 'broken', breaks: 1, firstBreak });
    const now = await state();
    expect(now.body.audit).toMatchObject({ inProgress: false, running: null, lastRun: { id: res.body.id, status: 'broken', firstBreak }, lastIntactRun: { id: intact.audit, status: 'intact' } });
  });

  it('an abandoned run (its process gone) shows as abandoned, and the next run closes it as failed', async () => {
    const id = randomUUID();
    await ground.query("INSERT INTO audit_integrity_run (id, kind, started_via, started_by, started_at) VALUES ($1, 'ledger', 'cli', 'ops@elsewhere', now())", [id]);
    expect((await one(id)).body).toMatchObject({ id, status: 'abandoned' });
    expect((await state()).body.ledger).toMatchObject({ inProgress: false, lastRun: { id, status: 'abandoned' } });
    const next = await start('ledger');
    expect(next.status).toBe(202);
    await finished(next.body.id);
    expect(await rowOf(id)).toMatchObject({ outcome: 'failed', failure: expect.stringContaining('abandoned') });
    expect((await one(id)).body).toMatchObject({ status: 'failed', failure: expect.stringContaining('abandoned') });
  });

  it('R-21: the database refuses to change a finished run or to delete any run; the application role may not delete', async () => {
    const { audit: id } = intact;
    await expect(ground.query("UPDATE audit_integrity_run SET outcome = 'broken', breaks = 1, first_break = '{}' WHERE id = $1", [id])).rejects.toThrow(/finished once/);
    await expect(ground.query('UPDATE audit_integrity_run SET started_by = $2 WHERE id = $1', [id, 'mallory'])).rejects.toThrow(/finished once/);
    await expect(ground.query('DELETE FROM audit_integrity_run WHERE id = $1', [id])).rejects.toThrow(/finished once/);
    await expect(ground.query('TRUNCATE audit_integrity_run')).rejects.toThrow(/append-only/);
    expect(await rowOf(id as string)).toMatchObject({ outcome: 'intact' });
    const role = applicationRoleName(database);
    const [privileges] = (
      await ground.query<Record<string, boolean>>(
        `SELECT has_table_privilege($1, 'audit_integrity_run', 'SELECT') AS select, has_table_privilege($1, 'audit_integrity_run', 'INSERT') AS insert,
                has_table_privilege($1, 'audit_integrity_run', 'UPDATE') AS update, has_table_privilege($1, 'audit_integrity_run', 'DELETE') AS delete,
                has_table_privilege($1, 'audit_integrity_run', 'TRUNCATE') AS truncate`,
        [role],
      )
    ).rows;
    expect(privileges).toEqual({ select: true, insert: true, update: true, delete: false, truncate: false });
  });

  it('a run in progress when the server stops is recorded as failed: the server stopped', async () => {
    const other = await startTestServer({ databaseUrl: url });
    const blocker = new pg.Client({ connectionString: url });
    await blocker.connect();
    let id: string;
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE edit_ledger IN ACCESS EXCLUSIVE MODE');
      const res = await httpRequest<IntegrityRunView>(`${other.root}/audit/integrity/runs`, 'POST', { token: await other.token({ sub: AUDITOR, roles: ['auditor'] }), body: { kind: 'ledger' } });
      expect(res.status).toBe(202);
      id = res.body.id;
      await other.close();
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
    }
    expect(await rowOf(id)).toMatchObject({ outcome: 'failed', failure: 'the server stopped before the verification finished' });
  });

  it('the routes are documented in OpenAPI with their error responses', async () => {
    const doc = await httpRequest<{ paths: Record<string, Record<string, { responses: Record<string, unknown> }>> }>(`${server.root}/docs-json`, 'GET', {
      headers: { accept: 'application/json' },
    });
    expect(doc.status).toBe(200);
    const paths = doc.body.paths;
    expect(Object.keys(paths['/audit/integrity/runs'].post.responses)).toEqual(expect.arrayContaining(['202', '400', '401', '403', '409']));
    expect(Object.keys(paths['/audit/integrity'].get.responses)).toEqual(expect.arrayContaining(['200', '401', '403']));
    expect(Object.keys(paths['/audit/integrity/runs/{id}'].get.responses)).toEqual(expect.arrayContaining(['200', '403', '404']));
  });
});
