import { Injectable } from '@nestjs/common';
import type { UnitOfWork } from '../database/unit-of-work.js';
import { FhirAccess } from '../fhir/fhir-access.port.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { DocumentTypes } from '../policy/domain/document-types.js';
import type { PolicyDocument } from '../policy/domain/policy-document.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import type { PatientRecordIndex } from '../store/patient-record-index.port.js';
import { FhirStore } from '../store/fhir-store.port.js';
import { CopyVersionRule } from './copy-version-rule.js';
import { CopyParts, partClassifier, type CopyPartEntry } from './domain/copy-parts.js';
import { selectForCopy, versionRef, type CopyCandidate, type CopySelection } from './domain/copy-production.js';
import type { CopyRequestRecord } from './domain/copy-request.js';

/**
 * What a production may copy (R-31…R-33): the patient's governed documents and the structured
 * records of the objective parts (`CopyParts`: vital signs, orders, reports, charges…) in the
 * request's scope (its encounters when it names some), at their current versions, each judged
 * for the officer by the version rule before the production's transaction, then sorted under it.
 */
@Injectable()
export class CopyCandidates {
  constructor(
    private readonly store: FhirStore,
    private readonly access: FhirAccess,
    private readonly policy: LoadedPolicy,
    private readonly types: DocumentTypes,
    private readonly versions: CopyVersionRule,
  ) {}

  private built?: { of: PolicyDocument; value: CopyParts };

  /** The parts in force: the policy's own entries before the shipped ones, built once per policy document. */
  get parts(): CopyParts {
    const document = this.policy.document;
    if (this.built?.of !== document) this.built = { of: document, value: CopyParts.fromProfiles(policyParts(document)) };
    return this.built.value;
  }

  /**
   * The officer may copy the patient's record (a patient they may not reach is not known to
   * them); then each document in scope is judged, version by version: a confidentiality label
   * their rule does not cover, a record withheld by a public incident, or a version that
   * is not the patient's record any more, is left out with its reason. Keyed by `versionRef`.
   * Judged on the pool, before the production's transaction takes its one connection.
   */
  async judge(ctx: FhirContext, request: CopyRequestRecord): Promise<Map<string, string | undefined>> {
    await this.access.requireStored(ctx, 'copy', { type: 'Patient', id: request.patient }, this.store, { hideExistence: true });
    const candidates = await this.inScope(this.store.records, request);
    const refusals = await this.versions.refusals(ctx, request.patient, candidates.map((c) => c.resource));
    return new Map(candidates.map((c, i) => [versionRef(c.resource, c.version), refusals[i]]));
  }

  /** The documents in scope as `unit` reads them, sorted into copied, pending and left out; `produced`: `Type/id` earlier copies hold. */
  async select(request: CopyRequestRecord, judged: ReadonlyMap<string, string | undefined>, produced: ReadonlySet<string>, unit: UnitOfWork): Promise<CopySelection> {
    const candidates = await this.inScope(this.store.within(unit).records, request);
    const parts = this.parts;
    const classify = partClassifier(parts, this.types, candidates, judged);
    return selectForCopy(candidates, { scope: request.scope, produced, judged, classify, completion: (r, type) => parts.completion(r, type) });
  }

  /** The patient's governed documents and part records in scope (encounters if named), current versions, oldest update first. */
  private async inScope(records: PatientRecordIndex, request: CopyRequestRecord): Promise<CopyCandidate[]> {
    const types = [...new Set([...this.policy.governedResources, ...this.parts.resourceTypes])];
    const found = await records.recordsOfPatient(request.patient, types, { encounters: request.scope.encounters });
    // The manifest keeps the store's version numbers as numbers (R-32: `v3` on the copy).
    return found.map((r) => ({ resource: r.resource, version: Number(r.versionId) }));
  }
}

/** A hospital's own part entries (policy `copyRequests.parts`), tried before the shipped ones. */
function policyParts(document: PolicyDocument): readonly CopyPartEntry[] {
  return document.copyRequests?.parts ?? [];
}
