import { Injectable } from '@nestjs/common';
import type { Resource } from '@medplum/fhirtypes';
import { FhirAccess } from '../fhir/fhir-access.port.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { FhirStore, notFoundError } from '../store/fhir-store.port.js';
import { CopyRequestsRepository } from './copy-requests.repository.js';
import type { CopyRequestRecord } from './domain/copy-request.js';
import { copyRefusal } from './domain/release-rules.js';
import { ReleaseError, ReleaseErrorCode } from './release.errors.js';

/**
 * The version rule for copies (issue #12 item 1, R-07, R-30, R-44): a copy for a patient holds a
 * version only while the office may copy it by its own facts AND the current version by its
 * facts (the access policy's one version rule, `FhirAccess.judgeVersions`), each also the
 * patient's record. Applied when a copy is produced, and again each time it is handed out.
 */
@Injectable()
export class CopyVersionRule {
  constructor(
    private readonly access: FhirAccess,
    private readonly store: FhirStore,
    private readonly requests: CopyRequestsRepository,
  ) {}

  /** Why a copy for `patient` may not hold each of `versions`, in order (undefined where it may). */
  async refusals(ctx: FhirContext, patient: string, versions: readonly Resource[]): Promise<(string | undefined)[]> {
    const verdicts = await this.access.judgeVersions(ctx, 'copy', versions, this.store);
    return verdicts.map(({ version, current }, i) => {
      // Records are never deleted: a version whose record is gone was not the store's.
      if (!current) throw notFoundError(versions[i].resourceType, versions[i].id as string);
      return copyRefusal(patient, version, current);
    });
  }

  /**
   * A produced copy is handed out (delivered, or its file read) only while the office may still
   * copy every version it holds: a public incident sealed since, a label added to a later
   * version, a record moved to another patient. One such version and the whole
   * copy stays in (a stamped PDF is not handed out in part); each is named.
   */
  async requireStillCopyable(ctx: FhirContext, request: CopyRequestRecord, copyNos: readonly number[]): Promise<void> {
    const lines = await this.requests.manifestOf(request.id, copyNos);
    const held = await this.store.records.versions(lines.map((l) => ({ type: l.type, id: l.id, version: String(l.version) })));
    const pinned = lines.map((l) => {
      const version = held.get(`${l.type}/${l.id}/${l.version}`);
      if (!version) throw notFoundError(l.type, l.id, String(l.version));
      return version;
    });
    const refusals = await this.refusals(ctx, request.patient, pinned);
    const refused = lines.flatMap((l, i) => (refusals[i] ? [`copy ${l.copyNo} holds ${l.type}/${l.id}/_history/${l.version}: ${refusals[i]}`] : []));
    if (refused.length) {
      throw new ReleaseError(
        ReleaseErrorCode.Withheld,
        `Copy request ${request.id}: this office may no longer hand out what it copied, so nothing is handed out; ${refused.join('; ')}`,
      );
    }
  }
}
