import { Injectable } from '@nestjs/common';
import type { Patient } from '@medplum/fhirtypes';
import { encountersNotOf } from '../copies/patient-record.js';
import { FhirAccess } from '../fhir/fhir-access.port.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { DocumentTypes } from '../policy/domain/document-types.js';
import { FhirStore, type StoredJson } from '../store/fhir-store.port.js';
import type { CopyRequestInput } from './domain/copy-request.js';
import { ReleaseError, ReleaseErrorCode } from './release.errors.js';

/**
 * What the desk checks before a request is received (R-30, R-31): the officer may copy the
 * patient's record at all (a patient they may not reach is not known to them), the requester
 * type fits the patient (heirs for a deceased patient; the patient or an agent otherwise), the
 * document types asked for exist and are objective, and the encounters named are the patient's.
 */
@Injectable()
export class CopyRequestScreening {
  constructor(
    private readonly store: FhirStore,
    private readonly access: FhirAccess,
    private readonly types: DocumentTypes,
  ) {}

  /** Throws the first reason the request cannot be received. */
  async screen(ctx: FhirContext, input: CopyRequestInput): Promise<void> {
    const patient = { type: 'Patient', id: input.patient };
    const stored = (await this.access.requireStored(ctx, 'copy', patient, this.store, { hideExistence: true, withContent: true })) as StoredJson;
    this.requireRequesterFits(input, JSON.parse(stored.json) as Patient);
    for (const code of input.scope.documentTypes ?? []) {
      if (this.types.get(code)) continue;
      const known = this.types.all().map((t) => t.code).join(', ');
      throw new ReleaseError(ReleaseErrorCode.Invalid, `scope.documentTypes: "${code}" is not a document type (${known})`);
    }
    const subjective = (input.scope.documentTypes ?? []).filter((c) => this.types.get(c)?.objectivity === 'subjective');
    if (subjective.length) {
      throw new ReleaseError(
        ReleaseErrorCode.SubjectiveRefused,
        `${subjective.join(', ')} ${subjective.length > 1 ? 'are' : 'is'} subjective: ` +
          'progress notes, discussions, rounds and consultation opinions are not copied for requesters (R-31); in a dispute they are sealed instead',
      );
    }
    const foreign = await encountersNotOf(this.store.records, input.patient, input.scope.encounters ?? []);
    if (foreign.length) {
      throw new ReleaseError(ReleaseErrorCode.Invalid, `Not encounters of Patient/${input.patient}: ${foreign.map((e) => `Encounter/${e}`).join(', ')}`);
    }
  }

  /** R-30: a deceased patient's record is asked for by the heirs; a living patient's by the patient or their agent. */
  private requireRequesterFits(input: CopyRequestInput, patient: Patient): void {
    const deceased = patient.deceasedBoolean === true || Boolean(patient.deceasedDateTime);
    if (deceased && (input.requesterType === 'patient' || input.requesterType === 'agent')) {
      throw new ReleaseError(
        ReleaseErrorCode.RequesterMismatch,
        `Patient/${input.patient} is recorded as deceased: the copy is asked for by a legal heir (heir or heir-agent), not as ${input.requesterType} (R-30)`,
      );
    }
    if (!deceased && (input.requesterType === 'heir' || input.requesterType === 'heir-agent')) {
      throw new ReleaseError(
        ReleaseErrorCode.RequesterMismatch,
        `Patient/${input.patient} is not recorded as deceased: heirs ask only for a deceased patient's record; a living patient asks, or their agent (R-30)`,
      );
    }
  }
}
