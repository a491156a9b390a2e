import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock.js';
import { hospitalTimeNamed } from '../common/hospital-time.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { DisputeCaseAccess } from './dispute-case-access.js';
import { DisputeSteps } from './dispute-steps.js';
import { noClaimUnsealFrom, patientWitness, patientWitnessProblems, type PatientWitness } from './domain/dispute-case.js';
import { signatureOnRecord, type DrawnSignature } from './domain/patient-signature.js';
import { confirmedSide, hospitalSide, type Confirmation, type ConfirmationKind, type ConfirmationStep, type DisputeCase, type SealWitnesses, type Unsealing } from './domain/dispute-records.js';
import type { ConfirmationRequest, SealRequest, UnsealRequest } from './dto/dispute.dto.js';
import { confirmationView, type ConfirmationView } from './dto/dispute.view.js';
import { DisputeError, DisputeErrorCode } from './disputes.errors.js';
import { DisputesRepository } from './disputes.repository.js';

/** Who was at the table for a seal, and the inventory digest they confirmed, if any. */
export interface SealJustification {
  witnesses: SealWitnesses;
  confirmedDigest?: string;
}

/**
 * The people at the table (R-40, R-43): each confirms with their own authenticated request, and
 * the officer's seal or unseal then uses a confirmation given since the case's last step, within
 * the policy's minutes, by someone other than the officer. Here a confirmation is recorded, and a
 * seal or an unseal is justified (both sides present; or, to unseal alone, medical affairs'
 * approval and, for want of a claim, the policy's years) or refused listing what is missing.
 */
@Injectable()
export class DisputeConfirmationsService {
  constructor(
    private readonly cases: DisputesRepository,
    private readonly access: DisputeCaseAccess,
    private readonly steps: DisputeSteps,
    private readonly clock: Clock,
    private readonly policy: LoadedPolicy,
  ) {}

  /**
   * `POST /disputes/{id}/confirmations`: the hospital side's witness confirms the inventory shown
   * to both sides (`step: seal`, with its digest) or an unsealing (`step: unseal`); medical affairs
   * approves a unilateral unseal (`basis`, `reason`). Who may is policy data (`witness`, `approve`
   * on Dispute): anyone else is refused (403) before anything is stored or the case's existence is
   * disclosed. The officer who opened or sealed the case is never its witness or approver (422).
   * The confirmation is usable only if its audit entry committed with it (R-51).
   */
  async confirm(ctx: FhirContext, id: string, request: ConfirmationRequest): Promise<ConfirmationView> {
    const approval = request.step === 'unseal' ? request.approval : undefined;
    const c = await this.cases.find(id);
    ctx.audit?.concerns([c?.patient]);
    // The officer's own confirmation would never count (`usable`): say so now, not after a 201.
    if (c && (ctx.actor.id === c.openedBy || ctx.actor.id === c.sealedBy)) {
      throw new DisputeError(
        DisputeErrorCode.SelfWitness,
        `You opened or sealed dispute ${id}: ${approval ? 'the approval' : "the hospital side's witness"} is another person, with their own request (R-40, R-43)`,
      );
    }
    this.access.requireConfirmer(ctx, approval !== undefined, c?.patient);
    if (!c) throw new DisputeError(DisputeErrorCode.NotFound, `Dispute ${id} is not known`);
    const wanted = request.step === 'seal' ? 'open' : 'sealed';
    if (c.status !== wanted) throw new DisputeError(DisputeErrorCode.WrongState, `Dispute ${id} is ${c.status}: a ${request.step} is confirmed while it is ${wanted}`);
    const confirmation = await this.steps.run(ctx, c.patient, 201, ({ unit, at }) =>
      this.cases.addConfirmation(
        {
          dispute: c.id,
          step: request.step,
          kind: approval ? 'unseal-approval' : 'hospital-witness',
          by: { id: ctx.actor.id, practitioner: ctx.actor.practitioner, roles: [...ctx.actor.roles] },
          ...(request.step === 'seal' && request.inventoryDigest ? { inventoryDigest: request.inventoryDigest } : {}),
          ...(approval ?? {}),
          confirmedAt: at,
        },
        unit,
      ),
    );
    return confirmationView(confirmation, this.policy.disputeConfirmationMinutes);
  }

  /**
   * `GET /disputes/{id}/confirmations`: the case's confirmations still usable, newest first: for
   * the step the case awaits (an open case's seal, a sealed case's unseal), given since its last
   * step and within the policy's minutes. A step's use ends them: once the case moves on they are
   * no longer listed. Seen by whoever may see the case (`requireVisibleCase`, R-44).
   */
  async list(ctx: FhirContext, id: string): Promise<ConfirmationView[]> {
    const c = await this.access.requireVisibleCase(ctx, id);
    ctx.audit?.concerns([c.patient]);
    const step = awaitedStep(c);
    if (!step) return [];
    const freshFrom = new Date(this.clock.now().getTime() - this.minutes * 60_000);
    const found = await this.cases.openConfirmations({ dispute: c.id, step, since: stepSince(c, step), freshFrom });
    return found.map((k) => confirmationView(k, this.minutes));
  }

  /**
   * Both sides for a seal (R-40): the patient side in the request, the hospital side's witness by
   * their own confirmation. A witness who confirmed a digest confirmed that inventory only; the
   * digest sealed is the one shown (`inventoryDigest`), else the one the witness confirmed.
   */
  async justifySeal(ctx: FhirContext, c: DisputeCase, request: SealRequest): Promise<SealJustification> {
    const digest = request.inventoryDigest;
    const problems = patientWitnessProblems(request.patientWitness);
    const witness = await this.usable(ctx, c, 'seal', 'hospital-witness', (w) => w.inventoryDigest === undefined || w.inventoryDigest === digest);
    if (!witness) {
      problems.unshift(
        `the hospital side's witness confirms with their own request (POST /disputes/${c.id}/confirmations {"step":"seal"${digest ? `,"inventoryDigest":"${digest}"` : ''}}) within ${this.minutes} minutes`,
      );
    }
    if (!witness || problems.length) throw new DisputeError(DisputeErrorCode.ConfirmationMissing, `To seal, both sides are present and confirm (R-40); missing: ${problems.join('; ')}`);
    const witnesses = { hospital: { ...confirmedSide(witness), officer: ctx.actor.practitioner }, patient: patientSide(request.patientWitness, request.signature) };
    const confirmedDigest = digest ?? witness.inventoryDigest;
    return confirmedDigest === undefined ? { witnesses } : { witnesses, confirmedDigest };
  }

  /**
   * How an unseal is justified (R-43): `both-sides`, with the patient side in the request and the
   * hospital side's witness's confirmation; or `resolved` / `no-claim` by the hospital alone, with
   * medical affairs' approval of that basis, `no-claim` only once the policy's years have passed
   * since sealing.
   */
  async justifyUnseal(ctx: FhirContext, c: DisputeCase, request: UnsealRequest): Promise<Unsealing> {
    const { basis } = request;
    if (basis === 'both-sides') {
      const problems = patientWitnessProblems(request.patientWitness);
      const witness = await this.usable(ctx, c, 'unseal', 'hospital-witness', () => true);
      if (!witness) problems.unshift(`the hospital side's witness confirms with their own request (POST /disputes/${c.id}/confirmations {"step":"unseal"}) within ${this.minutes} minutes`);
      if (!witness || problems.length) throw new DisputeError(DisputeErrorCode.ConfirmationMissing, `To unseal, both sides are present again (R-43); missing: ${problems.join('; ')}`);
      return { basis, hospital: { ...confirmedSide(witness), officer: ctx.actor.practitioner }, patient: patientSide(request.patientWitness, request.signature) };
    }
    const approval = await this.usable(ctx, c, 'unseal', 'unseal-approval', (a) => a.basis === basis);
    if (!approval) {
      throw new DisputeError(
        DisputeErrorCode.ConfirmationMissing,
        `A unilateral unseal (${basis}) needs medical affairs' approval of it, given with their own request (POST /disputes/${c.id}/confirmations {"step":"unseal","basis":"${basis}","reason":…}) within ${this.minutes} minutes (R-43)`,
      );
    }
    if (basis === 'no-claim') this.requireNoClaimYears(c);
    return { basis, reason: approval.reason, approvedBy: confirmedSide(approval), officer: hospitalSide(ctx.actor) };
  }

  /** Without a claim, the hospital unseals alone only once the policy's years have passed since sealing (R-43). */
  private requireNoClaimYears(c: DisputeCase): void {
    const sealedAt = c.sealedAt as Date;
    const years = this.policy.unilateralUnsealAfterYears;
    const opensAt = noClaimUnsealFrom(sealedAt, years);
    if (this.clock.now() >= opensAt) return;
    // People read the refusal (the console shows it): the instants on the hospital's clock, zone named.
    const zone = this.policy.timeZone;
    throw new DisputeError(
      DisputeErrorCode.UnsealNotAllowed,
      `Dispute ${c.id} was sealed on ${hospitalTimeNamed(sealedAt, zone)}: without a claim the hospital may unseal alone from ${hospitalTimeNamed(opensAt, zone)} ` +
        `(${years} years, R-43); before that both sides are present`,
    );
  }

  /**
   * The latest confirmation of this kind for this step that the officer may use now: given since
   * the case's last step, within the policy's minutes, by someone other than the officer.
   */
  private async usable(
    ctx: FhirContext,
    c: DisputeCase,
    step: ConfirmationStep,
    kind: ConfirmationKind,
    matches: (confirmation: Confirmation) => boolean,
  ): Promise<Confirmation | undefined> {
    const since = stepSince(c, step);
    const freshFrom = new Date(this.clock.now().getTime() - this.minutes * 60_000);
    const candidates = await this.cases.confirmations({ dispute: c.id, step, kind, since, freshFrom, notBy: ctx.actor.id });
    return candidates.find(matches);
  }

  private get minutes(): number {
    return this.policy.disputeConfirmationMinutes;
  }
}

/** The patient side as the case records it: who they are, and the SHA-256 of the signature they drew, if they drew one (R-40). */
function patientSide(value: unknown, signature: DrawnSignature | undefined): PatientWitness {
  return { ...patientWitness(value), ...(signature ? { signature: signatureOnRecord(signature) } : {}) };
}

/** The step a case awaits, whose confirmations are still to be used: an open case's seal, a sealed case's unseal; none once unsealed. */
function awaitedStep(c: DisputeCase): ConfirmationStep | undefined {
  if (c.status === 'open') return 'seal';
  return c.status === 'sealed' ? 'unseal' : undefined;
}

/** A step uses confirmations given since the case's last step: its opening for a seal, its sealing for an unseal. */
function stepSince(c: DisputeCase, step: ConfirmationStep): Date {
  return step === 'seal' ? c.openedAt : (c.sealedAt as Date);
}
