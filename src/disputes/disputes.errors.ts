import { ChartWardenError, type ErrorAnswer, type ErrorAnswers } from '../common/chartwarden.error.js';

/** What the disputes workflow refuses (issue #7, R-40…R-44). */
export enum DisputeErrorCode {
  /** A write to a record sealed under a dispute: 423 `business-rule`, naming the case (decision 0008). */
  Sealed = 'disputes.sealed',
  /** A request body that is not a valid case, witness or unseal basis: 400 `invalid`. */
  Invalid = 'disputes.invalid',
  /** Sealing or unsealing without both sides' confirmations (R-40, R-43): 422 `business-rule`, listing what is missing. */
  ConfirmationMissing = 'disputes.confirmation-missing',
  /** A confirmation by someone the policy does not let be the hospital side's witness (`witness` on Dispute, R-40/R-43): 403 `forbidden`. */
  WitnessRejected = 'disputes.witness-rejected',
  /** The officer who opened or acts on the case confirming as its own witness: 422 `business-rule`, at once. */
  SelfWitness = 'disputes.self-witness',
  /** The inventory differs from the one the witness confirmed (a record changed meanwhile): 409 `conflict`; confirm again. */
  InventoryChanged = 'disputes.inventory-changed',
  /** The operator may not open, seal, unseal or see disputes: 403 `forbidden`. */
  Forbidden = 'disputes.forbidden',
  /** A unilateral unseal without medical affairs' approval, or before the policy's clock has run (R-43): 422 `business-rule`. */
  UnsealNotAllowed = 'disputes.unseal-not-allowed',
  /** The case is not in the state the step needs (sealing a sealed case, supplementing an open one): 409 `conflict`. */
  WrongState = 'disputes.wrong-state',
  NotFound = 'disputes.not-found',
  /** The patient side's drawn signature is not a base64 PNG (checked by its bytes): 400 `invalid`, nothing stored. */
  SignatureInvalid = 'disputes.signature-invalid',
  /** The patient side's drawn signature is larger than `MAX_SIGNATURE_BYTES`: 413 `too-long`, nothing stored. */
  SignatureTooLarge = 'disputes.signature-too-large',
}

/** How each disputes code answers. A sealed record answers 423 Locked, not 409: a HIS retries a 409 after re-reading, and no re-read lifts a legal hold (decision 0008). */
const DISPUTE_ANSWERS: ErrorAnswers<DisputeErrorCode> = {
  [DisputeErrorCode.Sealed]: { status: 423, issue: 'business-rule' },
  [DisputeErrorCode.Invalid]: { status: 400, issue: 'invalid' },
  [DisputeErrorCode.ConfirmationMissing]: { status: 422, issue: 'business-rule' },
  [DisputeErrorCode.UnsealNotAllowed]: { status: 422, issue: 'business-rule' },
  [DisputeErrorCode.SelfWitness]: { status: 422, issue: 'business-rule' },
  [DisputeErrorCode.WitnessRejected]: { status: 403, issue: 'forbidden' },
  [DisputeErrorCode.Forbidden]: { status: 403, issue: 'forbidden' },
  [DisputeErrorCode.WrongState]: { status: 409, issue: 'conflict' },
  [DisputeErrorCode.InventoryChanged]: { status: 409, issue: 'conflict' },
  [DisputeErrorCode.NotFound]: { status: 404, issue: 'not-found' },
  [DisputeErrorCode.SignatureInvalid]: { status: 400, issue: 'invalid' },
  [DisputeErrorCode.SignatureTooLarge]: { status: 413, issue: 'too-long' },
};

/** Thrown by the disputes workflow and its write guard. */
export class DisputeError extends ChartWardenError<DisputeErrorCode> {
  constructor(code: DisputeErrorCode, message: string) {
    super(code, message);
  }

  override get answer(): ErrorAnswer {
    return DISPUTE_ANSWERS[this.code];
  }
}

/**
 * How the reading routes refuse an operator the policy does not let see cases (`list` on
 * Dispute, R-40), for `@Permission.workflow`: the feature's own wording, not the guard's.
 */
export const casesRefused = (): DisputeError => new DisputeError(DisputeErrorCode.Forbidden, 'Dispute cases are seen by the disputes office and medical affairs (R-40)');
