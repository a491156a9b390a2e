import { Injectable } from '@nestjs/common';
import { createHash, randomUUID } from 'node:crypto';
import type { FhirContext } from '../fhir/fhir-request.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { CopyRequestReader } from './copy-request.reader.js';
import { CopyRequestScreening } from './copy-request.screening.js';
import { CopyRequestSteps, type CopyStep } from './copy-request.steps.js';
import { CopyRequestsRepository } from './copy-requests.repository.js';
import { missingEvidence, sniffEvidenceType, type CopyRequestInput, type CopyRequestStatus } from './domain/copy-request.js';
import type { EvidenceKind } from '../policy/domain/copy-checklists.js';
import { separationBreach } from './domain/release-rules.js';
import type { CopyRequestView } from './dto/copy-request.view.js';
import { ReleaseError, ReleaseErrorCode } from './release.errors.js';

/** A presented document as the desk receives it: what it proves, its name and declared type, and its bytes. */
export interface PresentedEvidence {
  proves: EvidenceKind;
  filename?: string;
  declared?: string;
  bytes: unknown;
}

/**
 * The record room's release of information up to the copy: a request is received
 * with who asks and why; the documents they present are kept with their hashes and checked
 * against the requester type's checklist (policy data); it is approved (by another clerk under
 * separation of duties) or refused with a reason, and closed with one when it cannot be
 * completed. Producing and delivering the copy: `CopyProductionService`, `CopyDeliveryService`.
 */
@Injectable()
export class CopyRequestsService {
  constructor(
    private readonly requests: CopyRequestsRepository,
    private readonly reader: CopyRequestReader,
    private readonly screening: CopyRequestScreening,
    private readonly steps: CopyRequestSteps,
    private readonly policy: LoadedPolicy,
  ) {}

  /** Receives a request once the patient, the requester type and the scope pass the desk's checks. */
  async create(ctx: FhirContext, input: CopyRequestInput): Promise<CopyRequestView> {
    await this.screening.screen(ctx, input);
    const id = randomUUID();
    const now = this.steps.now();
    await this.requests.insert({
      id,
      patient: input.patient,
      requesterType: input.requesterType,
      requester: input.requester,
      purpose: input.purpose,
      scope: input.scope,
      receivedBy: ctx.actor.id,
      receivedAt: now,
      events: [{ at: now.toISOString(), by: ctx.actor.id, step: 'received', requesterType: input.requesterType }],
      policyVersion: this.policy.version,
    });
    return this.reader.view(ctx, id);
  }

  /** Keeps one presented document (PDF, JPEG or PNG, recognised by its bytes) with its SHA-256 and what it proves. */
  async addEvidence(ctx: FhirContext, id: string, evidence: PresentedEvidence): Promise<CopyRequestView> {
    const request = await this.reader.require(ctx, id);
    if (request.status !== 'received' && request.status !== 'verified') {
      throw new ReleaseError(ReleaseErrorCode.WrongState, `Copy request ${id} is ${request.status}: evidence is added before approval`);
    }
    const { bytes, declared } = evidence;
    if (!Buffer.isBuffer(bytes) || bytes.length === 0) {
      throw new ReleaseError(ReleaseErrorCode.Invalid, 'The evidence file is the request body (Content-Type application/pdf, image/jpeg or image/png)');
    }
    const type = sniffEvidenceType(bytes);
    if (!type || (declared && declared !== 'application/octet-stream' && declared !== type)) {
      const what = type ? `; this file is ${type}, sent as ${declared}` : '; this file is none of them';
      throw new ReleaseError(ReleaseErrorCode.EvidenceType, `Evidence is a PDF, JPEG or PNG file${what}`);
    }
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const evidenceId = randomUUID();
    await this.steps.take(id, ['received', 'verified'], 'evidence is added before approval', async (step) => {
      const kept = { id: evidenceId, proves: evidence.proves, filename: evidence.filename ?? null, contentType: type, size: bytes.length, sha256 };
      await this.requests.insertEvidence(id, { ...kept, content: bytes, uploadedBy: ctx.actor.id, uploadedAt: step.at }, step.unit);
      await this.steps.record(ctx, step, { event: { step: 'evidence', evidence: evidenceId, proves: evidence.proves, sha256 } });
    });
    return this.reader.view(ctx, id);
  }

  /** The record-room officer checks the evidence against the requester type's checklist and the person's identity. */
  async verify(ctx: FhirContext, id: string, identityChecked: boolean): Promise<CopyRequestView> {
    const request = await this.reader.require(ctx, id);
    if (request.status !== 'received') {
      throw new ReleaseError(ReleaseErrorCode.WrongState, `Copy request ${id} is ${request.status}, not waiting for its documents to be checked`);
    }
    const evidence = await this.requests.evidenceOf(id);
    const missing = missingEvidence(this.policy.copyChecklist(request.requesterType), evidence.map((e) => e.proves));
    if (!identityChecked) missing.push('identityChecked: true (the officer compared the ID presented with the person)');
    if (missing.length) throw new ReleaseError(ReleaseErrorCode.EvidenceMissing, `A ${request.requesterType} request needs (R-30): ${missing.join('; ')}`);
    await this.steps.take(id, ['received'], 'not waiting for its documents to be checked', (step) =>
      this.steps.record(ctx, step, {
        status: 'verified',
        event: { step: 'verified', evidence: evidence.map((e) => ({ id: e.id, proves: e.proves, sha256: e.sha256 })) },
      }),
    );
    return this.reader.view(ctx, id);
  }

  /** Approves a checked request, or refuses one not yet approved with `reason`; a refusal closes it. */
  async decide(ctx: FhirContext, id: string, approve: boolean, reason: string): Promise<CopyRequestView> {
    const request = await this.reader.require(ctx, id);
    const allowed: CopyRequestStatus[] = approve ? ['verified'] : ['received', 'verified'];
    const what = approve ? 'only a checked request is approved' : 'it can no longer be refused';
    if (!allowed.includes(request.status)) throw new ReleaseError(ReleaseErrorCode.WrongState, `Copy request ${id} is ${request.status}; ${what}`);
    await this.steps.take(id, allowed, what, async (step) => {
      // Read under the lock: who received and verified cannot change once the request is verified.
      if (approve) this.requireSeparateApprover(ctx, step);
      await this.steps.record(ctx, step, {
        status: approve ? 'approved' : 'refused',
        closedAt: approve ? null : step.at,
        event: { step: approve ? 'approved' : 'refused', ...(reason ? { reason } : {}) },
      });
    });
    return this.reader.view(ctx, id);
  }

  /**
   * Closes an open request with a reason: the requester withdrew, or the pending parts
   * will not be completed (withdrawn, never signed). What was produced and delivered stays.
   */
  async close(ctx: FhirContext, id: string, reason: string): Promise<CopyRequestView> {
    await this.reader.require(ctx, id);
    await this.steps.take(id, ['received', 'verified', 'approved', 'produced', 'partially-delivered'], 'it is closed already', (step) =>
      this.steps.record(ctx, step, { status: 'closed', closedAt: step.at, event: { step: 'closed', reason } }),
    );
    return this.reader.view(ctx, id);
  }

  /** One request: its checklist, evidence, copies and whole life. */
  get(ctx: FhirContext, id: string): Promise<CopyRequestView> {
    return this.reader.get(ctx, id);
  }

  /** The record room's queue, oldest first: by status and patient when given. */
  list(ctx: FhirContext, query: { status?: string; patient?: string }): Promise<CopyRequestView[]> {
    return this.reader.list(ctx, query);
  }

  /** with the policy's separation of duties (default on), the approver neither received nor verified the request. */
  private requireSeparateApprover(ctx: FhirContext, { request }: CopyStep): void {
    if (!this.policy.copySeparationOfDuties) return;
    const verifiedBy = request.events.findLast((e) => e.step === 'verified')?.by;
    const breach = separationBreach(ctx.actor.id, { receivedBy: request.receivedBy, verifiedBy });
    if (!breach) return;
    // The refusal is the policy's: the trail records the setting that refused, against the patient.
    ctx.audit?.decided({ allowed: false, rule: 'copyRequests.separationOfDuties', policyVersion: this.policy.version }, request.patient);
    throw new ReleaseError(
      ReleaseErrorCode.SeparationOfDuties,
      `Copy request ${request.id}: ${breach}; ` +
        'under separation of duties (policy copyRequests.separationOfDuties) another clerk of the record room approves it (R-34)',
    );
  }
}
