import { Injectable } from '@nestjs/common';
import type { Resource } from '@medplum/fhirtypes';
import type { Queryable } from '../database/chartwarden-database.js';
import { FhirAccess } from '../fhir/fhir-access.port.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { WriteJournal, type JournaledWrite } from '../fhir/write-journal.port.js';
import { sqlOf, type UnitOfWork } from '../database/unit-of-work.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { FhirStore } from '../store/fhir-store.port.js';
import { documentText, fingerprints, sharedPassage } from './domain/copy-paste.js';
import { GovernanceError, GovernanceErrorCode } from './governance.errors.js';
import { subjectPatient } from './domain/document.js';

/** Candidates confirmed by comparing texts, at most (the most fingerprints shared first). */
const CANDIDATES = 20;

/**
 * R-16 in the write's transaction: a governed document's text is fingerprinted (winnowing);
 * documents sharing fingerprints are compared; a passage of the policy's length copied from
 * another patient's document refuses the write (422, naming the source only to someone who
 * may read it); from the same patient it is allowed and the version flagged in the ledger.
 * The document's fingerprints then replace its previous ones.
 */
@Injectable()
export class CopyPasteGuard extends WriteJournal {
  constructor(
    private readonly policy: LoadedPolicy,
    private readonly access: FhirAccess,
    private readonly store: FhirStore,
  ) {
    super();
  }

  async record(ctx: FhirContext, write: JournaledWrite, unit: UnitOfWork): Promise<void> {
    const tx = sqlOf(unit);
    const resource = write.resource;
    if (write.unchanged || !this.policy.governedResources.includes(resource.resourceType) || write.step) return;
    const min = this.policy.copyPasteMinChars;
    const text = documentText(resource);
    const hashes = fingerprints(text, min);
    const patient = subjectPatient(resource);
    const id = resource.id as string;
    // An update first drops the previous version's fingerprints (a create has none), found by
    // recomputing them: the fingerprint leads the only index, so rows are deleted by key.
    if (!write.created) {
      const [previous] = await tx.query<{ content: Resource }>(
        'SELECT content FROM fhir_resource_version WHERE resource_type = $1 AND id = $2 AND version_id = $3',
        [resource.resourceType, id, Number(resource.meta?.versionId) - 1],
        { prepare: true },
      );
      const old = previous ? fingerprints(documentText(previous.content), min) : [];
      if (old.length) {
        await tx.query('DELETE FROM text_fingerprint WHERE hash = ANY($1::int[]) AND resource_type = $2 AND resource_id = $3', [old, resource.resourceType, id], { prepare: true });
      }
    }
    if (!hashes.length) return;
    // One statement: index this text's fingerprints and find the documents that share them
    // (the query reads the snapshot before the insert, and leaves this document out anyway).
    const candidates = await tx.query<{ resource_type: string; resource_id: string; patient_id: string | null; content: Resource }>(
      `WITH added AS (
         INSERT INTO text_fingerprint (hash, resource_type, resource_id, patient_id) SELECT h, $2, $3, $4 FROM unnest($1::int[]) AS h),
       c AS (
         SELECT f.resource_type, f.resource_id, min(f.patient_id) AS patient_id, count(*) AS shared
           FROM text_fingerprint f
          WHERE f.hash = ANY($1::int[]) AND NOT (f.resource_type = $2 AND f.resource_id = $3)
          GROUP BY 1, 2 ORDER BY shared DESC LIMIT ${CANDIDATES})
       SELECT c.resource_type, c.resource_id, c.patient_id, r.content
         FROM c JOIN fhir_resource r ON r.resource_type = c.resource_type AND r.id = c.resource_id`,
      [hashes, resource.resourceType, id, patient ?? null],
      { prepare: true },
    );
    const copiedFrom: string[] = [];
    for (const c of candidates) {
      const passage = sharedPassage(text, documentText(c.content), min);
      if (!passage) continue;
      const source = `${c.resource_type}/${c.resource_id}`;
      if (c.patient_id && patient && c.patient_id !== patient) {
        const named = await this.access.permitsStored(ctx, 'read', { type: c.resource_type, id: c.resource_id }, this.store);
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
}
