import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Composition, DocumentReference } from '@medplum/fhirtypes';
import { Clock } from '../common/clock.js';
import { uuidOr } from '../common/ids.js';
import type { UnitOfWork } from '../database/unit-of-work.js';
import { FhirAccess } from '../fhir/fhir-access.port.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { AccessPolicyService } from '../policy/access-policy.service.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { FhirStore, type StoredJson } from '../store/fhir-store.port.js';
import type { RecordRef } from '../store/patient-record-index.port.js';
import { AmendmentRepository, type AmendmentRow } from './amendment.repository.js';
import type { AmendmentDecision, AmendmentRequest } from './dto/governance.dto.js';
import { LedgerReadsRepository } from './ledger-reads.repository.js';
import { GovernanceError, GovernanceErrorCode } from './governance.errors.js';

/** An amendment as the API shows it. */
export interface Amendment {
  id: string;
  document: string;
  requestedBy: string;
  reason: string;
  status: 'requested' | 'approved' | 'refused' | 'used';
  requestedAt: string;
  decidedBy?: string;
  decidedAt?: string;
  decisionNote?: string;
  /** An approved permit is usable once, by its requester, until then. */
  validUntil?: string;
  usedVersion?: number;
}

/** A permit taken for a write: what the ledger names with the version. */
export interface UsedPermit {
  id: string;
  reason: string;
  approvedBy: string;
  /** The approver's roles when they approved. */
  approverRoles: string[];
}

/**
 * Formal amendments: after its edit window a document changes only when its
 * author asks with a reason and a chief physician or medical affairs approves; the approval is
 * a one-time permit for that author on that document, expiring after the policy's hours. A
 * write guard takes the permit inside the write's transaction (`take`, locked), and the edit
 * ledger's recorder uses it up with the version it wrote (`useUp`), so a permit is used once.
 */
@Injectable()
export class AmendmentService {
  /** The permit each write in progress took, by the write's own context (the write chain gives each write one). */
  private readonly taken = new WeakMap<FhirContext, UsedPermit>();

  constructor(
    private readonly amendments: AmendmentRepository,
    private readonly ledger: LedgerReadsRepository,
    private readonly store: FhirStore,
    private readonly access: FhirAccess,
    private readonly decisions: AccessPolicyService,
    private readonly policy: LoadedPolicy,
    private readonly clock: Clock,
  ) {}

  /** The author asks, with a reason (parsed and required at the edge), to amend a governed document past its window. */
  async request(ctx: FhirContext, type: string, id: string, { reason }: AmendmentRequest): Promise<Amendment> {
    if (!this.policy.governedResources.includes(type)) {
      throw new GovernanceError(GovernanceErrorCode.NotGoverned, `Amendments apply to governed clinical documents, not ${type}`);
    }
    const stored = (await this.access.requireStored(ctx, 'amend', { type, id }, this.store, { hideExistence: true, withContent: true })) as StoredJson;
    const doc = JSON.parse(stored.json) as Composition | DocumentReference;
    const creator = await this.ledger.creator({ type, id });
    const isAuthor = (doc.author ?? []).some((a) => a.reference === ctx.actor.practitioner) || creator?.editor === ctx.actor.id;
    if (!isAuthor) throw new GovernanceError(GovernanceErrorCode.NotAuthor, `An amendment of ${type}/${id} is asked by its author; ${ctx.actor.practitioner} is not (R-11)`);
    const row = await this.amendments.insert({ id: randomUUID(), document: { type, id }, requestedBy: ctx.actor.id, reason, at: this.clock.now(), policyVersion: this.policy.version });
    return view(row);
  }

  /** A chief physician or medical affairs approves (a one-time permit) or refuses (with a note, required at the edge) a request. */
  async decide(ctx: FhirContext, id: string, approve: boolean, { note }: AmendmentDecision): Promise<Amendment> {
    const decision = this.decisions.decideWorkflow(ctx.actor, 'approve', 'Amendment');
    ctx.audit?.decided(decision, undefined);
    if (!decision.allowed) throw new GovernanceError(GovernanceErrorCode.AmendmentForbidden, 'Amendments are decided by a chief physician or medical affairs (R-11)');
    const current = await this.amendments.get(uuidOr(id));
    if (!current) throw new GovernanceError(GovernanceErrorCode.AmendmentNotFound, `Amendment ${id} is not known`);
    if (current.requested_by === ctx.actor.id) throw new GovernanceError(GovernanceErrorCode.AmendmentForbidden, 'Nobody approves their own amendment (R-11)');
    const now = this.clock.now();
    const row = await this.amendments.decide(current.id, {
      approve,
      decidedBy: ctx.actor.id,
      decidedRoles: ctx.actor.roles,
      at: now,
      note,
      ...(approve ? { validUntil: new Date(now.getTime() + this.policy.amendmentPermitHours * 3_600_000) } : {}),
    });
    if (!row) throw new GovernanceError(GovernanceErrorCode.AmendmentWrongState, `Amendment ${id} is ${current.status}, not waiting for a decision`);
    return view(row);
  }

  /** Deciders see every amendment (by status); an author sees their own. */
  async list(ctx: FhirContext, status: string | undefined): Promise<Amendment[]> {
    const all = this.decisions.decideWorkflow(ctx.actor, 'list', 'Amendment').allowed;
    return (await this.amendments.list(status, all ? undefined : ctx.actor.id)).map(view);
  }

  /**
   * Takes the operator's approved, unexpired permit for this document (approved by `approverRole`
   * when given) for the write `ctx` is about, inside its transaction (locked: two writes cannot
   * use one permit). Undefined when there is none.
   */
  async take(unit: UnitOfWork, ctx: FhirContext, document: RecordRef, approverRole?: string): Promise<UsedPermit | undefined> {
    const row = await this.amendments.lockPermit(unit, document, ctx.actor.id, this.clock.now(), approverRole);
    if (!row) return undefined;
    const permit = { id: row.id, reason: row.reason, approvedBy: row.decided_by as string, approverRoles: (row.decided_roles ?? '').split(',').filter(Boolean) };
    this.taken.set(ctx, permit);
    return permit;
  }

  /** The permit the write `ctx` is about took, if any. */
  takenFor(ctx: FhirContext): UsedPermit | undefined {
    return this.taken.get(ctx);
  }

  /** Marks the permit the write took as used by the version it wrote (in the write's transaction). */
  async useUp(unit: UnitOfWork, ctx: FhirContext, version: number): Promise<void> {
    const permit = this.taken.get(ctx);
    if (!permit) return;
    await this.amendments.markUsed(unit, permit.id, version);
    this.taken.delete(ctx);
  }
}

function view(r: AmendmentRow): Amendment {
  return {
    id: r.id,
    document: `${r.resource_type}/${r.resource_id}`,
    requestedBy: r.requested_by,
    reason: r.reason,
    status: r.status,
    requestedAt: new Date(r.requested_at).toISOString(),
    ...(r.decided_by ? { decidedBy: r.decided_by } : {}),
    ...(r.decided_at ? { decidedAt: new Date(r.decided_at).toISOString() } : {}),
    ...(r.decision_note ? { decisionNote: r.decision_note } : {}),
    ...(r.valid_until ? { validUntil: new Date(r.valid_until).toISOString() } : {}),
    ...(r.used_version !== null ? { usedVersion: r.used_version } : {}),
  };
}
