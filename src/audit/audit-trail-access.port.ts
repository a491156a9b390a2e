import type { Actor } from '../identity/actor.js';
import type { RecordedDecision } from './request-audit.js';

/** Why a read of the trail is refused: the operator may not read it, or must name one patient. */
export type AuditTrailRefusal = 'not-allowed' | 'one-patient-at-a-time';

/**
 * What of the audit trail one operator reads, as the access policy decides it.
 * The trail applies it and records the decisions; it never decides by itself.
 */
export interface AuditTrailScope {
  /**
   * `all`: every entry (the auditors). `one-patient`: the accounting of accesses to one named
   * patient at a time ("who looked at my record", the record room). `nothing`: no entry.
   */
  reads: 'all' | 'one-patient' | 'nothing';
  /** The policy's decision on reading the whole trail, as the trail records it. */
  wholeTrail: RecordedDecision;
  /** The policy's decision on reading one patient's accounting, as the trail records it. */
  accounting: RecordedDecision;
  /** The error a read outside the scope answers with (403, in the policy's words and code). */
  refusal(why: AuditTrailRefusal): Error;
}

/**
 * Port: who reads what of the trail. The access feature implements it with the policy
 * (audit knows nothing of the policy, ARCHITECTURE.md); the root module binds it, as it binds
 * `FhirAccess`.
 */
export abstract class AuditTrailAccess {
  /** The part of the trail `actor` reads under the policy in force. */
  abstract scopeOf(actor: Actor): AuditTrailScope;
}
