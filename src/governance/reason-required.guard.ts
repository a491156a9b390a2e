import { Injectable } from '@nestjs/common';
import type { UnitOfWork } from '../database/unit-of-work.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { WriteGuard, type WriteAttempt } from '../fhir/write-chain.port.js';
import { documentStatus, SIGNED_STATUSES } from '../policy/domain/document-status.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { AmendmentService } from './amendment.service.js';
import { GovernanceError, GovernanceErrorCode } from './governance.errors.js';

/**
 * R-12 before every change of a governed document that is already final (signed): the caller
 * says why (`X-Edit-Reason`), or the amendment permit this write took says it. The reason is
 * kept in the edit ledger.
 */
@Injectable()
export class ReasonRequiredGuard extends WriteGuard {
  constructor(
    private readonly policy: LoadedPolicy,
    private readonly amendments: AmendmentService,
  ) {
    super();
  }

  async check(ctx: FhirContext, attempt: WriteAttempt, _unit: UnitOfWork): Promise<void> {
    const { resource, scope } = attempt;
    if (scope.unchanged || !scope.stored || !this.policy.governedResources.includes(resource.resourceType)) return;
    const status = documentStatus(scope.stored);
    if (!status || !SIGNED_STATUSES.includes(status) || ctx.editReason || this.amendments.takenFor(ctx)?.reason) return;
    throw new GovernanceError(
      GovernanceErrorCode.ReasonRequired,
      `${resource.resourceType}/${resource.id} is ${status} (signed): say why it changes with the header X-Edit-Reason (percent-encoded UTF-8); nothing was changed (R-12)`,
    );
  }
}
