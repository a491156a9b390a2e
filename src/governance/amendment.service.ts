import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Composition, DocumentReference } from '@medplum/fhirtypes';
import { Clock } from '../common/clock.js';
import { uuidOr } from '../common/ids.js';
import { ChartWardenDatabase, type Queryable } from '../database/chartwarden-database.js';
import { FhirAccess } from '../fhir/fhir-access.port.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { AccessPolicyService } from '../policy/access-policy.service.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { FhirStore, type StoredJson } from '../store/fhir-store.port.js';
import { GovernanceError, GovernanceErrorCode } from './governance.errors.js';
import { documentCreator } from './ledger-queries.js';

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

interface Row {
  id: string;
  resource_type: string;
  resource_id: string;
  requested_by: string;
  reason: string;
  status: Amendment['status'];
  requested_at: Date;
  decided_by: string | null;
  decided_roles: string | null;
  decided_at: Date | null;
  decision_note: string | null;
  valid_until: Date | null;
  used_version: number | null;
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
 * a one-time permit for that author on that document, expiring after the policy's hours. The
 * write that uses it takes it inside its own transaction (`take`), so a permit is used once.
 */
@Injectable()
export class AmendmentService {
  constructor(
    private readonly db: ChartWardenDatabase,
    private readonly store: FhirStore,
    private readonly access: FhirAccess,
    private readonly decisions: AccessPolicyService,
    private readonly policy: LoadedPolicy,
    private readonly clock: Clock,
  ) {}

  async request(ctx: FhirContext, type: string, id: string, body: unknown): Promise<Amendment> {
    const reason = typeof (body as { reason?: unknown } | undefined)?.reason === 'string' ? ((body as { reason: string }).reason.trim()) : '';
    if (!reason) throw new GovernanceError(GovernanceErrorCode.ReasonMissing, 'An amendment says why: send {"reason": "…"} (R-11)');
    if (!this.policy.governedResources.includes(type)) {
      throw new GovernanceError(GovernanceErrorCode.NotGoverned, `Amendments apply to governed clinical documents, not ${type}`);
    }
    const stored = (await this.access.requireStored(ctx, 'amend', { type, id }, this.store, { hideExistence: true, withContent: true })) as StoredJson;
    const doc = JSON.parse(stored.json) as Composition | DocumentReference;
    const creator = await documentCreator(this.db, type, id);
    const isAuthor = (doc.author ?? []).some((a) => a.reference === ctx.actor.practitioner) || creator?.editor === ctx.actor.id;
    if (!isAuthor) throw new GovernanceError(GovernanceErrorCode.NotAuthor, `An amendment of ${type}/${id} is asked by its author; ${ctx.actor.practitioner} is not (R-11)`);
    const [row] = await this.db.query<Row>(
      `INSERT INTO amendment (id, resource_type, resource_id, requested_by, reason, status, requested_at, policy_version)
       VALUES ($1, $2, $3, $4, $5, 'requested', $6, $7) RETURNING *`,
      [randomUUID(), type, id, ctx.actor.id, reason, this.clock.now(), this.policy.version],
    );
    return view(row);
  }

  async decide(ctx: FhirContext, id: string, approve: boolean, body: unknown): Promise<Amendment> {
    const note = typeof (body as { note?: unknown } | undefined)?.note === 'string' ? (body as { note: string }).note.trim() : '';
    if (!approve && !note) throw new GovernanceError(GovernanceErrorCode.ReasonMissing, 'A refusal says why: send {"note": "…"}');
    const decision = this.decisions.decideWorkflow(ctx.actor, 'approve', 'Amendment');
    ctx.audit?.decided(decision, undefined);
    if (!decision.allowed) throw new GovernanceError(GovernanceErrorCode.AmendmentForbidden, 'Amendments are decided by a chief physician or medical affairs (R-11)');
    const [current] = await this.db.query<Row>('SELECT * FROM amendment WHERE id = $1', [uuidOr(id)]);
    if (!current) throw new GovernanceError(GovernanceErrorCode.AmendmentNotFound, `Amendment ${id} is not known`);
    if (current.requested_by === ctx.actor.id) throw new GovernanceError(GovernanceErrorCode.AmendmentForbidden, 'Nobody approves their own amendment (R-11)');
    const now = this.clock.now();
    const until = new Date(now.getTime() + this.policy.amendmentPermitHours * 3_600_000);
    const [row] = await this.db.query<Row>(
      `UPDATE amendment SET status = $2, decided_by = $3, decided_at = $4, decision_note = $5, valid_until = $6, decided_roles = $7
        WHERE id = $1 AND status = 'requested' RETURNING *`,
      [current.id, approve ? 'approved' : 'refused', ctx.actor.id, now, note || null, approve ? until : null, ctx.actor.roles.join(',')],
    );
    if (!row) throw new GovernanceError(GovernanceErrorCode.AmendmentWrongState, `Amendment ${id} is ${current.status}, not waiting for a decision`);
    return view(row);
  }

  /** Deciders see every amendment (by status); an author sees their own. */
  async list(ctx: FhirContext, status: string | undefined): Promise<Amendment[]> {
    const all = this.decisions.decideWorkflow(ctx.actor, 'list', 'Amendment').allowed;
    const rows = await this.db.query<Row>(
      `SELECT * FROM amendment WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR requested_by = $2) ORDER BY requested_at LIMIT 500`,
      [status ?? null, all ? null : ctx.actor.id],
    );
    return rows.map(view);
  }

  /**
   * Takes the operator's approved, unexpired permit for this document, inside the write's
   * transaction (`FOR UPDATE`: two writes cannot use one permit). Undefined when there is none.
   */
  async take(tx: Queryable, ctx: FhirContext, type: string, id: string, version: number, approverRole?: string): Promise<UsedPermit | undefined> {
    const [row] = await tx.query<Row>(
      `SELECT * FROM amendment WHERE resource_type = $1 AND resource_id = $2 AND requested_by = $3 AND status = 'approved' AND valid_until > $4
          AND ($5::text IS NULL OR $5 = ANY(string_to_array(decided_roles, ',')))
        ORDER BY decided_at LIMIT 1 FOR UPDATE`,
      [type, id, ctx.actor.id, this.clock.now(), approverRole ?? null],
    );
    if (!row) return undefined;
    await tx.query(`UPDATE amendment SET status = 'used', used_version = $2 WHERE id = $1`, [row.id, version]);
    return { id: row.id, reason: row.reason, approvedBy: row.decided_by as string, approverRoles: (row.decided_roles ?? '').split(',').filter(Boolean) };
  }
}

function view(r: Row): Amendment {
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
