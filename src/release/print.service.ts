import { Injectable } from '@nestjs/common';
import type { Resource } from '@medplum/fhirtypes';
import { Clock } from '../common/clock.js';
import { FhirAccess } from '../fhir/fhir-access.port.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { contentSha256 } from '../common/content-hash.js';
import { renderPdf, type RenderedPdf } from '../copies/pdf-renderer.js';
import { resourceSection } from '../copies/resource-text.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { FhirStore, type StoredJson } from '../store/fhir-store.port.js';

/**
 * `GET /fhir/{type}/{id}/$print`: a clinician's print of one record's current
 * version, allowed by the policy's `print` action, as a PDF watermarked on every page with who
 * printed it and when, and the version's SHA-256 in the footer. Recorded as a disclosure of that
 * version (`Type/id/_history/v`).
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
    const resource = JSON.parse(stored.json) as Resource;
    // The disclosure names the version printed: the entity, and what was handed out.
    const version = { type, id, version: stored.versionId };
    ctx.audit?.as({ entity: version, disclosed: [version] });
    const now = this.clock.now();
    const pdf = await renderPdf({
      title: `${this.policy.hospitalName} 打印件 Print`,
      reference: `${type}/${id}/_history/${stored.versionId}`,
      watermark: `${ctx.actor.practitioner} 打印 printed ${now.toISOString()}`,
      footerHash: contentSha256(resource),
      createdAt: now,
      author: ctx.actor.practitioner,
      sections: [resourceSection(resource)],
    });
    return { ...pdf, filename: `${type}-${id}-v${stored.versionId}.pdf` };
  }
}
