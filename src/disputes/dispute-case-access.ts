import { Injectable } from '@nestjs/common';
import { idNumbersShown, type IdNumberShown } from '../common/id-masking.js';
import { FhirAccess } from '../fhir/fhir-access.port.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { AccessPolicyService } from '../policy/access-policy.service.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { onCaseTeam } from '../policy/withheld-records.port.js';
import { FhirStore } from '../store/fhir-store.port.js';
import { noClaimUnsealFrom } from './domain/dispute-case.js';
import type { DisputeCase } from './domain/dispute-records.js';
import { DisputesRepository } from './disputes.repository.js';
import { currentView, type DisputeView } from './dto/dispute.view.js';
import { UnsealRecordRepository } from './unseal-record.repository.js';
import { DisputeError, DisputeErrorCode } from './disputes.errors.js';

/**
 * Who may act on a case, where the answer depends on the case (the routes declare
 * `@Permission.record('DisputeCaseAccess')`): sealing and unsealing the patient's record is the
 * policy's `seal` / `unseal` on that patient (R-40, R-43); a public incident's case, its
 * inventory and copies are for its team alone (R-44); the hospital side's witness and medical
 * affairs' approval are the policy's `witness` / `approve` on Dispute. Seeing cases at all
 * (`list` on Dispute) is a pure role decision, declared on the reading routes.
 */
@Injectable()
export class DisputeCaseAccess {
  constructor(
    private readonly access: FhirAccess,
    private readonly store: FhirStore,
    private readonly decisions: AccessPolicyService,
    private readonly cases: DisputesRepository,
    private readonly policy: LoadedPolicy,
    private readonly unsealRecords: UnsealRecordRepository,
  ) {}

  /** The case as it now stands, as the operator sees it (their ID-number reading), after a step commits or for `GET /disputes/{id}`. */
  async view(ctx: FhirContext, id: string): Promise<DisputeView> {
    const view = await currentView({ cases: this.cases, unsealRecords: this.unsealRecords }, ctx, id, this.idNumbersShown(ctx));
    if (view.status !== 'sealed' || !view.sealedAt) return view;
    // When the hospital may unseal alone without a claim: what the officer is told before asking for it.
    return { ...view, unilateralUnsealFrom: noClaimUnsealFrom(new Date(view.sealedAt), this.policy.unilateralUnsealAfterYears).toISOString() };
  }

  /** How the operator reads the patient side's ID numbers: whole for the roles that record them (policy `settings.idNumbersVisibleTo`), else masked. */
  idNumbersShown(ctx: FhirContext): IdNumberShown {
    return idNumbersShown(ctx.actor.roles, this.policy.idNumbersVisibleTo);
  }

  /** The case, or 404. */
  async requireCase(id: string): Promise<DisputeCase> {
    const c = await this.cases.find(id);
    if (!c) throw new DisputeError(DisputeErrorCode.NotFound, `Dispute ${id} is not known`);
    return c;
  }

  /** The case, if the operator may see it (`requireTeam`), or 404. */
  async requireVisibleCase(ctx: FhirContext, id: string): Promise<DisputeCase> {
    return this.requireTeam(ctx, await this.requireCase(id));
  }

  /** The policy's `seal` or `unseal` on the patient; a patient the operator may not see is not found (as in FHIR). */
  async requirePatient(ctx: FhirContext, action: 'seal' | 'unseal', patient: string): Promise<void> {
    await this.access.requireStored(ctx, action, { type: 'Patient', id: patient }, this.store, { hideExistence: true });
  }

  /** The case, unless it is a public incident's and the operator is not on its team. */
  requireTeam(ctx: FhirContext, c: DisputeCase): DisputeCase {
    if (!onTeam(ctx, c)) throw new DisputeError(DisputeErrorCode.Forbidden, `Dispute ${c.id} is a public-opinion incident: only its case team sees it (R-44)`);
    return c;
  }

  /**
   * Whether the operator may confirm for the hospital side (`witness` on Dispute) or approve a
   * unilateral unseal (`approve`), decided before the case's existence or state is disclosed; the
   * decision is recorded against the case's patient when the case is known.
   */
  requireConfirmer(ctx: FhirContext, approval: boolean, patient: string | undefined): void {
    const decision = this.decisions.decideWorkflow(ctx.actor, approval ? 'approve' : 'witness', 'Dispute');
    ctx.audit?.decided(decision, patient);
    if (decision.allowed) return;
    if (approval) throw new DisputeError(DisputeErrorCode.Forbidden, 'A unilateral unseal is approved by medical affairs (policy: approve on Dispute, R-43)');
    throw new DisputeError(DisputeErrorCode.WitnessRejected, 'Your roles may not confirm for the hospital side: its witness is named by the policy (witness on Dispute, R-40, R-43)');
  }
}

/** Whether the operator may see this case: any case, but a public incident's only for its team. */
export function onTeam(ctx: FhirContext, c: DisputeCase): boolean {
  return c.trigger !== 'public-incident' || onCaseTeam(c.team, ctx.actor);
}

