import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Patient } from '@medplum/fhirtypes';
import pg from 'pg';
import { verifyAuditChains, type VerifyReport } from '../../src/audit/audit-verifier.js';
import { packageRoot } from '../../src/common/package-root.js';
import { freePort } from '../../src/database/embedded-postgres.launcher.js';
import { devToken, testDatabaseUrl } from '../support/test-app.js';
import { dropThrowawayDatabase } from '../support/throwaway-database.js';

/**
 * under a crash: the standalone server (`node dist/src/main.js`, as deployed)
 * serves concurrent reads and creates on a database of its own, and is killed with SIGKILL
 * in the middle of the load, without any chance to flush or close. Every request that got
 * a 2xx answer must then have its audit entry in the log (a read: recorded by group commit
 * before the response; a create: in the transaction of its version), and every chain must
 * still verify. Requests cut off by the kill may or may not be recorded: they were never
 * answered.
 */

const MAIN = join(packageRoot(), 'dist', 'src', 'main.js');
const CLIENTS = 64;
const SEED_PATIENTS = 8;
/** One request in CREATE_EVERY is a create; the rest are reads. */
const CREATE_EVERY = 8;
const READY_TIMEOUT_MS = 30_000;
/** The load goes on past its 1.5–2 s until this many requests were answered (at most MAX_LOAD_MS). */
const MIN_ANSWERED = 400;
const MAX_LOAD_MS = 20_000;

/** A request the load sent, and how it ended. */
interface Sent {
  requestId: string;
  kind: 'read' | 'create';
  /** The Patient read (reads) or created (creates, from `Location`). */
  patientId?: string;
  started: number;
  /** When the status line and headers arrived. */
  answered?: number;
  status?: number;
  echoedId?: string | null;
  location?: string | null;
  /** Set when the request failed without an HTTP answer (connection reset or refused). */
  error?: { at: number; code: string };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The code of a failed fetch (`ECONNRESET`, `UND_ERR_SOCKET`…), from its cause. */
function errorCode(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (e as Error).message ?? String(e);
}

const alive = (child: ChildProcess | undefined): child is ChildProcess => !!child && child.exitCode === null && child.signalCode === null;

describe('Audit trail survives a crash under load (e2e, standalone server killed with SIGKILL)', () => {
  const runTag = randomBytes(4).toString('hex');
  const databaseName = `cw_audit_crash_${Date.now()}_${runTag}`;
  let databaseUrl = '';
  let databaseCreated = false;
  let dataDir: string | undefined;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  /** The child's stdout and stderr, for failure messages. */
  let output = '';
  let fhirBase = '';
  let token = '';

  const urlOf = (database?: string): string => {
    const url = new URL(testDatabaseUrl());
    if (database) url.pathname = `/${database}`;
    return url.toString();
  };
  /** One statement on a fresh connection (the run's database unless `database` is given). */
  const sql = async <T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params: unknown[] = [], database?: string): Promise<T[]> => {
    const client = new pg.Client({ connectionString: urlOf(database) });
    await client.connect();
    try {
      return (await client.query<T>(text, params)).rows;
    } finally {
      await client.end();
    }
  };
  const tail = () => output.slice(-4000);

  /** Starts `node dist/src/main.js` on the fresh database; resolves once it logs its endpoint. */
  const startServer = async (port: number): Promise<void> => {
    // Only what the server needs: no NODE_OPTIONS from jest, no CHARTWARDEN_* from the developer's shell.
    const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CHARTWARDEN_') && k !== 'NODE_OPTIONS'));
    Object.assign(env, { DATABASE_URL: databaseUrl, PORT: String(port), CHARTWARDEN_DATA_DIR: dataDir, NO_COLOR: '1' });
    const proc = spawn(process.execPath, [MAIN], { env, cwd: packageRoot(), stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the server did not log its FHIR endpoint within ${READY_TIMEOUT_MS} ms; its output:\n${tail()}`)), READY_TIMEOUT_MS);
      const onData = (chunk: Buffer) => {
        output += chunk.toString('utf8');
        if (output.length > 200_000) output = output.slice(-100_000);
        if (/FHIR R4 endpoint: http:\/\/localhost:\d+\/fhir/.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout.on('data', onData);
      proc.stderr.on('data', onData);
      proc.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the server exited before it was ready (code ${code}, signal ${signal}); its output:\n${tail()}`));
      });
    });
  };

  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: this test runs the built server. Run \`npm run build\` first.`);
    await sql(`CREATE DATABASE "${databaseName}"`);
    databaseCreated = true;
    databaseUrl = urlOf(databaseName);
    dataDir = await mkdtemp(join(tmpdir(), 'chartwarden-audit-crash-'));
    // Creates the data dir's dev key: the server started on it uses the same key.
    token = await devToken(dataDir, { sub: 'his-crash-test' });
    const port = await freePort();
    fhirBase = `http://127.0.0.1:${port}/fhir`;
    await startServer(port);
  }, READY_TIMEOUT_MS + 10_000);

  afterAll(async () => {
    if (alive(child)) child.kill('SIGKILL');
    await exited;
    if (databaseCreated) await dropThrowawayDatabase(urlOf(), databaseName);
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('R-20, R-51: after SIGKILL under concurrent reads and creates, every request answered 2xx has its audit entry, and the chains verify', async () => {
    const headers = (requestId: string): Record<string, string> => ({
      accept: 'application/fhir+json',
      authorization: `Bearer ${token}`,
      'x-request-id': requestId,
    });
    const newPatient = (label: string): Patient => ({
      resourceType: 'Patient',
      identifier: [{ system: `urn:chartwarden-audit-crash:${runTag}`, value: label }],
      name: [{ family: 'Crash', given: [label] }],
    });

    // Patients to read during the load.
    const seeded: string[] = [];
    for (let i = 0; i < SEED_PATIENTS; i++) {
      const res = await fetch(`${fhirBase}/Patient`, {
        method: 'POST',
        headers: { ...headers(`crash-${runTag}-seed-${i}`), 'content-type': 'application/fhir+json' },
        body: JSON.stringify(newPatient(`seed-${i}`)),
      });
      expect(res.status).toBe(201);
      seeded.push(((await res.json()) as Patient).id as string);
    }

    // The load: CLIENTS loops, each sending one request at a time until the kill.
    const server = child as ChildProcess;
    const sent: Sent[] = [];
    let answeredCount = 0;
    let killed = false;
    let killedAt = 0;
    let killSignalSent = false;
    let inFlightAtKill = 0;
    let lastAnsweredBeforeKill = 0;
    /** Once armed, the next answer to arrive triggers the kill: it lands while answers are flowing. */
    let armed = false;
    let onKilled: () => void = () => undefined;
    const killedPromise = new Promise<void>((resolve) => (onKilled = resolve));
    const kill = (): void => {
      if (killed) return;
      inFlightAtKill = sent.filter((s) => s.answered === undefined && s.error === undefined).length;
      killed = true;
      killedAt = Date.now();
      killSignalSent = server.kill('SIGKILL');
      onKilled();
    };
    const loop = async (client: number): Promise<void> => {
      for (let n = 0; !killed; n++) {
        const kind = (client + n) % CREATE_EVERY === 0 ? 'create' : 'read';
        const requestId = `crash-${runTag}-${client}-${n}`;
        const patientId = kind === 'read' ? seeded[(client * 7 + n) % seeded.length] : undefined;
        const s: Sent = { requestId, kind, patientId, started: Date.now() };
        sent.push(s);
        try {
          const res =
            kind === 'read'
              ? await fetch(`${fhirBase}/Patient/${patientId}`, { headers: headers(requestId) })
              : await fetch(`${fhirBase}/Patient`, {
                  method: 'POST',
                  headers: { ...headers(requestId), 'content-type': 'application/fhir+json' },
                  body: JSON.stringify(newPatient(requestId)),
                });
          s.answered = Date.now();
          answeredCount++;
          if (!killed) {
            lastAnsweredBeforeKill = s.answered;
            if (armed) kill();
          }
          s.status = res.status;
          s.echoedId = res.headers.get('x-request-id');
          s.location = res.headers.get('location');
          if (kind === 'create') s.patientId = /\/Patient\/([^/]+)\/_history\/[^/]+$/.exec(s.location ?? '')?.[1];
          // The answer counts once its status line arrived; the body may be cut by the kill.
          await res.arrayBuffer().catch(() => undefined);
        } catch (e) {
          s.error = { at: Date.now(), code: errorCode(e) };
          return;
        }
      }
    };
    const loadStarted = Date.now();
    const loops = Promise.all(Array.from({ length: CLIENTS }, (_, i) => loop(i)));

    // 1.5–2 s of load, longer on a slow or busy machine until enough requests were answered.
    const loadFor = 1500 + Math.floor(Math.random() * 500);
    while (Date.now() - loadStarted < loadFor || (answeredCount < MIN_ANSWERED && Date.now() - loadStarted < MAX_LOAD_MS)) await sleep(20);
    armed = true;
    // No answer within 5 s: the load had stalled; kill anyway (the control below then fails).
    let stalled: NodeJS.Timeout | undefined;
    await Promise.race([killedPromise, new Promise<void>((resolve) => (stalled = setTimeout(resolve, 5000)))]);
    clearTimeout(stalled);
    kill();
    expect(killSignalSent).toBe(true);
    await exited;
    expect(server.signalCode).toBe('SIGKILL');
    await loops;
    const loadMs = killedAt - loadStarted;

    // Control: the kill landed under load, with requests in flight and answers still arriving.
    const errorsBeforeKill = sent.filter((s) => s.error && s.error.at < killedAt);
    expect(errorsBeforeKill.map((s) => `${s.requestId}: ${s.error?.code}`)).toEqual([]);
    const cutOff = sent.filter((s) => s.error);
    // Requests were under way at the kill. Each ends cut off, or answered from bytes the server
    // had sent before dying (on a busy machine the client reads those only after the kill, so a
    // run may cut none off); every one is checked below either way.
    expect(inFlightAtKill).toBeGreaterThan(0);
    expect(killedAt - lastAnsweredBeforeKill).toBeLessThan(50);

    const answered = sent.filter((s) => s.status !== undefined);
    const ok = answered.filter((s) => (s.status as number) >= 200 && (s.status as number) < 300);
    // Nothing but successes: a 503 would mean the trail refused a request under plain load.
    expect(answered.filter((s) => !ok.includes(s)).map((s) => `${s.requestId} (${s.kind}): ${s.status}`)).toEqual([]);
    expect(ok.filter((s) => s.echoedId !== s.requestId).map((s) => `${s.requestId}: echoed ${s.echoedId}`)).toEqual([]);
    const reads = ok.filter((s) => s.kind === 'read');
    const creates = ok.filter((s) => s.kind === 'create');
    expect(reads.every((s) => s.status === 200)).toBe(true);
    expect(creates.every((s) => s.status === 201)).toBe(true);
    expect(creates.filter((s) => !s.patientId).map((s) => `${s.requestId}: Location ${s.location}`)).toEqual([]);
    // Meaningful only with many answers, of both kinds.
    expect(ok.length).toBeGreaterThan(200);
    expect(creates.length).toBeGreaterThan(10);
    expect(answered.length + cutOff.length).toBe(sent.length);

    // The server's connections are gone (PostgreSQL saw the sockets close) before the log is read,
    // so no transaction of the dead server commits between the checks below.
    const deadline = Date.now() + 15_000;
    let backends = -1;
    while (Date.now() < deadline) {
      [{ backends }] = await sql<{ backends: number }>('SELECT count(*)::int AS backends FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [databaseName], databaseName);
      if (backends === 0) break;
      await sleep(100);
    }
    expect(backends).toBe(0);

    // Every 2xx answer has its entry: same request id, the interaction answered, success, the record addressed.
    type Row = { request_id: string; subtype: string; outcome: number; entity_type: string | null; entity_id: string | null };
    const rows = await sql<Row>(
      'SELECT request_id, subtype, outcome, entity_type, entity_id FROM audit_entry WHERE request_id = ANY($1::text[])',
      [ok.map((s) => s.requestId)],
      databaseName,
    );
    const byRequest = new Map<string, Row[]>();
    for (const r of rows) byRequest.set(r.request_id, [...(byRequest.get(r.request_id) ?? []), r]);
    const missing = ok.filter((s) => !byRequest.has(s.requestId));
    const summary = `${ok.length} answered 2xx (${reads.length} reads, ${creates.length} creates) in ${loadMs} ms of load, ${inFlightAtKill} in flight at the kill, ${cutOff.length} cut off`;
    expect({ summary, missingEntries: missing.map((s) => `${s.requestId} (${s.kind} ${s.patientId ?? ''}, answered ${(s.answered as number) - killedAt} ms from the kill)`) }).toEqual({
      summary,
      missingEntries: [],
    });
    const wrong = ok.filter((s) => {
      const expected = s.kind === 'read' ? 'read' : 'create';
      return !(byRequest.get(s.requestId) ?? []).some((r) => r.subtype === expected && r.outcome === 0 && r.entity_type === 'Patient' && r.entity_id === s.patientId);
    });
    expect(wrong.map((s) => `${s.requestId} (${s.kind} Patient/${s.patientId}): ${JSON.stringify(byRequest.get(s.requestId))}`)).toEqual([]);

    // Every Patient answered 201 exists: the version and its entry committed together.
    const stored = new Set(
      (await sql<{ id: string }>(`SELECT id FROM fhir_resource WHERE resource_type = 'Patient' AND id = ANY($1::text[])`, [creates.map((s) => s.patientId)], databaseName)).map((r) => r.id),
    );
    expect(creates.filter((s) => !stored.has(s.patientId as string)).map((s) => `${s.requestId}: Patient/${s.patientId}`)).toEqual([]);

    // No chain was left broken by the crash (a transaction cut mid-way rolls back whole).
    const report: VerifyReport = await verifyAuditChains(databaseUrl);
    expect(report.broken).toBeUndefined();
    expect(report.entries).toBeGreaterThanOrEqual(ok.length + SEED_PATIENTS);
  }, 60_000);
});
