import { Injectable } from '@nestjs/common';
import type { Resource } from '@medplum/fhirtypes';
import type { UnitOfWork } from '../database/unit-of-work.js';
import { FhirAccess } from '../fhir/fhir-access.port.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { WriteGuard, type WriteAttempt } from '../fhir/write-chain.port.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { FhirStore } from '../store/fhir-store.port.js';
import { documentText, fingerprints, sharedPassage } from './domain/copy-paste.js';
import { GovernanceError, GovernanceErrorCode } from './governance.errors.js';
import { TextFingerprintRepository } from './text-fingerprint.repository.js';

/** Candidates confirmed by comparing texts, at most (the most fingerprints shared first). */
const CANDIDATES = 20;

/**
 * R-16 before every write of a governed document's text: the text is fingerprinted
 * (winnowing); documents sharing fingerprints are compared; a passage of the policy's length
 * copied from another patient's document refuses the write (422, naming the source only to
 * someone who may read it); from the same patient it is allowed and the version flagged in the
 * ledger (`ctx.copiedFrom`). The document's fingerprints are replaced after the write by
 * `FingerprintRecorder`. Signing, co-signing and archiving change no text: not checked.
 */
@Injectable()
export class CopyPasteGuard extends WriteGuard {
  constructor(
    private readonly policy: LoadedPolicy,
    private readonly access: FhirAccess,
    private readonly store: FhirStore,
    private readonly fingerprints: TextFingerprintRepository,
  ) {
    super();
  }

  async check(ctx: FhirContext, attempt: WriteAttempt, unit: UnitOfWork): Promise<void> {
    const { resource, scope } = attempt;
    if (scope.unchanged || attempt.step || !this.policy.governedResources.includes(resource.resourceType)) return;
    const min = this.policy.copyPasteMinChars;
    const text = documentText(resource);
    const hashes = fingerprints(text, min);
    if (!hashes.length) return;
    // The patients as the store resolved them (every reference form: relative, absolute, versioned), as the search index does.
    const patients = new Set(scope.patients);
    // The document's own (previous version's) fingerprints are left out: copying from itself is editing.
    const sharing = await this.fingerprints.sharing(unit, hashes, { type: resource.resourceType, id: resource.id }, CANDIDATES);
    const contents = await this.contentsOf(unit, sharing);
    const copiedFrom: string[] = [];
    for (const candidate of sharing) {
      const source = `${candidate.type}/${candidate.id}`;
      const content = contents.get(source);
      const passage = content ? sharedPassage(text, documentText(content), min) : undefined;
      if (!passage) continue;
      if (candidate.patient && patients.size && !patients.has(candidate.patient)) {
        const named = await this.access.permitsStored(ctx, 'read', { type: candidate.type, id: candidate.id }, this.store);
        throw new GovernanceError(
          GovernanceErrorCode.CopiedFromOtherPatient,
          `A passage of ${passage.length} characters ("${passage.slice(0, 30)}…") is copied from ${named ? source : "another patient's record"}: ` +
            `copying between patients' records is forbidden; nothing was saved (R-16)`,
        );
      }
      copiedFrom.push(source);
    }
    if (copiedFrom.length) ctx.copiedFrom = copiedFrom;
  }

  /** The current content of each candidate, keyed `Type/id` (a candidate no longer stored is left out). */
  private async contentsOf(unit: UnitOfWork, refs: readonly { type: string; id: string }[]): Promise<Map<string, Resource>> {
    if (refs.length === 0) return new Map();
    const records = await this.store.within(unit).records.readMany(refs);
    return new Map(records.map((r) => [`${r.resource.resourceType}/${r.resource.id}`, r.resource]));
  }
}
