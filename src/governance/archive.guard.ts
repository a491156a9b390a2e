import { Injectable } from '@nestjs/common';
import type { UnitOfWork } from '../database/unit-of-work.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { WriteGuard, type WriteAttempt } from '../fhir/write-chain.port.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { FhirStore } from '../store/fhir-store.port.js';
import { StoreError, StoreErrorCode } from '../store/store.errors.js';
import { AmendmentService } from './amendment.service.js';
import { encounterOf, isArchived } from './archive.service.js';
import { GovernanceError, GovernanceErrorCode } from './governance.errors.js';

/**
 * R-15 before every write of a governed document: an archived encounter's documents are
 * read-only for every role. No document is added to it, and a change needs an amendment medical
 * affairs approved, which this write takes (the edit ledger names it with the version). The
 * encounter is the incoming version's, else the stored one's (a document moved out of an
 * archived visit is a change of it too).
 */
@Injectable()
export class ArchiveGuard extends WriteGuard {
  constructor(
    private readonly policy: LoadedPolicy,
    private readonly store: FhirStore,
    private readonly amendments: AmendmentService,
  ) {
    super();
  }

  async check(ctx: FhirContext, attempt: WriteAttempt, unit: UnitOfWork): Promise<void> {
    const { resource, scope } = attempt;
    if (scope.unchanged || !this.policy.governedResources.includes(resource.resourceType)) return;
    const encounter = encounterOf(resource) ?? (scope.stored ? encounterOf(scope.stored) : undefined);
    if (!encounter || !(await this.isArchivedEncounter(unit, encounter))) return;
    const id = resource.id as string;
    const permit = attempt.creating ? undefined : await this.amendments.take(unit, ctx, { type: resource.resourceType, id }, 'medical-affairs');
    if (permit) return;
    throw new GovernanceError(
      GovernanceErrorCode.Archived,
      `Encounter/${encounter} is archived: its records are read-only for every role; ${attempt.creating ? 'no document is added to it' : `a change of ${resource.resourceType}/${id} needs an amendment ($amend-request) approved by medical affairs`}; nothing was changed (R-15)`,
    );
  }

  private async isArchivedEncounter(unit: UnitOfWork, id: string): Promise<boolean> {
    try {
      return isArchived(await this.store.within(unit).read('Encounter', id));
    } catch (e) {
      if (e instanceof StoreError && e.code === StoreErrorCode.NotFound) return false;
      throw e;
    }
  }
}
