import { ChartWardenError, type ErrorAnswer, type ErrorAnswers } from '../common/chartwarden.error.js';

/** What can go wrong when reading or starting integrity runs (issue #18, R-21). */
export enum IntegrityRunErrorCode {
  /** A run of that kind is in progress: one at a time. */
  Running = 'integrity.running',
  NotFound = 'integrity.not-found',
  Invalid = 'integrity.invalid',
  /** The policy does not let this operator read the audit trail as a whole (the auditors' `audit` on `AuditEvent`). */
  Forbidden = 'integrity.forbidden',
}

/** How each code answers. */
const ANSWERS: ErrorAnswers<IntegrityRunErrorCode> = {
  [IntegrityRunErrorCode.Running]: { status: 409, issue: 'conflict' },
  [IntegrityRunErrorCode.NotFound]: { status: 404, issue: 'not-found' },
  [IntegrityRunErrorCode.Invalid]: { status: 400, issue: 'invalid' },
  [IntegrityRunErrorCode.Forbidden]: { status: 403, issue: 'forbidden' },
};

/** Thrown by the integrity runs' use cases and by `recordRun` (the CLI prints its message). */
export class IntegrityRunError extends ChartWardenError<IntegrityRunErrorCode> {
  constructor(code: IntegrityRunErrorCode, message: string) {
    super(code, message);
  }

  override get answer(): ErrorAnswer {
    return ANSWERS[this.code];
  }
}
