import { Injectable } from '@nestjs/common';
import type { UnitOfWork } from '../database/unit-of-work.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { WriteRecorder, type JournaledWrite } from '../fhir/write-chain.port.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { documentText, fingerprints } from './domain/copy-paste.js';
import { TextFingerprintRepository } from './text-fingerprint.repository.js';

/**
 * R-16 after every write of a governed document's text, in its transaction: the document's
 * fingerprints become the new version's (the previous version's, recomputed from its text, are
 * deleted by key), so `CopyPasteGuard` compares later documents with what it says now. They are
 * filed under the write's patient as the store resolved it (any reference form), not only a
 * relative `Patient/…` subject.
 */
@Injectable()
export class FingerprintRecorder extends WriteRecorder {
  constructor(
    private readonly policy: LoadedPolicy,
    private readonly fingerprints: TextFingerprintRepository,
  ) {
    super();
  }

  async record(_ctx: FhirContext, write: JournaledWrite, unit: UnitOfWork): Promise<void> {
    const resource = write.resource;
    if (write.unchanged || write.step || !this.policy.governedResources.includes(resource.resourceType)) return;
    const min = this.policy.copyPasteMinChars;
    const previous = write.previous ? fingerprints(documentText(write.previous), min) : [];
    const current = fingerprints(documentText(resource), min);
    await this.fingerprints.replace(unit, { type: resource.resourceType, id: resource.id as string }, write.patient, previous, current);
  }
}
