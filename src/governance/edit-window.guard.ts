import { Injectable, Logger } from '@nestjs/common';
import type { Resource } from '@medplum/fhirtypes';
import { Clock } from '../common/clock.js';
import { hospitalTimeNamed } from '../common/hospital-time.js';
import type { UnitOfWork } from '../database/unit-of-work.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { WriteGuard, type WriteAttempt } from '../fhir/write-chain.port.js';
import { SIGNED_STATUSES } from '../policy/domain/document-status.js';
import { DocumentTypes, type DocumentType } from '../policy/domain/document-types.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { FhirStore } from '../store/fhir-store.port.js';
import { AmendmentService } from './amendment.service.js';
import { editWindow, type WindowDecision } from './domain/edit-window.js';
import { GovernanceError, GovernanceErrorCode } from './governance.errors.js';

/**
 * R-11 before every change of a governed document (signing, co-signing and archiving confirm
 * what was written, late or not): the operator's edit window for its role and document type,
 * counted from the document's creation or signing, must still be open, or they hold an
 * approved amendment permit, which this write takes (the edit ledger names it with the
 * version). A write that took medical affairs' permit for an archived visit (R-15) needs no
 * other.
 */
@Injectable()
export class EditWindowGuard extends WriteGuard {
  constructor(
    private readonly policy: LoadedPolicy,
    private readonly types: DocumentTypes,
    private readonly clock: Clock,
    private readonly store: FhirStore,
    private readonly amendments: AmendmentService,
  ) {
    super();
    if (!policy.editWindows) new Logger('Governance').warn('The policy has no governance.editWindows: edit windows (R-11) are not enforced');
  }

  async check(ctx: FhirContext, attempt: WriteAttempt, unit: UnitOfWork): Promise<void> {
    const { resource, scope } = attempt;
    const rules = this.policy.editWindows;
    if (!rules || scope.unchanged || !scope.stored || attempt.step || !this.policy.governedResources.includes(resource.resourceType)) return;
    if (this.amendments.takenFor(ctx)) return;
    const stored = scope.stored;
    const ref = { type: stored.resourceType, id: stored.id as string };
    const times = await this.store.within(unit).records.firstTimes(ref, SIGNED_STATUSES);
    const docType = this.types.classify(stored);
    const decision = editWindow(rules, ctx.actor.roles, docType?.code, { created: times.created, signed: times.reached }, this.clock.now());
    if (decision.open) return;
    if (await this.amendments.take(unit, ctx, ref)) return;
    throw closed(ctx, stored, docType, decision, this.policy.timeZone);
  }
}

/** The refusal, saying which window closed when (on the hospital's clock, `timeZone`, as people read it; or that none applies) and how to amend instead. */
function closed(
  ctx: FhirContext,
  stored: Resource,
  docType: DocumentType | undefined,
  decision: Exclude<WindowDecision, { open: true }>,
  timeZone: string,
): GovernanceError {
  const what = `${stored.resourceType}/${stored.id}${docType ? ` (${docType.display}${docType.zh ? ` ${docType.zh}` : ''})` : ''}`;
  const amend = `after its edit window a record changes only by a formal amendment: POST ${stored.resourceType}/${stored.id}/$amend-request with a reason, approved by a chief physician or medical affairs (R-11)`;
  if (decision.reason === 'no-rule') {
    return new GovernanceError(
      GovernanceErrorCode.EditWindowClosed,
      `No edit window of the policy (governance.editWindows) lets roles ${ctx.actor.roles.join(', ') || '(none)'} change ${what}: ${amend}; nothing was changed`,
    );
  }
  return new GovernanceError(
    GovernanceErrorCode.EditWindowClosed,
    `The edit window for ${what} closed at ${hospitalTimeNamed(decision.closedAt, timeZone)} ` +
      `(${decision.rule.hours} h after its ${decision.rule.from === 'signed' ? 'signing' : 'creation'} at ${hospitalTimeNamed(decision.anchor, timeZone)}, ` +
      `rule for ${decision.rule.roles.join('/')}): ${amend}; nothing was changed`,
  );
}
