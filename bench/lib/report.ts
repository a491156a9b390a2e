import type { LoadResult } from './load.js';

export type ScenarioKey = 'baselineRead' | 'read' | 'search' | 'create' | 'update';

export interface ScenarioReport extends LoadResult {
  key: ScenarioKey;
  label: string;
  request: string;
  /** This scenario's req/s divided by the baseline read's, same run. */
  ratioToBaseline: number;
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
  pass: boolean;
}

export function evaluateTargets(s: Record<ScenarioKey, ScenarioReport>, cold: StartReport | undefined): Target[] {
  const rps = (n: number) => `${fmtInt(n)} req/s`;
  const targets: Target[] = [
    { name: 'read throughput, 32 conn', goal: '≥ 2,500 req/s', measured: rps(s.read.reqPerSec), pass: s.read.reqPerSec >= 2500 },
    { name: 'read p99, 32 conn', goal: '≤ 25 ms', measured: `${s.read.latencyMs.p99} ms`, pass: s.read.latencyMs.p99 <= 25 },
    { name: 'create throughput', goal: '≥ 700 req/s', measured: rps(s.create.reqPerSec), pass: s.create.reqPerSec >= 700 },
    { name: 'search throughput (20 hits)', goal: '≥ 800 req/s', measured: rps(s.search.reqPerSec), pass: s.search.reqPerSec >= 800 },
    {
      name: 'cold start (embedded PG)',
      goal: '≤ 5.0 s',
      measured: cold ? `${(cold.readyMs / 1000).toFixed(2)} s` : 'not measured',
      pass: cold !== undefined && cold.readyMs <= 5000,
    },
    {
      name: 'SIGTERM exit after cold start',
      goal: '≤ 5.0 s, clean',
      measured: cold ? `${(cold.stopMs / 1000).toFixed(2)} s${cold.stopForced ? ' (KILLED)' : ''}${cold.postgresStopped ? '' : ', PG left running'}` : 'not measured',
      pass: cold !== undefined && cold.stopMs <= 5000 && !cold.stopForced && cold.postgresStopped && cold.exitCode === 0,
    },
    {
      name: 'north star: read / baseline',
      goal: '≥ 0.60',
      measured: s.read.ratioToBaseline.toFixed(2),
      pass: s.read.ratioToBaseline >= 0.6,
    },
  ];
  return targets;
}

export function scenarioTable(rows: ScenarioReport[]): string {
  return table(
    ['scenario', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'errors', 'requests', '× baseline'],
    rows.map((r) => [
      r.label,
      fmtInt(r.reqPerSec),
      String(r.latencyMs.p50),
      String(r.latencyMs.p99),
      String(r.non2xx),
      String(r.errors),
      fmtInt(r.requests),
      r.ratioToBaseline.toFixed(2),
    ]),
    [false, true, true, true, true, true, true, true],
  );
}

export function targetTable(targets: Target[]): string {
  return table(
    ['target', 'goal', 'measured', 'result'],
    targets.map((t) => [t.name, t.goal, t.measured, t.pass ? 'PASS' : 'MISS']),
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
