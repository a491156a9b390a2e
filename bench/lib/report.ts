import type { StatementFigure } from './statements.js';
import type { LoadResult } from './load.js';

export type ScenarioKey =
  | 'baselineRead'
  | 'baselineSearch'
  | 'read'
  | 'search'
  | 'create'
  | 'update'
  | 'policyRead'
  | 'openRead'
  | 'policySearch'
  | 'openSearch'
  | 'unauditedRead'
  | 'upstreamRead'
  | 'remoteRead'
  | 'upstreamSearch'
  | 'remoteSearch';

/** The copy-paste check (issue #4, R-16): time added to a write of a 10 KB note. */
export interface CopyPasteTiming {
  documents: number;
  fingerprints: number;
  noteBytes: number;
  p50Ms: number;
  p99Ms: number;
}

/** The legal hold (issue #7, R-41): time the hold check adds to a write, with many sealed cases on record. */
export interface HoldTiming {
  sealedCases: number;
  sealedLines: number;
  updateP50Ms: number;
  updateP99Ms: number;
  createP50Ms: number;
  createP99Ms: number;
}

/** Rendering a certified copy (issue #6, R-33): a 20-page PDF with the Chinese font, stamp and footer hash. */
export interface PdfTiming {
  pages: number;
  p50Ms: number;
  p99Ms: number;
}

/** The audit trail's own figures (issue #5), measured in the bench process against the bench database. */
export interface AuditTiming {
  /** 64 concurrent appenders, each awaiting its entry: durable entries per second. */
  appendClients: number;
  appendPerSec: number;
  appendP99Ms: number;
  /** Average entries per group-commit transaction during that run. */
  entriesPerCommit: number;
  /** `audit verify` over every entry the run left: entries and entries per second. */
  verifyEntries: number;
  verifyPerSec: number;
  verifyMs: number;
}

/** `AccessPolicyService.decide` timed in process, for an ability already cached (issue #3). */
export interface DecisionTiming {
  calls: number;
  p50Us: number;
  p99Us: number;
}

export interface ScenarioReport extends LoadResult {
  key: ScenarioKey;
  label: string;
  request: string;
  /**
   * This scenario's req/s divided by the same-run bare read's (searches: the bare search's; the
   * remote store's (r2), (r4): the upstream called directly, (r1), (r3)).
   */
  ratioToBaseline: number;
  /** CPU time per answered request of the process the load hits (ChartWarden, a baseline, or the upstream called directly), measured window only (Linux). */
  serverCpuPerRequestMs?: { user: number; sys: number; total: number };
  /** The remote store's runs through ChartWarden: CPU time per answered request of the upstream FHIR server behind it (the test peer's process). */
  upstreamCpuPerRequestMs?: { user: number; sys: number; total: number };
  /** CPU time of the PostgreSQL backends serving the bench database, per answered request (local server only). */
  dbCpuPerRequestMs?: { user: number; sys: number; total: number };
  /** CPU time of this process (autocannon) per answered request: it shares the machine too. */
  clientCpuPerRequestMs?: { user: number; sys: number; total: number };
  /** Share (0–1) of the machine's CPU used by processes other than those measured, during the run. */
  otherCpuShare?: number;
  /** Share (0–1) of the machine's CPU spent in interrupts/softirqs (mostly this run's loopback traffic). */
  irqCpuShare?: number;
  /** With `BENCH_PG_STATEMENTS=1`: PostgreSQL's time by statement, per request (`statements.ts`). */
  statements?: StatementFigure[];
  /** Problems that make the figure untrustworthy (non-2xx, errors, failed checks). */
  problems: string[];
}

export interface StartReport {
  /** Spawn until GET /fhir/metadata answered. */
  readyMs: number;
  /** Spawn until the "Embedded PostgreSQL ready" log line (initdb/start + CREATE DATABASE). */
  embeddedPostgresReadyMs?: number;
  /** SIGTERM until the process exited. */
  stopMs: number;
  stopForced: boolean;
  exitCode: number | null;
  /** The embedded cluster's postmaster.pid was gone after the exit (PostgreSQL stopped too). */
  postgresStopped: boolean;
}

export interface Target {
  name: string;
  goal: string;
  measured: string;
  /** undefined: not measured in this run (BENCH_ONLY). */
  pass: boolean | undefined;
}

export function evaluateTargets(
  s: Partial<Record<ScenarioKey, ScenarioReport>>,
  cold: StartReport | undefined,
  decision?: DecisionTiming,
  audit?: AuditTiming,
  copyPaste?: CopyPasteTiming,
  hold?: HoldTiming,
  pdf?: PdfTiming,
): Target[] {
  const ratio = (a: ScenarioReport | undefined, b: ScenarioReport | undefined) => (a && b && b.reqPerSec > 0 ? a.reqPerSec / b.reqPerSec : undefined);
  const policyRead = ratio(s.policyRead, s.openRead);
  const policySearch = ratio(s.policySearch, s.openSearch);
  const auditedRead = ratio(s.read, s.unauditedRead);
  const rps = (r: ScenarioReport) => `${fmtInt(r.reqPerSec)} req/s`;
  const check = <T>(value: T | undefined, measured: (v: T) => string, pass: (v: T) => boolean) =>
    value === undefined ? { measured: 'not measured', pass: undefined } : { measured: measured(value), pass: pass(value) };
  return [
    { name: 'read throughput, 32 conn', goal: '≥ 2,500 req/s', ...check(s.read, rps, (r) => r.reqPerSec >= 2500) },
    { name: 'read p99, 32 conn', goal: '≤ 25 ms', ...check(s.read, (r) => `${r.latencyMs.p99} ms`, (r) => r.latencyMs.p99 <= 25) },
    { name: 'create throughput', goal: '≥ 700 req/s', ...check(s.create, rps, (r) => r.reqPerSec >= 700) },
    { name: 'search throughput (20 hits)', goal: '≥ 800 req/s', ...check(s.search, rps, (r) => r.reqPerSec >= 800) },
    { name: 'cold start (embedded PG)', goal: '≤ 5.0 s', ...check(cold, (c) => `${(c.readyMs / 1000).toFixed(2)} s`, (c) => c.readyMs <= 5000) },
    {
      name: 'SIGTERM exit after cold start',
      goal: '≤ 5.0 s, clean',
      ...check(
        cold,
        (c) => `${(c.stopMs / 1000).toFixed(2)} s${c.stopForced ? ' (KILLED)' : ''}${c.postgresStopped ? '' : ', PG left running'}`,
        (c) => c.stopMs <= 5000 && !c.stopForced && c.postgresStopped && c.exitCode === 0,
      ),
    },
    { name: 'north star: read / baseline', goal: '≥ 0.60', ...check(s.read, (r) => r.ratioToBaseline.toFixed(2), (r) => r.ratioToBaseline >= 0.6) },
    { name: 'policy read / policy open (10 % visible)', goal: '≥ 0.80', ...check(policyRead, (v) => v.toFixed(2), (v) => v >= 0.8) },
    { name: 'policy search / policy open (10 % visible)', goal: '≥ 0.70', ...check(policySearch, (v) => v.toFixed(2), (v) => v >= 0.7) },
    { name: 'decision, cached ability, p99', goal: '≤ 50 µs', ...check(decision, (d) => `p50 ${d.p50Us} µs, p99 ${d.p99Us} µs`, (d) => d.p99Us <= 50) },
    { name: 'read audited / read unaudited', goal: '≥ 0.70', ...check(auditedRead, (v) => v.toFixed(2), (v) => v >= 0.7) },
    {
      name: 'audit entries/s, 64 concurrent clients',
      goal: '≥ 5,000/s',
      ...check(audit, (a) => `${fmtInt(a.appendPerSec)}/s (${a.entriesPerCommit.toFixed(1)} per commit, p99 ${a.appendP99Ms} ms)`, (a) => a.appendPerSec >= 5000),
    },
    {
      name: 'copy-paste check, 10 KB note, 100k docs',
      goal: '≤ 5 ms added',
      ...check(copyPaste, (c) => `p50 ${c.p50Ms} ms, p99 ${c.p99Ms} ms`, (c) => c.p50Ms <= 5),
    },
    {
      name: 'legal-hold check per write, 2k sealed cases',
      goal: 'p99 ≤ 1 ms',
      ...check(hold, (h) => `update p50 ${h.updateP50Ms} / p99 ${h.updateP99Ms} ms; create p50 ${h.createP50Ms} / p99 ${h.createP99Ms} ms`, (h) => Math.max(h.updateP99Ms, h.createP99Ms) <= 1),
    },
    {
      name: 'certified copy PDF, 20 pages',
      goal: 'p50 ≤ 500 ms',
      ...check(pdf, (t) => `${t.pages} pages: p50 ${t.p50Ms} ms, p99 ${t.p99Ms} ms`, (t) => t.p50Ms <= 500),
    },
    { name: 'audit verify speed', goal: '≥ 200,000 entries/s', ...check(audit, (a) => `${fmtInt(a.verifyPerSec)}/s (${fmtInt(a.verifyEntries)} entries)`, (a) => a.verifyPerSec >= 200_000) },
  ];
}

/** One row per scenario; the "upstream" column only when a run went through the remote store. */
export function scenarioTable(rows: ScenarioReport[]): string {
  const upstream = rows.some((r) => r.upstreamCpuPerRequestMs);
  const ms = (cpu: { total: number } | undefined) => (cpu ? `${cpu.total.toFixed(3)} ms` : '-');
  return table(
    ['scenario', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'errors', 'requests', '× baseline', 'CPU/req: server', ...(upstream ? ['upstream'] : []), 'DB', 'autocannon', 'others'],
    rows.map((r) => [
      r.label,
      fmtInt(r.reqPerSec),
      String(r.latencyMs.p50),
      String(r.latencyMs.p99),
      String(r.non2xx),
      String(r.errors),
      fmtInt(r.requests),
      r.ratioToBaseline.toFixed(2),
      ms(r.serverCpuPerRequestMs),
      ...(upstream ? [ms(r.upstreamCpuPerRequestMs)] : []),
      ms(r.dbCpuPerRequestMs),
      ms(r.clientCpuPerRequestMs),
      r.otherCpuShare === undefined ? '-' : `${Math.round(r.otherCpuShare * 100)} %`,
    ]),
    [false, true, true, true, true, true, true, true, true, ...(upstream ? [true] : []), true, true, true],
  );
}

export function targetTable(targets: Target[]): string {
  return table(
    ['target', 'goal', 'measured', 'result'],
    targets.map((t) => [t.name, t.goal, t.measured, t.pass === undefined ? 'n/a' : t.pass ? 'PASS' : 'MISS']),
    [false, false, true, false],
  );
}

export function startTable(rows: [string, StartReport][]): string {
  return table(
    ['start', 'ready (metadata)', 'embedded PG ready', 'SIGTERM → exit', 'exit code', 'PG stopped'],
    rows.map(([name, r]) => [
      name,
      `${fmtInt(r.readyMs)} ms`,
      r.embeddedPostgresReadyMs === undefined ? '-' : `${fmtInt(r.embeddedPostgresReadyMs)} ms`,
      `${fmtInt(r.stopMs)} ms${r.stopForced ? ' (KILLED)' : ''}`,
      String(r.exitCode),
      r.postgresStopped ? 'yes' : 'NO',
    ]),
    [false, true, true, true, true, false],
  );
}

/** A loud box, for figures that cannot be trusted. */
export function loudWarning(lines: string[]): string {
  const width = Math.max(...lines.map((l) => l.length)) + 4;
  const bar = '!'.repeat(width);
  return [bar, ...lines.map((l) => `! ${l.padEnd(width - 4)} !`), bar].join('\n');
}

export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function table(header: string[], rows: string[][], rightAlign: boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (rightAlign[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
