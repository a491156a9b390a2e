import { randomUUID } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { hospitalTimeNamed } from '../common/hospital-time.js';
import { withOfflineClient } from '../database/offline-connection.js';
import { failedResult, resultOf, type IntegrityKind, type IntegrityRun, type IntegrityStarter, type VerificationOf } from './domain/integrity-run.js';
import { IntegrityRunRepository } from './integrity-run.repository.js';
import { IntegrityRunError, IntegrityRunErrorCode } from './integrity.errors.js';

/**
 * A verification run's life, the same from the CLI and from the API (issue #18, R-21, R-12):
 * `beginRun` takes the kind's lock on the run's own session and records the run unfinished;
 * `completeRun` runs the check and finishes the run with what it found, or as failed when it
 * could not complete. `recordRun` is both around a CLI command's check.
 */

/** What a run of `kind` is called in messages. */
const VERIFY: Record<IntegrityKind, string> = { audit: 'audit verify', ledger: 'ledger verify' };

/**
 * Starts a run on `runs`' session: takes the kind's lock (held until the session ends), closes
 * runs of the kind whose process died, and records this one unfinished. Throws
 * `IntegrityRunError` `integrity.running` when a run of the kind is in progress elsewhere,
 * saying when that one started on the clock of `timeZone` (people read it: the auditors' console shows it).
 */
export async function beginRun(
  runs: IntegrityRunRepository,
  kind: IntegrityKind,
  startedBy: IntegrityStarter,
  scope: string | undefined,
  now: Date,
  timeZone: string,
): Promise<IntegrityRun> {
  if (!(await runs.tryLock(kind))) {
    const other = await runs.unfinished(kind);
    throw new IntegrityRunError(
      IntegrityRunErrorCode.Running,
      `Another ${VERIFY[kind]} run is in progress` +
        (other ? ` (run ${other.id}, started ${hospitalTimeNamed(other.startedAt, timeZone)} by ${other.startedBy.id} from the ${other.startedBy.via})` : '') +
        ': one run of a kind at a time; wait for it to finish',
    );
  }
  await runs.closeAbandoned(kind, now);
  const run: IntegrityRun = { id: randomUUID(), kind, startedBy, ...(scope ? { scope: scope.slice(0, 200) } : {}), startedAt: now };
  await runs.begin(run);
  return run;
}

/**
 * Runs `check` for the begun `run` and finishes it (on `runs`, the session that began it):
 * intact or broken from the report, failed when `check` throws (the error is thrown on). Returns
 * the report as the check gave it.
 */
export async function completeRun<K extends IntegrityKind, R extends VerificationOf<K>>(
  runs: IntegrityRunRepository,
  run: IntegrityRun & { kind: K },
  check: () => Promise<R>,
  now: () => Date,
): Promise<R> {
  let report: R;
  try {
    report = await check();
  } catch (e) {
    const at = now();
    // The check's error is the news; a run that cannot be finished now is closed as abandoned by the next one.
    await runs.finish(run.id, at, at.getTime() - run.startedAt.getTime(), failedResult(e)).catch(() => undefined);
    throw e;
  }
  const at = now();
  await runs.finish(run.id, at, at.getTime() - run.startedAt.getTime(), resultOf(run.kind, report));
  return report;
}

/**
 * Records a CLI verification (`chartwarden audit verify`, `ledger verify`) around `run`, the
 * command's own check, on a connection of its own to `url`: the run is recorded before the check
 * starts and finished with its outcome. Returns `run`'s report unchanged; a failed check is
 * recorded as failed and its error thrown on. Throws `IntegrityRunError` (`integrity.running`)
 * without checking when a run of the kind is in progress. `scope`: what the command verifies when
 * not everything (`since 2026-11-01T00:00:00.000Z`, `Composition/123`); `timeZone`: the clock
 * a refusal states the other run's start on (default UTC, named as such: the CLI need not load the policy).
 */
export async function recordRun<K extends IntegrityKind, R extends VerificationOf<K>>(
  url: string,
  kind: K,
  startedBy: IntegrityStarter,
  run: () => Promise<R>,
  options: { scope?: string; timeZone?: string } = {},
): Promise<R> {
  return withOfflineClient(url, `chartwarden-${kind}-verify-run`, async (client) => {
    const runs = IntegrityRunRepository.overClient(client);
    const begun = await beginRun(runs, kind, startedBy, options.scope, new Date(), options.timeZone ?? 'UTC');
    return completeRun(runs, { ...begun, kind }, run, () => new Date());
  });
}

/** Who starts a CLI run: the operating-system user at this host (`user@host`). */
export function cliStarter(): IntegrityStarter {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry for the uid (some containers): the environment's word, else the uid.
    user = process.env.USER ?? process.env.LOGNAME ?? `uid-${process.getuid?.() ?? 'unknown'}`;
  }
  return { via: 'cli', id: `${user}@${hostname()}`.slice(0, 128) };
}
