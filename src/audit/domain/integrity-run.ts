/**
 * Integrity runs (issue #18, R-21, R-12, R-17): each time the audit trail's chains (`audit
 * verify`) or the edit ledger (`ledger verify`) are verified, what was checked and how it ended
 * is kept as evidence, so an auditor sees when the records were last proven intact. Pure: what a
 * verifier's report means for the run, and how a run reads in the API.
 */

/** Which verification: the audit trail's hash chains, or the edit ledger's chains and the versions they record. */
export const INTEGRITY_KINDS = ['audit', 'ledger'] as const;
export type IntegrityKind = (typeof INTEGRITY_KINDS)[number];

/** How a run ended: every link checked and sound; a break found; or the check could not complete (database gone, stopped). */
export const INTEGRITY_OUTCOMES = ['intact', 'broken', 'failed'] as const;
export type IntegrityOutcome = (typeof INTEGRITY_OUTCOMES)[number];

/** Who started a run: the admin CLI (the operating-system user) or an auditor through the API. */
export interface IntegrityStarter {
  via: 'cli' | 'api';
  /** The CLI's `user@host`, or the token's subject. */
  id: string;
  /** The auditor's `Practitioner/<id>` (API runs). */
  practitioner?: string;
  /** The `X-Request-Id` of the request that started it: its audit entry (API runs). */
  requestId?: string;
}

/**
 * The first break a verifier found. Kept as the verifier reported it, with where it is
 * (`ChainBreak`: chain and seq; `LedgerBreak`: document and version).
 */
export interface IntegrityBreak {
  problem: string;
  detail: string;
}

/** What a run keeps of `audit verify`'s report (`VerifyReport`). */
export interface AuditVerification {
  chains: readonly { broken?: unknown }[];
  entries: number;
  broken?: IntegrityBreak;
}

/** What a run keeps of `ledger verify`'s report (`LedgerReport`). */
export interface LedgerVerification {
  documents: number;
  entries: number;
  broken?: IntegrityBreak;
  breaks: readonly unknown[];
}

/** The report of a kind's verifier. */
export type VerificationOf<K extends IntegrityKind> = K extends 'audit' ? AuditVerification : LedgerVerification;

/** How a run ended, as recorded once it finished. */
export interface RunResult {
  outcome: IntegrityOutcome;
  /** Chains (audit) or documents (ledger) checked; absent when the run failed. */
  units?: number;
  /** Entries (audit) or versions (ledger) checked; absent when the run failed. */
  entries?: number;
  /** How many chains or documents are broken (broken runs). */
  breaks?: number;
  firstBreak?: IntegrityBreak;
  /** Why the run could not complete (failed runs). */
  failure?: string;
}

/** One run as recorded. `scope`: what was verified when not everything (`since …`, one document). */
export interface IntegrityRun {
  id: string;
  kind: IntegrityKind;
  startedBy: IntegrityStarter;
  scope?: string;
  startedAt: Date;
  finishedAt?: Date;
  durationMs?: number;
  result?: RunResult;
}

/** A run's state as shown: running (its process holds the run), finished by its outcome, or abandoned (unfinished, its process gone). */
export type RunStatus = 'running' | 'abandoned' | IntegrityOutcome;

/** What a verifier's report means for the run: broken when it names a first break, intact otherwise. */
export function resultOf<K extends IntegrityKind>(kind: K, report: VerificationOf<K>): RunResult {
  const units = kind === 'audit' ? (report as AuditVerification).chains.length : (report as LedgerVerification).documents;
  if (!report.broken) return { outcome: 'intact', units, entries: report.entries };
  const broken = kind === 'audit' ? (report as AuditVerification).chains.filter((c) => c.broken).length : (report as LedgerVerification).breaks.length;
  // A break not tied to one chain or document (a checkpoint's) still counts as one.
  return { outcome: 'broken', units, entries: report.entries, breaks: Math.max(1, broken), firstBreak: { ...report.broken } };
}

/** A run that could not complete: the error's message, never its stack. */
export function failedResult(error: unknown): RunResult {
  const message = error instanceof Error ? error.message : String(error);
  return { outcome: 'failed', failure: message.trim() || 'the verification stopped without saying why' };
}

/** The ISO 8601 instant of a date (UTC, `Z`), as every ChartWarden API answers instants. */
const iso = (d: Date | undefined): string | undefined => d?.toISOString();

/** A run as the API answers it: counts named for its kind (chains and entries, documents and versions). */
export function runView(run: IntegrityRun, status: RunStatus) {
  const r = run.result;
  const checked =
    r?.units === undefined || r.entries === undefined
      ? undefined
      : run.kind === 'audit'
        ? { chains: r.units, entries: r.entries }
        : { documents: r.units, versions: r.entries };
  return {
    id: run.id,
    kind: run.kind,
    status,
    scope: run.scope ?? 'everything',
    startedBy: run.startedBy,
    startedAt: iso(run.startedAt),
    finishedAt: iso(run.finishedAt),
    durationMs: run.durationMs,
    checked,
    breaks: r?.breaks,
    firstBreak: r?.firstBreak,
    failure: r?.failure,
  };
}

/** One run in the API's words (`runView`). */
export type IntegrityRunView = ReturnType<typeof runView>;
