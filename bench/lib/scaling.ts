import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Bundle, OperationOutcome } from '@medplum/fhirtypes';
import { EmbeddedPostgresLauncher } from '../../src/database/embedded-postgres.launcher.js';
import { issueDevToken } from '../../src/identity/dev-token.issuer.js';
import type { Cleanup } from './cleanup.js';
import { ExternalSignalError, freePort, NodeChild, tempDir, waitForHttp } from './children.js';
import { openBenchDatabase, queryOnce, stopOrphanPostgres } from './database.js';
import { fmtInt, type Target } from './report.js';
import { answerKey, loadLongStay, seedHospital, SEARCHED_CODE, wrongAnswer, type BulkStep, type Hospital, type HospitalPlan, type ScaleQuery, type ScaleRole } from './scaling-seed.js';
import { fhirHeaders } from './seed.js';

/**
 * The scaling part (issue #13, `BENCH_ONLY=scale`): single requests, one at a time, on a fresh
 * database (the embedded default unless BENCH_SCALE_DATABASE_URL) that nobody ANALYZEs, for
 * a long-stay patient whose record grows from 1,000 to 100,000 vital signs inside a hospital.
 * Every 2xx answer is checked; a wrong answer, an error or a timeout is a problem (exit 2).
 */

export interface ScaleOptions {
  mainJs: string;
  nodeArgs: string[];
  /** Observations of the long stay at each measuring point, ascending. */
  sizes: number[];
  patients: number;
  databaseUrl?: string;
  samples: number;
  warmups: number;
  timeoutMs: number;
  /**
   * Wall time after which a query stops sampling (once it has 3 samples); it also stops after
   * 2 timeouts or 3 failures: a failing or very slow query must not stall the run for an hour.
   */
  budgetMs: number;
}

/** Reads BENCH_SCALE_SIZES, BENCH_SCALE_PATIENTS, BENCH_SCALE_DATABASE_URL, BENCH_SCALE_SAMPLES, BENCH_SCALE_QUERY_BUDGET_S. */
export function scaleOptionsFromEnv(mainJs: string, nodeArgs: string[], env = process.env): ScaleOptions {
  const whole = (name: string, fallback: number) => {
    const raw = env[name];
    const n = raw ? Number(raw) : fallback;
    if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive whole number, not "${raw}"`);
    return n;
  };
  const sizes = (env.BENCH_SCALE_SIZES || '1000,10000,100000').split(',').map((s) => Number(s.trim()));
  if (sizes.some((n, i) => !Number.isInteger(n) || n <= 0 || (i > 0 && n <= sizes[i - 1]))) {
    throw new Error(`BENCH_SCALE_SIZES must be ascending positive whole numbers, not "${env.BENCH_SCALE_SIZES}"`);
  }
  return {
    mainJs,
    nodeArgs,
    sizes,
    patients: whole('BENCH_SCALE_PATIENTS', 10_000),
    databaseUrl: env.BENCH_SCALE_DATABASE_URL || undefined,
    samples: whole('BENCH_SCALE_SAMPLES', 15),
    warmups: 2,
    timeoutMs: 30_000,
    budgetMs: whole('BENCH_SCALE_QUERY_BUDGET_S', 30) * 1000,
  };
}

type Role = ScaleRole;

/** One timed query at one size: wall time at the client, failures ranked slowest. */
export interface QueryFigure {
  size: number;
  samples: number;
  /** null when the percentile falls on a failed request. */
  p50Ms: number | null;
  p90Ms: number | null;
  timeouts: number;
  errors: number;
  wrong: number;
  /** `total` and entry count of the last 2xx answer. */
  total?: number;
  entries?: number;
  /** CPU per request over the measured requests (server process; PostgreSQL backends of the database). */
  serverCpuMs?: number;
  dbCpuMs?: number;
}

export interface QueryRow {
  key: ScaleQuery;
  role: Role;
  /** As shown, the patient written X. */
  request: string;
  /** Relative to the FHIR base. */
  path: string;
  /** Counts for the "page of 20 for a patient" targets (every row but the broad search). */
  patientQuery: boolean;
  figures: QueryFigure[];
}

export interface ScaleResult {
  database: string;
  sizes: number[];
  /** How each query was sampled (the environment's BENCH_SCALE_* settings). */
  sampling: Pick<ScaleOptions, 'samples' | 'warmups' | 'timeoutMs' | 'budgetMs'>;
  hospital: { patients: number; departmentPatients: number; resources: number; resPerSec: number };
  bulk: BulkStep[];
  rows: QueryRow[];
  /** Per size: tables autovacuum had analysed when measuring started (no one else ANALYZEs). */
  autoAnalysed: { size: number; tables: number; analysed: number }[];
  ms: number;
  problems: string[];
}

/** The ward the scale and stale parts' doctor and nurse work in, and the doctor. */
export const DEPARTMENT = 'dept-scale';
const CLINICIAN = 'dr-scale';

/** The tokens of the parts' three callers: the HIS, the ward's attending and its nurse. */
export async function roleTokens(dataDir: string): Promise<Record<Role, string>> {
  const ttl = '12h';
  return {
    HIS: await issueDevToken(dataDir, { sub: 'his-scale', roles: ['his-system'], ttl }),
    doctor: await issueDevToken(dataDir, { sub: CLINICIAN, roles: ['attending'], department: DEPARTMENT, ttl }),
    nurse: await issueDevToken(dataDir, { sub: 'nurse-scale', roles: ['nurse'], department: DEPARTMENT, ttl }),
  };
}

/** The hospital the parts seed: `patients` inpatients, one in ten in the ward, 3 vital signs each, Bundles of 100 patients, 2 in flight. */
export function hospitalPlan(patients: number): HospitalPlan {
  return { patients, department: DEPARTMENT, clinician: `Practitioner/${CLINICIAN}`, vitalsPerPatient: 3, patientsPerBundle: 100, parallel: 2 };
}
const log = (m: string) => console.log(`[bench] scale: ${m}`);

/** Runs the part: server, hospital, then per size the long stay's next Observations and every query. */
export async function measureScaling(cleanup: Cleanup, o: ScaleOptions): Promise<ScaleResult> {
  const started = performance.now();
  const dataDir = await tempDir(cleanup, 'chartwarden-bench-scale-');
  const env: Record<string, string> = { PORT: String(await freePort()), CHARTWARDEN_DATA_DIR: dataDir };
  let db: { url: string; name: string } | undefined;
  if (o.databaseUrl) {
    db = await openBenchDatabase(cleanup, o.databaseUrl);
    env.DATABASE_URL = db.url;
  } else {
    // A server killed by SIGKILL leaves its embedded PostgreSQL running: stop it too.
    const clusterDir = join(dataDir, 'pg');
    cleanup.add(`stop any PostgreSQL left in ${clusterDir}`, () => waitForOrphan(clusterDir));
    cleanup.addSync(() => void stopOrphanPostgres(clusterDir));
  }
  const origin = `http://127.0.0.1:${env.PORT}`;
  const server = NodeChild.spawn(cleanup, 'chartwarden (scale)', o.mainJs, env, o.nodeArgs);
  const ready = await waitForHttp(`${origin}/fhir/metadata`, server, 120_000, 100);
  const embeddedUrl = o.databaseUrl ? undefined : await EmbeddedPostgresLauncher.runningUrl(dataDir);
  db ??= embeddedUrl ? { url: embeddedUrl, name: new URL(embeddedUrl).pathname.slice(1) } : undefined;
  const database = o.databaseUrl ? `fresh database on BENCH_SCALE_DATABASE_URL` : 'embedded PostgreSQL (the default), fresh data dir';
  log(`ChartWarden (pid ${server.pid}) on ${database} answered ${fmtInt(ready - server.spawnedAt)} ms after spawn`);

  const tokens = await roleTokens(dataDir);
  const fhirBase = `${origin}/fhir`;
  log(`seeding ${fmtInt(o.patients)} inpatients (one in ten in ${DEPARTMENT}), 3 vital signs each, Bundles of 100 patients, 2 in flight …`);
  const hospital = await seedHospital(fhirBase, tokens.HIS, hospitalPlan(o.patients)).catch((e: unknown) => explain(e, server));
  const hospitalRate = hospital.resources / (hospital.ms / 1000);
  log(`hospital: ${fmtInt(hospital.resources)} resources in ${fmtInt(hospital.ms)} ms (${fmtInt(hospitalRate)} res/s); long stay Patient/${hospital.longStay.patientId}`);

  const problems: string[] = [];
  const rows = queryRows(hospital.longStay.patientId);
  const bulk: BulkStep[] = [];
  const autoAnalysed: ScaleResult['autoAnalysed'] = [];
  let loaded = 0;
  for (const size of o.sizes) {
    const step = await loadLongStay(fhirBase, tokens.HIS, hospital.longStay, loaded, size, 500).catch((e: unknown) => explain(e, server));
    loaded = size;
    bulk.push(step);
    log(`long stay at ${fmtInt(size)} Observations: ${describeStep(step)}`);
    if (db) autoAnalysed.push({ size, ...(await analysedTables(db.url)) });
    const measure = new Sampler({ o, fhirBase, tokens, hospital, server, db, cleanup }, size);
    for (const row of rows) {
      const figure = await measure.row(row);
      row.figures.push(figure);
      if (!cleanup.interrupted) await assertServing(server); // failures of a server being stopped are not figures
      problems.push(...measure.drainProblems());
      log(`${sizeLabel(size)} ${row.role} ${row.request}: ${cell(figure)}${figure.total === undefined ? '' : `, total ${fmtInt(figure.total)}`}, ${figure.entries ?? 0} entries`);
    }
    // The nurse may search the patient but not export it (no `export` in the nurse's rules): refused, not timed.
    const refused = await timedGet(`${fhirBase}/Patient/${hospital.longStay.patientId}/$everything?_count=50`, tokens.nurse, o.timeoutMs);
    if (refused.status !== 403) problems.push(`scale ${sizeLabel(size)}: nurse Patient/X/$everything answered ${refused.status ?? refused.error}, expected 403`);
  }
  const stop = await server.stop(15_000);
  log(`ChartWarden stopped ${stop.forced ? 'by SIGKILL after' : 'on SIGTERM in'} ${fmtInt(stop.ms)} ms`);
  return {
    database,
    sizes: o.sizes,
    sampling: { samples: o.samples, warmups: o.warmups, timeoutMs: o.timeoutMs, budgetMs: o.budgetMs },
    hospital: { patients: hospital.patients, departmentPatients: hospital.departmentPatients.size, resources: hospital.resources, resPerSec: Math.round(hospitalRate) },
    bulk,
    rows,
    autoAnalysed,
    ms: Math.round(performance.now() - started),
    problems,
  };
}

/** Rethrows a failed seed with what fetch hides (its cause) and, when the server is stopping, why. */
export async function explain(e: unknown, server: NodeChild): Promise<never> {
  // A server shutting down refuses connections before it exits: give it a moment to say why.
  await Promise.race([server.exited, new Promise((r) => setTimeout(r, 3000))]);
  await assertServing(server);
  const cause = e instanceof Error && e.cause ? ` (${String(e.cause)})` : '';
  throw new Error(`seeding failed: ${e instanceof Error ? e.message : String(e)}${cause}${server.tail(12)}`);
}

/**
 * Throws unless the server still runs and was not told to stop: the bench stops it only at the
 * end, so a signal it logged before came from another process (seen: a `pkill -f dist/src/main.js`).
 */
export async function assertServing(server: NodeChild): Promise<void> {
  const signal = server.firstLine(/(SIGTERM|SIGINT) received: stopping/);
  if (signal) throw new ExternalSignalError(`another process on this machine stopped the server (${signal.text.slice(0, 160)})${server.tail(6)}`);
  await server.assertRunning();
}

/** The queries, in table order; `request` shows the patient as X. */
export function queryRows(patientId: string): QueryRow[] {
  const code = `code=http://loinc.org|${SEARCHED_CODE}`;
  const rows: Omit<QueryRow, 'figures' | 'patientQuery' | 'path'>[] = [];
  for (const role of ['HIS', 'doctor', 'nurse'] as const) {
    rows.push({ key: 'default', role, request: 'Observation?patient=X&_count=20' });
    rows.push({ key: 'sorted', role, request: 'Observation?patient=X&_count=20&_sort=-date' });
    rows.push({ key: 'code', role, request: `Observation?patient=X&_count=20&${code}` });
    if (role !== 'nurse') rows.push({ key: 'everything', role, request: 'Patient/X/$everything?_count=50' });
  }
  rows.push({ key: 'accurate', role: 'doctor', request: 'Observation?patient=X&_count=20&_total=accurate' });
  rows.push({ key: 'next', role: 'doctor', request: 'Observation?patient=X&_count=20 → next link, pages 2–4' });
  rows.push({ key: 'broad', role: 'doctor', request: `Observation?${code}&_count=20 (no patient)` });
  // The same, newest first: a ward's latest heart rates (the long stay's, loaded last).
  rows.push({ key: 'broad-newest', role: 'doctor', request: `Observation?${code}&_count=20&_sort=-_lastUpdated (no patient)` });
  // The HIS's, across every patient (an open policy: no patients to list).
  rows.push({ key: 'broad', role: 'HIS', request: `Observation?${code}&_count=20 (no patient)` });
  rows.push({ key: 'broad-newest', role: 'HIS', request: `Observation?${code}&_count=20&_sort=-_lastUpdated (no patient)` });
  return rows.map((r) => ({
    ...r,
    path: r.request
      .split(' ')[0]
      .replace('patient=X', `patient=${patientId}`)
      .replace('Patient/X/', `Patient/${patientId}/`)
      .replace('|', '%7C'),
    patientQuery: r.key !== 'broad' && r.key !== 'broad-newest',
    figures: [],
  }));
}

interface Answer {
  ms: number;
  status?: number;
  bundle?: Bundle;
  timedOut: boolean;
  error?: string;
}

/** One GET, timed from sending to the whole body read (the client's wall time). */
export async function timedGet(url: string, token: string, timeoutMs: number): Promise<Answer> {
  const t0 = performance.now();
  try {
    const res = await fetch(url, { headers: fhirHeaders(token), signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    const ms = performance.now() - t0;
    if (!res.ok) return { ms, status: res.status, timedOut: false, error: `HTTP ${res.status} ${outcomeOf(text)}` };
    return { ms, status: res.status, bundle: JSON.parse(text) as Bundle, timedOut: false };
  } catch (e) {
    const timedOut = e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError');
    return { ms: performance.now() - t0, timedOut, error: timedOut ? `no answer within ${timeoutMs} ms` : String((e as Error).cause ?? e) };
  }
}

/** An OperationOutcome's first issue in a few words (the code and the diagnostics), for the problem list. */
function outcomeOf(text: string): string {
  try {
    const issue = (JSON.parse(text) as OperationOutcome).issue?.[0];
    return `${issue?.code}: ${(issue?.diagnostics ?? issue?.details?.text ?? '').split(/[.;] /)[0]}`.slice(0, 120);
  } catch {
    return text.slice(0, 120);
  }
}

/** What every measurement of the run shares. */
interface ScaleRun {
  o: ScaleOptions;
  fhirBase: string;
  tokens: Record<Role, string>;
  hospital: Hospital;
  server: NodeChild;
  db?: { url: string; name: string };
  cleanup: Cleanup;
}

/** Times the rows at one size; gathers what went wrong as problems. */
class Sampler {
  private problems: string[] = [];
  /** Requests sent: the divisor of the CPU figures (a paging round sends four, its first page included). */
  private sent = 0;

  private readonly o: ScaleOptions;

  constructor(
    private readonly run: ScaleRun,
    private readonly size: number,
  ) {
    this.o = run.o;
  }

  drainProblems(): string[] {
    const out = this.problems;
    this.problems = [];
    return out;
  }

  async row(row: QueryRow): Promise<QueryFigure> {
    const url = `${this.run.fhirBase}/${row.path}`;
    const expect = answerKey(this.run.hospital, DEPARTMENT, this.size, row.key, row.role);
    const wrongs: string[] = [];
    const fig: QueryFigure = { size: this.size, samples: 0, p50Ms: null, p90Ms: null, timeouts: 0, errors: 0, wrong: 0 };
    const times: number[] = [];
    const take = (a: Answer, seen?: Set<string>, timed = true) => {
      let failed = a.timedOut || !a.bundle;
      if (a.timedOut) fig.timeouts++;
      else if (!a.bundle) {
        // The first server error of a row shows the server's own account of it.
        if (fig.errors++ === 0 && (a.status ?? 0) >= 500) console.warn(`[bench] scale: ${row.role} ${row.request}: ${a.error}${this.run.server.tail(6)}`);
        wrongs.push(a.error ?? 'no answer');
      } else {
        const wrong = wrongAnswer(a.bundle, expect, seen);
        fig.total = a.bundle.total;
        fig.entries = a.bundle.entry?.length ?? 0;
        if (wrong) {
          fig.wrong++;
          wrongs.push(wrong);
          failed = true;
        }
      }
      if (timed) times.push(failed ? Infinity : a.ms);
      return !failed;
    };
    // A round is one timed request, or for paging: the first page (checked, not timed) and three next pages.
    const round = async () => {
      if (row.key !== 'next') return void take(await this.get(url, row.role));
      const seen = new Set<string>();
      let page = await this.get(url, row.role);
      if (!take(page, seen, false)) return void times.push(Infinity);
      for (let n = 2; n <= 4; n++) {
        const next = page.bundle?.link?.find((l) => l.relation === 'next')?.url;
        if (!next) {
          fig.wrong++;
          wrongs.push(`page ${n - 1} has no next link though ${expect.total} match`);
          return void times.push(Infinity);
        }
        page = await this.get(new URL(next, this.run.fhirBase).toString(), row.role);
        if (!take(page, seen)) return;
      }
    };
    const failing = () => fig.timeouts >= 2 || fig.timeouts + fig.errors + fig.wrong >= 3;
    for (let i = 0; i < this.o.warmups && !failing(); i++) await round();
    times.length = 0;
    const sentBefore = this.sent;
    const cpu = await this.cpuSnapshot();
    const t0 = performance.now();
    while (times.length < this.o.samples && !failing() && !(times.length >= 3 && performance.now() - t0 > this.o.budgetMs)) await round();
    const cpuPerRequest = await this.cpuPerRequest(cpu, this.sent - sentBefore);
    // A failed statement may cost its pool connection, and that backend's CPU with it: no figure then.
    if (!(fig.timeouts || fig.errors || fig.wrong)) Object.assign(fig, cpuPerRequest);
    fig.samples = times.length;
    times.sort((a, b) => a - b);
    fig.p50Ms = percentile(times, 0.5);
    fig.p90Ms = percentile(times, 0.9);
    if (fig.timeouts || fig.errors || fig.wrong) {
      const what = [fig.timeouts && `${fig.timeouts} timed out (> ${this.o.timeoutMs} ms)`, fig.errors && `${fig.errors} failed`, fig.wrong && `${fig.wrong} WRONG`];
      const first = [...new Set(wrongs)].slice(0, 2).join(' | ');
      this.problems.push(`scale ${sizeLabel(this.size)}: ${row.role} ${row.request}: ${what.filter(Boolean).join(', ')}${first ? `: ${first}` : ''}`);
    }
    return fig;
  }

  private get(url: string, role: Role): Promise<Answer> {
    // After Ctrl-C the server is being stopped: end the run instead of timing its refusals.
    if (this.run.cleanup.interrupted) throw new Error('interrupted');
    this.sent++;
    return timedGet(url, this.run.tokens[role], this.o.timeoutMs);
  }

  /** CPU time so far (ns) of the server and of the database's backends, by pid; undefined off Linux or on a remote server. */
  private async cpuSnapshot(): Promise<Map<string, number> | undefined> {
    const out = new Map<string, number>();
    const server = this.run.server.pid && onCpuNs(this.run.server.pid);
    if (server === undefined || server === 0) return undefined;
    out.set('server', server);
    // The server's pool only: autovacuum workers, busy on a freshly loaded database, are not the requests' cost.
    const backends = this.run.db
      ? await queryOnce<{ pid: number }>(
          this.run.db.url,
          `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid()`,
          [this.run.db.name],
        ).catch(() => [])
      : [];
    for (const { pid } of backends) out.set(`db ${pid}`, onCpuNs(pid) ?? 0);
    return out;
  }

  private async cpuPerRequest(before: Map<string, number> | undefined, requests: number): Promise<Pick<QueryFigure, 'serverCpuMs' | 'dbCpuMs'>> {
    const after = await this.cpuSnapshot();
    if (!before || !after || requests <= 0) return {};
    let db = 0;
    for (const [pid, ns] of after) if (pid !== 'server') db += ns - (before.get(pid) ?? 0);
    const perRequest = (ns: number) => Number((ns / 1e6 / requests).toFixed(3));
    return { serverCpuMs: perRequest((after.get('server') ?? 0) - (before.get('server') ?? 0)), dbCpuMs: this.run.db ? perRequest(db) : undefined };
  }
}

/**
 * Time `pid` has been on a CPU, in ns, summed over its threads (/proc/<pid>/task/<tid>/schedstat):
 * ns-precise, where /proc/<pid>/stat counts 10 ms ticks, too coarse for 15 requests of a few ms.
 */
function onCpuNs(pid: number): number | undefined {
  try {
    return readdirSync(`/proc/${pid}/task`).reduce((sum, t) => sum + Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]), 0);
  } catch {
    return undefined;
  }
}

/** Nearest-rank percentile of sorted samples; null when it lands on a failed one (Infinity) or there are none. */
export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const v = sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];
  return Number.isFinite(v) ? Number(v.toFixed(1)) : null;
}

/** Tables autovacuum has analysed so far (statistics the planner has), and how many there are. */
async function analysedTables(url: string): Promise<{ tables: number; analysed: number }> {
  const [r] = await queryOnce<{ tables: number; analysed: number }>(
    url,
    `SELECT count(*)::int AS tables, count(*) FILTER (WHERE last_autoanalyze IS NOT NULL OR last_analyze IS NOT NULL)::int AS analysed FROM pg_stat_user_tables`,
  );
  return r;
}

async function waitForOrphan(clusterDir: string): Promise<void> {
  if (!stopOrphanPostgres(clusterDir)) return;
  const deadline = Date.now() + 10_000;
  while (existsSync(join(clusterDir, 'postmaster.pid')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
}

const rate = (p: { resources: number; ms: number }) => (p.resources > 0 ? Math.round(p.resources / (p.ms / 1000)) : undefined);

function describeStep(s: BulkStep): string {
  const two = rate(s.twoInFlight);
  return `+${fmtInt(s.to - s.from)} in Bundles of ${s.bundleSize}: ${fmtInt(rate(s.oneAtATime) ?? 0)} res/s one at a time` + (two ? `, ${fmtInt(two)} res/s two in flight` : '');
}

export function sizeLabel(n: number): string {
  return n % 1000 === 0 ? `${n / 1000}k` : fmtInt(n);
}

/** `p50 (p90)` in ms; `>30000` when the percentile is a timeout, `failed`/`WRONG` for other failures. */
function cell(f: QueryFigure | undefined, withP90 = true): string {
  if (!f) return '-';
  if (f.wrong) return 'WRONG';
  const one = (v: number | null) => (v !== null ? String(v) : f.timeouts ? '>30000' : 'failed');
  return withP90 ? `${one(f.p50Ms)} (${one(f.p90Ms)})` : one(f.p50Ms);
}

/** The sizes the issue's targets name: p50 at 10k Observations, growth from 1k to 10k. */
const TARGET_SIZE = 10_000;
const GROWTH_FROM = 1_000;

const figureAt = (row: QueryRow, size: number) => row.figures.find((f) => f.size === size);
/** A p50 for ranking: failed and wrong answers rank slowest. */
const rankP50 = (f: QueryFigure | undefined) => (f && !f.wrong && f.p50Ms !== null ? f.p50Ms : Infinity);
const rowName = (row: QueryRow) => `${row.role} ${row.request}`;

/** Query × role by size: `p50 (p90)` ms, the growth, CPU per request and what the last size returned. */
export function scaleTable(r: ScaleResult): string {
  const cpuSize = r.sizes.includes(TARGET_SIZE) ? TARGET_SIZE : r.sizes[r.sizes.length - 1];
  const last = r.sizes[r.sizes.length - 1];
  const growth = r.sizes.includes(GROWTH_FROM) && r.sizes.includes(TARGET_SIZE) ? ([GROWTH_FROM, TARGET_SIZE] as const) : undefined;
  const header = [
    'query (one at a time)',
    'role',
    ...r.sizes.map((s) => `${sizeLabel(s)} obs p50 (p90) ms`),
    ...(growth ? [`${sizeLabel(growth[0])}→${sizeLabel(growth[1])}`] : []),
    `CPU/req @${sizeLabel(cpuSize)} server / DB`,
    `total / entries @${sizeLabel(last)}`,
  ];
  const body = r.rows.map((row) => {
    const g = growth ? rankP50(figureAt(row, growth[1])) / rankP50(figureAt(row, growth[0])) : undefined;
    const cpu = figureAt(row, cpuSize);
    const end = figureAt(row, last);
    return [
      row.request,
      row.role,
      ...r.sizes.map((s) => cell(figureAt(row, s))),
      ...(growth ? [g === undefined || !Number.isFinite(g) ? '-' : `${g.toFixed(2)}×`] : []),
      cpu?.serverCpuMs !== undefined ? `${cpu.serverCpuMs.toFixed(2)} / ${cpu.dbCpuMs?.toFixed(2) ?? '-'} ms` : '-',
      end ? `${end.total === undefined ? '-' : fmtInt(end.total)} / ${end.entries ?? '-'}` : '-',
    ];
  });
  const bulk = r.bulk.map((s) => [
    `${fmtInt(s.from)} → ${fmtInt(s.to)}`,
    `${fmtInt(rate(s.oneAtATime) ?? 0)} res/s (${fmtInt(s.oneAtATime.resources)})`,
    rate(s.twoInFlight) ? `${fmtInt(rate(s.twoInFlight) ?? 0)} res/s (${fmtInt(s.twoInFlight.resources)})` : '-',
  ]);
  const analysed = r.autoAnalysed.map((a) => `${sizeLabel(a.size)}: ${a.analysed} of ${a.tables}`).join(', ');
  return [
    `Scaling (issue #13): ${r.database}; ${fmtInt(r.hospital.patients)} inpatients (${fmtInt(r.hospital.departmentPatients)} in ${DEPARTMENT}), ` +
      `the long stay's vital signs loaded in steps; no ANALYZE (tables autovacuum had analysed: ${analysed || 'unknown'}); part took ${fmtInt(r.ms / 1000)} s`,
    textTable(header, body),
    '',
    `Bulk load, the long stay's Observations in transaction Bundles of 500 (hospital seed, mixed Bundles, 2 in flight: ${fmtInt(r.hospital.resPerSec)} res/s)`,
    textTable(['Observations', 'one Bundle at a time', 'two in flight'], bulk),
  ].join('\n');
}

/** The issue's scaling targets; `not measured` when the part did not run or the sizes miss 1k/10k. */
export function scaleTargets(r: ScaleResult | undefined): Target[] {
  const none = { measured: 'not measured', pass: undefined };
  const patientRows = r?.rows.filter((row) => row.patientQuery) ?? [];
  const atTarget = r?.sizes.includes(TARGET_SIZE);
  const slowest = (rows: QueryRow[], value: (row: QueryRow) => number, limit: number, fmt: (v: number) => string) => {
    const ranked = rows.map((row) => ({ row, v: value(row) })).map((x) => (Number.isNaN(x.v) ? { ...x, v: Infinity } : x)).sort((a, b) => b.v - a.v);
    const over = ranked.filter((x) => !(x.v <= limit)).length;
    const worst = ranked[0];
    return { measured: `worst ${fmt(worst.v)} (${rowName(worst.row)}); ${over} of ${ranked.length} over`, pass: over === 0 };
  };
  const ms = (v: number) => (Number.isFinite(v) ? `${v} ms` : 'failed/timed out');
  const broad = r?.rows.find((row) => row.key === 'broad' && row.role === 'doctor');
  const broadAt = broad && (atTarget ? figureAt(broad, TARGET_SIZE) : broad.figures[broad.figures.length - 1]);
  const sum = (pick: (s: BulkStep) => { resources: number; ms: number }) =>
    r?.bulk.reduce((acc, s) => ({ resources: acc.resources + pick(s).resources, ms: acc.ms + pick(s).ms }), { resources: 0, ms: 0 });
  const one = sum((s) => s.oneAtATime);
  const two = sum((s) => s.twoInFlight);
  return [
    {
      name: 'scale: page of 20 / $everything p50 at 10k obs, each query × role',
      goal: '≤ 20 ms',
      ...(atTarget ? slowest(patientRows, (row) => rankP50(figureAt(row, TARGET_SIZE)), 20, ms) : none),
    },
    {
      name: 'scale: growth of p50 from 1k to 10k obs',
      goal: '≤ 1.5×',
      ...(atTarget && r?.sizes.includes(GROWTH_FROM)
        ? slowest(patientRows, (row) => rankP50(figureAt(row, TARGET_SIZE)) / rankP50(figureAt(row, GROWTH_FROM)), 1.5, (v) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : 'failed'))
        : none),
    },
    {
      name: `scale: broad search p50, doctor, ${r ? fmtInt(r.hospital.patients) : '10,000'} patients`,
      goal: '≤ 50 ms',
      ...(broadAt ? { measured: `${ms(rankP50(broadAt))} at ${sizeLabel(broadAt.size)} obs`, pass: rankP50(broadAt) <= 50 } : none),
    },
    {
      name: 'scale: bulk load, Bundles of 500 Observations',
      goal: '≥ 5,000 res/s',
      ...(one && one.resources > 0
        ? {
            measured: `${fmtInt(rate(one) ?? 0)} res/s one at a time` + (two && rate(two) ? `, ${fmtInt(rate(two) ?? 0)} two in flight` : ''),
            pass: (rate(one) ?? 0) >= 5000,
          }
        : none),
    },
  ];
}

export function textTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
