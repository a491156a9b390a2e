import type { Resource } from '@medplum/fhirtypes';
import type { UnitOfWork } from '../database/unit-of-work.js';
import type { WriteScope } from '../store/patient-record-index.port.js';
import type { FhirContext } from './fhir-request.js';

/** A governance step a write is (a signature, a co-signature, an archiving): guards and recorders name it. */
export type WriteStep = 'sign' | 'cosign' | 'archive';

/** A write about to happen, as the write guards see it (inside its transaction, under its locks). */
export interface WriteAttempt {
  /** The incoming version (for a create without its id, unless ChartWarden assigned one). */
  resource: Resource;
  /** True for a create (POST, or a PUT to an id that does not exist yet). */
  creating: boolean;
  /**
   * True for a create whose id ChartWarden mints (a POST, a transaction entry's `urn:uuid`): no
   * record ever had it, so nothing (an inventory line, a grant) can name it yet.
   */
  minted?: boolean;
  step?: WriteStep;
  /** What the store resolved and locked for it: the current version, patient, encounters, signed records. */
  scope: WriteScope;
}

/** A write as it was committed: the stored version, and the patient it belongs to. */
export interface JournaledWrite {
  resource: Resource;
  created: boolean;
  /** An update that changed nothing: no version was added. */
  unchanged?: boolean;
  step?: WriteStep;
  patient?: string;
  /** The version this one replaced (as locked before the write); absent for a create. */
  previous?: Resource;
}

/**
 * A check every write passes before it happens, inside its transaction (ARCHITECTURE "write
 * guards"): throw a `ChartWardenError` that declares its `answer` (status, issue type; its code
 * reaches the caller as `issue.details`) to refuse;
 * nothing is written then. Guards run in order: the legal hold, archive, the edit
 * window, the reason for changing a signed record, copy-paste, then the
 * hospital's own (`ChartWardenModule.forRoot({ writeGuards })`). A guard is never skipped:
 * an error in one refuses the write.
 */
export abstract class WriteGuard {
  abstract check(ctx: FhirContext, attempt: WriteAttempt, unit: UnitOfWork): Promise<void>;
}

/**
 * What must be recorded with a write, after it and in its transaction (R-51: a version and its
 * records commit together or not at all): text fingerprints, the edit ledger, the audit entry.
 */
export abstract class WriteRecorder {
  abstract record(ctx: FhirContext, write: JournaledWrite, unit: UnitOfWork): Promise<void>;
}

/**
 * The ordered write guards (ChartWarden's own, then the hospital's), a frozen list. A private
 * symbol, not `Symbol.for`: code outside ChartWarden cannot name it, so cannot be handed the list;
 * a hospital adds its guards with `ChartWardenModule.forRoot({ writeGuards })`.
 */
export const WRITE_GUARDS = Symbol('chartwarden:write-guards');
/** The ordered write recorders, a frozen list (private symbol, like `WRITE_GUARDS`). */
export const WRITE_RECORDERS = Symbol('chartwarden:write-recorders');
