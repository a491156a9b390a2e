import { queryOnce } from './database.js';

/*
 * PostgreSQL's time per statement during a load run (`BENCH_PG_STATEMENTS=1`), from the
 * `pg_stat_statements` extension: which of ChartWarden's statements a request's PostgreSQL CPU
 * goes to, and whether PostgreSQL plans them on each execution or keeps a plan (issue #13: "show
 * the profile of where the time goes"). The server must load the library
 * (`shared_preload_libraries = 'pg_stat_statements'`, and `pg_stat_statements.track_planning = on`
 * for planning times); the bench creates the extension in its database. Off by default: the
 * extension costs PostgreSQL a little on every statement, and the run's CPU figures include it.
 *
 * Execution times are wall-clock inside PostgreSQL: a statement that waits for a lock (a create's
 * audit chain head) counts its wait.
 */

/** One statement's share of a run, per answered request. */
export interface StatementFigure {
  /** Executions per request. */
  calls: number;
  /** Plans made per execution: near 1, planned each time; near 0, a kept plan. */
  plannedShare: number;
  /** Milliseconds per request planning it, and executing it (waits included). */
  planMs: number;
  execMs: number;
  /** The statement's text as PostgreSQL normalised it, its start only. */
  text: string;
}

const available = new Map<string, Promise<string | undefined>>();

/** Why statements cannot be broken down on `url`'s server, or undefined when they can (creating the extension there). */
function unavailable(url: string): Promise<string | undefined> {
  let reason = available.get(url);
  if (!reason) {
    reason = (async () => {
      try {
        await queryOnce(url, 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
        await queryOnce(url, 'SELECT 1 FROM pg_stat_statements LIMIT 1');
        return undefined;
      } catch (e) {
        return (e as Error).message;
      }
    })();
    available.set(url, reason);
    void reason.then((r) => r && console.warn(`[bench] BENCH_PG_STATEMENTS: no statement breakdown on this server (${r}); load pg_stat_statements with shared_preload_libraries`));
  }
  return reason;
}

/** Whether the breakdown was asked for. */
export function statementsAsked(env = process.env): boolean {
  return env.BENCH_PG_STATEMENTS === '1';
}

/** Forgets what the statements of database `name` did so far (before a run's measured window). */
export async function resetStatements(url: string, name: string): Promise<void> {
  if (await unavailable(url)) return;
  await queryOnce(url, 'SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = $1), 0)', [name]);
}

/** The `top` statements of database `name` by PostgreSQL time since the reset, per request of a run of `requests`. */
export async function topStatements(url: string, name: string, requests: number, top = 8): Promise<StatementFigure[] | undefined> {
  if ((await unavailable(url)) || requests === 0) return undefined;
  const rows = await queryOnce<{ calls: string; plans: string; plan_ms: number; exec_ms: number; text: string }>(
    url,
    `SELECT calls, plans, total_plan_time AS plan_ms, total_exec_time AS exec_ms, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS text
       FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1)
      ORDER BY total_plan_time + total_exec_time DESC LIMIT $2`,
    [name, top],
  );
  const round = (n: number) => Number(n.toFixed(3));
  const figures = rows.map((r) => ({
    calls: round(Number(r.calls) / requests),
    plannedShare: Number(r.calls) > 0 ? round(Number(r.plans) / Number(r.calls)) : 0,
    planMs: round(r.plan_ms / requests),
    execMs: round(r.exec_ms / requests),
    text: r.text,
  }));
  // The bench's own statements (its CPU snapshots, this query) run a few times a run: below a microsecond per request.
  return figures.filter((f) => f.planMs + f.execMs >= 0.001);
}

/** The breakdown as log lines, under a run's summary. */
export function statementLines(statements: readonly StatementFigure[]): string[] {
  return [
    '  PostgreSQL by statement, per request (pg_stat_statements; exec includes waits): calls, planned share, plan ms, exec ms, statement',
    ...statements.map((s) => `    ${s.calls.toFixed(2)}  ${s.plannedShare.toFixed(2)}  ${s.planMs.toFixed(3)}  ${s.execMs.toFixed(3)}  ${s.text}`),
  ];
}
