import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock.js';
import type { Actor } from '../identity/actor.js';
import { AccessPolicyService } from '../policy/access-policy.service.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { AccessError, AccessErrorCode } from '../policy/policy.errors.js';
import { GrantError, GrantErrorCode } from './access.errors.js';
import { AccessGrantRepository, type AccessGrant } from './access-grant.repository.js';

/**
 * Break-the-glass (R-04): emergency access outside the normal rules, only with a stated
 * reason, only for the roles the policy names, for the policy's duration; every use is
 * counted and lands on medical affairs' review list.
 */
@Injectable()
export class BreakGlassService {
  constructor(
    private readonly grants: AccessGrantRepository,
    private readonly policy: LoadedPolicy,
    private readonly decisions: AccessPolicyService,
    private readonly clock: Clock,
  ) {}

  /** Opens `patientId` to the actor, or reuses the opening still running; returns its id. */
  async open(actor: Actor, patientId: string, reason: string): Promise<string> {
    const { roles, hours } = this.policy.settings.breakGlass;
    if (!actor.roles.some((r) => roles.includes(r))) {
      throw new AccessError(AccessErrorCode.BreakGlassNotAllowed, `Break-the-glass is open to ${roles.join(', ')} only (R-04)`);
    }
    const now = this.clock.now();
    const running = (await this.grants.activeFor(actor.id, now)).breakGlass.find((b) => b.patientId === patientId);
    if (running) {
      await this.grants.countUse(running.id);
      return running.id;
    }
    const until = new Date(now.getTime() + hours * 3_600_000).toISOString();
    const row = await this.grants.insert({
      id: randomUUID(),
      kind: 'break-glass',
      grantee: actor.id,
      patientId,
      purpose: 'BTG',
      reason,
      status: 'active',
      requestedBy: actor.id,
      requestedUntil: until,
      validFrom: now.toISOString(),
      validUntil: until,
      createdAt: now.toISOString(),
      policyVersion: this.policy.version,
    });
    await this.grants.countUse(row.id);
    await this.decisions.invalidate(actor.id);
    return row.id;
  }

  /** Every break-the-glass, newest first (optionally only those not reviewed yet), for medical affairs (the route's `list` permission). */
  async list(unreviewed: boolean): Promise<AccessGrant[]> {
    return this.grants.list({ kind: 'break-glass', unreviewed });
  }

  /** Records medical affairs' review of one break-the-glass (the route's `review` permission). */
  async review(actor: Actor, id: string, note: string | undefined): Promise<AccessGrant> {
    const now = this.clock.now().toISOString();
    const existing = await this.grants.get(id);
    if (!existing || existing.kind !== 'break-glass') throw new GrantError(GrantErrorCode.NotFound, `No break-the-glass ${id}`);
    if (existing.reviewedAt) throw new GrantError(GrantErrorCode.WrongState, `Break-the-glass ${id} was reviewed by ${existing.reviewedBy} at ${existing.reviewedAt}`);
    const reviewed = await this.grants.transition(id, ['active'], { reviewedBy: actor.id, reviewedAt: now, reviewNote: note ?? null }, 'unreviewed');
    if (!reviewed) throw new GrantError(GrantErrorCode.WrongState, `Break-the-glass ${id} was reviewed by someone else just now`);
    return reviewed;
  }
}
