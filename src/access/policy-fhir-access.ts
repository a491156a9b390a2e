import { Injectable } from '@nestjs/common';
import { FhirAccess } from '../fhir/fhir-access.port.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { AccessPolicyService, type Decision, type RuleCheck } from '../policy/access-policy.service.js';
import type { FhirStore, StoredJson } from '../store/fhir-store.port.js';
import type { Action } from '../policy/domain/actions.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { AccessError, AccessErrorCode } from '../policy/policy.errors.js';
import type { AccessCondition, AccessFactOptions, AccessFacts, AccessFilter } from '../store/access-facts.js';
import { AccessGrantRepository } from './access-grant.repository.js';
import { BreakGlassService } from './break-glass.service.js';

const conditionArrays = new WeakMap<readonly RuleCheck[], AccessCondition[]>();

/** The checks' conditions, as one array per checks array (stable identity: stores cache by it). */
function conditionsOf(checks: readonly RuleCheck[]): AccessCondition[] {
  let conditions = conditionArrays.get(checks);
  if (!conditions) {
    conditions = checks.map((c) => c.condition);
    conditionArrays.set(checks, conditions);
  }
  return conditions;
}

/** The FHIR facade's access checks, answered by the CASL policy (issue #3, R-02…R-07). */
@Injectable()
export class PolicyFhirAccess extends FhirAccess {
  constructor(
    private readonly decisions: AccessPolicyService,
    private readonly policy: LoadedPolicy,
    private readonly breakGlass: BreakGlassService,
    private readonly grants: AccessGrantRepository,
  ) {
    super();
  }

  async require(ctx: FhirContext, action: Action, facts: AccessFacts, options: { hideExistence?: boolean } = {}): Promise<void> {
    const decision = await this.decisions.decide(ctx.actor, action, facts);
    ctx.audit?.decided(decision, facts.patient);
    await this.enforce(decision, action, `${facts.type}${facts.id ? `/${facts.id}` : ''}`, options);
  }

  async requireStored(
    ctx: FhirContext,
    action: Action,
    ref: { type: string; id: string },
    store: FhirStore,
    options: { hideExistence?: boolean; withContent?: boolean } = {},
  ): Promise<StoredJson | undefined> {
    if (ctx.breakGlass) {
      const { patient } = await store.check(ref.type, ref.id, [], this.factOptions(), false);
      await this.openBreakGlass(ctx, patient);
    }
    const checks = await this.decisions.ruleChecks(ctx.actor, action, ref.type);
    const checked = await store.check(ref.type, ref.id, conditionsOf(checks), this.factOptions(), options.withContent ?? false);
    const decision = await this.decisions.pick(ctx.actor, checks, checked.firstMatch, checked.patient);
    ctx.audit?.decided(decision, checked.patient);
    await this.enforce(decision, action, `${ref.type}/${ref.id}`, options);
    return checked.stored;
  }

  async permitsStored(ctx: FhirContext, action: Action, ref: { type: string; id: string }, store: FhirStore): Promise<boolean> {
    const checks = await this.decisions.ruleChecks(ctx.actor, action, ref.type);
    const checked = await store.check(ref.type, ref.id, conditionsOf(checks), this.factOptions(), false);
    const allowed = (await this.decisions.pick(ctx.actor, checks, checked.firstMatch, checked.patient)).allowed;
    // What passes is shown to the caller (an `_include`d resource): its patient was looked at.
    if (allowed) ctx.audit?.concerns([checked.patient]);
    return allowed;
  }

  private async enforce(decision: Decision, action: Action, what: string, options: { hideExistence?: boolean }): Promise<void> {
    if (decision.allowed) {
      if (decision.breakGlassId) await this.grants.countUse(decision.breakGlassId);
      return;
    }
    if (options.hideExistence && this.policy.settings.hiddenRecords === 'not-found') {
      throw new AccessError(AccessErrorCode.Hidden, `${what} is not known`, decision.rule);
    }
    throw new AccessError(
      AccessErrorCode.Forbidden,
      `The access policy (version ${decision.policyVersion}) does not allow ${action} of ${what} for this operator` +
        (decision.rule ? ` (rule ${decision.rule})` : ': no rule of the operator\'s roles applies (R-02)'),
      decision.rule,
    );
  }

  async permits(ctx: FhirContext, action: Action, facts: AccessFacts): Promise<boolean> {
    const allowed = (await this.decisions.decide(ctx.actor, action, facts)).allowed;
    if (allowed) ctx.audit?.concerns([facts.patient]);
    return allowed;
  }

  filter(ctx: FhirContext, action: Action, types: readonly string[]): Promise<AccessFilter> {
    // A search is decided row by row inside the query: the trail records the policy version it ran under.
    ctx.audit?.ranUnder(this.decisions.version);
    return this.decisions.filter(ctx.actor, action, types);
  }

  factOptions(): AccessFactOptions {
    return this.policy.factOptions;
  }

  factOptionsFor(ctx: FhirContext, action: Action, type: string): AccessFactOptions {
    return { ...this.factOptions(), withoutContext: !this.decisions.needsContext(ctx.actor, action, type) };
  }

  async openBreakGlass(ctx: FhirContext, patient: string | undefined): Promise<void> {
    if (!ctx.breakGlass) return;
    if (!patient) {
      throw new AccessError(
        AccessErrorCode.BreakGlassNeedsPatient,
        'Break-the-glass opens one patient: read a resource of that patient, or search with patient=<id> (R-04)',
      );
    }
    await this.breakGlass.open(ctx.actor, patient, ctx.breakGlass.reason);
  }
}
