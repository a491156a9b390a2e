import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Bundle, Composition, Resource } from '@medplum/fhirtypes';
import { packageRoot } from '../src/common/package-root.js';
import { settingsFromEnv } from '../src/config/env.config.js';
import { issueDevToken } from '../src/identity/dev-token.issuer.js';
import { canonical } from '../src/store/postgres/stored-content.js';
import { SystemClock } from '../src/common/clock.js';
import { AccessPolicyService } from '../src/policy/access-policy.service.js';
import { ActiveAccessSource, type ActiveAccess } from '../src/policy/active-access.port.js';
import { LoadedPolicy } from '../src/policy/loaded-policy.js';
import { defaultPolicyPath, loadPolicy } from '../src/policy/policy.loader.js';
import { loadR4Definitions } from '../src/store/fhir-definitions.js';
import type { AccessFacts } from '../src/store/access-facts.js';
import { AuditLog } from '../src/audit/audit-log.js';
import { verifyAuditChains } from '../src/audit/audit-verifier.js';
import type { AuditEntry } from '../src/audit/domain/audit-entry.js';
import { AUDIT_DEFAULTS, FHIR_DEFAULTS } from '../src/config/chartwarden.options.js';
import { ChartWardenDatabase } from '../src/database/chartwarden-database.js';
import { CopyPasteGuard } from '../src/governance/copy-paste.guard.js';
import { FingerprintRecorder } from '../src/governance/fingerprint.recorder.js';
import { TextFingerprintRepository } from '../src/governance/text-fingerprint.repository.js';
import { DisputeHoldGuard } from '../src/disputes/dispute-hold.guard.js';
import { HoldsRepository } from '../src/disputes/holds.repository.js';
import type { FhirStore } from '../src/store/fhir-store.port.js';
import type { WriteScope } from '../src/store/patient-record-index.port.js';
import { PostgresRecordIndex } from '../src/store/postgres/postgres-record-index.js';
import { lockScope } from '../src/store/postgres/write-scope.js';
import { renderPdf } from '../src/copies/pdf-renderer.js';
import { resourceSection } from '../src/copies/resource-text.js';
import type { FhirContext } from '../src/fhir/fhir-request.js';
import { Cleanup, installSignalHandlers } from './lib/cleanup.js';
import { ExternalSignalError, freePort, machineCpuMs, NodeChild, tempDir, waitForHttp } from './lib/children.js';
import { openBenchDatabase, queryOnce, stopOrphanPostgres, type BenchDatabase } from './lib/database.js';
import { heartRate, updatedPatient } from './lib/fixtures.js';
import type { LoadSpec } from './lib/load.js';
import { measuredRun, NOISY, runSummary, warnAbout } from './lib/measure.js';
import { sqlOf, UnitOfWork } from '../src/database/unit-of-work.js';
import {
  evaluateTargets,
  fmtInt,
  loudWarning,
  scenarioTable,
  startTable,
  targetTable,
  type AuditTiming,
  type CopyPasteTiming,
  type HoldTiming,
  type PdfTiming,
  type DecisionTiming,
  type ScenarioKey,
  type ScenarioReport,
  type StartReport,
  type Target,
} from './lib/report.js';
import { call, fhirHeaders, seed, type Seeded } from './lib/seed.js';
import { measureScaling, scaleOptionsFromEnv, scaleTable, scaleTargets } from './lib/scaling.js';
import { measureRemote, remoteTargets } from './lib/remote.js';
import { measureStale, staleOptionsFromEnv, staleTable, staleTargets } from './lib/stale.js';

/**
 * `npm run bench`: ChartWarden's throughput, latency and start-up, against a bare
 * `node:http` + `pg` server reading the same rows in the same run. See BENCHMARKS.md.
 *
 * Env: DATABASE_URL (else embedded PostgreSQL), BENCH_DURATION (s, 10), BENCH_WARMUP (s, 2),
 * BENCH_CONNECTIONS (32), BENCH_CPU_PROF (a dir: the load-test server runs with --cpu-prof),
 * BENCH_ONLY (comma list of read, search, create, update, policy, audit, copypaste, hold, pdf, start, scale, stale, remote; the baseline runs
 * with any load part, the bare search with search or policy; remote is issue #17's remote store against its upstream, with servers and a
 * database of its own; stale is issue #13's first executions of a patient's searches on stale statistics, on a database of its own on
 * DATABASE_URL's server or embedded, sized by BENCH_STALE_SIZE and BENCH_STALE_PATIENTS) to measure a part only, e.g. to profile the read path,
 * BENCH_TARGET_OBSERVATIONS (20: the searched patient's Observations; the page is 20 of them, 200 gives issue #13's "20 of 200"; at most 500, the default total's cap),
 * BENCH_PG_STATEMENTS (1: each load run's PostgreSQL time by statement, from pg_stat_statements, which the server must preload; `lib/statements.ts`).
 */

const PARTS = ['read', 'search', 'create', 'update', 'policy', 'audit', 'copypaste', 'hold', 'pdf', 'start', 'scale', 'stale', 'remote'] as const;
type Part = (typeof PARTS)[number];

const ROOT = packageRoot(import.meta.url);
const MAIN_JS = join(ROOT, 'dist/src/main.js');
const BARE_JS = join(ROOT, 'dist/bench/bare-server.js');
const UNAUDITED_JS = join(ROOT, 'dist/bench/unaudited-server.js');
const PEER_JS = join(ROOT, 'dist/bench/peer-server.js');
const RESULTS_DIR = join(ROOT, 'bench/results');

const config = {
  durationSec: positive('BENCH_DURATION', 10),
  warmupSec: positive('BENCH_WARMUP', 2, true),
  connections: positive('BENCH_CONNECTIONS', 32),
  cpuProfDir: process.env.BENCH_CPU_PROF || undefined,
  only: parts(process.env.BENCH_ONLY),
  /** ChartWarden's default pool size, so the baseline gets as many connections. */
  poolSize: settingsFromEnv({}).options.databasePoolSize,
  /** ChartWarden's default page (`_count` absent) and default total's cap (decision 0018), which the bare search answers alike. */
  pageSize: FHIR_DEFAULTS.defaultPageSize,
  totalUpTo: FHIR_DEFAULTS.countTotalUpTo,
  seed: {
    patients: 200,
    targetObservations: positive('BENCH_TARGET_OBSERVATIONS', 20),
    noiseObservations: 2000,
    bundleSize: 100,
    parallel: 2,
    department: 'cardiology',
    clinician: 'Practitioner/bench-dr',
  },
  /** PUT cycles over this many Patients (not the search target): the ones in flight are distinct. */
  updatePatients: 50,
  /** Issue #17: what the remote store's part seeds through ChartWarden (into the upstream and its index), and the page it searches. */
  remote: { patients: 200, observations: 200, pageSize: FHIR_DEFAULTS.defaultPageSize },
};
const want = (part: Part) => config.only.includes(part);
const log = (m: string) => console.log(`[bench] ${m}`);
const round2 = (n: number) => Number(n.toFixed(2));
const round3 = (n: number) => Number(n.toFixed(3));

async function main(): Promise<number> {
  const cleanup = new Cleanup();
  installSignalHandlers(cleanup);
  const started = performance.now();
  try {
    return await bench(cleanup);
  } catch (e) {
    if (cleanup.interrupted) return 130; // the run was stopped: what failed after that is its consequence
    console.error(`\n[bench] FAILED: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return 1;
  } finally {
    log('cleaning up (children, bench database, temp dirs)…');
    await cleanup.runAll();
    log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
}

async function bench(cleanup: Cleanup): Promise<number> {
  const machine = {
    nproc: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
  const commit = gitCommit(); // now, before anything runs: the build being measured was made from this tree
  const loadAtStart = loadavg().map(round2);
  const busyBefore = await busyShare(1000);
  log(
    `machine: ${machine.nproc} cores (${machine.cpu}), ${machine.memoryGiB} GiB, Node ${machine.node}; load average ${loadAtStart.join(' ')}` +
      (busyBefore === undefined ? '' : `; ${Math.round(busyBefore * 100)} % of the CPU busy before the run`),
  );
  if (busyBefore !== undefined && busyBefore > NOISY) {
    console.warn(
      loudWarning([
        `Other processes keep ${Math.round(busyBefore * 100)} % of this machine's CPU busy: absolute figures will be low.`,
        'See the "others" column; compare ratios and CPU per request, or run again on a quiet machine.',
      ]),
    );
  }
  log(`load: ${config.connections} connections, ${config.warmupSec} s warm-up + ${config.durationSec} s per scenario; DB pool ${config.poolSize} in both servers`);
  if (config.only.length < PARTS.length) log(`BENCH_ONLY: ${config.only.join(', ')}`);

  // Issue #13's parts read their own options now, so a bad BENCH_SCALE_* or BENCH_STALE_* fails before minutes of measuring.
  const profArgs = config.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${config.cpuProfDir}`] : [];
  const scaleOptions = want('scale') ? scaleOptionsFromEnv(MAIN_JS, profArgs) : undefined;
  const staleOptions = want('stale') ? staleOptionsFromEnv(MAIN_JS, profArgs) : undefined;
  const loadParts = config.only.filter((p) => p !== 'start' && p !== 'scale' && p !== 'stale' && p !== 'remote');
  const load = loadParts.length ? await measureLoad(cleanup) : undefined;
  // Issue #17: the remote store against its upstream, on a database of its own on the same server.
  const remote = want('remote')
    ? await measureRemote(cleanup, {
        mainJs: MAIN_JS,
        peerJs: PEER_JS,
        nodeArgs: config.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${config.cpuProfDir}`] : [],
        adminUrl: load?.db.adminUrl ?? (process.env.DATABASE_URL || undefined),
        load: { connections: config.connections, durationSec: config.durationSec, warmupSec: config.warmupSec },
        ...config.remote,
        log,
      })
    : undefined;

  let cold: StartReport | undefined;
  let warm: StartReport | undefined;
  if (want('start')) {
    ({ cold, warm } = await measureStarts(cleanup));
  }
  // Issue #13: single requests on a growing record, on its own fresh (embedded) database.
  const scale = scaleOptions ? await measureScaling(cleanup, scaleOptions) : undefined;
  // Issue #13: a patient's first searches on a fresh server over stale statistics, on a database of its own on the same server.
  const staleAdminUrl = load?.db.adminUrl ?? (process.env.DATABASE_URL || undefined);
  const stale = staleOptions ? await measureStale(cleanup, { ...staleOptions, adminUrl: staleAdminUrl }) : undefined;

  const decision = want('policy') ? await timeDecisions() : undefined;
  const pdf = want('pdf') ? await timePdf() : undefined;
  if (pdf) log(`certified copy PDF, ${pdf.pages} pages: p50 ${pdf.p50Ms} ms, p99 ${pdf.p99Ms} ms`);
  const hold = load?.hold;
  if (hold) log(`legal-hold check, ${fmtInt(hold.sealedCases)} sealed cases (${fmtInt(hold.sealedLines)} lines): update p50 ${hold.updateP50Ms} / p99 ${hold.updateP99Ms} ms, create p50 ${hold.createP50Ms} / p99 ${hold.createP99Ms} ms`);
  const audit = load?.audit;
  const copyPaste = load?.copyPaste;
  if (copyPaste) log(`copy-paste check, 10 KB note, ${fmtInt(copyPaste.documents)} documents indexed: p50 ${copyPaste.p50Ms} ms, p99 ${copyPaste.p99Ms} ms`);
  if (audit) {
    log(`audit: ${fmtInt(audit.appendPerSec)} entries/s from ${audit.appendClients} concurrent clients (${audit.entriesPerCommit.toFixed(1)} per commit, p99 ${audit.appendP99Ms} ms)`);
    log(`audit verify: ${fmtInt(audit.verifyEntries)} entries in ${fmtInt(audit.verifyMs)} ms = ${fmtInt(audit.verifyPerSec)} entries/s`);
  }
  if (decision) log(`decision time, cached ability (in process, ${fmtInt(decision.calls)} calls): p50 ${decision.p50Us} µs, p99 ${decision.p99Us} µs`);

  const scenarios = [...(load?.scenarios ?? []), ...(remote?.scenarios ?? [])];
  const byKey: Partial<Record<RunKey, ScenarioReport>> = Object.fromEntries(scenarios.map((s) => [s.key, s]));
  const targets = [
    ...evaluateTargets(byKey, cold, decision, audit, copyPaste, hold, pdf),
    ...bareSearchTargets(byKey),
    ...remoteTargets(byKey),
    ...scaleTargets(scale),
    ...staleTargets(stale),
  ];
  const problems = [...scenarios.flatMap((s) => s.problems.map((p) => `${s.label}: ${p}`)), ...(scale?.problems ?? []), ...(stale?.problems ?? [])];
  const db = load?.db ?? remote?.db ?? stale?.db;
  const dbLabel = db ? `PostgreSQL ${db.serverVersion} (${db.mode})` : 'embedded PostgreSQL';
  console.log('');
  console.log(
    `ChartWarden benchmark${commit ? ` @ ${commit}` : ''} — ${machine.nproc} cores, Node ${machine.node}, ${dbLabel}, ` +
      `${config.connections} connections, ${config.durationSec} s each`,
  );
  if (scenarios.length) {
    console.log(`\n${scenarioTable(scenarios)}`);
    if (byKey.baselineSearch) console.log('× baseline: searches (b2, c, h, i) against the bare search (b2), every other scenario against the bare read (a).');
    if (remote) {
      console.log(
        '× baseline of (r1)–(r4): through ChartWarden (r2, r4) against the upstream called directly (r1, r3). "server" is the process the load hits ' +
          '(the upstream itself in r1, r3); "upstream" is the upstream\'s CPU behind ChartWarden. ' +
          `(r3) and (r4) hold the same ${config.remote.observations} matches as sets${remote.samePageIds ? ' and the same page' : '; each page is its server\'s own first ' + config.remote.pageSize}.`,
      );
    }
  }
  if (cold && warm) console.log(`\n${startTable([['cold start (fresh data dir)', cold], ['warm restart (same dir)', warm]])}`);
  if (scale) console.log(`\n${scaleTable(scale)}`);
  if (stale) console.log(`\n${staleTable(stale)}`);
  console.log(`\n${targetTable(targets)}\n`);
  const missed = targets.filter((t) => t.pass === false);
  const measured = targets.filter((t) => t.pass !== undefined);
  console.log(missed.length === 0 ? `All ${measured.length} measured targets met.` : `${missed.length} of ${measured.length} targets MISSED: ${missed.map((t) => t.name).join('; ')}`);
  if (problems.length) console.log(`\n${loudWarning(['THESE FIGURES ARE NOT VALID: requests failed or checks did not hold', ...problems])}`);

  await mkdir(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, config.only.length === PARTS.length ? 'latest.json' : 'partial.json');
  const json = {
    generatedAt: new Date().toISOString(),
    command: 'npm run bench',
    commit,
    machine: { ...machine, busyShareBeforeRun: busyBefore, loadAverageAtStart: loadAtStart, loadAverageAtEnd: loadavg().map(round2) },
    database: db ? { mode: db.mode, serverVersion: db.serverVersion } : undefined,
    config,
    seed: load ? { patients: load.seeded.patientIds.length, observations: load.seeded.observations, ms: load.seeded.ms } : undefined,
    remote: remote ? { database: remote.db.name, seed: remote.seed, samePageIds: remote.samePageIds } : undefined,
    scenarios: byKey,
    decision,
    audit,
    copyPaste,
    hold,
    pdf,
    scale,
    stale,
    start: { cold, warm, loadTestServerStopMs: load ? Math.round(load.serverStopMs) : undefined },
    targets,
    valid: problems.length === 0,
    problems,
  };
  await writeFile(file, JSON.stringify(json, null, 2) + '\n');
  log(`results written to ${relative(process.cwd(), file) || file}`);
  return problems.length ? 2 : 0;
}

/** Steps 1–5: database, ChartWarden and baseline servers, seed, then the load scenarios. */
async function measureLoad(
  cleanup: Cleanup,
): Promise<{ db: BenchDatabase; seeded: Seeded; scenarios: ScenarioReport[]; serverStopMs: number; audit?: AuditTiming; copyPaste?: CopyPasteTiming; hold?: HoldTiming }> {
  const db = await openBenchDatabase(cleanup, process.env.DATABASE_URL || undefined);
  log(`database: ${db.name} on ${db.mode === 'external' ? 'the DATABASE_URL server' : 'embedded PostgreSQL'} (PostgreSQL ${db.serverVersion})`);

  const dataDir = await tempDir(cleanup, 'chartwarden-bench-data-');
  const cwOrigin = `http://127.0.0.1:${await freePort()}`;
  const nodeArgs = config.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${config.cpuProfDir}`] : [];
  const cw = NodeChild.spawn(cleanup, 'chartwarden', MAIN_JS, { PORT: new URL(cwOrigin).port, DATABASE_URL: db.url, CHARTWARDEN_DATA_DIR: dataDir }, nodeArgs);
  const cwReady = await waitForHttp(`${cwOrigin}/fhir/metadata`, cw, 60_000, 50);
  log(`ChartWarden (pid ${cw.pid}) answered /fhir/metadata ${fmtInt(cwReady - cw.spawnedAt)} ms after spawn (migrations on a fresh database)`);
  // The HIS integration client: the default policy lets it read, search, create and update
  // patient records without per-patient conditions (care team, department), like a HIS feed.
  const token = await issueDevToken(dataDir, { sub: 'bench-his-client', roles: ['his-system'], ttl: '2h' });

  const seeded = await seed(`${cwOrigin}/fhir`, token, config.seed);
  log(`seeded ${seeded.patientIds.length} Patients and ${fmtInt(seeded.observations)} Observations in ${fmtInt(seeded.ms)} ms (transaction Bundles of ${config.seed.bundleSize})`);
  // A freshly bulk-loaded database has no planner statistics until autovacuum gets to it; take
  // them now, as autovacuum soon would, so the figures show the steady state.
  await queryOnce(db.url, 'ANALYZE');

  const bareOrigin = `http://127.0.0.1:${await freePort()}`;
  const bare = NodeChild.spawn(
    cleanup,
    'bare-server',
    BARE_JS,
    { PORT: new URL(bareOrigin).port, DATABASE_URL: db.url, BARE_POOL_SIZE: String(config.poolSize), BARE_TOTAL_UP_TO: String(config.totalUpTo) },
    nodeArgs,
  );
  await waitForHttp(`${bareOrigin}/Patient/${seeded.patientIds[0]}`, bare, 30_000, 50);

  // The comparator for the policy scenarios: the same build and database under a policy whose
  // attending rule has no conditions (bench/open.policy.yaml), so only the conditions' cost differs.
  let open: { child: NodeChild; origin: string } | undefined;
  if (want('policy')) {
    const origin = `http://127.0.0.1:${await freePort()}`;
    const child = NodeChild.spawn(
      cleanup,
      'chartwarden-open-policy',
      MAIN_JS,
      { PORT: new URL(origin).port, DATABASE_URL: db.url, CHARTWARDEN_DATA_DIR: dataDir, CHARTWARDEN_POLICY: join(ROOT, 'bench/open.policy.yaml') },
      nodeArgs,
    );
    await waitForHttp(`${origin}/fhir/metadata`, child, 60_000, 50);
    open = { child, origin };
  }
  const clinician = await issueDevToken(dataDir, { sub: 'bench-dr', roles: ['attending'], department: config.seed.department, ttl: '2h' });

  // The comparator for the audit scenario: the same build and database with an audit log that records nothing.
  let unaudited: { child: NodeChild; origin: string } | undefined;
  if (want('audit')) {
    const origin = `http://127.0.0.1:${await freePort()}`;
    const child = NodeChild.spawn(cleanup, 'chartwarden-unaudited', UNAUDITED_JS, { PORT: new URL(origin).port, DATABASE_URL: db.url, CHARTWARDEN_DATA_DIR: dataDir }, nodeArgs);
    await waitForHttp(`${origin}/fhir/metadata`, child, 60_000, 50);
    unaudited = { child, origin };
  }

  const s = new Scenarios({ cw, bare, open: open?.child, unaudited: unaudited?.child }, cwOrigin, bareOrigin, token, seeded, db, {
    origin: open?.origin,
    clinician,
    unauditedOrigin: unaudited?.origin,
  });
  await s.checkSameRows();
  await s.baseline();
  if (want('read')) await s.read();
  if (want('search') || want('policy')) await s.baselineSearch();
  if (want('search')) await s.search();
  if (want('create')) await s.create();
  if (want('update')) await s.update();
  if (want('policy')) await s.policy();
  if (want('audit')) await s.unauditedRead();
  if (open) await open.child.stop(5000);
  if (unaudited) await unaudited.child.stop(5000);

  const stop = await cw.stop(10_000);
  await bare.stop(5000);
  log(`load-test ChartWarden stopped ${stop.forced ? 'by SIGKILL after' : 'on SIGTERM in'} ${fmtInt(stop.ms)} ms`);
  if (config.cpuProfDir) log(`CPU profiles written to ${config.cpuProfDir}: ChartWarden pid ${cw.pid}, bare server pid ${bare.pid} (node dist/bench/profile-summary.js <file>)`);
  const audit = want('audit') ? await timeAudit(db.url) : undefined;
  const copyPaste = want('copypaste') ? await timeCopyPaste(db.url) : undefined;
  const hold = want('hold') ? await timeHold(db.url) : undefined;
  return { db, seeded, scenarios: s.results, serverStopMs: stop.ms, audit, copyPaste, hold };
}

/**
 * The audit trail alone (issue #5): 64 concurrent clients each appending one entry and
 * awaiting it (as a request does), for a few seconds, through the product's AuditLog; then
 * `audit verify` over every entry the whole run left in the bench database.
 */
async function timeAudit(url: string): Promise<AuditTiming> {
  const clients = 64;
  const seconds = Math.min(config.durationSec, 5);
  const database = await ChartWardenDatabase.connect(url, config.poolSize);
  try {
    const auditLog = new AuditLog(database, AUDIT_DEFAULTS.chains, AUDIT_DEFAULTS.maxBatch, AUDIT_DEFAULTS.lanes);
    await auditLog.onModuleInit();
    log(`audit: ${clients} concurrent clients appending for ${seconds} s …`);
    const latencies: number[] = [];
    const until = performance.now() + seconds * 1000;
    let n = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: clients }, async (_, c) => {
        while (performance.now() < until) {
          const t0 = performance.now();
          await auditLog.append([benchEntry(`bench-${c}-${n++}`)]);
          latencies.push(performance.now() - t0);
        }
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    log('audit verify: every chain …');
    const verified = await verifyAuditChains(url);
    if (verified.broken) throw new Error(`audit verify found a broken chain after the run: ${verified.broken.detail}`);
    return {
      appendClients: clients,
      appendPerSec: Math.round(latencies.length / elapsed),
      appendP99Ms: round2(latencies[Math.floor(latencies.length * 0.99)] ?? 0),
      entriesPerCommit: auditLog.stats.entries / Math.max(1, auditLog.stats.commits),
      verifyEntries: verified.entries,
      verifyPerSec: Math.round(verified.entries / Math.max(1, verified.ms) * 1000),
      verifyMs: verified.ms,
    };
  } finally {
    await database.onApplicationShutdown();
  }
}

/**
 * The copy-paste check (issue #4, R-16) on a 10 KB note with 100,000 documents' fingerprints
 * indexed: the time it adds to a write (text extraction, winnowing, the candidate query: the
 * guard before the write; replacing the note's fingerprints: its recorder after it), in a
 * transaction rolled back each time.
 */
async function timeCopyPaste(url: string): Promise<CopyPasteTiming> {
  const documents = 100_000;
  const perDocument = 25; // winnowing keeps ~2/(w+1) of a text's positions: ~25 for a 1 KB note
  const database = await ChartWardenDatabase.connect(url, 2);
  try {
    log(`copy-paste: indexing ${fmtInt(documents)} documents × ${perDocument} fingerprints …`);
    const t0 = performance.now();
    await database.query(
      `INSERT INTO text_fingerprint (hash, resource_type, resource_id, patient_id)
       SELECT (floor(random() * 4294967296) - 2147483648)::int, 'Composition', 'bench-doc-' || d, 'bench-patient-' || (d % 5000)
         FROM generate_series(1, $1::int) d, generate_series(1, $2::int) k ON CONFLICT DO NOTHING`,
      [documents, perDocument],
    );
    // As autovacuum soon would on a real database: statistics and the visibility map, then a checkpoint (the steady state).
    await database.query('VACUUM ANALYZE text_fingerprint');
    await database.query('CHECKPOINT');
    const [{ n }] = await database.query<{ n: number }>('SELECT count(*)::int AS n FROM text_fingerprint');
    log(`copy-paste: ${fmtInt(n)} fingerprints indexed in ${fmtInt(performance.now() - t0)} ms`);
    const policy = new LoadedPolicy(loadPolicy(defaultPolicyPath(), loadR4Definitions()));
    // No indexed document shares this note's text: the check runs to the end without naming a source.
    const repository = new TextFingerprintRepository();
    // Candidates' texts are read through the store's index (none is stored here: none names a source).
    const store = { within: (unit: UnitOfWork) => ({ records: PostgresRecordIndex.over(sqlOf(unit)) }) } as unknown as FhirStore;
    const guard = new CopyPasteGuard(policy, undefined as never, store, repository);
    const recorder = new FingerprintRecorder(policy, repository);
    const scope: WriteScope = { unchanged: false, patient: 'bench-target', patients: ['bench-target'], encounters: [], storedEncounters: [], targets: [] };
    const note = tenKilobyteNote();
    const times: number[] = [];
    for (let i = 0; i < 210; i++) {
      const resource = { ...note, id: `bench-note-${i}` };
      const ctx = { actor: { id: 'bench-dr', practitioner: 'Practitioner/bench-dr', roles: ['attending'], scopes: [] }, baseUrl: '' } as FhirContext;
      await database
        .transaction(async (tx) => {
          // Inside the write's transaction, as in the server: only the check's own time.
          const unit = UnitOfWork.over(tx);
          const started = performance.now();
          await guard.check(ctx, { resource, creating: true, scope }, unit);
          await recorder.record(ctx, { resource, created: true, patient: 'bench-target' }, unit);
          times.push(performance.now() - started);
          throw new RollBack();
        })
        .catch((e: unknown) => {
          if (!(e instanceof RollBack)) throw e;
        });
    }
    const measured = times.slice(10).sort((a, b) => a - b);
    return {
      documents,
      fingerprints: n,
      noteBytes: Buffer.byteLength(JSON.stringify(note)),
      p50Ms: round2(measured[Math.floor(measured.length / 2)]),
      p99Ms: round2(measured[Math.floor(measured.length * 0.99)] ?? measured[measured.length - 1]),
    };
  } finally {
    await database.onApplicationShutdown();
  }
}

class RollBack extends Error {}

/**
 * The legal hold (issue #7, R-41) on every write: with 2,000 sealed cases of 50 records each on
 * record, the time the hold check adds to an update of an unsealed record (the holds: one
 * prepared query) and to a create for an encounter (the encounter's key-share lock the store
 * takes in `lockForWrite`, then the holds), with the write's scope as the store resolves it,
 * inside a transaction rolled back each time.
 */
async function timeHold(url: string): Promise<HoldTiming> {
  const cases = 2000;
  const lines = 50;
  const database = await ChartWardenDatabase.connect(url, 2);
  try {
    log(`legal hold: sealing ${fmtInt(cases)} cases × ${lines} records …`);
    await database.query(
      `INSERT INTO dispute (id, patient_id, scope, trigger, reason, team, status, opened_by, opened_at, sealed_at, sealed_by, policy_version)
       SELECT md5('bench-case-' || c)::uuid, 'bench-held-' || c, '{"kind":"whole-record"}', 'dispute', 'bench', '[]', 'sealed', 'bench', now(), now(), 'bench', 'bench'
         FROM generate_series(1, $1::int) c ON CONFLICT DO NOTHING`,
      [cases],
    );
    await database.query(
      `INSERT INTO dispute_item (dispute_id, resource_type, resource_id, version_id, status, sha256, copy_no)
       SELECT md5('bench-case-' || c)::uuid, CASE WHEN k = 1 THEN 'Encounter' ELSE 'Observation' END, 'bench-held-' || c || '-' || k, 1, 'sealed', repeat('0', 64), 1
         FROM generate_series(1, $1::int) c, generate_series(1, $2::int) k ON CONFLICT DO NOTHING`,
      [cases, lines],
    );
    await database.query('VACUUM ANALYZE dispute');
    await database.query('VACUUM ANALYZE dispute_item');
    const [{ n }] = await database.query<{ n: number }>('SELECT count(*)::int AS n FROM dispute_item');
    const guard = new DisputeHoldGuard(new HoldsRepository());
    const ctx = { actor: { id: 'bench-his', practitioner: 'Practitioner/bench-his', roles: ['his-system'], scopes: [] }, baseUrl: '' } as FhirContext;
    const time = async (created: boolean): Promise<number[]> => {
      const times: number[] = [];
      for (let i = 0; i < 510; i++) {
        const resource = { resourceType: 'Observation', id: `bench-free-${i}`, status: 'final', code: { text: 'x' }, encounter: { reference: `Encounter/bench-free-enc-${i % 20}` } } as Resource;
        await database
          .transaction(async (tx) => {
            // The write's scope as the store resolves it from the incoming version (its patient and encounter).
            const resolved = { patient: 'bench-free', patients: ['bench-free'], encounters: [`bench-free-enc-${i % 20}`], targets: [] };
            const started = performance.now();
            const scope: WriteScope = created ? await lockScope(tx, resource, 'create', resolved) : { ...resolved, storedEncounters: resolved.encounters, stored: resource, unchanged: false };
            await guard.check(ctx, { resource, creating: created, scope }, UnitOfWork.over(tx));
            times.push(performance.now() - started);
            throw new RollBack();
          })
          .catch((e: unknown) => {
            if (!(e instanceof RollBack)) throw e;
          });
      }
      return times.slice(10).sort((a, b) => a - b);
    };
    const update = await time(false);
    const create = await time(true);
    const pct = (xs: number[], q: number) => round2(xs[Math.min(xs.length - 1, Math.floor(xs.length * q))]);
    return { sealedCases: cases, sealedLines: n, updateP50Ms: pct(update, 0.5), updateP99Ms: pct(update, 0.99), createP50Ms: pct(create, 0.5), createP99Ms: pct(create, 0.99) };
  } finally {
    await database.onApplicationShutdown();
  }
}

/** A certified copy's PDF (issue #6, R-33): 20 pages of Chinese clinical text, stamped, with the footer hash; the first render (font loading) excluded. */
async function timePdf(): Promise<PdfTiming> {
  const note = tenKilobyteNote();
  const sections = Array.from({ length: 8 }, (_, i) => resourceSection({ ...note, id: `bench-doc-${i}`, meta: { versionId: '1' } }, { timeZone: 'Asia/Shanghai', names: new Map() }));
  const input = { title: '病历复印件 Certified copy', reference: 'CopyRequest bench #1', stamp: '示例医院 病历管理专用章', footerHash: '0'.repeat(64), createdAt: new Date(), sections };
  const first = await renderPdf(input);
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const started = performance.now();
    await renderPdf(input);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return { pages: first.pages, p50Ms: Math.round(times[10]), p99Ms: Math.round(times[19]) };
}

/** A progress note of about 10 KB of Chinese clinical text. */
function tenKilobyteNote(): Composition {
  const phrases = ['患者神志清楚，精神可', '主诉胸闷气短', '查体：心肺听诊未见明显异常', '腹软无压痛', '双下肢无水肿', '继续当前治疗方案', '复查血常规及生化', '嘱低盐低脂饮食', '密切观察病情变化', '血压控制平稳'];
  let text = '';
  for (let i = 0; Buffer.byteLength(text) < 10_000; i++) text += `${phrases[(i * 7) % phrases.length]}（第${i}条记录），`;
  return {
    resourceType: 'Composition',
    status: 'preliminary',
    type: { coding: [{ system: 'http://loinc.org', code: '11506-3' }] },
    subject: { reference: 'Patient/bench-target' },
    date: new Date().toISOString(),
    author: [{ reference: 'Practitioner/bench-dr' }],
    title: '日常病程记录',
    section: [{ title: '病程', text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${text}</div>` } }],
  };
}

/** A read entry as the server would record it, for the append benchmark. */
function benchEntry(requestId: string): AuditEntry {
  return {
    recorded: new Date().toISOString(),
    requestId,
    action: 'R',
    subtype: 'read',
    lifecycle: 'access',
    outcome: 0,
    status: 200,
    agent: { id: 'bench-his-client', practitioner: 'Practitioner/bench-his-client', roles: ['his-system'], ip: '127.0.0.1', userAgent: 'autocannon' },
    entity: { type: 'Patient', id: requestId, version: '1' },
    patient: requestId,
    policyVersion: 'bench',
    rule: 'his-system.records',
    method: 'GET',
    path: `/fhir/Patient/${requestId}`,
  };
}

/** The load scenarios (a)–(e), each checked before and after. */
class Scenarios {
  readonly results: ScenarioReport[] = [];
  private readonly headers: Record<string, string>;
  private readonly getHeaders: Record<string, string>;
  private readonly ids: string[];
  private readonly base = { connections: config.connections, durationSec: config.durationSec, warmupSec: config.warmupSec };
  /** Same-run req/s of the bare read (a) and the bare search (b2): what ChartWarden's reads and searches are divided by. */
  private readonly baselineRps = { read: 0, search: 0 };

  constructor(
    private readonly servers: { cw: NodeChild; bare: NodeChild; open?: NodeChild; unaudited?: NodeChild },
    private readonly cwOrigin: string,
    private readonly bareOrigin: string,
    token: string,
    private readonly seeded: Seeded,
    private readonly db: BenchDatabase,
    private readonly policyRun: { origin?: string; clinician: string; unauditedOrigin?: string },
  ) {
    this.headers = fhirHeaders(token);
    this.getHeaders = { authorization: this.headers.authorization, accept: this.headers.accept };
    this.ids = seeded.patientIds;
  }

  /** The baseline must serve the very rows ChartWarden serves. */
  async checkSameRows(): Promise<void> {
    for (const id of [this.ids[0], this.ids[this.ids.length - 1]]) {
      const a = await call('GET', `${this.cwOrigin}/fhir/Patient/${id}`, this.getHeaders, undefined, [200]);
      const b = await call('GET', `${this.bareOrigin}/Patient/${id}`, this.getHeaders, undefined, [200]);
      if (canonical(a.body) !== canonical(b.body)) {
        throw new Error(`the baseline server returned other content for Patient/${id}:\n  ${canonical(a.body)}\n  ${canonical(b.body)}`);
      }
    }
  }

  /** (a) bare node:http + pg, read by id, cycling over the seeded Patients. */
  async baseline(): Promise<void> {
    const next = cycle(this.ids);
    await this.run('baselineRead', '(a) baseline bare read by id', 'GET /Patient/:id (node:http + pg)', {
      ...this.base,
      origin: this.bareOrigin,
      method: 'GET',
      path: `/Patient/${this.ids[0]}`,
      headers: this.getHeaders,
      next: () => ({ path: `/Patient/${next()}` }),
    });
  }

  /**
   * (b2) issue #13: bare node:http + pg answering the page (c) and (h) answer — the target
   * patient's first page of Observations with ChartWarden's default total — after checking that
   * ChartWarden's pages, for the HIS and for the treating doctor, hold the same resources in the
   * same order with the same total.
   */
  async baselineSearch(): Promise<void> {
    const path = `/Observation?patient=${this.seeded.targetPatientId}&_count=${config.pageSize}`;
    const bare = await call<Bundle>('GET', `${this.bareOrigin}${path}`, this.getHeaders, undefined, [200]);
    const clinician = { authorization: `Bearer ${this.policyRun.clinician}`, accept: 'application/fhir+json' };
    const pages: [string, string, Record<string, string>][] = [
      ['(c) the HIS', this.cwOrigin, this.getHeaders],
      ['(h) the treating doctor', this.cwOrigin, clinician],
    ];
    if (want('policy')) pages.push(['(i) the doctor, open policy', this.policyRun.origin as string, clinician]);
    for (const [who, origin, headers] of pages) {
      const cw = await call<Bundle>('GET', `${origin}/fhir${this.searchPath()}`, headers, undefined, [200]);
      const difference = pageDifference(cw.body, bare.body);
      if (difference) throw new Error(`the bare search's page differs from ChartWarden's for ${who}: ${difference}`);
    }
    const expected = Math.min(config.pageSize, config.seed.targetObservations);
    if (bare.body.entry?.length !== expected) throw new Error(`the bare search answered ${bare.body.entry?.length} entries, expected ${expected}`);
    await this.run('baselineSearch', '(b2) baseline bare search', `GET ${path.replace(this.seeded.targetPatientId, 'X')} (node:http + pg)`, {
      ...this.base,
      origin: this.bareOrigin,
      method: 'GET',
      path,
      headers: this.getHeaders,
    });
  }

  /** The search (c), (h) and (i) make: the target patient's Observations, ChartWarden's default page and total. */
  private searchPath(): string {
    return `/Observation?patient=${this.seeded.targetPatientId}`;
  }

  /** The page those searches answer, for labels: "20 of 200". */
  private pageLabel(): string {
    return `${Math.min(config.pageSize, config.seed.targetObservations)} of ${config.seed.targetObservations}`;
  }

  /** (b) ChartWarden read by id, the same Patients in the same order. */
  async read(): Promise<void> {
    const next = cycle(this.ids);
    await this.run('read', '(b) ChartWarden read by id', 'GET /fhir/Patient/:id', {
      ...this.base,
      origin: this.cwOrigin,
      method: 'GET',
      path: `/fhir/Patient/${this.ids[0]}`,
      headers: this.getHeaders,
      next: () => ({ path: `/fhir/Patient/${next()}` }),
    });
  }

  /** (c) one patient's Observations: one full default page (20) with its total. */
  async search(): Promise<void> {
    const path = `/fhir${this.searchPath()}`;
    const expected = config.seed.targetObservations;
    const found = await call<Bundle>('GET', `${this.cwOrigin}${path}`, this.getHeaders, undefined, [200]);
    const hits = (found.body.entry ?? []).filter((e) => e.search?.mode !== 'include').length;
    if (hits !== Math.min(config.pageSize, expected) || found.body.total !== expected) {
      throw new Error(`${path} found ${hits} entries (total ${found.body.total}), expected ${Math.min(config.pageSize, expected)} of ${expected}`);
    }
    await this.run('search', '(c) search Observation?patient=X', `GET /fhir/Observation?patient=X (${this.pageLabel()})`, {
      ...this.base,
      origin: this.cwOrigin,
      method: 'GET',
      path,
      headers: this.getHeaders,
    });
  }

  /** (d) POST one Observation (server-assigned id); every 2xx must have stored a row. */
  async create(): Promise<void> {
    const body = JSON.stringify(heartRate(this.ids[1], 7));
    const count = async () =>
      (await queryOnce<{ n: number }>(this.db.url, "SELECT count(*)::int AS n FROM fhir_resource WHERE resource_type = 'Observation'"))[0].n;
    await call('POST', `${this.cwOrigin}/fhir/Observation`, this.headers, JSON.parse(body), [201]);
    const before = await count();
    const r = await this.run('create', '(d) create Observation', 'POST /fhir/Observation', {
      ...this.base,
      origin: this.cwOrigin,
      method: 'POST',
      path: '/fhir/Observation',
      headers: this.headers,
      body,
    });
    this.checkWrites(r, (await count()) - before, 'Observations stored');
  }

  /** (e) PUT (no If-Match) of a small set of Patients, each body different so each writes a version. */
  async update(): Promise<void> {
    const n0 = this.ids.length - config.updatePatients;
    const set = this.ids.slice(n0).map((id, i) => ({ id, n: n0 + i }));
    const next = cycle(set);
    let revision = 0;
    const first = await call<Resource>('PUT', `${this.cwOrigin}/fhir/Patient/${set[0].id}`, this.headers, updatedPatient(set[0].n, set[0].id, revision++), [200]);
    if (first.body.meta?.versionId !== '2') throw new Error(`a PUT of a seeded Patient answered version ${first.body.meta?.versionId}, expected 2`);
    const count = async () =>
      (await queryOnce<{ n: number }>(this.db.url, "SELECT count(*)::int AS n FROM fhir_resource_version WHERE resource_type = 'Patient'"))[0].n;
    const before = await count();
    const r = await this.run('update', `(e) update Patient (${config.updatePatients} ids)`, 'PUT /fhir/Patient/:id (no If-Match)', {
      ...this.base,
      origin: this.cwOrigin,
      method: 'PUT',
      path: `/fhir/Patient/${set[0].id}`,
      headers: this.headers,
      next: () => {
        const p = next();
        return { path: `/fhir/Patient/${p.id}`, body: JSON.stringify(updatedPatient(p.n, p.id, revision++)) };
      },
    });
    this.checkWrites(r, (await count()) - before, 'Patient versions written');
  }

  /**
   * (f)–(i), issue #3: an attending who sees 10 % of the patients (care team + department),
   * reading and searching them under the default policy, against the same requests on a
   * server whose policy has no conditions. Checks first that the policy really hides the 90 %.
   */
  async policy(): Promise<void> {
    const openOrigin = this.policyRun.origin as string;
    const headers = { authorization: `Bearer ${this.policyRun.clinician}`, accept: 'application/fhir+json' };
    const hidden = this.seeded.patientIds.find((id) => !this.seeded.visiblePatientIds.includes(id)) as string;
    await call('GET', `${this.cwOrigin}/fhir/Patient/${hidden}`, headers, undefined, [403]);
    await call('GET', `${openOrigin}/fhir/Patient/${hidden}`, headers, undefined, [200]);
    const all = await call<Bundle>('GET', `${this.cwOrigin}/fhir/Patient?_summary=count`, headers, undefined, [200]);
    if (all.body.total !== this.seeded.visiblePatientIds.length) {
      throw new Error(`the clinician sees ${all.body.total} patients under the default policy, expected ${this.seeded.visiblePatientIds.length}`);
    }
    const read = (key: 'policyRead' | 'openRead', origin: string, label: string) => {
      const next = cycle(this.seeded.visiblePatientIds);
      return this.run(key, label, 'GET /fhir/Patient/:id (attending, 10 % visible)', {
        ...this.base,
        origin,
        method: 'GET',
        path: `/fhir/Patient/${this.seeded.visiblePatientIds[0]}`,
        headers,
        next: () => ({ path: `/fhir/Patient/${next()}` }),
      });
    };
    const search = (key: 'policySearch' | 'openSearch', origin: string, label: string) =>
      this.run(key, label, `GET /fhir/Observation?patient=X (attending, ${this.pageLabel()})`, {
        ...this.base,
        origin,
        method: 'GET',
        path: `/fhir${this.searchPath()}`,
        headers,
      });
    await read('policyRead', this.cwOrigin, '(f) read, default policy');
    await read('openRead', openOrigin, '(g) read, open policy');
    await search('policySearch', this.cwOrigin, '(h) search, default policy');
    await search('openSearch', openOrigin, '(i) search, open policy');
  }

  /** (j) issue #5: (b)'s reads on the same build with an audit log that records nothing: the cost of the trail. */
  async unauditedRead(): Promise<void> {
    const origin = this.policyRun.unauditedOrigin as string;
    const next = cycle(this.ids);
    await this.run('unauditedRead', '(j) read by id, audit trail off', 'GET /fhir/Patient/:id (comparator for (b))', {
      ...this.base,
      origin,
      method: 'GET',
      path: `/fhir/Patient/${this.ids[0]}`,
      headers: this.getHeaders,
      next: () => ({ path: `/fhir/Patient/${next()}` }),
    });
  }

  private async run(key: RunKey, label: string, request: string, spec: LoadSpec): Promise<ScenarioReport> {
    log(`${label}: ${request} …`);
    const server =
      key === 'baselineRead' || key === 'baselineSearch'
        ? this.servers.bare
        : key === 'unauditedRead'
          ? (this.servers.unaudited as NodeChild)
          : key.startsWith('open')
            ? (this.servers.open as NodeChild)
            : this.servers.cw;
    const figures = await measuredRun(spec, { server, db: this.db });
    // Searches are divided by the bare search, everything else by the bare read (issue #13).
    const against = SEARCHES.has(key) ? 'search' : 'read';
    if (key === 'baselineRead' || key === 'baselineSearch') this.baselineRps[against] = figures.reqPerSec;
    const ratioToBaseline = this.baselineRps[against] > 0 ? round3(figures.reqPerSec / this.baselineRps[against]) : 0;
    const report: ScenarioReport = { key, label, request, ...figures, ratioToBaseline };
    this.results.push(report);
    log(runSummary(report, `bare ${against}`));
    warnAbout(report);
    return report;
  }

  /**
   * Every 2xx write response must have written a row. A run stops with requests in flight,
   * so up to `sent - answered` more rows may exist (the server finished them unobserved).
   */
  private checkWrites(r: ScenarioReport, rows: number, what: string): void {
    const ok = r.requests - r.non2xx + r.warmup.requests - r.warmup.non2xx;
    const sent = r.sent + r.warmup.sent;
    log(`  check: ${fmtInt(rows)} ${what} for ${fmtInt(ok)} 2xx responses (${fmtInt(sent)} requests sent)`);
    if (rows >= ok && rows <= sent) return;
    const problem = `${rows} ${what} for ${ok} 2xx responses (${sent} requests sent)`;
    r.problems.push(problem);
    console.warn(loudWarning([`${r.label}: results not valid`, problem]));
  }
}

/**
 * Decision time for a cached ability (issue #3): `AccessPolicyService.decide` in this process
 * on in-memory facts, default policy, an attending on the care team; each call timed alone.
 */
async function timeDecisions(): Promise<DecisionTiming> {
  const types = loadR4Definitions();
  const none: ActiveAccess = { grants: [], breakGlass: [] };
  const service = new AccessPolicyService(
    new LoadedPolicy(loadPolicy(defaultPolicyPath(), types)),
    new (class extends ActiveAccessSource {
      async activeFor(): Promise<ActiveAccess> {
        return none;
      }
    })(),
    new SystemClock(),
  );
  const actor = { id: 'bench-dr', practitioner: 'Practitioner/bench-dr', roles: ['attending'], department: 'cardiology', scopes: [] };
  const facts: AccessFacts = {
    type: 'Observation',
    id: 'o1',
    patient: 'p1',
    encounter: 'e1',
    encounterClass: 'IMP',
    department: 'cardiology',
    withinCareWindow: true,
    careTeam: ['Practitioner/bench-dr', 'Practitioner/nurse-1'],
    departments: ['cardiology'],
    authors: [],
    docType: [],
    label: 'N',
  };
  for (let i = 0; i < 20_000; i++) await service.decide(actor, 'read', facts);
  const calls = 100_000;
  const samples = new Float64Array(calls);
  for (let i = 0; i < calls; i++) {
    const t = process.hrtime.bigint();
    const d = await service.decide(actor, 'read', facts);
    samples[i] = Number(process.hrtime.bigint() - t) / 1000;
    if (!d.allowed) throw new Error('the timed decision must be an allow');
  }
  samples.sort();
  return { calls, p50Us: round2(samples[Math.floor(calls * 0.5)]), p99Us: round2(samples[Math.floor(calls * 0.99)]) };
}

/**
 * Step 6: cold start on a fresh data dir, then a warm restart on the same dir. When something
 * else on the machine kills the server mid-start (seen: a `pkill` of `dist/src/main.js`), says
 * so and tries once more on a fresh dir.
 */
async function measureStarts(cleanup: Cleanup): Promise<{ cold: StartReport; warm: StartReport }> {
  for (let attempt = 1; ; attempt++) {
    const dir = await tempDir(cleanup, 'chartwarden-bench-cold-');
    const clusterDir = join(dir, 'pg');
    cleanup.add(`stop any PostgreSQL left in ${clusterDir}`, () => waitForOrphan(clusterDir));
    cleanup.addSync(() => void stopOrphanPostgres(clusterDir));
    try {
      const cold = await measureStart(cleanup, 'cold start', dir);
      const warm = await measureStart(cleanup, 'warm restart', dir);
      return { cold, warm };
    } catch (e) {
      if (!(e instanceof ExternalSignalError) || attempt >= 2) throw e;
      console.warn(loudWarning(['Start-up measurement disturbed, trying once more on a fresh data dir:', ...e.message.split('\n').slice(0, 2)]));
      await waitForOrphan(clusterDir);
    }
  }
}

/** Spawns `node dist/src/main.js` with no DATABASE_URL on `dataDir`, times it up and down. */
async function measureStart(cleanup: Cleanup, name: string, dataDir: string): Promise<StartReport> {
  const origin = `http://127.0.0.1:${await freePort()}`;
  log(`${name}: node dist/src/main.js, no DATABASE_URL, CHARTWARDEN_DATA_DIR=${dataDir}`);
  const child = NodeChild.spawn(cleanup, `ChartWarden (${name})`, MAIN_JS, { PORT: new URL(origin).port, CHARTWARDEN_DATA_DIR: dataDir });
  const readyAt = await waitForHttp(`${origin}/fhir/metadata`, child, 60_000, 20);
  const pgReady = child.firstLine(/Embedded PostgreSQL ready/);
  const stop = await child.stop(10_000);
  const clusterDir = join(dataDir, 'pg');
  const postgresStopped = !existsSync(join(clusterDir, 'postmaster.pid'));
  if (!postgresStopped) {
    console.warn(loudWarning([`${name}: PostgreSQL still running after ChartWarden exited; stopping it`]));
    await waitForOrphan(clusterDir);
  }
  const report: StartReport = {
    readyMs: Math.round(readyAt - child.spawnedAt),
    embeddedPostgresReadyMs: pgReady ? Math.round(pgReady.at - child.spawnedAt) : undefined,
    stopMs: Math.round(stop.ms),
    stopForced: stop.forced,
    exitCode: stop.exit.code,
    postgresStopped,
  };
  const pgAt = report.embeddedPostgresReadyMs === undefined ? '?' : fmtInt(report.embeddedPostgresReadyMs);
  log(
    `  ready in ${fmtInt(report.readyMs)} ms (embedded PG ready logged at ${pgAt} ms); SIGTERM → exit ${fmtInt(stop.ms)} ms` +
      `${stop.forced ? ' (KILLED)' : ''}, exit code ${stop.exit.code}, PostgreSQL stopped: ${postgresStopped ? 'yes' : 'NO'}`,
  );
  if (stop.forced || stop.exit.code !== 0) console.warn(loudWarning([`${name}: the server did not stop cleanly on SIGTERM`]) + child.tail(15));
  return report;
}

/** Stops a PostgreSQL left running in `clusterDir` and waits (≤ 10 s) for it to go. */
async function waitForOrphan(clusterDir: string): Promise<void> {
  if (!stopOrphanPostgres(clusterDir)) return;
  const deadline = Date.now() + 10_000;
  while (existsSync(join(clusterDir, 'postmaster.pid')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
}

/** The machine's busy share over `ms`, before anything of the benchmark runs (Linux only). */
async function busyShare(ms: number): Promise<number | undefined> {
  const a = machineCpuMs();
  await new Promise((r) => setTimeout(r, ms));
  const b = machineCpuMs();
  return a && b && b.total > a.total ? round3((b.busy + b.irq - a.busy - a.irq) / (b.total - a.total)) : undefined;
}

/** The scenarios' keys (bench/lib/report.ts). */
type RunKey = ScenarioKey;

/** The searches, each reported as a ratio of the bare search (b2) rather than of the bare read. */
const SEARCHES: ReadonlySet<RunKey> = new Set<RunKey>(['baselineSearch', 'search', 'policySearch', 'openSearch']);

/**
 * Issue #13: "Search (20 of 200, treating doctor): ≥ 0.5 of a bare search reading the same 20
 * rows", judged on (h), the attending on the patient's care team under the default policy;
 * the HIS's (c) is shown beside it.
 */
function bareSearchTargets(s: Partial<Record<RunKey, ScenarioReport>>): Target[] {
  const doctor = s.baselineSearch ? s.policySearch : undefined;
  const his = s.baselineSearch && s.search ? `; (c) HIS ${s.search.ratioToBaseline.toFixed(2)}` : '';
  return [
    {
      name: `search ${Math.min(config.pageSize, config.seed.targetObservations)} of ${config.seed.targetObservations}, treating doctor / bare search`,
      goal: '≥ 0.50',
      measured: doctor ? `(h) ${doctor.ratioToBaseline.toFixed(2)}${his}` : `not measured${his}`,
      pass: doctor ? doctor.ratioToBaseline >= 0.5 : undefined,
    },
  ];
}

/**
 * Where ChartWarden's searchset and the bare one differ, if they do: the matches' ids and
 * order, each resource's content and the total. The bare page must be the same answer.
 */
function pageDifference(cw: Bundle, bare: Bundle): string | undefined {
  const matches = (b: Bundle) => (b.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource as Resource);
  const [ours, theirs] = [matches(cw), matches(bare)];
  const ids = (rs: Resource[]) => rs.map((r) => r.id).join(',');
  if (ids(ours) !== ids(theirs)) return `ids ${ids(ours)} against ${ids(theirs)}`;
  const changed = ours.findIndex((r, i) => canonical(r) !== canonical(theirs[i]));
  if (changed >= 0) return `Observation/${ours[changed].id}:\n  ${canonical(ours[changed])}\n  ${canonical(theirs[changed])}`;
  if (cw.total !== bare.total) return `total ${cw.total} against ${bare.total}`;
  return undefined;
}

function cycle<T>(items: T[]): () => T {
  let i = 0;
  return () => items[i++ % items.length];
}

function parts(raw: string | undefined): Part[] {
  if (!raw) return [...PARTS];
  const list = raw.split(',').map((p) => p.trim()).filter(Boolean);
  const unknown = list.filter((p) => !(PARTS as readonly string[]).includes(p));
  if (unknown.length || list.length === 0) throw new Error(`BENCH_ONLY: unknown part(s) "${unknown.join(', ')}"; use ${PARTS.join(', ')}`);
  return list as Part[];
}

function positive(name: string, fallback: number, zeroOk = false): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || (!zeroOk && n === 0)) throw new Error(`${name} must be a ${zeroOk ? 'non-negative' : 'positive'} number, not "${raw}"`);
  return n;
}

/** HEAD's short hash, `+dirty` when src/ or migrations/ have uncommitted changes (the build measured is the working tree). */
function gitCommit(): string | undefined {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    const changes = git('status', '--porcelain', '--', 'src', 'migrations', 'policy', 'fhir-profiles').split('\n').filter(Boolean);
    const dirty = changes.some((line) => !(line.startsWith('??') && line.endsWith('.spec.ts'))); // new tests are not built
    return `${git('rev-parse', '--short', 'HEAD')}${dirty ? '+dirty' : ''}`;
  } catch {
    return undefined;
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
