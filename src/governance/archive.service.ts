import { parseReference } from '../common/fhir-reference.js';
import { Injectable } from '@nestjs/common';
import type { Encounter, Resource } from '@medplum/fhirtypes';
import type { UnitOfWork } from '../database/unit-of-work.js';
import { FhirAccess } from '../fhir/fhir-access.port.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import type { FhirResponse } from '../fhir/fhir-response.js';
import { versionHeaders } from '../fhir/fhir-response.js';
import { WriteChain } from '../fhir/write-chain.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { FhirStore, type StoredJson } from '../store/fhir-store.port.js';
import type { PatientRecordIndex } from '../store/patient-record-index.port.js';
import { StoreError, StoreErrorCode } from '../store/store.errors.js';
import { GovernanceError, GovernanceErrorCode } from './governance.errors.js';
import { CLOSED_STATUSES } from '../policy/domain/document-status.js';
import { subjectPatient } from './domain/document.js';

export const RECORD_STATE_SYSTEM = 'https://chartwarden.dev/fhir/CodeSystem/record-state';
export const ARCHIVED_TAG = { system: RECORD_STATE_SYSTEM, code: 'archived', display: 'Archived (已归档)' };
/** Encounter classes (v3 ActCode) archived on the receiving doctor's confirmation: outpatient and emergency (R-15). */
export const OUTPATIENT_CLASSES = new Set(['AMB', 'EMER', 'VR', 'HH']);

/**
 * Archiving (R-15): an encounter's record becomes read-only for every role. Outpatient
 * encounters archive once their documents are signed, on the doctor's call; inpatient ones
 * after discharge, on a senior physician's review. The Encounter carries the `archived` tag
 * (a new version, in the trail); governed documents of an archived encounter change only
 * under an amendment approved by medical affairs (checked in the write's transaction).
 */
@Injectable()
export class ArchiveService {
  constructor(
    private readonly store: FhirStore,
    private readonly access: FhirAccess,
    private readonly chain: WriteChain,
    private readonly policy: LoadedPolicy,
  ) {}

  async archive(ctx: FhirContext, type: string, id: string): Promise<FhirResponse> {
    if (type !== 'Encounter') throw new GovernanceError(GovernanceErrorCode.NotGoverned, `$archive archives an Encounter's record, not a ${type}`);
    const stored = (await this.access.requireStored(ctx, 'archive', { type, id }, this.store, { hideExistence: true, withContent: true })) as StoredJson;
    const encounter = JSON.parse(stored.json) as Encounter;
    if (isArchived(encounter)) throw new GovernanceError(GovernanceErrorCode.NotArchivable, `Encounter/${id} is archived already`);
    const outpatient = OUTPATIENT_CLASSES.has(encounter.class?.code ?? '');
    if (!outpatient) {
      if (!ctx.actor.roles.some((r) => this.policy.archiveInpatientRoles.includes(r))) {
        throw new GovernanceError(
          GovernanceErrorCode.SeniorReviewRequired,
          `An inpatient record is archived on a senior physician's review (${this.policy.archiveInpatientRoles.join(', ')}) (R-15)`,
        );
      }
      if (encounter.status !== 'finished') {
        throw new GovernanceError(GovernanceErrorCode.NotArchivable, `Encounter/${id} is ${encounter.status}: an inpatient record is archived after discharge (R-15)`);
      }
    }
    const unsigned = await this.unsignedDocuments(this.store.records, id);
    if (unsigned.length) {
      throw new GovernanceError(
        GovernanceErrorCode.NotArchivable,
        `Encounter/${id} has documents not yet signed: ${unsigned.slice(0, 20).join(', ')}${unsigned.length > 20 ? ` and ${unsigned.length - 20} more` : ''}; sign or co-sign them first (R-15)`,
      );
    }
    const patient = subjectPatient(encounter);
    const archived = await this.store.transaction(async (tx, unit) => {
      const tagged: Encounter = { ...encounter, meta: { ...encounter.meta, tag: [...(encounter.meta?.tag ?? []), ARCHIVED_TAG] } };
      const written = await this.chain.update(ctx, tx, unit, { ...tagged, id } as Resource & { id: string }, { ifMatch: stored.versionId, patient }, 'archive');
      return written.resource;
    });
    return { status: 200, body: archived, headers: versionHeaders(archived) };
  }

  /**
   * When the policy archives outpatient records on signing (`governance.archiveOutpatientOnSigning`),
   * archives the document's outpatient encounter once its last document is signed, in the
   * signing's transaction `tx` (through the write chain, as the step `archive`). Nothing happens
   * for inpatient encounters (they wait for discharge and a senior physician's review) or while
   * a document is unsigned.
   */
  async archiveIfComplete(ctx: FhirContext, tx: FhirStore, unit: UnitOfWork, document: Resource): Promise<void> {
    const encounterId = encounterOf(document);
    if (!this.policy.archiveOutpatientOnSigning || !encounterId) return;
    // Locked first: of two signings finishing the visit's last documents at once, the second sees the first's.
    await tx.records.lock([{ type: 'Encounter', id: encounterId }], 'update');
    const encounter = await readIfStored(tx, encounterId);
    if (!encounter || isArchived(encounter) || !OUTPATIENT_CLASSES.has(encounter.class?.code ?? '')) return;
    if ((await this.unsignedDocuments(tx.records, encounterId)).length) return;
    const patient = subjectPatient(encounter);
    const tagged: Encounter = { ...encounter, meta: { ...encounter.meta, tag: [...(encounter.meta?.tag ?? []), ARCHIVED_TAG] } };
    await this.chain.update(ctx, tx, unit, { ...tagged, id: encounterId } as Resource & { id: string }, { ifMatch: encounter.meta?.versionId, patient }, 'archive');
  }

  /** Governed documents of the encounter that are not signed yet. */
  async unsignedDocuments(records: PatientRecordIndex, encounterId: string): Promise<string[]> {
    const open = await records.recordsOfEncounters([encounterId], this.policy.governedResources, { excludingStatuses: CLOSED_STATUSES });
    return open.map((r) => `${r.resource.resourceType}/${r.resource.id}`);
  }
}

/** The encounter's current version, or undefined when there is none. */
async function readIfStored(store: FhirStore, id: string): Promise<Encounter | undefined> {
  try {
    return (await store.read('Encounter', id)) as Encounter;
  } catch (e) {
    if (e instanceof StoreError && e.code === StoreErrorCode.NotFound) return undefined;
    throw e;
  }
}

export function isArchived(encounter: Resource): boolean {
  return (encounter.meta?.tag ?? []).some((t) => t.system === RECORD_STATE_SYSTEM && t.code === 'archived');
}

/**
 * The encounter a governed document belongs to (Composition.encounter, the first
 * DocumentReference.context.encounter naming one), in any reference form the search index
 * accepts: `Encounter/1`, `Encounter/1/_history/2`, `https://…/Encounter/1`.
 */
export function encounterOf(resource: Resource): string | undefined {
  const r = resource as { encounter?: { reference?: string }; context?: { encounter?: { reference?: string }[] } };
  for (const ref of [r.encounter?.reference, ...(r.context?.encounter ?? []).map((e) => e.reference)]) {
    const named = ref ? parseReference(ref) : undefined;
    if (named?.type === 'Encounter') return named.id;
  }
  return undefined;
}

