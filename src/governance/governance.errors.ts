import { ChartWardenError, type ErrorAnswer, type ErrorAnswers } from '../common/chartwarden.error.js';

/** What edit governance refuses (issue #4, R-10…R-18). */
export enum GovernanceErrorCode {
  /** A document that is already final (signed) changed without `X-Edit-Reason`: 422 `business-rule`. */
  ReasonRequired = 'governance.reason-required',
  /** An update after the operator's edit window closed, or with no window for their roles: 422 `business-rule`. */
  EditWindowClosed = 'governance.edit-window-closed',
  /** `$sign` of a document the operator is not an author of: 403 `forbidden`. */
  NotAuthor = 'governance.not-author',
  /** `$sign` by an intern, probationer or unapproved visiting doctor: the document waits for a co-signature: 422 `business-rule`. */
  CosignRequired = 'governance.cosign-required',
  /** `$cosign` by a physician not licensed at this hospital: 403 `forbidden`. */
  CosignerNotLicensed = 'governance.cosigner-not-licensed',
  /** `$sign` of a document written by an intern, probationer or visiting doctor: it is co-signed: 409 `conflict`. */
  AwaitingCosign = 'governance.awaiting-cosign',
  /** `$cosign` of a document its (licensed) author signs with `$sign`: 409 `conflict`. */
  NotAwaitingCosign = 'governance.not-awaiting-cosign',
  /** `$sign` of a document already final: 409 `conflict`. */
  AlreadySigned = 'governance.already-signed',
  /** A governance operation on a resource type the policy does not govern: 400 `not-supported`. */
  NotGoverned = 'governance.not-governed',
  /** An amendment request without a reason: 400 `required`. */
  ReasonMissing = 'governance.reason-missing',
  AmendmentNotFound = 'governance.amendment-not-found',
  /** The amendment is not waiting for this step (decided already): 409 `conflict`. */
  AmendmentWrongState = 'governance.amendment-wrong-state',
  /** The policy does not let this operator decide amendments, or they asked for it themselves: 403 `forbidden`. */
  AmendmentForbidden = 'governance.amendment-forbidden',
  /** A document of an archived encounter changed without a medical-affairs-approved amendment: 422 `business-rule`. */
  Archived = 'governance.archived',
  /** `$archive` refused: not discharged, documents unsigned, already archived: 409 `conflict`. */
  NotArchivable = 'governance.not-archivable',
  /** `$archive` of an inpatient encounter by someone who is not a senior physician: 403 `forbidden`. */
  SeniorReviewRequired = 'governance.senior-review-required',
  /** Text copied from another patient's record: 422 `business-rule`. */
  CopiedFromOtherPatient = 'governance.copied-from-other-patient',
  /** `$changes` asked for versions the document does not have: 404 `not-found`. */
  VersionNotFound = 'governance.version-not-found',
}

/** How each governance code answers (as each code's comment says). */
const GOVERNANCE_ANSWERS: ErrorAnswers<GovernanceErrorCode> = {
  [GovernanceErrorCode.ReasonRequired]: { status: 422, issue: 'business-rule' },
  [GovernanceErrorCode.EditWindowClosed]: { status: 422, issue: 'business-rule' },
  [GovernanceErrorCode.CosignRequired]: { status: 422, issue: 'business-rule' },
  [GovernanceErrorCode.Archived]: { status: 422, issue: 'business-rule' },
  [GovernanceErrorCode.CopiedFromOtherPatient]: { status: 422, issue: 'business-rule' },
  [GovernanceErrorCode.NotArchivable]: { status: 409, issue: 'conflict' },
  [GovernanceErrorCode.SeniorReviewRequired]: { status: 403, issue: 'forbidden' },
  [GovernanceErrorCode.NotAuthor]: { status: 403, issue: 'forbidden' },
  [GovernanceErrorCode.CosignerNotLicensed]: { status: 403, issue: 'forbidden' },
  [GovernanceErrorCode.AmendmentForbidden]: { status: 403, issue: 'forbidden' },
  [GovernanceErrorCode.AlreadySigned]: { status: 409, issue: 'conflict' },
  [GovernanceErrorCode.NotAwaitingCosign]: { status: 409, issue: 'conflict' },
  [GovernanceErrorCode.AwaitingCosign]: { status: 409, issue: 'conflict' },
  [GovernanceErrorCode.AmendmentWrongState]: { status: 409, issue: 'conflict' },
  [GovernanceErrorCode.ReasonMissing]: { status: 400, issue: 'required' },
  [GovernanceErrorCode.AmendmentNotFound]: { status: 404, issue: 'not-found' },
  [GovernanceErrorCode.NotGoverned]: { status: 400, issue: 'not-supported' },
  [GovernanceErrorCode.VersionNotFound]: { status: 404, issue: 'not-found' },
};

/** Thrown by edit governance. */
export class GovernanceError extends ChartWardenError<GovernanceErrorCode> {
  constructor(code: GovernanceErrorCode, message: string) {
    super(code, message);
  }

  override get answer(): ErrorAnswer {
    return GOVERNANCE_ANSWERS[this.code];
  }
}
