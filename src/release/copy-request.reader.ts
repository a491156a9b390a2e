import { Injectable } from '@nestjs/common';
import { idNumbersShown } from '../common/id-masking.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { CopyRequestsRepository } from './copy-requests.repository.js';
import type { CopyRequestRecord } from './domain/copy-request.js';
import { copyRequestView, type CopyRequestView } from './dto/copy-request.view.js';
import { ReleaseError, ReleaseErrorCode } from './release.errors.js';

/**
 * How every step finds the request it acts on and answers with it: a request that is not
 * known is 404, and one that is concerns its patient in the audit trail; the answer is
 * the desk's view of the request as it now stands.
 */
@Injectable()
export class CopyRequestReader {
  constructor(
    private readonly requests: CopyRequestsRepository,
    private readonly policy: LoadedPolicy,
  ) {}

  /** The request, or 404; its patient is named in the request's audit entry. */
  async require(ctx: FhirContext, id: string): Promise<CopyRequestRecord> {
    const request = await this.requests.find(id);
    if (!request) throw new ReleaseError(ReleaseErrorCode.NotFound, `Copy request ${id} is not known`);
    ctx.audit?.concerns([request.patient]);
    return request;
  }

  /** The desk's view of the request as it now stands, its ID numbers whole only for the roles the policy names (`settings.idNumbersVisibleTo`). */
  async view(ctx: FhirContext, id: string): Promise<CopyRequestView> {
    const request = await this.requests.find(id);
    if (!request) throw new ReleaseError(ReleaseErrorCode.NotFound, `Copy request ${id} is not known`);
    const evidence = await this.requests.evidenceOf(id);
    const productions = await this.requests.productionsOf(id);
    const base = ctx.baseUrl.replace(/\/fhir$/, '');
    const idNumbers = idNumbersShown(ctx.actor.roles, this.policy.idNumbersVisibleTo);
    return copyRequestView({ request, evidence, productions, checklist: this.policy.copyChecklist(request.requesterType), base, idNumbers });
  }

  /** One request: its checklist, evidence, copies and whole life. */
  async get(ctx: FhirContext, id: string): Promise<CopyRequestView> {
    await this.require(ctx, id);
    return this.view(ctx, id);
  }

  /** The record room's queue, oldest first: by status and patient when given. */
  async list(ctx: FhirContext, query: { status?: string; patient?: string }): Promise<CopyRequestView[]> {
    const ids = await this.requests.queue(query.status, query.patient);
    return Promise.all(ids.map((id) => this.view(ctx, id)));
  }
}
