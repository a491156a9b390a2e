import { ChartWardenError } from '../common/chartwarden.error.js';

/** What edit governance refuses (issue #4, R-10…R-18). */
export enum GovernanceErrorCode {
  /** A document that is already final (signed) changed without `X-Edit-Reason`: 422 `business-rule`. */
  ReasonRequired = 'governance.reason-required',
  /** An update after the operator's edit window closed, or with no window for their roles: 422 `business-rule`. */
  EditWindowClosed = 'governance.edit-window-closed',
  /** `$changes` asked for versions the document does not have: 404 `not-found`. */
  VersionNotFound = 'governance.version-not-found',
}

/** Thrown by edit governance. */
export class GovernanceError extends ChartWardenError<GovernanceErrorCode> {
  constructor(code: GovernanceErrorCode, message: string) {
    super(code, message);
  }
}
