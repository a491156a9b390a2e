import { Injectable } from '@nestjs/common';
import type { FhirContext } from '../fhir/fhir-request.js';
import { DisputeCaseAccess } from './dispute-case-access.js';
import { DisputeConfirmationsService } from './dispute-confirmations.service.js';
import { DisputeSteps } from './dispute-steps.js';
import { hospitalSide } from './domain/dispute-records.js';
import type { SealRequest, UnsealRequest } from './dto/dispute.dto.js';
import type { DisputeView } from './dto/dispute.view.js';
import { DisputeError, DisputeErrorCode } from './disputes.errors.js';
import { DisputesRepository } from './disputes.repository.js';
import { SealedInventoryService } from './sealed-inventory.service.js';
import { DisputeSignaturesRepository } from './signatures.repository.js';

/**
 * Sealing and unsealing records under dispute (R-40…R-43). Sealing, with both sides present,
 * freezes the scope as an inventory of versions with their SHA-256 and a sealed copy (electronic
 * Bundle + PDF) identical for both sides; the hold guard then refuses every write to it (R-41).
 * Unfinished records are inventoried as pending and sealed by a supplement once completed.
 * Unsealing needs both sides again, or medical affairs' approval when the case is resolved or
 * the policy's years have passed. Each step locks the case, so no two steps interleave.
 */
@Injectable()
export class DisputeSealingService {
  constructor(
    private readonly access: DisputeCaseAccess,
    private readonly confirmations: DisputeConfirmationsService,
    private readonly inventory: SealedInventoryService,
    private readonly cases: DisputesRepository,
    private readonly steps: DisputeSteps,
    private readonly signatures: DisputeSignaturesRepository,
  ) {}

  /**
   * `POST /disputes/{id}/seal` by the officer, both sides present: the patient side's
   * confirmation in the request, the hospital side's witness's given by their own request. With
   * `inventoryDigest` (the inventory both sides were shown, and the one the witness confirmed),
   * nothing is sealed if it changed meanwhile (409): show it and confirm again. Without it, what
   * is frozen is what the sealed copy lists, which both sides sign.
   */
  async seal(ctx: FhirContext, id: string, request: SealRequest): Promise<DisputeView> {
    const c = await this.access.requireCase(id);
    await this.access.requirePatient(ctx, 'seal', c.patient);
    if (c.status !== 'open') throw new DisputeError(DisputeErrorCode.WrongState, `Dispute ${id} is ${c.status}; only an open case is sealed`);
    const { witnesses, confirmedDigest } = await this.confirmations.justifySeal(ctx, c, request);
    await this.steps.run(
      ctx,
      c.patient,
      200,
      async (step) => {
        const current = await this.cases.lockStatus(c.id, step.unit);
        if (current !== 'open') throw new DisputeError(DisputeErrorCode.WrongState, `Dispute ${id} is ${current ?? 'unknown'}; only an open case is sealed`);
        await this.inventory.seal(step, ctx, c, witnesses, confirmedDigest, request.signature?.bytes);
        // The patient side's drawn signature, kept with the seal or not at all (its hash is in the copy's witnesses).
        if (request.signature) await this.signatures.add(c.id, 'seal', request.signature, step.at, ctx.actor.id, step.unit);
      },
      { withheld: true, locksScope: true },
    );
    return this.access.view(ctx, c.id);
  }

  /** `POST /disputes/{id}/supplement`: seals records completed since, as a further sealed copy. */
  async supplement(ctx: FhirContext, id: string): Promise<DisputeView & { supplemented: string[] }> {
    const c = await this.access.requireVisibleCase(ctx, id);
    await this.access.requirePatient(ctx, 'seal', c.patient);
    const supplemented = await this.steps.run(
      ctx,
      c.patient,
      200,
      async (step) => {
        // Under the case's lock: no unseal and no other supplement in between.
        const current = await this.cases.lockStatus(c.id, step.unit);
        if (current !== 'sealed') throw new DisputeError(DisputeErrorCode.WrongState, `Dispute ${id} is ${current ?? 'unknown'}; only a sealed case is supplemented`);
        return this.inventory.freeze(step, ctx, c, { kind: 'supplement', witnesses: { hospital: hospitalSide(ctx.actor), patient: null } });
      },
      { withheld: true, locksScope: true },
    );
    return { ...(await this.access.view(ctx, c.id)), supplemented };
  }

  /**
   * `POST /disputes/{id}/unseal` (R-43): `basis` `both-sides`, with the patient side in the
   * request and the hospital side's witness's confirmation; or `resolved` / `no-claim` by the
   * hospital alone, with medical affairs' approval of that basis (given by their own request),
   * `no-claim` only once the policy's years have passed since sealing.
   */
  async unseal(ctx: FhirContext, id: string, request: UnsealRequest): Promise<DisputeView> {
    const c = await this.access.requireVisibleCase(ctx, id);
    await this.access.requirePatient(ctx, 'unseal', c.patient);
    if (c.status !== 'sealed') throw new DisputeError(DisputeErrorCode.WrongState, `Dispute ${id} is ${c.status}; only a sealed case is unsealed`);
    const unsealing = await this.confirmations.justifyUnseal(ctx, c, request);
    await this.steps.run(
      ctx,
      c.patient,
      200,
      async (step) => {
        // Unsealed with its unseal record (启封记录), or neither.
        if (!(await this.inventory.unseal(step, ctx, c, unsealing))) throw new DisputeError(DisputeErrorCode.WrongState, `Dispute ${id} is no longer sealed`);
        if (request.signature) await this.signatures.add(c.id, 'unseal', request.signature, step.at, ctx.actor.id, step.unit);
      },
      { withheld: true },
    );
    return this.access.view(ctx, c.id);
  }
}
