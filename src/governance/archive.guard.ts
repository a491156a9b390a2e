import { Injectable } from '@nestjs/common';
import type { UnitOfWork } from '../database/unit-of-work.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { WriteGuard, type WriteAttempt } from '../fhir/write-chain.port.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { FhirStore } from '../store/fhir-store.port.js';
import { AmendmentService } from './amendment.service.js';
import { isArchived } from './archive.service.js';
import { GovernanceError, GovernanceErrorCode } from './governance.errors.js';

/**
 * R-15 before every write of a governed document: an archived encounter's documents are
 * read-only for every role. No document is added to it, and a change needs an amendment medical
 * affairs approved, which this write takes (the edit ledger names it with the version). Every
 * encounter counts, as the store resolved them: each the incoming version names (every
 * `context.encounter`), and each the stored version belongs to (a document moved out of an
 * archived visit, into an open one or none, is a change of the archived record too).
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
    const encounter = await this.archivedEncounter(unit, [...new Set([...scope.encounters, ...scope.storedEncounters])].sort());
    if (!encounter) return;
    const id = resource.id as string;
    const permit = attempt.creating ? undefined : await this.amendments.take(unit, ctx, { type: resource.resourceType, id }, 'medical-affairs');
    if (permit) return;
    throw new GovernanceError(
      GovernanceErrorCode.Archived,
      `Encounter/${encounter} is archived: its records are read-only for every role; ${attempt.creating ? 'no document is added to it' : `a change of ${resource.resourceType}/${id} needs an amendment ($amend-request) approved by medical affairs`}; nothing was changed (R-15)`,
    );
  }

  /** The first of these encounters that is archived (an unknown one is not). */
  private async archivedEncounter(unit: UnitOfWork, ids: readonly string[]): Promise<string | undefined> {
    if (ids.length === 0) return undefined;
    const found = await this.store.within(unit).records.readMany(ids.map((id) => ({ type: 'Encounter', id })));
    const archived = new Set(found.filter((r) => isArchived(r.resource)).map((r) => r.resource.id));
    return ids.find((id) => archived.has(id));
  }
}
