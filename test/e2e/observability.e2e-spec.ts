import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Encounter, Observation, Patient, Resource } from '@medplum/fhirtypes';
import { packageRoot } from '../../src/common/package-root.js';
import { freePort } from '../../src/database/embedded-postgres.launcher.js';
import { sql, urlOf } from '../support/database-admin.js';
import { httpRequest, type HttpResult } from '../support/http.js';
import { devToken, startTestServer, testDatabaseUrl, type TestServer } from '../support/test-app.js';
import { dropThrowawayDatabase } from '../support/throwaway-database.js';

/**
 * Issue #14, "Nothing to watch": health probes, Prometheus metrics and structured logs, as an
 * operator's load balancer, Prometheus and log collector see them. R-20: probes and scrapes
 * touch no record and leave no audit entry. R-51: readiness says 503 when the database is
 * gone, while liveness and the metrics keep answering.
 */

const tag = randomBytes(4).toString('hex');
const METRICS_TOKEN = `scrape-${randomBytes(16).toString('hex')}`;
const CARDIO = 'cardio';
const BTG_CATEGORY = 'http://terminology.hl7.org/CodeSystem/v3-ActReason#BTG; scheme="http://hl7.org/fhir/tag/security"';

/** One sample of the exposition text, or undefined when absent. `labels` must match exactly (order-insensitive). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const found = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    const wanted = Object.entries(labels);
    if (wanted.length === Object.keys(found).length && wanted.every(([k, v]) => found[k] === v)) return Number(m[3]);
  }
  return undefined;
}

/** Every label value in the exposition text. */
function labelValues(text: string): string[] {
  return [...text.matchAll(/[a-zA-Z_]+="((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]);
}

describe('Observability: health, metrics (e2e, real HTTP + PostgreSQL, a database of its own)', () => {
  const database = `${new URL(testDatabaseUrl()).pathname.slice(1)}_obs_${tag}`;
  const databaseUrl = urlOf(database);
  let server: TestServer;
  let root = '';
  let his = '';
  let drCardio = '';
  let drNeuro = '';
  let officer = '';
  const ids = { patient: '', observation: '' };

  const get = <T = unknown>(path: string, headers: Record<string, string> = {}) =>
    httpRequest<T>(`${root}${path}`, 'GET', { headers: { accept: '*/*', ...headers } });
  const scrape = () => get<string>('/metrics', { authorization: `Bearer ${METRICS_TOKEN}` });
  const auditCount = async (requestId?: string) =>
    (await sql<{ n: number }>(databaseUrl, `SELECT count(*)::int AS n FROM audit_entry WHERE $1::text IS NULL OR request_id = $1`, [requestId ?? null]))[0].n;
  const seed = async (resource: Resource): Promise<string> => {
    const res = await httpRequest<Resource>(`${server.fhirBase}/${resource.resourceType}`, 'POST', { token: his, body: resource });
    if (res.status !== 201) throw new Error(`seeding ${resource.resourceType}: ${res.status} ${res.text}`);
    return res.body.id as string;
  };

  beforeAll(async () => {
    await sql(testDatabaseUrl(), `CREATE DATABASE "${database}"`);
    server = await startTestServer({ databaseUrl, metrics: { enabled: true, token: METRICS_TOKEN } });
    root = server.fhirBase.replace(/\/fhir$/, '');
    his = await server.token();
    drCardio = await server.token({ sub: 'dr-cardio', roles: ['attending'], department: CARDIO, licence: 'licensed', fhirUser: 'Practitioner/dr-cardio' });
    drNeuro = await server.token({ sub: 'dr-neuro', roles: ['attending'], department: 'neuro', licence: 'licensed', fhirUser: 'Practitioner/dr-neuro' });
    officer = await server.token({ sub: 'officer-obs', roles: ['disputes-officer'] });
    ids.patient = await seed({ resourceType: 'Patient', name: [{ family: `Obs${tag}` }] } satisfies Patient);
    const encounter = await seed({
      resourceType: 'Encounter',
      status: 'in-progress',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
      subject: { reference: `Patient/${ids.patient}` },
      serviceProvider: { reference: `Organization/${CARDIO}` },
      participant: [{ individual: { reference: 'Practitioner/dr-cardio' } }],
    } satisfies Encounter);
    ids.observation = await seed({
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'heart rate' },
      subject: { reference: `Patient/${ids.patient}` },
      encounter: { reference: `Encounter/${encounter}` },
    } satisfies Observation);
  });

  afterAll(async () => {
    await server?.close();
    await dropThrowawayDatabase(testDatabaseUrl(), database);
  });

  it('GET /health/live answers 200 without a token, with terminus\'s body', async () => {
    const res = await get<{ status: string; info: Record<string, { status: string }> }>('/health/live');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'ok', info: { process: { status: 'up', uptimeSeconds: expect.any(Number) } }, error: {} });
    expect(res.headers.get('cache-control')).toMatch(/no-store/);
  });

  it('GET /health/ready answers 200 without a token: database, audit writer and store up', async () => {
    const res = await get<Record<string, unknown>>('/health/ready');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 'ok',
      info: { database: { status: 'up' }, audit: { status: 'up', queued: 0 }, store: { status: 'up', kind: 'postgres' } },
      error: {},
    });
  });

  it('R-20: probes and scrapes leave no audit entry (a FHIR read with its own request id does, as the control)', async () => {
    const before = await auditCount();
    const probeId = `probe-${tag}`;
    for (const path of ['/health/live', '/health/ready']) expect((await get(path, { 'x-request-id': probeId })).status).toBe(200);
    expect((await get('/metrics', { 'x-request-id': probeId, authorization: `Bearer ${METRICS_TOKEN}` })).status).toBe(200);
    expect((await get('/metrics', { 'x-request-id': probeId })).status).toBe(401);
    expect(await auditCount(probeId)).toBe(0);
    expect(await auditCount()).toBe(before);

    const controlId = `control-${tag}`;
    const read = await httpRequest(`${server.fhirBase}/Observation/${ids.observation}`, 'GET', { token: drCardio, headers: { 'x-request-id': controlId } });
    expect(read.status).toBe(200);
    expect(read.headers.get('x-request-id')).toBe(controlId);
    expect(await auditCount(controlId)).toBeGreaterThanOrEqual(1);
  });

  it('GET /metrics needs the configured bearer token: 401 without it, with a wrong one, or with another scheme', async () => {
    const near = [`Basic ${METRICS_TOKEN}`, `Bearer ${METRICS_TOKEN}x`, `Bearer ${METRICS_TOKEN.slice(0, -1)}`];
    const refused = [undefined, 'Bearer wrong-token-of-some-length', ...near];
    for (const authorization of refused) {
      const res = await get<{ statusCode: number }>('/metrics', authorization ? { authorization } : {});
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="chartwarden-metrics"');
      expect(res.text).not.toContain('chartwarden_http_requests_total');
    }
    const ok = await scrape();
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  });

  it('R-04/R-44: metrics count requests by interaction and status, decisions by rule, audit commits, the pool, holds and break-the-glass', async () => {
    const obs = `${server.fhirBase}/Observation/${ids.observation}`;
    expect((await httpRequest(obs, 'GET', { token: drCardio })).status).toBe(200);
    expect((await httpRequest(obs, 'GET', { token: drNeuro })).status).toBe(403);
    const btg = await httpRequest(obs, 'GET', { token: drNeuro, headers: { category: BTG_CATEGORY, 'x-break-glass-reason': `chest pain at night ${tag}` } });
    expect(btg.status).toBe(200);
    const sealed = await httpRequest<{ status: string }>(`${root}/disputes`, 'POST', {
      token: officer,
      contentType: 'application/json',
      headers: { accept: 'application/json' },
      body: { patient: ids.patient, reason: '舆情', trigger: 'public-incident', team: ['Practitioner/dr-cardio'] },
    });
    expect(sealed.status).toBe(201);
    expect(sealed.body.status).toBe('sealed');
    expect((await get('/health/live')).status).toBe(200);

    const res = await scrape();
    expect(res.status).toBe(200);
    const text = res.text;
    // Requests: the seeding creates, the reads above (and the previous test's control read, when it ran), the refusal.
    expect(sample(text, 'chartwarden_http_requests_total', { interaction: 'create', status: '201' })).toBe(3);
    expect(sample(text, 'chartwarden_http_requests_total', { interaction: 'read', status: '200' })).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'chartwarden_http_requests_total', { interaction: 'read', status: '403' })).toBe(1);
    // A public incident is opened and sealed in one step: the trail (and the metrics) call it a seal.
    expect(sample(text, 'chartwarden_http_requests_total', { interaction: 'dispute-seal', status: '201' })).toBe(1);
    expect(sample(text, 'chartwarden_http_requests_total', { interaction: 'health', status: '200' })).toBeGreaterThanOrEqual(1);
    const reads = sample(text, 'chartwarden_http_requests_total', { interaction: 'read', status: '200' });
    expect(sample(text, 'chartwarden_http_request_duration_seconds_count', { interaction: 'read', status: '200' })).toBe(reads);
    expect(sample(text, 'chartwarden_http_request_duration_seconds_bucket', { interaction: 'read', status: '200', le: '+Inf' })).toBe(reads);
    expect(sample(text, 'chartwarden_http_request_duration_seconds_sum', { interaction: 'read', status: '200' })).toBeGreaterThan(0);
    // Decisions: the HIS's writes, the department's rule, break-the-glass, and the refusal no rule allowed.
    expect(sample(text, 'chartwarden_decisions_total', { rule: 'his-system.records', outcome: 'allow' })).toBeGreaterThanOrEqual(3);
    expect(sample(text, 'chartwarden_decisions_total', { rule: 'attending.department', outcome: 'allow' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'chartwarden_decisions_total', { rule: 'attending.break-glass', outcome: 'allow' })).toBe(1);
    expect(sample(text, 'chartwarden_decisions_total', { rule: 'none', outcome: 'deny' })).toBe(1);
    // The audit writer.
    const commits = sample(text, 'chartwarden_audit_commits_total', { outcome: 'ok' }) ?? 0;
    expect(commits).toBeGreaterThan(0);
    expect(sample(text, 'chartwarden_audit_commits_total', { outcome: 'failed' })).toBe(0);
    expect(sample(text, 'chartwarden_audit_entries_total')).toBeGreaterThanOrEqual(commits);
    expect(sample(text, 'chartwarden_audit_commit_duration_seconds_count')).toBe(commits);
    expect(sample(text, 'chartwarden_audit_queue_depth')).toBe(0);
    // The pool (the test server's: 5 connections).
    expect(sample(text, 'chartwarden_db_pool_connections', { state: 'max' })).toBe(5);
    const pool = (state: string) => sample(text, 'chartwarden_db_pool_connections', { state }) ?? 0;
    const open = pool('in_use') + pool('idle');
    expect(open).toBeGreaterThanOrEqual(1);
    expect(open).toBeLessThanOrEqual(5);
    expect(sample(text, 'chartwarden_db_pool_waiting')).toBe(0);
    // What is in force, counted at scrape time; the tripwire is registered at 0.
    expect(sample(text, 'chartwarden_holds_active')).toBe(1);
    expect(sample(text, 'chartwarden_break_glass_active')).toBe(1);
    expect(sample(text, 'chartwarden_tripwire_alarms_total')).toBe(0);
    expect(sample(text, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    // No id, no patient data, no token, no operator in any label or anywhere in the text.
    const secrets = [ids.patient, ids.observation, `Obs${tag}`, tag, METRICS_TOKEN, drNeuro, 'dr-neuro', 'dr-cardio', '舆情'];
    for (const secret of secrets) expect(text).not.toContain(secret);
    for (const value of labelValues(text)) expect(value).toMatch(/^[a-z0-9.+_-]*$/i);
  });

  it('a caller cannot add series: unknown paths and operations are labelled "other" or "unaudited", never by their path', async () => {
    const junk = `zz${tag}`;
    await httpRequest(`${root}/access/grants/x/${junk}`, 'POST', { token: his, body: {} });
    await httpRequest(`${server.fhirBase}/Patient/${ids.patient}/$${junk}`, 'GET', { token: his });
    await httpRequest(`${root}/${junk}`, 'GET');
    const text = (await scrape()).text;
    expect(text).not.toContain(junk);
    expect(text).toMatch(/chartwarden_http_requests_total\{interaction="other",status="\d+"\} [1-9]/);
    expect(text).toMatch(/chartwarden_http_requests_total\{interaction="unaudited",status="404"\} [1-9]/);
  });

  it('R-20/R-51: while the audit writer fails its commits /health/ready answers 503 naming it; it is ready again once a commit succeeds', async () => {
    const [{ role }] = await sql<{ role: string }>(
      databaseUrl,
      `SELECT DISTINCT usename AS role FROM pg_stat_activity WHERE datname = $1 AND application_name = 'chartwarden'`,
      [database],
    );
    expect(role).toMatch(/_app$/);
    const obs = `${server.fhirBase}/Observation/${ids.observation}`;
    await sql(databaseUrl, `REVOKE INSERT ON audit_entry FROM "${role}"`);
    try {
      const refused = await httpRequest(obs, 'GET', { token: drCardio });
      expect(refused.status).toBe(503);
      const ready = await get<Record<string, unknown>>('/health/ready');
      expect(ready.status).toBe(503);
      expect(ready.body).toMatchObject({
        status: 'error',
        error: { audit: { status: 'down', message: 'the last audit commits failed', failedAt: expect.any(String) } },
        info: { database: { status: 'up' }, store: { status: 'up' } },
      });
      expect(sample((await scrape()).text, 'chartwarden_audit_commits_total', { outcome: 'failed' })).toBeGreaterThanOrEqual(1);
    } finally {
      await sql(databaseUrl, `GRANT INSERT ON audit_entry TO "${role}"`);
    }
    expect((await httpRequest(obs, 'GET', { token: drCardio })).status).toBe(200);
    const again = await get<Record<string, unknown>>('/health/ready');
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ status: 'ok', info: { audit: { status: 'up' } } });
  });

  it('R-51: with its database gone, /health/ready answers 503 naming the database; /health/live and /metrics still answer', async () => {
    await sql(testDatabaseUrl(), `DROP DATABASE "${database}" WITH (FORCE)`);
    let res: HttpResult<Record<string, unknown>> | undefined;
    // Ready answers are reused for at most 1 s; the pool notices its connections were ended.
    for (let i = 0; i < 40; i++) {
      res = await get<Record<string, unknown>>('/health/ready');
      if (res.status === 503) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(res?.status).toBe(503);
    expect(res?.body).toMatchObject({
      status: 'error',
      error: { database: { status: 'down' } },
      details: { database: { status: 'down' }, audit: { status: 'up' } },
    });
    expect((await get('/health/live')).status).toBe(200);
    const metrics = await scrape();
    expect(metrics.status).toBe(200);
    expect(sample(metrics.text, 'chartwarden_tripwire_alarms_total')).toBe(0);
    // Counted at scrape time: without a database the count is unknown (NaN), not a stale one.
    expect(sample(metrics.text, 'chartwarden_holds_active')).toBeNaN();
    expect(sample(metrics.text, 'chartwarden_break_glass_active')).toBeNaN();
  });
});

describe('Observability: /metrics switch (e2e)', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('metrics are off by default: GET /metrics is 404 like any unknown route, even with a token', async () => {
    server = await startTestServer();
    const root = server.fhirBase.replace(/\/fhir$/, '');
    const res = await httpRequest(`${root}/metrics`, 'GET', { headers: { accept: '*/*', authorization: 'Bearer anything-at-all-here' } });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ statusCode: 404, error: 'Not Found', message: 'Cannot GET /metrics' });
    expect((await httpRequest(`${root}/health/live`, 'GET')).status).toBe(200);
  });

  it('metrics on without a token are public (for a private network)', async () => {
    server = await startTestServer({ metrics: { enabled: true } });
    const root = server.fhirBase.replace(/\/fhir$/, '');
    const res = await httpRequest(`${root}/metrics`, 'GET', { headers: { accept: '*/*' } });
    expect(res.status).toBe(200);
    expect(res.text).toContain('# TYPE chartwarden_http_requests_total counter');
    expect(res.text).toContain('chartwarden_tripwire_alarms_total 0');
  });
});

describe('Observability: structured logs of the standalone server (e2e, node dist/src/main.js, stdout piped)', () => {
  const MAIN = join(packageRoot(), 'dist', 'src', 'main.js');
  let child: ChildProcess | undefined;
  let dataDir = '';
  let stdout = '';
  let stderr = '';

  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child?.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  /** Waits (bounded) until `predicate` holds for the JSON lines printed so far. */
  const waitFor = async (what: string, predicate: (lines: Record<string, unknown>[]) => boolean, ms = 30_000): Promise<Record<string, unknown>[]> => {
    const until = Date.now() + ms;
    for (;;) {
      const lines = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      if (predicate(lines)) return lines;
      if (Date.now() > until) throw new Error(`${what} not seen within ${ms} ms; stdout:\n${stdout.slice(-4000)}\nstderr:\n${stderr.slice(-2000)}`);
      if (child?.exitCode !== null) {
        throw new Error(`the server exited (${child?.exitCode}) before ${what}; stdout:\n${stdout.slice(-4000)}\nstderr:\n${stderr.slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  it('R-20: one JSON line per request with its request id, sub, interaction, status and duration; no token, body, query, ANSI or route list', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'chartwarden-logs-'));
    const port = await freePort();
    // Trust auth ignores a password: give the URL one, to see that the start-up line masks it.
    const url = new URL(testDatabaseUrl());
    const password = url.password ? undefined : `pw${tag}`;
    if (password) url.password = password;
    const inherited = ([k]: [string, unknown]) => !k.startsWith('CHARTWARDEN_') && !k.startsWith('LOG_') && k !== 'NODE_OPTIONS';
    const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(inherited));
    Object.assign(env, { DATABASE_URL: url.toString(), PORT: String(port), CHARTWARDEN_DATA_DIR: dataDir });
    const proc = spawn(process.execPath, [MAIN], { env, cwd: packageRoot(), stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    await waitFor('the start-up report', (lines) => lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('Started in')));

    const base = `http://127.0.0.1:${port}/fhir`;
    const token = await devToken(dataDir, { sub: `log-his-${tag}`, ttl: '10m' });
    const secretName = `QuerySecret${tag}`;
    const bodySecret = `BodySecret${tag}`;
    const given = `log-test-${tag}`;
    const search = await httpRequest(`${base}/Patient?name=${secretName}`, 'GET', { token, headers: { 'x-request-id': given } });
    const create = await httpRequest<Patient>(`${base}/Patient`, 'POST', { token, body: { resourceType: 'Patient', name: [{ family: bodySecret }] } });
    const anonymous = await httpRequest(`${base}/Patient/${create.body.id}`, 'GET');
    expect([search.status, create.status, anonymous.status]).toEqual([200, 201, 401]);
    expect(search.headers.get('x-request-id')).toBe(given);
    const answered = [
      { res: search, sub: `log-his-${tag}`, interaction: 'search-type', method: 'GET', path: '/fhir/Patient' },
      { res: create, sub: `log-his-${tag}`, interaction: 'create', method: 'POST', path: '/fhir/Patient' },
      { res: anonymous, sub: undefined, interaction: 'read', method: 'GET', path: `/fhir/Patient/${create.body.id}` },
    ];
    const requestIds = answered.map((a) => a.res.headers.get('x-request-id') as string);
    const lines = await waitFor('three access lines', (all) => requestIds.every((id) => all.some((l) => l.requestId === id)), 10_000);

    answered.forEach((a, i) => {
      const mine = lines.filter((l) => l.requestId === requestIds[i]);
      expect(mine).toHaveLength(1);
      const { interaction, method, path } = a;
      expect(mine[0]).toMatchObject({ level: 'info', interaction, method, path, status: a.res.status, durationMs: expect.any(Number) });
      expect(mine[0].sub).toBe(a.sub);
      expect(mine[0].durationMs as number).toBeGreaterThanOrEqual(0);
      expect(mine[0].time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    });
    // One line per request: no request logged twice, no other request logged.
    expect(lines.filter((l) => l.requestId !== undefined)).toHaveLength(3);
    // The trail records each under the id its response and its line carry, the server's own included.
    for (const id of requestIds) {
      const [{ n }] = await sql<{ n: number }>(testDatabaseUrl(), 'SELECT count(*)::int AS n FROM audit_entry WHERE request_id = $1', [id]);
      expect({ id, entries: n }).toEqual({ id, entries: 1 });
    }

    const messages = lines.map((l) => String(l.msg));
    expect(messages).toEqual(expect.arrayContaining([expect.stringMatching(/^Store: PostgreSQL postgres:\/\/[^@]*:\*\*\*@/)]));
    expect(messages).toEqual(expect.arrayContaining([expect.stringMatching(/^Policy: version \S+/)]));
    expect(messages).toEqual(expect.arrayContaining([expect.stringMatching(new RegExp(`^FHIR R4 endpoint: http://localhost:${port}/fhir`))]));

    const everything = stdout + stderr;
    expect(stdout.split('\n').filter((l) => l.trim() && !l.startsWith('{'))).toEqual([]);
    const forbidden = [token, 'Bearer', bodySecret, secretName, '\x1b[', 'Mapped {', 'InstanceLoader', 'RoutesResolver'];
    for (const text of forbidden) expect(everything).not.toContain(text);
    if (password) expect(everything).not.toContain(password);

    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stdout).toMatch(/"msg":"Stopped cleanly"/);
  }, 60_000);
});
