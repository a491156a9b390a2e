import { Injectable } from '@nestjs/common';
import type { Resource } from '@medplum/fhirtypes';
import { FhirAccess, refusedBy, type JudgedVersion, type VersionVerdict } from '../fhir/fhir-access.port.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { AccessPolicyService, type Decision, type RuleCheck } from '../policy/access-policy.service.js';
import { notFoundError, type FhirStore, type StoredJson } from '../store/fhir-store.port.js';
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
    await this.enforce(decision, action, { type: facts.type, id: facts.id }, options);
  }

  async requireStored(
    ctx: FhirContext,
    action: Action,
    ref: { type: string; id: string },
    store: FhirStore,
    options: { hideExistence?: boolean; withContent?: boolean } = {},
  ): Promise<StoredJson | undefined> {
    const { decision, checked } = await this.judgeStored(ctx, action, ref, store, options.withContent ?? false);
    await this.enforce(decision, action, ref, options);
    return checked.stored;
  }

  async requireVersion(
    ctx: FhirContext,
    action: Action,
    ref: { type: string; id: string; versionId: string },
    store: FhirStore,
    options: { hideExistence?: boolean } = {},
  ): Promise<Resource> {
    const current = await this.judgeStored(ctx, action, ref, store, false);
    // Refused on the current version: the answer is the record's, whether or not the version exists.
    if (!current.decision.allowed) await this.enforce(current.decision, action, { type: ref.type, id: ref.id }, options);
    const version = await store.vread(ref.type, ref.id, ref.versionId);
    const facts = await store.accessFactsOf(version, this.factOptionsFor(ctx, action, ref.type));
    const decision = await this.decisions.decide(ctx.actor, action, facts);
    ctx.audit?.decided(decision, facts.patient);
    // Allowed: one use of a break-the-glass, counted once for the pair of decisions.
    const breakGlassId = decision.breakGlassId ?? current.decision.breakGlassId;
    await this.enforce(decision.allowed ? { ...decision, breakGlassId } : decision, action, ref, options);
    return version;
  }

  async permitsVersions(ctx: FhirContext, action: Action, versions: readonly Resource[], store: FhirStore): Promise<boolean[]> {
    const current = await this.judgeCurrent(ctx, action, versions, store, false);
    return Promise.all(
      versions.map(async (v) => {
        const now = current.get(`${v.resourceType}/${v.id}`);
        // A record the caller may not reach reveals nothing of its versions: they are not even judged.
        if (!now?.allowed) return false;
        const version = await this.judgeVersion(ctx, action, v, store);
        const allowed = refusedBy({ version, current: now }) === undefined;
        // A version shown concerns the patient it belonged to and the one the record belongs to now.
        if (allowed) ctx.audit?.concerns([now.patient, version.patient]);
        return allowed;
      }),
    );
  }

  async judgeVersions(ctx: FhirContext, action: Action, versions: readonly Resource[], store: FhirStore): Promise<VersionVerdict[]> {
    const current = await this.judgeCurrent(ctx, action, versions, store, true);
    return Promise.all(
      versions.map(async (v) => ({ version: await this.judgeVersion(ctx, action, v, store), current: current.get(`${v.resourceType}/${v.id}`) })),
    );
  }

  /**
   * The current version of each record `versions` belong to, judged in the store by the rules'
   * own SQL (one round trip per type), keyed `Type/id`; records the store does not have are left
   * out. `withVersionIds`: also name each current version (one more round trip), for reasons.
   */
  private async judgeCurrent(
    ctx: FhirContext,
    action: Action,
    versions: readonly Resource[],
    store: FhirStore,
    withVersionIds: boolean,
  ): Promise<Map<string, JudgedVersion>> {
    const idsByType = new Map<string, Set<string>>();
    for (const v of versions) {
      const ids = idsByType.get(v.resourceType) ?? new Set<string>();
      ids.add(v.id as string);
      idsByType.set(v.resourceType, ids);
    }
    const versionIds = withVersionIds
      ? await store.records.currentVersions([...idsByType].flatMap(([type, ids]) => [...ids].map((id) => ({ type, id }))))
      : undefined;
    const current = new Map<string, JudgedVersion>();
    for (const [type, ids] of idsByType) {
      const checks = await this.decisions.ruleChecks(ctx.actor, action, type);
      const rows = await store.checkMany(type, [...ids], conditionsOf(checks), this.factOptions());
      for (const [id, row] of rows) {
        const { allowed, rule } = await this.decisions.pick(ctx.actor, checks, row.firstMatch, row.patient);
        current.set(`${type}/${id}`, { version: versionIds?.get(`${type}/${id}`) ?? '?', patient: row.patient, allowed, rule });
      }
    }
    return current;
  }

  /** One version judged by its own facts (an older version's facts may differ from the record's now). */
  private async judgeVersion(ctx: FhirContext, action: Action, version: Resource, store: FhirStore): Promise<JudgedVersion> {
    const facts = await store.accessFactsOf(version, this.factOptionsFor(ctx, action, version.resourceType));
    const { allowed, rule } = await this.decisions.decide(ctx.actor, action, facts);
    return { version: version.meta?.versionId ?? '?', patient: facts.patient, allowed, rule };
  }

  /** The decision on the current version of a stored resource, recorded with its patient (opens a break-the-glass first). */
  private async judgeStored(
    ctx: FhirContext,
    action: Action,
    ref: { type: string; id: string },
    store: FhirStore,
    withContent: boolean,
  ): Promise<{ decision: Decision; checked: { stored?: StoredJson; patient?: string } }> {
    if (ctx.breakGlass) {
      const { patient } = await store.check(ref.type, ref.id, [], this.factOptions(), false);
      await this.openBreakGlass(ctx, patient);
    }
    const checks = await this.decisions.ruleChecks(ctx.actor, action, ref.type);
    const checked = await store.check(ref.type, ref.id, conditionsOf(checks), this.factOptions(), withContent);
    const decision = await this.decisions.pick(ctx.actor, checks, checked.firstMatch, checked.patient);
    ctx.audit?.decided(decision, checked.patient);
    return { decision, checked };
  }

  async permitsStored(ctx: FhirContext, action: Action, ref: { type: string; id: string }, store: FhirStore): Promise<boolean> {
    const checks = await this.decisions.ruleChecks(ctx.actor, action, ref.type);
    const checked = await store.check(ref.type, ref.id, conditionsOf(checks), this.factOptions(), false);
    const allowed = (await this.decisions.pick(ctx.actor, checks, checked.firstMatch, checked.patient)).allowed;
    // What passes is shown to the caller (an `_include`d resource): its patient was looked at.
    if (allowed) ctx.audit?.concerns([checked.patient]);
    return allowed;
  }

  /**
   * Lets an allowed decision through (counting a break-the-glass use) or throws. Where the
   * policy hides existence, the refusal is worded exactly as the store words a missing
   * record or version (docs/decisions/0005, 0010).
   */
  private async enforce(
    decision: Decision,
    action: Action,
    ref: { type: string; id?: string; versionId?: string },
    options: { hideExistence?: boolean },
  ): Promise<void> {
    if (decision.allowed) {
      if (decision.breakGlassId) await this.grants.countUse(decision.breakGlassId);
      return;
    }
    if (options.hideExistence && ref.id !== undefined && this.policy.settings.hiddenRecords === 'not-found') {
      throw new AccessError(AccessErrorCode.Hidden, notFoundError(ref.type, ref.id, ref.versionId).message, decision.rule);
    }
    const what = `${ref.type}${ref.id ? `/${ref.id}` : ''}${ref.versionId ? `/_history/${ref.versionId}` : ''}`;
    throw new AccessError(
      AccessErrorCode.Forbidden,
      `The access policy (version ${decision.policyVersion}) does not allow ${action} of ${what} for this operator` +
        (decision.rule ? ` (rule ${decision.rule})` : ': no rule of the operator\'s roles applies (R-02)'),
      decision.rule,
    );
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
