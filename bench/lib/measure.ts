import { machineCpuMs, type CpuTime, type NodeChild } from './children.js';
import { backendCpu, cpuDelta } from './database.js';
import { runLoad, type LoadResult, type LoadSpec } from './load.js';
import { fmtInt, loudWarning, type ScenarioReport } from './report.js';
import { resetStatements, statementLines, statementsAsked, topStatements, type StatementFigure } from './statements.js';

/** Share of the machine's CPU used by other processes above which a run's figures are flagged as disturbed. */
export const NOISY = 0.1;

/** The processes a run's CPU is charged to. */
export interface Watched {
  /** The process the load hits. */
  server: NodeChild;
  /** The upstream FHIR server behind it, when the run goes through the remote store. */
  upstream?: NodeChild;
  /** The database whose PostgreSQL backends serve the server (and whose CPU is measured). */
  db: { url: string; name: string };
}

type PerRequest = { user: number; sys: number; total: number };

/** One load run's figures: throughput and latency, CPU per request of each watched process, and what makes them untrustworthy. */
export interface RunFigures extends LoadResult {
  serverCpuPerRequestMs?: PerRequest;
  upstreamCpuPerRequestMs?: PerRequest;
  dbCpuPerRequestMs?: PerRequest;
  clientCpuPerRequestMs?: PerRequest;
  otherCpuShare?: number;
  irqCpuShare?: number;
  /** With `BENCH_PG_STATEMENTS=1`: PostgreSQL's time by statement (`statements.ts`). */
  statements?: StatementFigure[];
  problems: string[];
}

const round3 = (n: number) => Number(n.toFixed(3));

/**
 * Runs `spec` (warm-up, then the measured window) and charges the window's CPU to the watched
 * processes: the server, the upstream behind it, PostgreSQL's backends of the database, and this
 * process (autocannon); what the machine spent beyond them is "others". Throws when a watched
 * process is gone at the end.
 */
export async function measuredRun(spec: LoadSpec, watched: Watched): Promise<RunFigures> {
  const { server, upstream, db } = watched;
  let cpuBefore: CpuTime | undefined;
  let cpuAfter: CpuTime | undefined;
  let upstreamBefore: CpuTime | undefined;
  let upstreamAfter: CpuTime | undefined;
  let dbBefore: Map<number, CpuTime> | undefined;
  let dbAfter: Map<number, CpuTime> | undefined;
  let clientBefore: NodeJS.CpuUsage | undefined;
  let client: NodeJS.CpuUsage | undefined;
  let machineBefore: ReturnType<typeof machineCpuMs>;
  let machineAfter: ReturnType<typeof machineCpuMs>;
  const r = await runLoad(spec, {
    before: async () => {
      if (statementsAsked()) await resetStatements(db.url, db.name);
      dbBefore = await backendCpu(db.url, db.name);
      cpuBefore = server.cpuTimeMs();
      upstreamBefore = upstream?.cpuTimeMs();
      clientBefore = process.cpuUsage();
      machineBefore = machineCpuMs();
    },
    after: async () => {
      machineAfter = machineCpuMs();
      client = process.cpuUsage(clientBefore);
      upstreamAfter = upstream?.cpuTimeMs();
      cpuAfter = server.cpuTimeMs();
      dbAfter = await backendCpu(db.url, db.name);
    },
  });
  const statements = statementsAsked() ? await topStatements(db.url, db.name, r.requests) : undefined;
  const perRequest = (d: CpuTime): PerRequest => ({
    user: round3(d.user / r.requests),
    sys: round3(d.sys / r.requests),
    total: round3((d.user + d.sys) / r.requests),
  });
  const processDelta = (a: CpuTime | undefined, b: CpuTime | undefined) =>
    a && b && r.requests > 0 ? perRequest({ user: b.user - a.user, sys: b.sys - a.sys }) : undefined;
  const serverCpuPerRequestMs = processDelta(cpuBefore, cpuAfter);
  const upstreamCpuPerRequestMs = processDelta(upstreamBefore, upstreamAfter);
  const dbCpuPerRequestMs = dbBefore && dbAfter && r.requests > 0 ? perRequest(cpuDelta(dbBefore, dbAfter)) : undefined;
  const clientCpuPerRequestMs = client && r.requests > 0 ? perRequest({ user: client.user / 1000, sys: client.system / 1000 }) : undefined;
  // The machine's process time not spent by the processes measured: other work sharing the cores.
  let otherCpuShare: number | undefined;
  let irqCpuShare: number | undefined;
  if (machineBefore && machineAfter && serverCpuPerRequestMs && dbCpuPerRequestMs && clientCpuPerRequestMs && (!upstream || upstreamCpuPerRequestMs)) {
    const ours = (serverCpuPerRequestMs.total + (upstreamCpuPerRequestMs?.total ?? 0) + dbCpuPerRequestMs.total + clientCpuPerRequestMs.total) * r.requests;
    const total = machineAfter.total - machineBefore.total;
    otherCpuShare = Math.max(0, round3((machineAfter.busy - machineBefore.busy - ours) / total));
    irqCpuShare = round3((machineAfter.irq - machineBefore.irq) / total);
  }
  const problems: string[] = [];
  if (r.non2xx > 0) problems.push(`${r.non2xx} non-2xx responses (${JSON.stringify(r.statusCodes)})`);
  if (r.errors > 0) problems.push(`${r.errors} connection errors (${r.timeouts} timeouts)`);
  if (r.warmup.non2xx > 0 || r.warmup.errors > 0) problems.push(`warm-up: ${r.warmup.non2xx} non-2xx, ${r.warmup.errors} errors`);
  await server.assertRunning();
  await upstream?.assertRunning();
  return { ...r, serverCpuPerRequestMs, upstreamCpuPerRequestMs, dbCpuPerRequestMs, clientCpuPerRequestMs, otherCpuShare, irqCpuShare, statements, problems };
}

/** The log line of a finished run; `against` names what its ratio divides by (`bare read`). */
export function runSummary(report: ScenarioReport, against: string): string {
  const { serverCpuPerRequestMs: server, upstreamCpuPerRequestMs: upstream, dbCpuPerRequestMs: db, clientCpuPerRequestMs: client, otherCpuShare } = report;
  return (
    `  ${fmtInt(report.reqPerSec)} req/s, p50 ${report.latencyMs.p50} ms, p99 ${report.latencyMs.p99} ms, non-2xx ${report.non2xx}, errors ${report.errors}, ` +
    `${report.ratioToBaseline.toFixed(2)} × ${against}` +
    (server ? `; CPU per request: server ${server.total} ms (user ${server.user}, sys ${server.sys})` : '') +
    (upstream ? `, upstream ${upstream.total} ms` : '') +
    (db ? `, PostgreSQL ${db.total} ms` : '') +
    (client ? `, load generator ${client.total} ms` : '') +
    (otherCpuShare !== undefined ? `; other processes used ${Math.round(otherCpuShare * 100)} % of the machine` : '') +
    (report.statements ? `\n${statementLines(report.statements).join('\n')}` : '')
  );
}

/** Warns loudly when a run's figures are not valid, and notes when other processes disturbed it. */
export function warnAbout(report: ScenarioReport): void {
  if (report.problems.length) console.warn(loudWarning([`${report.label}: results not valid`, ...report.problems]));
  if (report.otherCpuShare !== undefined && report.otherCpuShare > NOISY) {
    console.warn(`[bench]   NOTE: other processes used ${Math.round(report.otherCpuShare * 100)} % of the machine's CPU during this run: its figures are low.`);
  }
}
