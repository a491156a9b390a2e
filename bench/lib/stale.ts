import { performance } from 'node:perf_hooks';
import type { Cleanup } from './cleanup.js';
import { freePort, NodeChild, tempDir, waitForHttp } from './children.js';
import { openBenchDatabase, queryOnce } from './database.js';
import { fmtInt, type Target } from './report.js';
import { answerKey, loadLongStay, seedHospital, wrongAnswer, type AnswerKey, type BulkStep, type ScaleQuery } from './scaling-seed.js';
import { assertServing, DEPARTMENT, explain, hospitalPlan, percentile, queryRows, roleTokens, sizeLabel, textTable, timedGet, type QueryRow } from './scaling.js';

/**
 * The stale-statistics part (issue #13, `BENCH_ONLY=stale`): a patient's page must not depend on
 * when autovacuum last ran. PostgreSQL plans a prepared statement's first five executions on a
 * connection for their values (custom plans), then keeps a generic plan. On statistics taken
 * while the long stay was small (ANALYZE at 200 Observations, autovacuum then off), those custom
 * plans once read the whole record: the page sorted by date took 1.5–2.8 s at 100,000. The part
 * restarts the server (fresh connections) and times each query × role 12 times in a row.
 * Every answer is checked; a wrong answer, an error or a timeout is a problem (exit 2).
 */

export interface StaleOptions {
  mainJs: string;
  nodeArgs: string[];
  /** The long stay's Observations when measuring (it is analysed at 200). */
  size: number;
  patients: number;
  /** The server to create the part's database on; undefined: embedded PostgreSQL, started here. */
  adminUrl?: string;
  timeoutMs: number;
}

/** Reads BENCH_STALE_SIZE (100,000) and BENCH_STALE_PATIENTS (2,000); the database comes later (`adminUrl`). */
export function staleOptionsFromEnv(mainJs: string, nodeArgs: string[], env = process.env): StaleOptions {
  const whole = (name: string, fallback: number, above = 0, why = '') => {
    const raw = env[name];
    const n = raw ? Number(raw) : fallback;
    const what = above === 0 ? 'a positive whole number' : `a whole number above ${above}${why}`;
    if (!Number.isInteger(n) || n <= above) throw new Error(`${name} must be ${what}, not "${raw}"`);
    return n;
  };
  return {
    mainJs,
    nodeArgs,
    size: whole('BENCH_STALE_SIZE', 100_000, ANALYZED_AT, ` (the long stay's size when it is analysed)`),
    patients: whole('BENCH_STALE_PATIENTS', 2_000),
    timeoutMs: 30_000,
  };
}

/** One query × role: the wall time of each request in a row, in ms (null: failed), and what they add up to. */
export interface StaleRow {
  key: ScaleQuery;
  role: QueryRow['role'];
  /** As shown, the patient written X. */
  request: string;
  ms: (number | null)[];
  /** Request #1: a first execution, and for the part's first row the server's warm-up too. */
  firstMs: number | null;
  /** The slowest of requests #2–5 and the median of #1–5: the connection's custom plans. */
  firstFiveMaxMs: number | null;
  firstFiveMedianMs: number | null;
  /** The median of requests #6–12: the kept plan. */
  thenMedianMs: number | null;
  /** firstFiveMaxMs / thenMedianMs. */
  ratio: number | null;
}

export interface StaleResult {
  database: string;
  db: { mode: 'external' | 'embedded'; serverVersion: string; name: string };
  size: number;
  hospital: { patients: number; resources: number; resPerSec: number };
  /** The long stay from 200 Observations (analysed) to `size`, autovacuum off. */
  load: BulkStep;
  /** What the planner believes (pg_class.reltuples, from the ANALYZE at 200) against the rows there are. */
  statistics: { table: string; reltuples: number; rows: number }[];
  /** SIGTERM of the seeding server until the measuring one answered. */
  restartMs: number;
  /** The server's connections to the database after measuring: a statement's executions spread over them, each with its own first five. */
  connections: number;
  rows: StaleRow[];
  ms: number;
  problems: string[];
}

/** The long stay's size when the bench ANALYZEs: its record is small in the planner's statistics from then on. */
const ANALYZED_AT = 200;
const BUNDLE_SIZE = 500;
/** Requests per query × role, and how many of them PostgreSQL plans for their values (plan_cache_mode = auto). */
const REQUESTS = 12;
const CUSTOM_PLANS = 5;
/** A patient's searches, and the doctor's ward-wide search by a code (decision 0018's walk, which is built not to lean on statistics). */
const QUERIES: readonly ScaleQuery[] = ['default', 'sorted', 'code', 'everything', 'broad', 'broad-newest'];
/** The store's tables: autovacuum stays off on them once the record has been analysed small. */
const STORE_TABLES = [
  'fhir_resource',
  'fhir_resource_version',
  'fhir_search_token',
  'fhir_search_string',
  'fhir_search_reference',
  'fhir_search_date',
  'fhir_search_number',
  'fhir_search_quantity',
  'fhir_search_composite',
];
/** Shown against the planner's row estimate. */
const SHOWN_TABLES = ['fhir_resource', 'fhir_search_token'];
const log = (m: string) => console.log(`[bench] stale: ${m}`);

/** Runs the part: database, server, hospital, the long stay analysed small then grown, a restart, and every query 12 times. */
export async function measureStale(cleanup: Cleanup, o: StaleOptions): Promise<StaleResult> {
  const started = performance.now();
  const db = await openBenchDatabase(cleanup, o.adminUrl, 'stale');
  const database =
    db.mode === 'external'
      ? `fresh database ${db.name} on DATABASE_URL's server (PostgreSQL ${db.serverVersion})`
      : `embedded PostgreSQL ${db.serverVersion} started by the bench, fresh database ${db.name}`;
  log(database);
  const dataDir = await tempDir(cleanup, 'chartwarden-bench-stale-');
  const env = { DATABASE_URL: db.url, CHARTWARDEN_DATA_DIR: dataDir };
  const seeding = await startServer(cleanup, o, env, 'seeding');
  const failedSeed = (e: unknown) => explain(e, seeding.child);

  const tokens = await roleTokens(dataDir);
  log(`seeding ${fmtInt(o.patients)} inpatients (one in ten in ${DEPARTMENT}), 3 vital signs each, Bundles of 100 patients, 2 in flight …`);
  const hospital = await seedHospital(seeding.fhirBase, tokens.HIS, hospitalPlan(o.patients)).catch(failedSeed);
  const hospitalRate = hospital.resources / (hospital.ms / 1000);
  log(`hospital: ${fmtInt(hospital.resources)} resources in ${fmtInt(hospital.ms)} ms (${fmtInt(hospitalRate)} res/s)`);
  log(`long stay Patient/${hospital.longStay.patientId}`);

  await loadLongStay(seeding.fhirBase, tokens.HIS, hospital.longStay, 0, ANALYZED_AT, ANALYZED_AT).catch(failedSeed);
  await queryOnce(db.url, 'ANALYZE');
  for (const table of STORE_TABLES) await queryOnce(db.url, `ALTER TABLE ${table} SET (autovacuum_enabled = false)`);
  log(`long stay at ${ANALYZED_AT} Observations, ANALYZE, autovacuum off on the ${STORE_TABLES.length} store tables`);
  log(`loading the long stay to ${fmtInt(o.size)} Observations in Bundles of ${BUNDLE_SIZE} …`);
  const load = await loadLongStay(seeding.fhirBase, tokens.HIS, hospital.longStay, ANALYZED_AT, o.size, BUNDLE_SIZE).catch(failedSeed);
  const loadMs = load.oneAtATime.ms + load.twoInFlight.ms;
  log(`loaded ${fmtInt(o.size - ANALYZED_AT)} Observations in ${fmtInt(loadMs)} ms (${fmtInt((o.size - ANALYZED_AT) / (loadMs / 1000))} res/s)`);

  const problems: string[] = [];
  const statistics = await plannerRows(db.url);
  for (const s of statistics) log(`${s.table}: the planner counts ${fmtInt(s.reltuples)} rows (pg_class.reltuples), there are ${fmtInt(s.rows)}`);
  const reanalysed = await analysedSince(db.url);
  if (reanalysed.length) problems.push(`stale: autovacuum analysed ${reanalysed.join(', ')} after the bench's ANALYZE: the statistics are not stale`);

  // Fresh connections: every statement's first executions on them are custom plans.
  const stopping = performance.now();
  const stop = await seeding.child.stop(15_000);
  log(`seeding server stopped ${stop.forced ? 'by SIGKILL after' : 'on SIGTERM in'} ${fmtInt(stop.ms)} ms; starting a fresh one`);
  const server = await startServer(cleanup, o, env, 'measuring');
  const restartMs = performance.now() - stopping;

  const rows: StaleRow[] = [];
  for (const q of queryRows(hospital.longStay.patientId).filter((r) => QUERIES.includes(r.key))) {
    const expect = answerKey(hospital, DEPARTMENT, o.size, q.key, q.role);
    const ms: (number | null)[] = [];
    const wrongs: string[] = [];
    // A failing or hanging query must not stall the run for minutes: 3 failures end its row.
    for (let i = 0; i < REQUESTS && wrongs.length < 3; i++) {
      // After Ctrl-C the server is being stopped: end the run instead of timing its refusals.
      if (cleanup.interrupted) throw new Error('interrupted');
      const a = await timedGet(`${server.fhirBase}/${q.path}`, tokens[q.role], o.timeoutMs);
      const wrong = wrongOf(a, expect);
      if (wrong) wrongs.push(`#${i + 1} ${wrong}`);
      ms.push(wrong ? null : Number(a.ms.toFixed(1)));
    }
    if (!cleanup.interrupted) await assertServing(server.child); // failures of a server being stopped are not figures
    if (wrongs.length) problems.push(`stale: ${q.role} ${q.request}: ${wrongs.length} of ${ms.length} failed: ${[...new Set(wrongs)].slice(0, 2).join(' | ')}`);
    const row = summarise({ key: q.key, role: q.role, request: q.request }, ms);
    rows.push(row);
    log(`${q.role} ${q.request}: ${ms.map((t) => (t === null ? 'failed' : String(t))).join(' ')} ms`);
  }
  const connections = await serverConnections(db.url, db.name);
  log(`the server held ${connections} connection(s) to the database while measuring`);
  // The nurse may search the patient but not export it (no `export` in the nurse's rules): refused, not timed.
  const refused = await timedGet(`${server.fhirBase}/Patient/${hospital.longStay.patientId}/$everything?_count=50`, tokens.nurse, o.timeoutMs);
  if (refused.status !== 403) problems.push(`stale: nurse Patient/X/$everything answered ${refused.status ?? refused.error}, expected 403`);
  const end = await server.child.stop(15_000);
  log(`ChartWarden stopped ${end.forced ? 'by SIGKILL after' : 'on SIGTERM in'} ${fmtInt(end.ms)} ms`);
  return {
    database,
    db: { mode: db.mode, serverVersion: db.serverVersion, name: db.name },
    size: o.size,
    hospital: { patients: hospital.patients, resources: hospital.resources, resPerSec: Math.round(hospitalRate) },
    load,
    statistics,
    restartMs: Math.round(restartMs),
    connections,
    rows,
    ms: Math.round(performance.now() - started),
    problems,
  };
}

/** Spawns ChartWarden on the part's database and waits for its metadata; a new port each time. */
async function startServer(cleanup: Cleanup, o: StaleOptions, env: Record<string, string>, purpose: string): Promise<{ child: NodeChild; fhirBase: string }> {
  const port = String(await freePort());
  const child = NodeChild.spawn(cleanup, `chartwarden (stale, ${purpose})`, o.mainJs, { ...env, PORT: port }, o.nodeArgs);
  const fhirBase = `http://127.0.0.1:${port}/fhir`;
  const ready = await waitForHttp(`${fhirBase}/metadata`, child, 120_000, 100);
  log(`ChartWarden for ${purpose} (pid ${child.pid}) answered ${fmtInt(ready - child.spawnedAt)} ms after spawn`);
  return { child, fhirBase };
}

/** Why an answer is not the page asked for, or undefined: a 200 with a full page, checked against what was seeded. */
function wrongOf(a: Awaited<ReturnType<typeof timedGet>>, expect: AnswerKey): string | undefined {
  if (!a.bundle) return a.error ?? 'no answer';
  if (a.status !== 200) return `HTTP ${a.status}`;
  const entries = (a.bundle.entry ?? []).filter((e) => e.search?.mode !== 'outcome').length;
  if (entries !== expect.pageSize) return `${entries} entries on a page of ${expect.pageSize}`;
  return wrongAnswer(a.bundle, expect);
}

/** The row's figures from its times; a failed request (null) makes the figures it falls in null. */
function summarise(row: Pick<StaleRow, 'key' | 'role' | 'request'>, ms: (number | null)[]): StaleRow {
  const sorted = (from: number, to: number) => ms.slice(from, to).map((t) => t ?? Infinity).sort((a, b) => a - b);
  const firstFive = sorted(1, CUSTOM_PLANS);
  const max = firstFive.length ? firstFive[firstFive.length - 1] : Infinity;
  const firstFiveMaxMs = Number.isFinite(max) ? max : null;
  const thenMedianMs = percentile(sorted(CUSTOM_PLANS, REQUESTS), 0.5);
  return {
    ...row,
    ms,
    firstMs: ms[0] ?? null,
    firstFiveMaxMs,
    firstFiveMedianMs: percentile(sorted(0, CUSTOM_PLANS), 0.5),
    thenMedianMs,
    ratio: firstFiveMaxMs !== null && thenMedianMs ? Number((firstFiveMaxMs / thenMedianMs).toFixed(2)) : null,
  };
}

/** pg_class.reltuples (the planner's row count, as the ANALYZE at 200 left it) and the rows there are. */
async function plannerRows(url: string): Promise<StaleResult['statistics']> {
  const out: StaleResult['statistics'] = [];
  for (const table of SHOWN_TABLES) {
    const [r] = await queryOnce<{ reltuples: number; rows: number }>(
      url,
      `SELECT (SELECT reltuples::bigint FROM pg_class WHERE oid = $1::regclass)::int AS reltuples, (SELECT count(*) FROM ${table})::int AS rows`,
      [table],
    );
    out.push({ table, ...r });
  }
  return out;
}

/** Client connections to database `name` other than ours (the measuring server's pool). */
async function serverConnections(url: string, name: string): Promise<number> {
  const [r] = await queryOnce<{ n: number }>(
    url,
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid()`,
    [name],
  );
  return r.n;
}

/** Store tables autovacuum analysed after the bench's ANALYZE (none, with autovacuum off on them). */
async function analysedSince(url: string): Promise<string[]> {
  const rows = await queryOnce<{ relname: string }>(
    url,
    `SELECT relname FROM pg_stat_user_tables WHERE relname = ANY($1) AND last_autoanalyze > coalesce(last_analyze, '-infinity') ORDER BY relname`,
    [STORE_TABLES],
  );
  return rows.map((r) => r.relname);
}

const msCell = (v: number | null) => (v === null ? 'failed' : v.toFixed(1));
const ratioCell = (v: number | null) => (v === null ? 'failed' : `${v.toFixed(1)}×`);

/** Query × role: request #1, the custom plans' max (#2–5) and median (#1–5), the kept plan's median (#6–12), their ratio. */
export function staleTable(r: StaleResult): string {
  const statistics = r.statistics.map((s) => `${s.table} ${fmtInt(s.reltuples)} of ${fmtInt(s.rows)} rows`).join(', ');
  const loadMs = r.load.oneAtATime.ms + r.load.twoInFlight.ms;
  return [
    `Stale statistics (issue #13): ${r.database}; ${fmtInt(r.hospital.patients)} inpatients, the long stay ANALYZEd at ${ANALYZED_AT} Observations, ` +
      `autovacuum off, then loaded to ${fmtInt(r.size)} in ${fmtInt(loadMs / 1000)} s; the planner's counts: ${statistics}; ` +
      `server restarted (${fmtInt(r.restartMs)} ms), then each query ${REQUESTS} times in a row (${r.connections} pool connection(s) open after); ` +
      `part took ${fmtInt(r.ms / 1000)} s`,
    textTable(
      ['query (one at a time, fresh server)', 'role', '#1 ms', 'first 5: max #2–5 / median ms', 'then: median #6–12 ms', 'max first 5 / then'],
      r.rows.map((row) => [
        row.request,
        row.role,
        msCell(row.firstMs),
        `${msCell(row.firstFiveMaxMs)} / ${msCell(row.firstFiveMedianMs)}`,
        msCell(row.thenMedianMs),
        ratioCell(row.ratio),
      ]),
    ),
    `PostgreSQL plans a prepared statement's first ${CUSTOM_PLANS} executions on a connection for their values, then keeps a generic plan: ` +
      `requests #1–${CUSTOM_PLANS} are those first executions. The first request after the start also waits for the server's warm-up, ` +
      `so the max of the first ${CUSTOM_PLANS} (and the target) takes #2–${CUSTOM_PLANS}; every #1 is shown apart.`,
  ].join('\n');
}

/** The target for stale statistics, judged at 100,000 Observations; `not measured` when the part did not run. */
export function staleTargets(r: StaleResult | undefined): Target[] {
  return [ratioTarget(r), slowestTarget(r)];
}

/** The connection's first executions against the plan it keeps, each query × role. */
function ratioTarget(r: StaleResult | undefined): Target {
  const name = "stale statistics: a page's first executions / kept plan, 100k obs";
  if (!r) return { name, goal: '≤ 5×', measured: 'not measured', pass: undefined };
  const ranked = [...r.rows].sort((a, b) => (b.ratio ?? Infinity) - (a.ratio ?? Infinity));
  const worst = ranked[0];
  if (!worst) return { name, goal: '≤ 5×', measured: 'no rows measured', pass: false };
  const over = ranked.filter((row) => !(row.ratio !== null && row.ratio <= 5)).length;
  const at100k = r.size === 100_000;
  const figures = `${msCell(worst.firstFiveMaxMs)} / ${msCell(worst.thenMedianMs)} ms`;
  const measured = `worst ${ratioCell(worst.ratio)} (${worst.role} ${worst.key}: ${figures}); ${over} of ${ranked.length} over`;
  return { name, goal: '≤ 5×', measured: at100k ? measured : `${measured}; at ${sizeLabel(r.size)} obs, not judged`, pass: at100k ? over === 0 : undefined };
}

/**
 * The slowest request of all but each row's first (the server's warm-up): a ratio alone passes a
 * kept plan as slow as the first ones (`$everything` once kept a plan of 110 ms on these
 * statistics, against 30 ms for its first executions).
 */
function slowestTarget(r: StaleResult | undefined): Target {
  const name = 'stale statistics: slowest request #2–12, 100k obs';
  const goal = `≤ ${STALE_SLOWEST_MS} ms`;
  if (!r) return { name, goal, measured: 'not measured', pass: undefined };
  const slowest = r.rows
    .map((row) => ({ row, ms: row.ms.slice(1).reduce<number | null>((max, ms) => (ms === null || max === null ? null : Math.max(max, ms)), 0) }))
    .sort((a, b) => (b.ms ?? Infinity) - (a.ms ?? Infinity))[0];
  if (!slowest) return { name, goal, measured: 'no rows measured', pass: false };
  const at100k = r.size === 100_000;
  const measured = `${msCell(slowest.ms)} ms (${slowest.row.role} ${slowest.row.key})`;
  const pass = slowest.ms !== null && slowest.ms <= STALE_SLOWEST_MS;
  return { name, goal, measured: at100k ? measured : `${measured}; at ${sizeLabel(r.size)} obs, not judged`, pass: at100k ? pass : undefined };
}

/** The slowest a request of the part may take (requests #2–12): the 20 ms page at 10,000, with room for a first execution's planning. */
const STALE_SLOWEST_MS = 50;
