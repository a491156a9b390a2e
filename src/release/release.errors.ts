import { ChartWardenError, type ErrorAnswer, type ErrorAnswers } from '../common/chartwarden.error.js';

/** What the release-of-information workflow refuses (issue #6, R-30…R-34). */
export enum ReleaseErrorCode {
  /** A request body that is not a valid copy request, delivery or decision: 400 `invalid`. */
  Invalid = 'copy.invalid',
  /** The evidence the requester type needs is not all there: 422 `business-rule`, listing what is missing. */
  EvidenceMissing = 'copy.evidence-missing',
  /** An evidence file that is not a PDF, JPEG or PNG (by its bytes), or not what its Content-Type says: 415 `not-supported`. Too large: the body limit's 413. */
  EvidenceType = 'copy.evidence-type',
  /** Subjective documents asked for by a requester: 422 `business-rule`. */
  SubjectiveRefused = 'copy.subjective-refused',
  /** The requester type does not fit the patient: heirs for a deceased patient, the patient or agent for a living one: 422 `business-rule`. */
  RequesterMismatch = 'copy.requester-mismatch',
  /** Nothing of the scope is complete and copyable yet: 422 `business-rule`. */
  NothingToProduce = 'copy.nothing-to-produce',
  /** The recipient is not the requester (identity checked again at delivery): 422 `business-rule`. */
  RecipientMismatch = 'copy.recipient-mismatch',
  /** A produced copy holds a record this office may no longer copy (withheld under a dispute since, R-44): 403 `forbidden`. */
  Withheld = 'copy.withheld',
  /** The operator may not handle copy requests (record room), or print/export this record: 403 `forbidden`. */
  Forbidden = 'copy.forbidden',
  /** Separation of duties (policy `copyRequests.separationOfDuties`, default on): the approver received or verified the request: 403 `forbidden`. */
  SeparationOfDuties = 'copy.separation-of-duties',
  /** The request is not in the state the step needs: 409 `conflict`. */
  WrongState = 'copy.wrong-state',
  NotFound = 'copy.not-found',
}

/** How each release code answers (as each code's comment says). */
const RELEASE_ANSWERS: ErrorAnswers<ReleaseErrorCode> = {
  [ReleaseErrorCode.Invalid]: { status: 400, issue: 'invalid' },
  [ReleaseErrorCode.EvidenceMissing]: { status: 422, issue: 'business-rule' },
  [ReleaseErrorCode.SubjectiveRefused]: { status: 422, issue: 'business-rule' },
  [ReleaseErrorCode.NothingToProduce]: { status: 422, issue: 'business-rule' },
  [ReleaseErrorCode.RecipientMismatch]: { status: 422, issue: 'business-rule' },
  [ReleaseErrorCode.RequesterMismatch]: { status: 422, issue: 'business-rule' },
  [ReleaseErrorCode.EvidenceType]: { status: 415, issue: 'not-supported' },
  [ReleaseErrorCode.Forbidden]: { status: 403, issue: 'forbidden' },
  [ReleaseErrorCode.Withheld]: { status: 403, issue: 'forbidden' },
  [ReleaseErrorCode.SeparationOfDuties]: { status: 403, issue: 'forbidden' },
  [ReleaseErrorCode.WrongState]: { status: 409, issue: 'conflict' },
  [ReleaseErrorCode.NotFound]: { status: 404, issue: 'not-found' },
};

/** Thrown by copy requests, printing and export. */
export class ReleaseError extends ChartWardenError<ReleaseErrorCode> {
  constructor(code: ReleaseErrorCode, message: string) {
    super(code, message);
  }

  override get answer(): ErrorAnswer {
    return RELEASE_ANSWERS[this.code];
  }
}
