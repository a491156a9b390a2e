import type { Bundle, Resource } from '@medplum/fhirtypes';
import { issueDevToken } from '../../src/identity/dev-token.issuer.js';
import { canonical } from '../../src/store/postgres/stored-content.js';
import type { Cleanup } from './cleanup.js';
import { freePort, NodeChild, tempDir, waitForHttp, waitForLine } from './children.js';
import { openBenchDatabase, queryOnce, type BenchDatabase } from './database.js';
import type { LoadSpec } from './load.js';
import { measuredRun, runSummary, warnAbout, type Watched } from './measure.js';
import { fmtInt, loudWarning, type ScenarioKey, type ScenarioReport, type Target } from './report.js';
import { call, fhirHeaders, seed, type Seeded } from './seed.js';

/**
 * Issue #17's bench: ChartWarden in front of an existing FHIR server (the remote store, decision
 * 0017) against calling that server directly, in the same run, with the same load settings.
 *
 * The upstream is the test peer (`bench/peer-server.ts`: Medplum's router over a memory
 * repository) in its own process, so its CPU is measured apart. ChartWarden runs in remote mode
 * against it, on a database of its own (its copy of every version and the index live there; the
 * other parts' database, and so their figures, are untouched), with the sync off
 * (`CHARTWARDEN_UPSTREAM_SYNC_INTERVAL_SECONDS=0`) so no `_history` polling runs during the load.
 * Everything is seeded through ChartWarden, so the upstream and ChartWarden's index hold the same
 * records under the same ids. Before any load, every Patient read through ChartWarden must equal
 * the upstream's (apart from `meta`: the version ids differ by design), and both servers must
 * find the same Observations for the searched patient; after the load, ChartWarden must hold no
 * version more than before (the reads adopted nothing).
 */
export interface RemoteOptions {
  mainJs: string;
  peerJs: string;
  /** Node options of the children (`--cpu-prof` when profiling). */
  nodeArgs: string[];
  /** The PostgreSQL server to create the database on; embedded PostgreSQL when undefined. */
  adminUrl: string | undefined;
  load: { connections: number; durationSec: number; warmupSec: number };
  patients: number;
  /** The searched patient's Observations. */
  observations: number;
  /** The page both searches ask for (`_count`). */
  pageSize: number;
  log: (message: string) => void;
}

export interface RemoteRun {
  db: BenchDatabase;
  scenarios: ScenarioReport[];
  seed: { patients: number; observations: number; ms: number };
  /** Whether the two servers' first pages hold the same ids (each serves its own order; the full sets are checked equal). */
  samePageIds: boolean;
}

type RemoteKey = Extract<ScenarioKey, 'upstreamRead' | 'remoteRead' | 'upstreamSearch' | 'remoteSearch'>;

const round3 = (n: number) => Number(n.toFixed(3));

/** Starts the peer and ChartWarden in remote mode, seeds, checks, measures (r1)–(r4), and stops both. */
export async function measureRemote(cleanup: Cleanup, o: RemoteOptions): Promise<RemoteRun> {
  const { log } = o;
  const db = await openBenchDatabase(cleanup, o.adminUrl, 'remote');
  log(`remote store: database ${db.name}`);

  const peer = NodeChild.spawn(cleanup, 'fhir-peer', o.peerJs, {}, o.nodeArgs);
  const peerUrl = /FHIR peer listening on (\S+)/.exec((await waitForLine(peer, /FHIR peer listening on \S+/, 30_000)).text)?.[1] as string;
  log(`remote store: the upstream, Medplum's FHIR router over a memory repository (bench/peer-server.ts, pid ${peer.pid}), at ${peerUrl}`);

  const dataDir = await tempDir(cleanup, 'chartwarden-bench-remote-');
  const cwOrigin = `http://127.0.0.1:${await freePort()}`;
  const cw = NodeChild.spawn(
    cleanup,
    'chartwarden-remote',
    o.mainJs,
    {
      PORT: new URL(cwOrigin).port,
      DATABASE_URL: db.url,
      CHARTWARDEN_DATA_DIR: dataDir,
      CHARTWARDEN_UPSTREAM_FHIR_URL: peerUrl,
      CHARTWARDEN_UPSTREAM_SYNC_INTERVAL_SECONDS: '0',
    },
    o.nodeArgs,
  );
  const ready = await waitForHttp(`${cwOrigin}/fhir/metadata`, cw, 60_000, 50);
  log(`remote store: ChartWarden (pid ${cw.pid}) in front of it answered /fhir/metadata ${fmtInt(ready - cw.spawnedAt)} ms after spawn`);
  const token = await issueDevToken(dataDir, { sub: 'bench-his-client', roles: ['his-system'], ttl: '2h' });

  const seeded = await seed(`${cwOrigin}/fhir`, token, {
    patients: o.patients,
    targetObservations: o.observations,
    noiseObservations: 0,
    // Medplum's router refuses a transaction of more than 50 updates, and ChartWarden sends a Bundle's creates upstream as PUTs.
    bundleSize: 50,
    parallel: 2,
    department: 'cardiology',
    clinician: 'Practitioner/bench-dr',
  });
  log(`remote store: seeded ${seeded.patientIds.length} Patients and ${fmtInt(seeded.observations)} Observations of one patient through ChartWarden in ${fmtInt(seeded.ms)} ms`);
  await queryOnce(db.url, 'ANALYZE');

  const runs = new RemoteRuns(o, { cw, peer }, cwOrigin, peerUrl, token, seeded, db);
  await runs.checkSameReads();
  const samePageIds = await runs.checkSameMatches();
  const versionsBefore = await runs.versions();
  await runs.read();
  await runs.search();
  const versionsAfter = await runs.versions();
  if (versionsAfter !== versionsBefore) {
    const problem = `ChartWarden holds ${versionsAfter - versionsBefore} more versions after the reads and searches: they adopted versions, so they measured writes too`;
    for (const r of runs.results) r.problems.push(problem);
    console.warn(loudWarning([problem]));
  } else {
    log(`  check: ChartWarden holds ${fmtInt(versionsAfter)} versions before and after the remote runs (nothing adopted)`);
  }

  const stop = await cw.stop(10_000);
  await peer.stop(5000);
  log(`remote store: ChartWarden stopped ${stop.forced ? 'by SIGKILL after' : 'on SIGTERM in'} ${fmtInt(stop.ms)} ms`);
  if (o.nodeArgs.includes('--cpu-prof')) log(`remote store: CPU profiles of ChartWarden pid ${cw.pid} and the upstream pid ${peer.pid}`);
  return { db, scenarios: runs.results, seed: { patients: seeded.patientIds.length, observations: seeded.observations, ms: seeded.ms }, samePageIds };
}

/**
 * Issue #17: reads through ChartWarden ≥ 0.7 of the upstream's own, with the search's ratio beside
 * it and, when the embedded store's read (b) ran too, the remote read against it: what the
 * adapter itself costs, apart from what ChartWarden costs on any store.
 */
export function remoteTargets(s: Partial<Record<ScenarioKey, ScenarioReport>>): Target[] {
  const search = s.remoteSearch ? `; search (r4) ${s.remoteSearch.ratioToBaseline.toFixed(2)}` : '';
  const embedded = s.remoteRead && s.read && s.read.reqPerSec > 0 ? `; (r2) / embedded read (b) ${(s.remoteRead.reqPerSec / s.read.reqPerSec).toFixed(2)}` : '';
  return [
    {
      name: 'remote store read / upstream read',
      goal: '≥ 0.70',
      measured: s.remoteRead ? `(r2) ${s.remoteRead.ratioToBaseline.toFixed(2)}${search}${embedded}` : 'not measured',
      pass: s.remoteRead ? s.remoteRead.ratioToBaseline >= 0.7 : undefined,
    },
  ];
}

/** (r1)–(r4), each checked before it runs. */
class RemoteRuns {
  readonly results: ScenarioReport[] = [];
  private readonly cwHeaders: Record<string, string>;
  /** The upstream takes no token (the peer runs without one); ChartWarden's calls to it carry none either. */
  private readonly peerHeaders = { accept: 'application/fhir+json' };
  private readonly base: Pick<LoadSpec, 'connections' | 'durationSec' | 'warmupSec'>;
  private readonly direct = { read: 0, search: 0 };

  constructor(
    private readonly o: RemoteOptions,
    private readonly servers: { cw: NodeChild; peer: NodeChild },
    private readonly cwOrigin: string,
    private readonly peerUrl: string,
    token: string,
    private readonly seeded: Seeded,
    private readonly db: BenchDatabase,
  ) {
    const headers = fhirHeaders(token);
    this.cwHeaders = { authorization: headers.authorization, accept: headers.accept };
    this.base = o.load;
  }

  /** Every seeded Patient, read through ChartWarden, is the upstream's (apart from `meta`). */
  async checkSameReads(): Promise<void> {
    for (const id of this.seeded.patientIds) {
      const [ours, theirs] = await Promise.all([
        call('GET', `${this.cwOrigin}/fhir/Patient/${id}`, this.cwHeaders, undefined, [200]),
        call('GET', `${this.peerUrl}/Patient/${id}`, this.peerHeaders, undefined, [200]),
      ]);
      if (content(ours.body) !== content(theirs.body)) {
        throw new Error(`ChartWarden and the upstream answer Patient/${id} differently (meta left out):\n  ${content(ours.body)}\n  ${content(theirs.body)}`);
      }
    }
    this.o.log(`  check: all ${this.seeded.patientIds.length} Patients read through ChartWarden equal the upstream's, apart from meta`);
  }

  /**
   * Both servers find the same Observations for the patient: all of them, compared as sets of ids
   * with the same content (apart from `meta`) and the same total. ChartWarden's are read page by
   * page through its `next` links, as a client reads them (each page brought up to the upstream with
   * one `_id` search). The measured pages are each server's first `pageSize`: ChartWarden orders by
   * its `_lastUpdated` then id, the peer by its own, so the two first pages may hold different ids;
   * the peer's must be the first of its full answer. Says whether the two first pages coincide.
   */
  async checkSameMatches(): Promise<boolean> {
    const n = this.seeded.observations;
    const size = this.o.pageSize;
    const [first, theirs, peerPage] = await Promise.all([this.cwSearch(size), this.peerSearch(n), this.peerSearch(size)]);
    const a: Resource[] = [];
    let pages = 0;
    for (let page: Bundle | undefined = first; page; pages++) {
      a.push(...matches(page));
      const next: string | undefined = page.link?.find((l) => l.relation === 'next')?.url;
      if (pages > n) throw new Error(`ChartWarden's search for ${n} Observations runs past ${pages} pages`);
      page = next ? (await call<Bundle>('GET', next, this.cwHeaders, undefined, [200])).body : undefined;
    }
    const b = matches(theirs);
    if (a.length !== n || b.length !== n || first.total !== n || theirs.total !== n) {
      throw new Error(`the searches found ${a.length} (total ${first.total}) through ChartWarden and ${b.length} (total ${theirs.total}) upstream, expected ${n}`);
    }
    const byId = new Map(b.map((r) => [r.id as string, r]));
    if (new Set(a.map((r) => r.id)).size !== n) throw new Error(`ChartWarden's ${pages} pages repeat an Observation`);
    for (const r of a) {
      const other = byId.get(r.id as string);
      if (!other) throw new Error(`ChartWarden found Observation/${r.id}, the upstream did not`);
      if (content(r) !== content(other)) throw new Error(`Observation/${r.id} differs (meta left out):\n  ${content(r)}\n  ${content(other)}`);
    }
    const want = b.slice(0, size).map((r) => r.id).join();
    const got = matches(peerPage).map((r) => r.id).join();
    if (got !== want) throw new Error(`the upstream's page of ${size} is not the first ${size} of its full answer: ${got} against ${want}`);
    const mine = new Set(matches(first).map((r) => r.id));
    const same = matches(first).length === size && matches(peerPage).every((r) => mine.has(r.id));
    this.o.log(
      `  check: both find the same ${n} Observations (as sets of ids; same content apart from meta; total ${n}; ChartWarden's in ${pages} pages of ${size}); ` +
        `the measured first pages hold ${same ? 'the same ids' : 'different ids (each server has its own order)'}`,
    );
    return same;
  }

  /** (r1) the upstream read by id, directly; (r2) the same reads through ChartWarden, as the HIS. */
  async read(): Promise<void> {
    const ids = this.seeded.patientIds;
    const direct = cycle(ids);
    await this.run('upstreamRead', '(r1) upstream read by id, direct', 'GET <upstream>/Patient/:id (test peer)', {
      ...this.base,
      origin: this.peerUrl,
      method: 'GET',
      path: `/Patient/${ids[0]}`,
      headers: this.peerHeaders,
      next: () => ({ path: `/Patient/${direct()}` }),
    });
    const through = cycle(ids);
    await this.run('remoteRead', '(r2) read by id, remote store', 'GET /fhir/Patient/:id (ChartWarden in front of the peer)', {
      ...this.base,
      origin: this.cwOrigin,
      method: 'GET',
      path: `/fhir/Patient/${ids[0]}`,
      headers: this.cwHeaders,
      next: () => ({ path: `/fhir/Patient/${through()}` }),
    });
  }

  /** (r3) the patient's Observations from the upstream directly; (r4) the same search through ChartWarden. */
  async search(): Promise<void> {
    const page = `${Math.min(this.o.pageSize, this.seeded.observations)} of ${this.seeded.observations}`;
    await this.run('upstreamSearch', '(r3) upstream search, direct', `GET <upstream>/Observation?subject=Patient/X&_count=${this.o.pageSize} (${page})`, {
      ...this.base,
      origin: this.peerUrl,
      method: 'GET',
      path: this.peerSearchPath(this.o.pageSize),
      headers: this.peerHeaders,
    });
    await this.run('remoteSearch', '(r4) search, remote store', `GET /fhir/Observation?patient=X&_count=${this.o.pageSize} (${page})`, {
      ...this.base,
      origin: this.cwOrigin,
      method: 'GET',
      path: this.cwSearchPath(this.o.pageSize),
      headers: this.cwHeaders,
    });
  }

  /** Versions ChartWarden holds (its copy of the upstream's records). */
  async versions(): Promise<number> {
    return (await queryOnce<{ n: number }>(this.db.url, 'SELECT count(*)::int AS n FROM fhir_resource_version'))[0].n;
  }

  private cwSearchPath(count: number): string {
    return `/fhir/Observation?patient=${this.seeded.targetPatientId}&_count=${count}`;
  }

  private peerSearchPath(count: number): string {
    return `/Observation?subject=Patient/${this.seeded.targetPatientId}&_count=${count}`;
  }

  private async cwSearch(count: number): Promise<Bundle> {
    return (await call<Bundle>('GET', `${this.cwOrigin}${this.cwSearchPath(count)}`, this.cwHeaders, undefined, [200])).body;
  }

  private async peerSearch(count: number): Promise<Bundle> {
    return (await call<Bundle>('GET', `${this.peerUrl}${this.peerSearchPath(count)}`, this.peerHeaders, undefined, [200])).body;
  }

  /** A direct run (the upstream under load) sets the ratio's divisor; a run through ChartWarden is divided by it and charges the upstream's CPU too. */
  private async run(key: RemoteKey, label: string, request: string, spec: LoadSpec): Promise<ScenarioReport> {
    this.o.log(`${label}: ${request} …`);
    const kind = key === 'upstreamRead' || key === 'remoteRead' ? 'read' : 'search';
    const direct = key === 'upstreamRead' || key === 'upstreamSearch';
    const watched: Watched = direct ? { server: this.servers.peer, db: this.db } : { server: this.servers.cw, upstream: this.servers.peer, db: this.db };
    const figures = await measuredRun(spec, watched);
    if (direct) this.direct[kind] = figures.reqPerSec;
    const ratioToBaseline = this.direct[kind] > 0 ? round3(figures.reqPerSec / this.direct[kind]) : 0;
    const report: ScenarioReport = { key, label, request, ...figures, ratioToBaseline };
    this.results.push(report);
    this.o.log(runSummary(report, `upstream ${kind}, direct`));
    warnAbout(report);
    return report;
  }
}

/** A resource without `meta`, canonical: ChartWarden's version ids and times are its own (decision 0017, B). */
function content(resource: Resource): string {
  const { meta: _meta, ...rest } = resource;
  return canonical(rest);
}

function matches(bundle: Bundle): Resource[] {
  return (bundle.entry ?? []).filter((e) => e.search?.mode !== 'include' && e.resource?.resourceType === 'Observation').map((e) => e.resource as Resource);
}

function cycle<T>(items: T[]): () => T {
  let i = 0;
  return () => items[i++ % items.length];
}
