import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock.js';
import type { Actor } from '../identity/actor.js';
import { AccessPolicyService } from '../policy/access-policy.service.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { GrantError, GrantErrorCode } from './access.errors.js';
import { AccessGrantRepository, type AccessGrant } from './access-grant.repository.js';

/** Input of a grant request. */
export interface GrantRequest {
  grantee: string;
  patient: string;
  purpose: string;
  reason: string;
  until: string;
}

const DAY_MS = 86_400_000;

/**
 * Time-limited grants ("借阅", R-05): research or teaching access to one patient's records is
 * requested, approved or refused by the policy's approvers, expires at once at its end
 * (nothing needs to run for that), and is extended only by a new approval.
 */
@Injectable()
export class AccessGrantService {
  constructor(
    private readonly grants: AccessGrantRepository,
    private readonly policy: LoadedPolicy,
    private readonly decisions: AccessPolicyService,
    private readonly clock: Clock,
  ) {}

  /** Records a request; who may ask is the route's `request` permission on `AccessGrant`. */
  async request(actor: Actor, input: GrantRequest): Promise<AccessGrant> {
    const now = this.clock.now();
    const until = new Date(input.until);
    if (until <= now) throw new GrantError(GrantErrorCode.Invalid, 'until must be in the future');
    return this.grants.insert({
      id: randomUUID(),
      kind: 'grant',
      grantee: input.grantee,
      patientId: input.patient,
      purpose: input.purpose,
      reason: input.reason,
      status: 'requested',
      requestedBy: actor.id,
      requestedUntil: until.toISOString(),
      validFrom: null,
      validUntil: null,
      createdAt: now.toISOString(),
      policyVersion: this.policy.version,
    });
  }

  /**
   * Approves a request (validity: now until the requested end, capped at `grants.maxDays`),
   * or an extension of an approved grant (its new end, capped the same way from now). Who
   * approves is the route's `approve` permission on `AccessGrant`; never the requester or grantee.
   */
  async approve(actor: Actor, id: string, note?: string): Promise<AccessGrant> {
    const grant = await this.existing(id);
    if (grant.requestedBy === actor.id || grant.grantee === actor.id) {
      throw new GrantError(GrantErrorCode.Forbidden, 'A grant is approved by someone other than its requester and grantee');
    }
    const now = this.clock.now();
    const cap = new Date(now.getTime() + this.policy.settings.grants.maxDays * DAY_MS);
    const decided = { decidedBy: actor.id, decidedAt: now.toISOString(), decisionNote: note ?? null };
    let updated: AccessGrant | undefined;
    if (grant.status === 'requested') {
      const until = new Date(Math.min(new Date(grant.requestedUntil).getTime(), cap.getTime()));
      updated = await this.grants.transition(id, ['requested'], { status: 'approved', validFrom: now.toISOString(), validUntil: until.toISOString(), ...decided });
    } else if (grant.status === 'approved' && grant.extensionUntil) {
      const until = new Date(Math.min(new Date(grant.extensionUntil).getTime(), cap.getTime()));
      updated = await this.grants.transition(
        id,
        ['approved'],
        { validUntil: until.toISOString(), extensionUntil: null, extensionReason: null, ...decided },
        'extension-pending',
      );
    }
    if (!updated) throw new GrantError(GrantErrorCode.WrongState, `Grant ${id} is ${grant.status}${grant.extensionUntil ? '' : ' with no extension pending'}: nothing to approve`);
    await this.decisions.invalidate(updated.grantee);
    return updated;
  }

  /** Refuses a request, or a pending extension (the grant then keeps its current end); approvers only, as the route declares. */
  async refuse(actor: Actor, id: string, note?: string): Promise<AccessGrant> {
    const grant = await this.existing(id);
    const decided = { decidedBy: actor.id, decidedAt: this.clock.now().toISOString(), decisionNote: note ?? null };
    const updated =
      grant.status === 'requested'
        ? await this.grants.transition(id, ['requested'], { status: 'refused', ...decided })
        : grant.status === 'approved' && grant.extensionUntil
          ? await this.grants.transition(id, ['approved'], { extensionUntil: null, extensionReason: null, ...decided }, 'extension-pending')
          : undefined;
    if (!updated) throw new GrantError(GrantErrorCode.WrongState, `Grant ${id} is ${grant.status}: nothing to refuse`);
    return updated;
  }

  /** Asks for a later end; the grant keeps working until its current end unless the extension is approved (R-05). */
  async extend(actor: Actor, id: string, until: string, reason: string): Promise<AccessGrant> {
    const grant = await this.existing(id);
    if (grant.grantee !== actor.id && grant.requestedBy !== actor.id) {
      throw new GrantError(GrantErrorCode.Forbidden, 'Only the grantee or the requester may ask to extend a grant');
    }
    const now = this.clock.now();
    if (grant.status !== 'approved' || !grant.validUntil || new Date(grant.validUntil) <= now) {
      throw new GrantError(GrantErrorCode.WrongState, `Grant ${id} is not running (${grant.status}${grant.validUntil ? `, ended ${grant.validUntil}` : ''}); request a new one`);
    }
    if (new Date(until) <= new Date(grant.validUntil)) throw new GrantError(GrantErrorCode.Invalid, `until must be after the current end ${grant.validUntil}`);
    const updated = await this.grants.transition(id, ['approved'], { extensionUntil: new Date(until).toISOString(), extensionReason: reason }, 'no-extension');
    if (!updated) throw new GrantError(GrantErrorCode.WrongState, `Grant ${id} already has an extension waiting for approval`);
    return updated;
  }

  /** Grants of one grantee (theirs to see) or, for approvers, anyone's. */
  async list(actor: Actor, grantee: string | undefined): Promise<AccessGrant[]> {
    const approver = this.decisions.decideWorkflow(actor, 'list', 'AccessGrant').allowed;
    if (!approver && grantee !== actor.id) {
      throw new GrantError(GrantErrorCode.Forbidden, 'You may list your own grants (grantee=<your id>); listing others needs the approver role');
    }
    return this.grants.list({ kind: 'grant', grantee });
  }

  private async existing(id: string): Promise<AccessGrant> {
    const grant = await this.grants.get(id);
    if (!grant || grant.kind !== 'grant') throw new GrantError(GrantErrorCode.NotFound, `No grant ${id}`);
    return grant;
  }
}
