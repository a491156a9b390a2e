import { ChartWardenError } from '../common/chartwarden.error.js';

/** Why the access policy refused, or could not start. */
export enum AccessErrorCode {
  /** The policy allows no such action on this record: 403 `forbidden`. */
  Forbidden = 'access.forbidden',
  /** Denied where the policy says existence must not leak: 404 `not-found`. */
  Hidden = 'access.hidden',
  /** Break-the-glass without `X-Break-Glass-Reason`: 400 `required`. */
  BreakGlassReasonMissing = 'access.break-glass-reason-missing',
  /** Break-the-glass by a role the policy does not name: 403 `forbidden`. */
  BreakGlassNotAllowed = 'access.break-glass-not-allowed',
  /** Break-the-glass where no single patient can be told from the request: 400 `invalid`. */
  BreakGlassNeedsPatient = 'access.break-glass-needs-patient',
}

/** Thrown by the access policy and its enforcement. */
export class AccessError extends ChartWardenError<AccessErrorCode> {
  constructor(
    code: AccessErrorCode,
    message: string,
    /** The policy rule that decided, when one did. */
    readonly rule?: string,
  ) {
    super(code, message);
  }
}

/** The policy file is missing or invalid: start-up stops with the exact path and reason. */
export class PolicyLoadError extends Error {}
