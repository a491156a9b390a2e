import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { packageRoot } from '../src/common/package-root.js';
import { settingsFromEnv } from '../src/config/env.config.js';
import { freePort } from '../src/database/embedded-postgres.launcher.js';
import { issueDevToken } from '../src/identity/dev-token.issuer.js';
import { canonical } from '../src/store/postgres/postgres-fhir.store.js';
import { Cleanup, installSignalHandlers } from './lib/cleanup.js';
import { NodeChild, tempDir, waitForHttp } from './lib/children.js';
import { openBenchDatabase, queryOnce, stopOrphanPostgres, type BenchDatabase } from './lib/database.js';
import { heartRate, updatedPatient } from './lib/fixtures.js';
import { runLoad, type LoadSpec } from './lib/load.js';
import {
  evaluateTargets,
  fmtInt,
  loudWarning,
  scenarioTable,
  startTable,
  targetTable,
  type ScenarioKey,
  type ScenarioReport,
  type StartReport,
} from './lib/report.js';
import { call, fhirHeaders, seed, type Seeded } from './lib/seed.js';

/**
 * `npm run bench`: ChartWarden's throughput, latency and start-up, against a bare
 * `node:http` + `pg` server reading the same rows in the same run. See BENCHMARKS.md.
 *
 * Env: DATABASE_URL (else embedded PostgreSQL), BENCH_DURATION (s, 10), BENCH_WARMUP (s, 2),
 * BENCH_CONNECTIONS (32), BENCH_CPU_PROF (a dir: the load-test server runs with --cpu-prof).
 */

const ROOT = packageRoot(import.meta.url);
const MAIN_JS = join(ROOT, 'dist/src/main.js');
const BARE_JS = join(ROOT, 'dist/bench/bare-server.js');
const RESULTS = join(ROOT, 'bench/results/latest.json');

const config = {
  durationSec: positive('BENCH_DURATION', 10),
  warmupSec: positive('BENCH_WARMUP', 2, true),
  connections: positive('BENCH_CONNECTIONS', 32),
  cpuProfDir: process.env.BENCH_CPU_PROF || undefined,
  /** ChartWarden's default pool size, so the baseline gets the same number of connections. */
  poolSize: settingsFromEnv({}).options.databasePoolSize,
  seed: { patients: 200, targetObservations: 20, noiseObservations: 2000, bundleSize: 100, parallel: 2 },
  /** PUT cycles over this many Patients (not the search target), distinct ones in flight. */
  updatePatients: 50,
};

const log = (m: string) => console.log(`[bench] ${m}`);

async function main(): Promise<number> {
  const cleanup = new Cleanup();
  installSignalHandlers(cleanup);
  const started = performance.now();
  try {
    return await bench(cleanup);
  } catch (e) {
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
  log(`machine: ${machine.nproc} cores (${machine.cpu}), ${machine.memoryGiB} GiB, Node ${machine.node}`);
  log(`load: ${config.connections} connections, ${config.warmupSec} s warm-up + ${config.durationSec} s per scenario; DB pool ${config.poolSize} in both servers`);

  // 1. Database
  const db = await openBenchDatabase(cleanup, process.env.DATABASE_URL || undefined);
  log(`database: ${db.name} on ${db.mode === 'external' ? 'DATABASE_URL server' : 'embedded PostgreSQL'} (PostgreSQL ${db.serverVersion})`);

  // 2. ChartWarden as a child process
  const dataDir = await tempDir(cleanup, 'chartwarden-bench-data-');
  const cwOrigin = `http://127.0.0.1:${await freePort()}`;
  const nodeArgs = config.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${config.cpuProfDir}`] : [];
  const cw = NodeChild.spawn(
    cleanup,
    'chartwarden',
    MAIN_JS,
    { PORT: new URL(cwOrigin).port, DATABASE_URL: db.url, CHARTWARDEN_DATA_DIR: dataDir },
    nodeArgs,
  );
  const cwReady = await waitForHttp(`${cwOrigin}/fhir/metadata`, cw, 60_000, 50);
  log(`ChartWarden (pid ${cw.pid}) answered /fhir/metadata after ${fmtInt(cwReady - cw.spawnedAt)} ms (migrations on a fresh database)`);
  const token = await issueDevToken(dataDir, {
    sub: 'bench-operator',
    roles: ['physician'],
    department: 'cardiology',
    licence: 'licensed',
    fhirUser: 'Practitioner/bench-operator',
    ttl: '2h',
  });
  const headers = fhirHeaders(token);
  const getHeaders = { authorization: headers.authorization, accept: headers.accept };

  // 3. Seed
  const seeded = await seed(`${cwOrigin}/fhir`, token, config.seed);
  log(`seeded ${seeded.patientIds.length} Patients and ${fmtInt(seeded.observations)} Observations in ${fmtInt(seeded.ms)} ms (transaction Bundles of ${config.seed.bundleSize})`);

  // 4. Baseline server on the same database
  const bareOrigin = `http://127.0.0.1:${await freePort()}`;
  const bare = NodeChild.spawn(cleanup, 'bare-server', BARE_JS, {
    PORT: new URL(bareOrigin).port,
    DATABASE_URL: db.url,
    BARE_POOL_SIZE: String(config.poolSize),
  });
  await waitForHttp(`${bareOrigin}/Patient/${seeded.patientIds[0]}`, bare, 30_000, 50);
  await checkSameRows(cwOrigin, bareOrigin, getHeaders, seeded);

  // 5. Load
  const scenarios = await measureScenarios({ cwOrigin, bareOrigin, headers, getHeaders, seeded, db });

  const cwStop = await cw.stop(10_000);
  await bare.stop(5000);
  log(`load-test ChartWarden stopped ${cwStop.forced ? 'by SIGKILL after' : 'on SIGTERM in'} ${fmtInt(cwStop.ms)} ms`);
  if (config.cpuProfDir) log(`CPU profile of the load-test server written to ${config.cpuProfDir}`);

  // 6. Cold start and warm restart with embedded PostgreSQL
  const coldDir = await tempDir(cleanup, 'chartwarden-bench-cold-');
  cleanup.add('stop any PostgreSQL left in the cold-start dir', () => waitForOrphan(join(coldDir, 'pg')));
  const cold = await measureStart(cleanup, 'cold start', coldDir);
  const warm = await measureStart(cleanup, 'warm restart', coldDir);

  // 7. Report
  const byKey = Object.fromEntries(scenarios.map((s) => [s.key, s])) as Record<ScenarioKey, ScenarioReport>;
  const targets = evaluateTargets(byKey, cold);
  const problems = scenarios.flatMap((s) => s.problems.map((p) => `${s.label}: ${p}`));
  console.log('');
  console.log(`ChartWarden benchmark — ${machine.nproc} cores, Node ${machine.node}, PostgreSQL ${db.serverVersion} (${db.mode}), ${config.connections} connections, ${config.durationSec} s each`);
  console.log('');
  console.log(scenarioTable(scenarios));
  console.log('');
  console.log(startTable([['cold start (fresh data dir)', cold], ['warm restart (same dir)', warm]]));
  console.log('');
  console.log(targetTable(targets));
  console.log('');
  const missed = targets.filter((t) => !t.pass);
  console.log(missed.length === 0 ? 'All targets met.' : `${missed.length} of ${targets.length} targets MISSED: ${missed.map((t) => t.name).join('; ')}`);
  if (problems.length) {
    console.log('');
    console.log(loudWarning(['THESE FIGURES ARE NOT VALID: requests failed or checks did not hold', ...problems]));
  }

  await mkdir(join(ROOT, 'bench/results'), { recursive: true });
  const json = {
    generatedAt: new Date().toISOString(),
    command: 'npm run bench',
    commit: gitCommit(),
    machine,
    database: { mode: db.mode, serverVersion: db.serverVersion },
    config: { ...config, seed: { ...config.seed } },
    seed: { patients: seeded.patientIds.length, observations: seeded.observations, ms: seeded.ms },
    scenarios: byKey,
    start: { cold, warm, loadTestServerStopMs: cwStop.ms },
    targets,
    valid: problems.length === 0,
    problems,
  };
  await writeFile(RESULTS, JSON.stringify(json, null, 2) + '\n');
  log(`results written to ${relative(process.cwd(), RESULTS) || RESULTS}`);
  return problems.length ? 2 : 0;
}

interface ScenarioContext {
  cwOrigin: string;
  bareOrigin: string;
  headers: Record<string, string>;
  getHeaders: Record<string, string>;
  seeded: Seeded;
  db: BenchDatabase;
}

async function measureScenarios(c: ScenarioContext): Promise<ScenarioReport[]> {
  const { cwOrigin, bareOrigin, headers, getHeaders, seeded, db } = c;
  const ids = seeded.patientIds;
  const base = { connections: config.connections, durationSec: config.durationSec, warmupSec: config.warmupSec };
  const cycle = <T>(items: T[]) => {
    let i = 0;
    return () => items[i++ % items.length];
  };
  const out: ScenarioReport[] = [];
  let baselineRps = 0;
  const run = async (key: ScenarioKey, label: string, request: string, spec: LoadSpec) => {
    log(`${label}: ${request} …`);
    const r = await runLoad(spec);
    const problems: string[] = [];
    if (r.non2xx > 0) problems.push(`${r.non2xx} non-2xx responses (${JSON.stringify(r.statusCodes)})`);
    if (r.errors > 0) problems.push(`${r.errors} connection errors (${r.timeouts} timeouts)`);
    if (r.warmup.non2xx > 0 || r.warmup.errors > 0) problems.push(`warm-up: ${r.warmup.non2xx} non-2xx, ${r.warmup.errors} errors`);
    if (key === 'baselineRead') baselineRps = r.reqPerSec;
    const report: ScenarioReport = { key, label, request, ...r, ratioToBaseline: baselineRps > 0 ? r.reqPerSec / baselineRps : 0, problems };
    out.push(report);
    log(
      `  ${fmtInt(r.reqPerSec)} req/s, p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, non-2xx ${r.non2xx}, errors ${r.errors}, ` +
        `${report.ratioToBaseline.toFixed(2)} × baseline`,
    );
    if (problems.length) console.warn(loudWarning([`${label}: results not valid`, ...problems]));
  };

  // (a) baseline: bare node:http + pg
  const nextBare = cycle(ids);
  await run('baselineRead', '(a) baseline bare read by id', 'GET /Patient/:id (node:http + pg)', {
    ...base,
    origin: bareOrigin,
    method: 'GET',
    path: `/Patient/${ids[0]}`,
    headers: getHeaders,
    next: () => ({ path: `/Patient/${nextBare()}` }),
  });

  // (b) ChartWarden read by id
  const nextRead = cycle(ids);
  await run('read', '(b) ChartWarden read by id', 'GET /fhir/Patient/:id', {
    ...base,
    origin: cwOrigin,
    method: 'GET',
    path: `/fhir/Patient/${ids[0]}`,
    headers: getHeaders,
    next: () => ({ path: `/fhir/Patient/${nextRead()}` }),
  });

  // (c) search: one patient's 20 Observations
  const searchPath = `/fhir/Observation?patient=${seeded.targetPatientId}`;
  const found = await call<Bundle>('GET', `${cwOrigin}${searchPath}`, getHeaders, undefined, [200]);
  const hits = (found.body.entry ?? []).filter((e) => e.search?.mode !== 'include').length;
  if (hits !== config.seed.targetObservations || found.body.total !== config.seed.targetObservations) {
    throw new Error(`${searchPath} found ${hits} entries (total ${found.body.total}), expected ${config.seed.targetObservations}`);
  }
  await run('search', '(c) search Observation?patient=X', `GET /fhir/Observation?patient=X (${hits} hits)`, {
    ...base,
    origin: cwOrigin,
    method: 'GET',
    path: searchPath,
    headers: getHeaders,
  });

  // (d) create
  const observationBody = JSON.stringify(heartRate(ids[1], 7));
  const countObservations = async () =>
    (await queryOnce<{ n: number }>(db.url, "SELECT count(*)::int AS n FROM fhir_resource WHERE resource_type = 'Observation'"))[0].n;
  await call('POST', `${cwOrigin}/fhir/Observation`, headers, JSON.parse(observationBody), [201]);
  const observationsBefore = await countObservations();
  await run('create', '(d) create Observation', 'POST /fhir/Observation', {
    ...base,
    origin: cwOrigin,
    method: 'POST',
    path: '/fhir/Observation',
    headers,
    body: observationBody,
  });
  const create = out[out.length - 1];
  const createResponses = create.requests - create.non2xx + create.warmup.requests - create.warmup.non2xx;
  const observationsAdded = (await countObservations()) - observationsBefore;
  if (observationsAdded !== createResponses) {
    create.problems.push(`${observationsAdded} Observations stored for ${createResponses} 2xx responses`);
  }

  // (e) update (PUT, no If-Match) of a small set of Patients, each PUT a new version
  const updateSet = ids.slice(-config.updatePatients).map((id, i) => ({ id, n: ids.length - config.updatePatients + i }));
  const nextUpdate = cycle(updateSet);
  let revision = 0;
  const firstUpdate = await call<Resource>('PUT', `${cwOrigin}/fhir/Patient/${updateSet[0].id}`, headers, updatedPatient(updateSet[0].n, updateSet[0].id, revision++), [200]);
  if (firstUpdate.body.meta?.versionId !== '2') throw new Error(`a PUT of a seeded Patient answered version ${firstUpdate.body.meta?.versionId}, expected 2`);
  const countPatientVersions = async () =>
    (await queryOnce<{ n: number }>(db.url, "SELECT count(*)::int AS n FROM fhir_resource_version WHERE resource_type = 'Patient'"))[0].n;
  const versionsBefore = await countPatientVersions();
  await run('update', `(e) update Patient (${config.updatePatients} ids)`, 'PUT /fhir/Patient/:id (no If-Match)', {
    ...base,
    origin: cwOrigin,
    method: 'PUT',
    path: `/fhir/Patient/${updateSet[0].id}`,
    headers,
    next: () => {
      const p = nextUpdate();
      return { path: `/fhir/Patient/${p.id}`, body: JSON.stringify(updatedPatient(p.n, p.id, revision++)) };
    },
  });
  const update = out[out.length - 1];
  const updateResponses = update.requests - update.non2xx + update.warmup.requests - update.warmup.non2xx;
  const versionsAdded = (await countPatientVersions()) - versionsBefore;
  if (versionsAdded !== updateResponses) update.problems.push(`${versionsAdded} Patient versions written for ${updateResponses} 2xx responses`);

  for (const s of [create, update]) if (s.problems.length) console.warn(loudWarning([`${s.label}: results not valid`, ...s.problems]));
  return out;
}

/** The baseline must serve the very rows ChartWarden serves. */
async function checkSameRows(cwOrigin: string, bareOrigin: string, headers: Record<string, string>, seeded: Seeded): Promise<void> {
  for (const id of [seeded.patientIds[0], seeded.patientIds[seeded.patientIds.length - 1]]) {
    const a = await call('GET', `${cwOrigin}/fhir/Patient/${id}`, headers, undefined, [200]);
    const b = await call('GET', `${bareOrigin}/Patient/${id}`, headers, undefined, [200]);
    if (canonical(a.body) !== canonical(b.body)) {
      throw new Error(`the baseline server returned different content for Patient/${id}:\n  ${canonical(a.body)}\n  ${canonical(b.body)}`);
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
    readyMs: readyAt - child.spawnedAt,
    embeddedPostgresReadyMs: pgReady ? pgReady.at - child.spawnedAt : undefined,
    stopMs: stop.ms,
    stopForced: stop.forced,
    exitCode: stop.exit.code,
    postgresStopped,
  };
  log(
    `  ready in ${fmtInt(report.readyMs)} ms (embedded PG ready at ${report.embeddedPostgresReadyMs === undefined ? '?' : fmtInt(report.embeddedPostgresReadyMs)} ms); ` +
      `SIGTERM → exit ${fmtInt(stop.ms)} ms${stop.forced ? ' (KILLED)' : ''}, exit code ${stop.exit.code}, PostgreSQL stopped: ${postgresStopped ? 'yes' : 'NO'}`,
  );
  if (stop.forced || stop.exit.code !== 0) console.warn(loudWarning([`${name}: the server did not stop cleanly on SIGTERM`, child.tail(15)]));
  return report;
}

/** Stops a PostgreSQL left running in `clusterDir` and waits (≤ 10 s) for it to go. */
async function waitForOrphan(clusterDir: string): Promise<void> {
  if (!stopOrphanPostgres(clusterDir)) return;
  const deadline = Date.now() + 10_000;
  while (existsSync(join(clusterDir, 'postmaster.pid')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
}

function positive(name: string, fallback: number, zeroOk = false): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || (!zeroOk && n === 0)) throw new Error(`${name} must be a ${zeroOk ? 'non-negative' : 'positive'} number, not "${raw}"`);
  return n;
}

function gitCommit(): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
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
