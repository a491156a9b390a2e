import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { FhirContext } from '../fhir/fhir-request.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { DisputeCaseAccess, onTeam } from './dispute-case-access.js';
import { DisputeSteps } from './dispute-steps.js';
import type { DisputeRequest } from './domain/dispute-case.js';
import { hospitalSide, type DisputeCase } from './domain/dispute-records.js';
import type { DisputeView } from './dto/dispute.view.js';
import { DisputeError, DisputeErrorCode } from './disputes.errors.js';
import { DisputesRepository } from './disputes.repository.js';
import { SealedInventoryService } from './sealed-inventory.service.js';

/** Cases listed at most per request. */
const LIST_LIMIT = 200;

/**
 * Dispute cases (R-40, R-44): opening one for a patient and a scope (a public-opinion incident
 * is sealed at once by the hospital alone), and showing them to the disputes office, a public
 * incident's case only to its team. Sealing and unsealing are `DisputeSealingService`'s.
 */
@Injectable()
export class DisputeCasesService {
  constructor(
    private readonly access: DisputeCaseAccess,
    private readonly inventory: SealedInventoryService,
    private readonly cases: DisputesRepository,
    private readonly steps: DisputeSteps,
    private readonly policy: LoadedPolicy,
  ) {}

  /** `POST /disputes`: a case for a patient, under the policy's `seal` on that patient; a public-opinion incident is sealed at once (R-44). */
  async open(ctx: FhirContext, request: DisputeRequest): Promise<DisputeView> {
    await this.access.requirePatient(ctx, 'seal', request.patient);
    if (request.scope.kind === 'encounters') {
      const foreign = await this.inventory.foreignEncounters(request.patient, request.scope.encounters);
      if (foreign.length) throw new DisputeError(DisputeErrorCode.Invalid, `Not encounters of Patient/${request.patient}: ${foreign.map((e) => `Encounter/${e}`).join(', ')}`);
    }
    const id = randomUUID();
    const immediate = request.trigger === 'public-incident';
    // Opening a public incident is its seal: the trail says so (lifecycle hold).
    ctx.audit?.as(immediate ? { subtype: 'dispute-seal', lifecycle: 'hold', entity: { type: 'Dispute', id } } : { entity: { type: 'Dispute', id } });
    // A public-opinion incident is opened and sealed in one unit (R-44): never left open half-way.
    await this.steps.run(
      ctx,
      request.patient,
      201,
      async (step) => {
        const c: DisputeCase = {
          id,
          patient: request.patient,
          scope: request.scope,
          trigger: request.trigger,
          reason: request.reason,
          team: [...new Set([ctx.actor.practitioner, ...request.team])],
          status: 'open',
          openedBy: ctx.actor.id,
          openedAt: step.at,
        };
        await this.cases.open(c, this.policy.version, step.unit);
        // Sealed by the hospital alone; the patient side is recorded as absent.
        if (immediate) await this.inventory.seal(step, ctx, c, { hospital: hospitalSide(ctx.actor), patient: null, immediate: 'public-opinion incident (R-44)' });
      },
      { withheld: immediate, locksScope: true },
    );
    return this.access.view(ctx, id);
  }

  /** `GET /disputes/{id}`: one case with its sealed copies. */
  async get(ctx: FhirContext, id: string): Promise<DisputeView> {
    const c = await this.access.requireVisibleCase(ctx, id);
    return this.access.view(ctx, c.id);
  }

  /** `GET /disputes?patient=&status=`: newest first; a public incident's case only for its team (R-44). */
  async list(ctx: FhirContext, filter: { patient?: string; status?: string }): Promise<DisputeView[]> {
    const found = await this.cases.list(filter, LIST_LIMIT);
    return Promise.all(found.filter((c) => onTeam(ctx, c)).map((c) => this.access.view(ctx, c.id)));
  }
}
