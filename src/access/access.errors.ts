import { ChartWardenError } from '../common/chartwarden.error.js';

/** What can go wrong in the grant and break-the-glass workflow. */
export enum GrantErrorCode {
  NotFound = 'grant.not-found',
  /** The grant is not in a state that allows this step (e.g. approving a refused grant). */
  WrongState = 'grant.wrong-state',
  Invalid = 'grant.invalid',
  /** The policy does not let this operator take this step. */
  Forbidden = 'grant.forbidden',
}

/** Thrown by the access workflow. */
export class GrantError extends ChartWardenError<GrantErrorCode> {
  constructor(code: GrantErrorCode, message: string) {
    super(code, message);
  }
}
