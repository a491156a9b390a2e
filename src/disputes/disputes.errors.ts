import { ChartWardenError } from '../common/chartwarden.error.js';

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
}

/** Thrown by the disputes workflow and its write guard. */
export class DisputeError extends ChartWardenError<DisputeErrorCode> {
  constructor(code: DisputeErrorCode, message: string) {
    super(code, message);
  }
}

/**
 * How the reading routes refuse an operator the policy does not let see cases (`list` on
 * Dispute, R-40), for `@Permission.workflow`: the feature's own wording, not the guard's.
 */
export const casesRefused = (): DisputeError => new DisputeError(DisputeErrorCode.Forbidden, 'Dispute cases are seen by the disputes office and medical affairs (R-40)');
