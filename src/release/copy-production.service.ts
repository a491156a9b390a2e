import { Injectable } from '@nestjs/common';
import type { FhirContext } from '../fhir/fhir-request.js';
import { CertifiedCopyRenderer } from './certified-copy.renderer.js';
import { CopyCandidates } from './copy-candidates.js';
import { CopyRequestReader } from './copy-request.reader.js';
import { CopyRequestSteps } from './copy-request.steps.js';
import { CopyRequestsRepository } from './copy-requests.repository.js';
import { disclosedOf, nothingToCopy } from './domain/copy-production.js';
import type { CopyRequestStatus } from './domain/copy-request.js';
import type { ProductionView } from './dto/copy-request.view.js';
import { ReleaseError, ReleaseErrorCode } from './release.errors.js';

const PRODUCIBLE: readonly CopyRequestStatus[] = ['approved', 'produced', 'partially-delivered'];
const NOT_PRODUCIBLE = 'a copy is produced once the request is approved';

/**
 * Produces a copy of an approved request (R-31…R-33): what is complete and not produced yet,
 * objective parts only (signed documents; structured records — vital signs, orders, reports,
 * charges — in a final status), each allowed to the officer by the access policy, pinned to
 * their current versions, as a certified PDF and a hash-sealed FHIR document Bundle.
 * Unfinished records are listed as pending; a later production copies them once complete.
 * A disclosure of the patient (lifecycle `disclose`): its audit entry commits with the copy.
 */
@Injectable()
export class CopyProductionService {
  constructor(
    private readonly requests: CopyRequestsRepository,
    private readonly reader: CopyRequestReader,
    private readonly candidates: CopyCandidates,
    private readonly renderer: CertifiedCopyRenderer,
    private readonly steps: CopyRequestSteps,
  ) {}

  async produce(ctx: FhirContext, id: string): Promise<ProductionView> {
    const request = await this.reader.require(ctx, id);
    if (!PRODUCIBLE.includes(request.status)) throw new ReleaseError(ReleaseErrorCode.WrongState, `Copy request ${id} is ${request.status}: ${NOT_PRODUCIBLE}`);
    const judged = await this.candidates.judge(ctx, request);
    // One step at a time per request: state, copy number and "already produced" are read under the lock.
    const n = await this.steps.take(id, PRODUCIBLE, NOT_PRODUCIBLE, async (step) => {
      const { unit, at } = step;
      const produced = await this.requests.producedRefs(id, unit);
      const selection = await this.candidates.select(request, judged, produced, unit);
      if (selection.manifest.length === 0) throw new ReleaseError(ReleaseErrorCode.NothingToProduce, nothingToCopy(id, selection, produced.size > 0));
      const next = await this.requests.nextCopyNo(id, unit);
      const { bundle, pdf } = await this.renderer.render(ctx, request, next, selection, at, unit);
      const { manifest, pending, excluded } = selection;
      const files = { bundle: bundle.text, bundleSha256: bundle.sha256, pdf: pdf.bytes, pdfSha256: pdf.sha256, pages: pdf.pages };
      await this.requests.insertProduction(id, { copyNo: next, createdAt: at, createdBy: ctx.actor.id, manifest, pending, excluded, ...files }, unit);
      // The disclosure's entry commits with the copy, naming every version it holds.
      ctx.audit?.as({ disclosed: disclosedOf(manifest) });
      await this.steps.record(ctx, step, {
        status: 'produced',
        audited: 201,
        event: {
          step: 'produced',
          copy: next,
          versions: manifest.map((m) => `${m.type}/${m.id}/_history/${m.version}`),
          pending: pending.map((p) => p.ref),
          bundleSha256: bundle.sha256,
          pdfSha256: pdf.sha256,
        },
      });
      return next;
    });
    ctx.audit?.concerns([request.patient]);
    const view = await this.reader.view(ctx, id);
    return view.productions.find((p) => p.n === n) as ProductionView;
  }
}
