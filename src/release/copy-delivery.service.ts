import { Injectable } from '@nestjs/common';
import type { FhirContext } from '../fhir/fhir-request.js';
import { copyFileName } from '../fhir/fhir-response.js';
import { CopyRequestReader } from './copy-request.reader.js';
import { CopyRequestSteps } from './copy-request.steps.js';
import { CopyRequestsRepository } from './copy-requests.repository.js';
import { CopyVersionRule } from './copy-version-rule.js';
import { disclosedOf } from './domain/copy-production.js';
import { sameIdentity, type CopyEvent } from './domain/copy-request.js';
import type { Delivery } from './dto/copy-request.dto.js';
import type { CopyRequestView } from './dto/copy-request.view.js';
import { ReleaseError, ReleaseErrorCode } from './release.errors.js';

const NOTHING_TO_DELIVER = 'nothing produced waits for delivery';

/**
 * Hands produced copies out: delivered to the requester, identity checked again,
 * or read back exactly as produced. Either way only while the office may still copy every
 * version a copy holds (`CopyVersionRule`), and recorded as naming each version handed out.
 */
@Injectable()
export class CopyDeliveryService {
  constructor(
    private readonly requests: CopyRequestsRepository,
    private readonly reader: CopyRequestReader,
    private readonly versions: CopyVersionRule,
    private readonly steps: CopyRequestSteps,
  ) {}

  /** Hands the copies not yet delivered to the requester; the request closes unless parts are pending. A disclosure. */
  async deliver(ctx: FhirContext, id: string, delivery: Delivery): Promise<CopyRequestView> {
    const request = await this.reader.require(ctx, id);
    if (request.status !== 'produced') throw new ReleaseError(ReleaseErrorCode.WrongState, `Copy request ${id} is ${request.status}: ${NOTHING_TO_DELIVER}`);
    const { recipient, method } = delivery;
    if (!sameIdentity(request.requester, recipient)) {
      throw new ReleaseError(
        ReleaseErrorCode.RecipientMismatch,
        `The copy is handed to the requester identified at the desk (${request.requester.name}); ${recipient.name} presents another ID number`,
      );
    }
    const undelivered = undeliveredOf((await this.requests.productionsOf(id)).map((p) => p.copyNo), request.events);
    await this.versions.requireStillCopyable(ctx, request, undelivered);
    await this.steps.take(id, ['produced'], NOTHING_TO_DELIVER, async (step) => {
      const copies = await this.requests.productionsOf(id, step.unit);
      const handed = copies.filter((c) => undeliveredOf([c.copyNo], step.request.events).length > 0);
      // A copy produced between the check above and this lock was not checked: deliver again.
      if (handed.some((c) => !undelivered.includes(c.copyNo))) {
        throw new ReleaseError(ReleaseErrorCode.WrongState, `Copy request ${id}: a copy was produced while this delivery was being prepared; deliver again`);
      }
      const pendingLeft = (copies.at(-1)?.pending ?? []).length > 0;
      ctx.audit?.as({ disclosed: disclosedOf(await this.requests.manifestOf(id, handed.map((c) => c.copyNo), step.unit)) });
      await this.steps.record(ctx, step, {
        status: pendingLeft ? 'partially-delivered' : 'delivered',
        closedAt: pendingLeft ? null : step.at,
        audited: 200,
        event: { step: 'delivered', to: recipient, method, copies: handed.map((c) => c.copyNo), pages: handed.reduce((sum, c) => sum + c.pages, 0) },
      });
    });
    ctx.audit?.concerns([request.patient]);
    return this.reader.view(ctx, id);
  }

  /** A produced copy exactly as produced (`{n}.pdf`, the certified PDF; `{n}.json`, the electronic Bundle), with its SHA-256. */
  async copy(ctx: FhirContext, id: string, file: string): Promise<{ body: Buffer | string; sha256: string; format: 'pdf' | 'json' }> {
    const name = copyFileName(file);
    if (!name) throw new ReleaseError(ReleaseErrorCode.NotFound, `No copy ${file}: copies are named {n}.pdf or {n}.json`);
    const request = await this.reader.require(ctx, id);
    const copy = await this.requests.storedCopy(id, name.n);
    if (!copy) throw new ReleaseError(ReleaseErrorCode.NotFound, `Copy request ${id} has no copy ${name.n}`);
    await this.versions.requireStillCopyable(ctx, request, [name.n]);
    ctx.audit?.as({ disclosed: disclosedOf(await this.requests.manifestOf(id, [name.n])) });
    return name.format === 'pdf' ? { body: copy.pdf, sha256: copy.pdfSha256, format: 'pdf' } : { body: copy.bundle, sha256: copy.bundleSha256, format: 'json' };
  }
}

/** Of `copyNos`, those no delivery of the request's life has handed out yet. */
function undeliveredOf(copyNos: readonly number[], events: readonly CopyEvent[]): number[] {
  const delivered = new Set(events.filter((e) => e.step === 'delivered').flatMap((e) => e.copies as number[]));
  return copyNos.filter((n) => !delivered.has(n));
}
