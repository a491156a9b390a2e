import { ChartWardenError } from '../common/chartwarden.error.js';

/** Why a request has no identified operator. All map to 401 with issue code `login`. */
export enum IdentityErrorCode {
  MissingToken = 'identity.missing-token',
  InvalidToken = 'identity.invalid-token',
  ExpiredToken = 'identity.expired-token',
}

/** Thrown when a bearer token is missing, malformed, wrongly signed or expired. */
export class IdentityError extends ChartWardenError<IdentityErrorCode> {
  constructor(code: IdentityErrorCode, message: string) {
    super(code, message);
  }
}
