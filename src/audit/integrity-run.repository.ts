import { Inject, Injectable } from '@nestjs/common';
import type pg from 'pg';
import { ChartWardenDatabase, type Queryable } from '../database/chartwarden-database.js';
import type { IntegrityBreak, IntegrityKind, IntegrityOutcome, IntegrityRun, RunResult } from './domain/integrity-run.js';

/**
 * Advisory lock key of integrity runs ('CWIR'); the second key is the kind's number. A run
 * holds it on its own session from before it is recorded until it is finished, so "a run is in
 * progress" is "its lock is held", and a run whose process died (its session gone) is seen as
 * abandoned rather than running forever.
 */
const RUN_LOCK = 0x43574952;
const KIND_KEY: Record<IntegrityKind, number> = { audit: 1, ledger: 2 };

/** Whether a session of this database holds the advisory lock ($1, $2) (pg_locks: advisory locks on two int4 keys have objsubid 2). */
const LOCK_HELD = `EXISTS (SELECT 1 FROM pg_locks
                    WHERE locktype = 'advisory' AND granted AND classid = $1::int::oid AND objid = $2::int::oid AND objsubid = 2
                      AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))`;

/** What an abandoned run is closed with. */
const ABANDONED = 'abandoned: the process running it stopped before it finished (found when the next run of this kind started)';

interface RunRow {
  id: string;
  kind: IntegrityKind;
  started_via: 'cli' | 'api';
  started_by: string;
  practitioner: string | null;
  request_id: string | null;
  scope: string | null;
  started_at: Date;
  finished_at: Date | null;
  outcome: IntegrityOutcome | null;
  duration_ms: number | null;
  units_checked: number | null;
  entries_checked: string | null;
  breaks: number | null;
  first_break: IntegrityBreak | null;
  failure: string | null;
}

/**
 * `audit_integrity_run` (issue #18, R-21): the only code that touches it. Works on the module's
 * pool, or on a connection of a run's own (`overClient`): the lock is a session's, so `tryLock`,
 * `begin` and `finish` of one run go through one connection the run keeps open.
 */
@Injectable()
export class IntegrityRunRepository {
  constructor(@Inject(ChartWardenDatabase) private readonly q: Queryable) {}

  /** Over a plain `pg` client (a run's own session). */
  static overClient(client: Pick<pg.ClientBase, 'query'>): IntegrityRunRepository {
    return new IntegrityRunRepository({ query: async <T>(sql: string, parameters?: unknown[]) => (await client.query(sql, parameters)).rows as T[] });
  }

  /** Takes the kind's run lock for this session; false when another session holds it (a run in progress). */
  async tryLock(kind: IntegrityKind): Promise<boolean> {
    const [row] = await this.q.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS locked', [RUN_LOCK, KIND_KEY[kind]]);
    return row.locked;
  }

  /** Whether any session holds the kind's run lock now. */
  async lockHeld(kind: IntegrityKind): Promise<boolean> {
    const [row] = await this.q.query<{ held: boolean }>(`SELECT ${LOCK_HELD} AS held`, [RUN_LOCK, KIND_KEY[kind]]);
    return row.held;
  }

  /** The newest run of `kind` and, read in the same statement, whether the kind's lock is held (an unfinished run is running only then). */
  async latest(kind: IntegrityKind): Promise<{ run: IntegrityRun; lockHeld: boolean } | undefined> {
    const [row] = await this.q.query<RunRow & { lock_held: boolean }>(
      `SELECT r.*, ${LOCK_HELD} AS lock_held FROM audit_integrity_run r WHERE r.kind = $3 ORDER BY r.started_at DESC, r.finished_at DESC NULLS FIRST LIMIT 1`,
      [RUN_LOCK, KIND_KEY[kind], kind],
    );
    return row && { run: toRun(row), lockHeld: row.lock_held };
  }

  /**
   * Closes as failed the unfinished runs of `kind` (their process is gone: the caller holds the
   * kind's lock, which a live run would hold). Returns how many.
   */
  async closeAbandoned(kind: IntegrityKind, at: Date): Promise<number> {
    const rows = await this.q.query(
      `UPDATE audit_integrity_run SET finished_at = greatest($2::timestamptz, started_at), outcome = 'failed', failure = $3
        WHERE kind = $1 AND finished_at IS NULL RETURNING id`,
      [kind, at, ABANDONED],
    );
    return rows.length;
  }

  /** Records a run as it starts (unfinished). */
  async begin(run: IntegrityRun): Promise<void> {
    const by = run.startedBy;
    await this.q.query(
      `INSERT INTO audit_integrity_run (id, kind, started_via, started_by, practitioner, request_id, scope, started_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [run.id, run.kind, by.via, by.id, by.practitioner ?? null, by.requestId ?? null, run.scope ?? null, run.startedAt],
    );
  }

  /** Finishes a run once with its result; false when it was finished already (closed as abandoned meanwhile). */
  async finish(id: string, finishedAt: Date, durationMs: number, result: RunResult): Promise<boolean> {
    const rows = await this.q.query(
      `UPDATE audit_integrity_run
          SET finished_at = $2, duration_ms = $3, outcome = $4, units_checked = $5, entries_checked = $6, breaks = $7, first_break = $8, failure = $9
        WHERE id = $1 AND finished_at IS NULL RETURNING id`,
      [id, finishedAt, Math.max(0, Math.round(durationMs)), result.outcome, result.units ?? null, result.entries ?? null, result.breaks ?? null, result.firstBreak ? JSON.stringify(result.firstBreak) : null, result.failure ?? null],
    );
    return rows.length === 1;
  }

  async byId(id: string): Promise<IntegrityRun | undefined> {
    const [row] = await this.q.query<RunRow>('SELECT * FROM audit_integrity_run WHERE id = $1', [id]);
    return row && toRun(row);
  }

  /** The unfinished run of `kind`, if any (running, or abandoned when no session holds the lock). */
  async unfinished(kind: IntegrityKind): Promise<IntegrityRun | undefined> {
    const [row] = await this.q.query<RunRow>('SELECT * FROM audit_integrity_run WHERE kind = $1 AND finished_at IS NULL', [kind]);
    return row && toRun(row);
  }

  /** The last finished run of `kind`, whatever its scope and outcome. */
  async lastFinished(kind: IntegrityKind): Promise<IntegrityRun | undefined> {
    const [row] = await this.q.query<RunRow>(
      'SELECT * FROM audit_integrity_run WHERE kind = $1 AND finished_at IS NOT NULL ORDER BY started_at DESC, finished_at DESC LIMIT 1',
      [kind],
    );
    return row && toRun(row);
  }

  /** The last run of `kind` that verified everything and found it intact. */
  async lastIntact(kind: IntegrityKind): Promise<IntegrityRun | undefined> {
    const [row] = await this.q.query<RunRow>(
      `SELECT * FROM audit_integrity_run WHERE kind = $1 AND outcome = 'intact' AND scope IS NULL ORDER BY started_at DESC, finished_at DESC LIMIT 1`,
      [kind],
    );
    return row && toRun(row);
  }
}

function toRun(r: RunRow): IntegrityRun {
  const startedBy = { via: r.started_via, id: r.started_by, ...(r.practitioner ? { practitioner: r.practitioner } : {}), ...(r.request_id ? { requestId: r.request_id } : {}) };
  const result: RunResult | undefined = r.outcome
    ? {
        outcome: r.outcome,
        ...(r.units_checked !== null ? { units: r.units_checked } : {}),
        ...(r.entries_checked !== null ? { entries: Number(r.entries_checked) } : {}),
        ...(r.breaks !== null ? { breaks: r.breaks } : {}),
        ...(r.first_break ? { firstBreak: r.first_break } : {}),
        ...(r.failure !== null ? { failure: r.failure } : {}),
      }
    : undefined;
  return {
    id: r.id,
    kind: r.kind,
    startedBy,
    ...(r.scope !== null ? { scope: r.scope } : {}),
    startedAt: r.started_at,
    ...(r.finished_at ? { finishedAt: r.finished_at } : {}),
    ...(r.duration_ms !== null ? { durationMs: r.duration_ms } : {}),
    ...(result ? { result } : {}),
  };
}
