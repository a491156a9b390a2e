import { ChartWardenError, type ErrorAnswer, type ErrorAnswers } from '../common/chartwarden.error.js';

/** What can go wrong in the grant and break-the-glass workflow. */
export enum GrantErrorCode {
  NotFound = 'grant.not-found',
  /** The grant is not in a state that allows this step (e.g. approving a refused grant). */
  WrongState = 'grant.wrong-state',
  Invalid = 'grant.invalid',
  /** The policy does not let this operator take this step. */
  Forbidden = 'grant.forbidden',
}

/** How each grant code answers. */
const GRANT_ANSWERS: ErrorAnswers<GrantErrorCode> = {
  [GrantErrorCode.NotFound]: { status: 404, issue: 'not-found' },
  [GrantErrorCode.WrongState]: { status: 409, issue: 'conflict' },
  [GrantErrorCode.Invalid]: { status: 400, issue: 'invalid' },
  [GrantErrorCode.Forbidden]: { status: 403, issue: 'forbidden' },
};

/** Thrown by the access workflow. */
export class GrantError extends ChartWardenError<GrantErrorCode> {
  constructor(code: GrantErrorCode, message: string) {
    super(code, message);
  }

  override get answer(): ErrorAnswer {
    return GRANT_ANSWERS[this.code];
  }
}

/**
 * The 403 a grant step answers when the policy does not give the operator its action on
 * `AccessGrant`, for `@Permission.workflow`: the guard's own wording is replaced by
 * the workflow's.
 */
export function grantStepRefused(action: 'request' | 'approve'): () => GrantError {
  return () => new GrantError(GrantErrorCode.Forbidden, `The access policy does not let this operator ${action} grants`);
}

/** The 403 for a break-the-glass review step the policy does not give the operator (R-04: medical affairs). */
export function breakGlassStepRefused(action: 'list' | 'review'): () => GrantError {
  return () => new GrantError(GrantErrorCode.Forbidden, `The access policy does not let this operator ${action} break-the-glass uses`);
}
