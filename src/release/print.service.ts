import { Injectable } from '@nestjs/common';
import type { Resource } from '@medplum/fhirtypes';
import { Clock } from '../common/clock.js';
import { hospitalTimeNamed } from '../common/hospital-time.js';
import { FhirAccess } from '../fhir/fhir-access.port.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { contentSha256 } from '../common/content-hash.js';
import { withStoredText } from '../common/fhir-json-text.js';
import { namesFor, nameOf, type Paper } from '../copies/paper.js';
import { patientBlockSection, patientBlock } from '../copies/patient-block.js';
import { renderPdf, type PdfSection, type RenderedPdf } from '../copies/pdf-renderer.js';
import { recordEncounters, recordPatient } from '../copies/reference-key.js';
import { resourceSection } from '../copies/resource-text.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { FhirStore, type StoredJson } from '../store/fhir-store.port.js';

/**
 * `GET /fhir/{type}/{id}/$print`: a clinician's print of one record's current
 * version, allowed by the policy's `print` action, as a PDF headed with the hospital's name and
 * the patient block (the record's patient and visit), watermarked on every page with who printed
 * it (by name) and when (in the hospital's zone), and the version's SHA-256 in the footer; its
 * times in the zone, its signers by name. Recorded as a disclosure of that version
 * (`Type/id/_history/v`).
 */
@Injectable()
export class PrintService {
  constructor(
    private readonly store: FhirStore,
    private readonly access: FhirAccess,
    private readonly policy: LoadedPolicy,
    private readonly clock: Clock,
  ) {}

  async print(ctx: FhirContext, type: string, id: string): Promise<RenderedPdf & { filename: string }> {
    const stored = (await this.access.requireStored(ctx, 'print', { type, id }, this.store, { hideExistence: true, withContent: true })) as StoredJson;
    // Read with its stored text: the paper prints its numbers as the sender wrote them (decision 0014).
    const resource = withStoredText(JSON.parse(stored.json) as Resource, stored.json);
    // The disclosure names the version printed: the entity, and what was handed out.
    const version = { type, id, version: stored.versionId };
    ctx.audit?.as({ entity: version, disclosed: [version] });
    const now = this.clock.now();
    const timeZone = this.policy.timeZone;
    const paper: Paper = { timeZone, names: await namesFor(this.store.records, [resource], [ctx.actor.practitioner]) };
    const printedBy = nameOf({ reference: ctx.actor.practitioner }, paper) ?? ctx.actor.practitioner;
    const pdf = await renderPdf({
      title: `${this.policy.hospitalName} 打印件 Print`,
      reference: `${type}/${id}/_history/${stored.versionId}`,
      watermark: `${printedBy} 打印 ${hospitalTimeNamed(now, timeZone)}`,
      footerHash: contentSha256(resource),
      createdAt: now,
      author: ctx.actor.practitioner,
      sections: [...(await this.patientSection(resource, now)), resourceSection(resource, paper)],
    });
    return { ...pdf, filename: `${type}-${id}-v${stored.versionId}.pdf` };
  }

  /** The block of the record's patient and visit, when it is of a patient (a Patient prints its own record as the body). */
  private async patientSection(resource: Resource, at: Date): Promise<PdfSection[]> {
    const patient = recordPatient(resource);
    if (!patient || resource.resourceType === 'Patient') return [];
    const opts = { at, timeZone: this.policy.timeZone, recordNumberSystems: this.policy.medicalRecordNumberSystems };
    return [patientBlockSection(await patientBlock(this.store.records, patient, recordEncounters(resource), opts))];
  }
}
