import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { Clock } from '../common/clock.js';
import { HospitalTimeZone } from '../common/hospital-time.js';
import { ChartWardenDatabase } from '../database/chartwarden-database.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { AuditTrailAccess } from './audit-trail-access.port.js';
import { INTEGRITY_KINDS, runView, type IntegrityKind, type IntegrityRun, type IntegrityRunView, type RunStatus, type VerificationOf } from './domain/integrity-run.js';
import { runIdSchema } from './dto/integrity-run.dto.js';
import { IntegrityChecks } from './integrity-checks.port.js';
import { IntegrityRunRepository } from './integrity-run.repository.js';
import { beginRun, completeRun } from './integrity-runs.js';
import { IntegrityRunError, IntegrityRunErrorCode } from './integrity.errors.js';

/** What the auditors' console shows of one kind: the run in progress, the last run, the last run that found everything intact. */
export interface IntegrityKindState {
  inProgress: boolean;
  running: IntegrityRunView | null;
  lastRun: IntegrityRunView | null;
  lastIntactRun: IntegrityRunView | null;
}

/** Why a run stopped when the server did. */
const STOPPED = 'the server stopped before the verification finished';

/**
 * The integrity runs as the auditors see and start them (issue #18, R-21, R-12): the state of
 * `audit verify` and `ledger verify`, one run, and starting a run in the background. Who may is
 * the audit trail's access port's answer (the auditors read the whole trail: `audit` on
 * `AuditEvent`), recorded on the request's audit entry, allowed or refused. A run holds its
 * kind's lock on a connection of its own from before it is recorded until it is finished.
 */
@Injectable()
export class IntegrityRunService implements OnApplicationShutdown {
  private static readonly logger = new Logger('Integrity');
  /** Runs this process is doing: stopped (and recorded as failed) when the server shuts down. */
  private readonly inFlight = new Map<string, { abort: AbortController; done: Promise<void> }>();

  constructor(
    private readonly db: ChartWardenDatabase,
    private readonly runs: IntegrityRunRepository,
    private readonly checks: IntegrityChecks,
    private readonly access: AuditTrailAccess,
    private readonly clock: Clock,
    private readonly zone: HospitalTimeZone,
  ) {}

  /** `GET /audit/integrity`: for each kind, the run in progress, the last run and the last intact run over everything. */
  async state(ctx: FhirContext): Promise<Record<IntegrityKind, IntegrityKindState>> {
    this.admit(ctx);
    const states = await Promise.all(
      INTEGRITY_KINDS.map(async (kind): Promise<[IntegrityKind, IntegrityKindState]> => {
        const read = () => Promise.all([this.runs.latest(kind), this.runs.lastFinished(kind), this.runs.lastIntact(kind)]);
        let [latest, finished, intact] = await read();
        // Unfinished with its lock free: abandoned, or finished since it was read (see `statusOf`).
        if (latest && !latest.run.finishedAt && !latest.lockHeld) [latest, finished, intact] = await read();
        const running = latest && !latest.run.finishedAt && latest.lockHeld ? runView(latest.run, 'running') : null;
        // The newest run unless it is the one running: an abandoned run shows as the last one until the next run closes it.
        const last = running ? finished : latest?.run;
        return [
          kind,
          {
            inProgress: running !== null,
            running,
            lastRun: last ? runView(last, statusOf(last, false)) : null,
            lastIntactRun: intact ? runView(intact, 'intact') : null,
          },
        ];
      }),
    );
    return Object.fromEntries(states) as Record<IntegrityKind, IntegrityKindState>;
  }

  /** `GET /audit/integrity/runs/{id}`: one run, running, finished or abandoned. */
  async one(ctx: FhirContext, id: string): Promise<IntegrityRunView> {
    this.admit(ctx);
    const read = async () => (runIdSchema.safeParse(id).success ? await this.runs.byId(id) : undefined);
    let run = await read();
    if (!run) throw new IntegrityRunError(IntegrityRunErrorCode.NotFound, `No integrity run has the id ${JSON.stringify(id.slice(0, 80))}`);
    const held = !run.finishedAt && (await this.runs.lockHeld(run.kind));
    // Unfinished with its lock free: abandoned, or finished since it was read (see `statusOf`).
    if (!run.finishedAt && !held) run = (await read()) ?? run;
    return runView(run, statusOf(run, held));
  }

  /**
   * `POST /audit/integrity/runs`: records a run of `kind` and starts it in the background;
   * answers at once with the run (running). `integrity.running` (409) when one of the kind is
   * in progress, here or in any other process (the CLI, another instance).
   */
  async start(ctx: FhirContext, kind: IntegrityKind): Promise<IntegrityRunView> {
    this.admit(ctx);
    const client = this.db.dedicatedClient(`chartwarden-${kind}-verify-run`);
    client.on('error', () => undefined);
    await client.connect();
    const runs = IntegrityRunRepository.overClient(client);
    let run: IntegrityRun;
    try {
      const startedBy = { via: 'api' as const, id: ctx.actor.id, practitioner: ctx.actor.practitioner, ...(ctx.audit ? { requestId: ctx.audit.requestId } : {}) };
      run = await beginRun(runs, kind, startedBy, undefined, this.clock.now(), this.zone.timeZone);
    } catch (e) {
      await client.end().catch(() => undefined);
      throw e;
    }
    const abort = new AbortController();
    const done = completeRun(runs, { ...run, kind }, () => this.verify(kind, abort.signal), () => this.clock.now())
      .then(
        (report) => {
          if (report.broken) IntegrityRunService.logger.warn(`${kind} verify run ${run.id}: BROKEN — ${report.broken.detail}`);
        },
        (e: unknown) => IntegrityRunService.logger.error(`${kind} verify run ${run.id} could not complete: ${(e as Error).message}`),
      )
      .finally(async () => {
        this.inFlight.delete(run.id);
        await client.end().catch(() => undefined);
      });
    this.inFlight.set(run.id, { abort, done });
    return runView(run, 'running');
  }

  /** Stops the runs in progress; each is recorded as failed (the server stopped) before its connection closes. */
  async onApplicationShutdown(): Promise<void> {
    const running = [...this.inFlight.values()];
    for (const r of running) r.abort.abort();
    await Promise.all(running.map((r) => r.done));
  }

  private async verify<K extends IntegrityKind>(kind: K, signal: AbortSignal): Promise<VerificationOf<K>> {
    try {
      return await this.checks.verify(kind, signal);
    } catch (e) {
      throw signal.aborted ? new Error(STOPPED, { cause: e }) : e;
    }
  }

  /** Integrity runs are the auditors' (R-21): those who read the whole audit trail. The decision is recorded, allowed or refused. */
  private admit(ctx: FhirContext): void {
    const scope = this.access.scopeOf(ctx.actor);
    ctx.audit?.decided(scope.wholeTrail, undefined);
    if (scope.reads !== 'all') {
      throw new IntegrityRunError(
        IntegrityRunErrorCode.Forbidden,
        `The access policy (version ${scope.wholeTrail.policyVersion}) does not let this operator see or start verifications of the audit trail and the edit ledger: ` +
          'they are the auditors\' (audit on AuditEvent, R-21)',
      );
    }
  }
}

/**
 * A run's status: its outcome once finished; while unfinished, running when its lock is held, else
 * abandoned. The row and the lock are read one after the other, and a run writes its result before
 * it lets go of its lock: a run read unfinished whose lock is then found free may have finished in
 * between, so its row is read once more before it is called abandoned (`settled` reads). Without
 * that, a run finishing at the moment it was looked at showed as abandoned.
 */
function statusOf(run: IntegrityRun, lockHeld: boolean): RunStatus {
  if (run.result) return run.result.outcome;
  return lockHeld ? 'running' : 'abandoned';
}
