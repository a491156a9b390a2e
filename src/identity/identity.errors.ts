import { ChartWardenError, type ErrorAnswer } from '../common/chartwarden.error.js';

/** Why a request has no identified operator. All map to 401 with issue code `login`. */
export enum IdentityErrorCode {
  MissingToken = 'identity.missing-token',
  InvalidToken = 'identity.invalid-token',
  ExpiredToken = 'identity.expired-token',
  /** A token without `exp`: never accepted, whatever its signature. */
  NoExpiry = 'identity.no-expiry',
  /** A token whose lifetime (`exp` − `iat`) exceeds the configured maximum. */
  LifetimeTooLong = 'identity.lifetime-too-long',
}

/** Every identity code's answer: 401 `login`, with the challenge RFC 6750 asks of a bearer-token server. */
const UNIDENTIFIED: ErrorAnswer = { status: 401, issue: 'login', headers: { 'WWW-Authenticate': 'Bearer realm="chartwarden"' } };

/** Thrown when a bearer token is missing, malformed, wrongly signed or expired. */
export class IdentityError extends ChartWardenError<IdentityErrorCode> {
  constructor(code: IdentityErrorCode, message: string) {
    super(code, message);
  }

  override get answer(): ErrorAnswer {
    return UNIDENTIFIED;
  }
}
