import { Injectable } from '@nestjs/common';
import { namesFor } from '../copies/paper.js';
import type { PatientBlock } from '../copies/patient-block.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { FhirStore } from '../store/fhir-store.port.js';
import type { DisputeStep } from './dispute-steps.js';
import { inventoryDigest, noClaimUnsealFrom } from './domain/dispute-case.js';
import type { DisputeCase, SealWitnesses, Unsealing } from './domain/dispute-records.js';
import { DisputesRepository } from './disputes.repository.js';
import { paperSettings } from './dispute-paper-parts.js';
import { unsealRecordPdf } from './unseal-record.papers.js';
import { UnsealRecordRepository } from './unseal-record.repository.js';

/**
 * The unseal record (启封记录, R-43): produced in the unseal step's unit of work, so that a case
 * is never unsealed without it nor it kept for an unsealing that rolled back; its PDF is kept
 * exactly as produced with its SHA-256, as a sealed copy's is, and committed with the
 * step's own audit entry (`dispute-unseal`, lifecycle unhold).
 */
@Injectable()
export class UnsealRecordService {
  constructor(
    private readonly store: FhirStore,
    private readonly cases: DisputesRepository,
    private readonly records: UnsealRecordRepository,
    private readonly policy: LoadedPolicy,
  ) {}

  /** Produces and keeps the record of `c` unsealed now (`step`) as `unsealing` justifies it; `patient`: the block its head prints. */
  async produce(step: DisputeStep, ctx: FhirContext, c: DisputeCase, unsealing: Unsealing, patient: PatientBlock): Promise<void> {
    const index = this.store.within(step.unit).records;
    const items = await this.cases.items(c.id, step.unit);
    const copies = await this.cases.copies(c.id);
    const digest = inventoryDigest(items.map((i) => i.line));
    const years = this.policy.unilateralUnsealAfterYears;
    const pdf = await unsealRecordPdf({
      dispute: c,
      unsealing,
      at: step.at,
      patient,
      settings: paperSettings(this.policy),
      names: await namesFor(index, [], [...peopleOf(unsealing), ...copies.flatMap((k) => peopleOfSeal(k.witnesses))]),
      copies,
      inventory: { sealed: items.filter((i) => i.line.status === 'sealed').length, pending: items.filter((i) => i.line.status === 'pending').length, digest },
      noClaim: { years, from: noClaimUnsealFrom(c.sealedAt as Date, years) },
    });
    await this.records.add(c.id, { createdAt: step.at, createdBy: ctx.actor.id, inventorySha256: digest, pdf: pdf.bytes, pdfSha256: pdf.sha256, pages: pdf.pages }, step.unit);
    ctx.audit?.concerns([c.patient]);
  }
}

/** The practitioners an unsealing names: the sides present, or the approver and the officer. */
function peopleOf(u: Unsealing): string[] {
  return u.basis === 'both-sides'
    ? [u.hospital.practitioner, ...(u.hospital.officer ? [u.hospital.officer] : [])]
    : [u.approvedBy.practitioner, u.officer.practitioner];
}

/** The practitioners a sealed copy names: the hospital side and the officer. */
function peopleOfSeal(w: SealWitnesses): string[] {
  return [w.hospital.practitioner, ...(w.hospital.officer ? [w.hospital.officer] : [])];
}
