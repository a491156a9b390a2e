import type { Actor } from '../identity/actor.js';
import type { AuditEntry } from './domain/audit-entry.js';
import type { Interaction } from './domain/interaction.js';

/** A decision as the trail records it (the policy's `Decision`, without depending on the policy module). */
export interface RecordedDecision {
  allowed: boolean;
  rule?: string;
  policyVersion: string;
  breakGlassId?: string;
  grantId?: string;
}

/**
 * What one HTTP request has done so far, as the audit trail will record it. Created
 * by the audit middleware before anything else runs; features add to it as they decide
 * (`decided`), find patients (`concerns`) or write (`journaled`). The recorder turns it into
 * entries when the response is ready, and the response waits for them to be durable.
 */
export class RequestAudit {
  actor?: Actor;
  /** What the request is, from its method and path; features may refine it (`as`). */
  interaction: Interaction | undefined;
  /** The first decision that refused, else the last that allowed: the one that explains the outcome. */
  decision?: RecordedDecision;
  /** The patient of the first refused decision: a refused attempt is recorded against it. */
  attemptedPatient?: string;
  /** Patients whose records the request touched (allowed decisions, search results), in order. */
  readonly patients = new Set<string>();
  /** Set when the request broke the glass. */
  breakGlass?: { reason: string };
  /** Entries already committed with a write, inside its transaction: the recorder does not repeat them. */
  readonly journaled: AuditEntry[] = [];

  constructor(
    readonly requestId: string,
    readonly method: string,
    /** Path without the query. */
    readonly path: string,
    /** The query string, kept for searches (BALP `entity.query`). */
    readonly query: string,
    readonly ip: string | undefined,
    readonly userAgent: string | undefined,
    interaction: Interaction | undefined,
  ) {
    this.interaction = interaction;
  }

  /** Records a policy decision made for this request and the patient it concerned. */
  decided(decision: RecordedDecision, patient: string | undefined): void {
    // A refusal, once made, explains the outcome; otherwise the latest allowing decision does.
    if (this.decision === undefined || this.decision.allowed) this.decision = decision;
    if (decision.allowed && patient) this.patients.add(patient);
    if (!decision.allowed && patient && this.attemptedPatient === undefined) this.attemptedPatient = patient;
  }

  /** A search decided row by row in the store: the trail records the policy version, if no single decision says more. */
  ranUnder(policyVersion: string): void {
    this.decision ??= { allowed: true, policyVersion };
  }

  /** Patients present in what the request returns (one BALP entry each for searches). */
  concerns(patients: Iterable<string | undefined>): void {
    for (const p of patients) if (p) this.patients.add(p);
  }

  /** Refines what the request is (e.g. a batch rather than a transaction). */
  as(interaction: Partial<Interaction>): void {
    this.interaction = { ...(this.interaction ?? { action: 'E', subtype: 'http-request' }), ...interaction };
  }
}
