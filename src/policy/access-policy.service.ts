import { Injectable, Optional } from '@nestjs/common';
import { subject } from '@casl/ability';
import { rulesToAST } from '@casl/ability/extra';
import { ClusterEvents } from '../cluster/cluster-events.js';
import { Clock } from '../common/clock.js';
import type { Actor } from '../identity/actor.js';
import { CONTEXT_FACTS, type AccessCondition, type AccessFacts, type AccessFilter } from '../store/access-facts.js';
import { ActiveAccessSource, type ActiveAccess } from './active-access.port.js';
import type { Action } from './domain/actions.js';
import { buildAbility, type AccessAbility } from './domain/ability.factory.js';
import { LoadedPolicy } from './loaded-policy.js';
import { onCaseTeam, WithheldRecordsSource, type Withholding } from './withheld-records.port.js';

/** One decision, as recorded with the access it allowed or refused. */
export interface Decision {
  allowed: boolean;
  /** The policy rule that decided (absent when no rule applied: default deny). */
  rule?: string;
  policyVersion: string;
  /** Set when the access rests on a break-the-glass (R-04): its id. */
  breakGlassId?: string;
  /** Set when the access rests on a borrowing grant (R-05): its id. */
  grantId?: string;
}

/** One policy rule as a condition to evaluate against a stored record. */
export interface RuleCheck {
  rule?: string;
  inverted: boolean;
  restsOnBreakGlass: boolean;
  restsOnGrant: boolean;
  condition: AccessCondition;
  /** The policy version the check was built from (recorded with the decision it gives). */
  policyVersion?: string;
}

const ABILITY_CACHE_SIZE = 2000;
/**
 * How long an actor's grants are cached when no cluster event says they changed; expiry
 * itself is checked exactly, at each decision. A change is seen at once by the instance that
 * made it and, through a cluster event, by the others (decision 0012): the TTL only bounds
 * how stale a cache gets while the event connection is down.
 */
const ACTIVE_ACCESS_TTL_MS = 2000;

/**
 * Decides with the access policy: CASL abilities built from the policy per actor (cached
 * per actor attributes + policy version), facts from the store, grants and break-the-glass
 * from the access feature. Used for single resources (in memory) and for searches (as a
 * condition the store pushes into its query), from the same rules.
 *
 * A reloaded policy (`LoadedPolicy.replace`) applies from the next decision: every cache
 * here is keyed by the policy version. Grants cached per actor are dropped when this
 * instance changes them (`invalidate`) and when another instance says it did (cluster event
 * `access`).
 */
@Injectable()
export class AccessPolicyService {
  private readonly abilities = new Map<string, AccessAbility>();
  private abilitiesOf = '';
  private readonly byActor = new WeakMap<Actor, { version: string; ability: AccessAbility; checks: Map<string, RuleCheck[]> }>();
  private readonly active = new Map<string, { at: number; value: ActiveAccess }>();
  /** Bumped by every invalidation: a lookup that started before one does not cache what it read. */
  private generation = 0;

  constructor(
    private readonly policy: LoadedPolicy,
    private readonly activeAccess: ActiveAccessSource,
    private readonly clock: Clock,
    @Optional() private readonly withheld?: WithheldRecordsSource,
    @Optional() private readonly cluster?: ClusterEvents,
  ) {
    cluster?.subscribe('access', (actors) => this.forget(actors));
  }

  get version(): string {
    return this.policy.version;
  }

  /** The actor's compiled ability (cached; a new policy version or new token attributes build a new one). */
  ability(actor: Actor): AccessAbility {
    const document = this.policy.document;
    // The token verifier hands out one Actor object per token: remember its ability on it (for this policy version).
    const known = this.byActor.get(actor);
    if (known?.version === document.version) return known.ability;
    if (this.abilitiesOf !== document.version) {
      // A reloaded policy: the abilities of the old one are never asked for again.
      this.abilities.clear();
      this.abilitiesOf = document.version;
    }
    const key = JSON.stringify([actor.id, actor.practitioner, actor.roles, actor.department, actor.specialty, actor.licence, actor.scopes, actor.patientContext]);
    let ability = this.abilities.get(key);
    if (!ability) {
      ability = buildAbility(document, actor);
      if (this.abilities.size >= ABILITY_CACHE_SIZE) this.abilities.delete(this.abilities.keys().next().value as string);
      this.abilities.set(key, ability);
    }
    this.byActor.set(actor, { version: document.version, ability, checks: new Map() });
    return ability;
  }

  /** Decides one action on one resource (or workflow subject) whose facts are known. */
  async decide(actor: Actor, action: Action, facts: AccessFacts): Promise<Decision> {
    // The ability and the version it records, taken together: a reload in the middle of the awaits below changes neither.
    const policyVersion = this.policy.version;
    const ability = this.ability(actor);
    const withheld = facts.id ? (await this.withheldFor(actor)).find((w) => w.records.get(facts.type)?.includes(facts.id as string)) : undefined;
    if (withheld) return { allowed: false, rule: withholdingRule(withheld), policyVersion };
    const now = this.clock.now();
    const active = this.needsActiveAccess(ability, action, facts.type) ? await this.activeFor(actor) : EMPTY;
    const btg = active.breakGlass.find((b) => b.patientId === facts.patient && b.until > now);
    const grant = active.grants.find((g) => g.patientId === facts.patient && g.until > now);
    const attributes = {
      ...facts,
      grantees: grant ? [actor.id] : [],
      breakGlass: btg ? [actor.id] : [],
    };
    const rule = ability.relevantRuleFor(action, subject(facts.type, attributes));
    const allowed = Boolean(rule && !rule.inverted);
    const onBtg = allowed && restsOnBreakGlass(rule?.conditions);
    const onGrant = allowed && restsOnGrant(rule?.conditions);
    return {
      allowed,
      rule: rule?.reason,
      policyVersion,
      ...(onBtg && btg ? { breakGlassId: btg.id } : {}),
      ...(onGrant && grant ? { grantId: grant.id } : {}),
    };
  }

  /**
   * The actor's rules for an action on a type, highest priority first, each as a condition a
   * store can evaluate (grants and break-the-glass resolved to patient lists, as in `filter`).
   */
  async ruleChecks(actor: Actor, action: Action, type: string): Promise<RuleCheck[]> {
    const policyVersion = this.policy.version;
    const ability = this.ability(actor);
    const lists = await this.openedPatients(actor, ability, action, [type]);
    const withheld = (await this.withheldFor(actor)).filter((w) => w.records.has(type));
    // The same actor, action, type, open grants and withheld records give the same checks: reuse
    // the very array, so stores can reuse what they built from it (the SQL of a read's access check).
    const cache = this.byActor.get(actor)?.checks;
    const key = `${action}|${type}|${lists.grantees.join(',')}|${lists.breakGlass.join(',')}|${withheld.map((w) => `${w.caseId}:${w.records.get(type)?.length}`).join(',')}`;
    const cached = cache?.get(key);
    if (cached) return cached;
    // Withheld records first (R-44): an inverted check that no rule of the actor outranks.
    const withholding: RuleCheck[] = withheld.map((w) => ({
      rule: withholdingRule(w),
      inverted: true,
      restsOnBreakGlass: false,
      restsOnGrant: false,
      condition: { operator: 'in', field: 'id', value: w.records.get(type) ?? [] },
      policyVersion,
    }));
    const checks: RuleCheck[] = [...withholding, ...ability.rulesFor(action, type).map((rule) => ({
      rule: rule.reason,
      inverted: rule.inverted,
      restsOnBreakGlass: restsOnBreakGlass(rule.conditions),
      restsOnGrant: restsOnGrant(rule.conditions),
      condition: rule.ast ? resolveActorLists(rule.ast as AccessCondition, lists) : ({ operator: 'and', value: [] } as AccessCondition),
      policyVersion,
    }))];
    if (cache && cache.size < 256) cache.set(key, checks);
    return checks;
  }

  /**
   * The decision once a store found the first of `checks` (highest priority first) that
   * holds: that rule decides, as CASL would in memory; none (-1): denied.
   */
  async pick(actor: Actor, checks: readonly RuleCheck[], firstMatch: number, patient: string | undefined): Promise<Decision> {
    const i = firstMatch;
    if (i < 0 || i >= checks.length) return { allowed: false, policyVersion: checks[0]?.policyVersion ?? this.policy.version };
    const check = checks[i];
    const decision: Decision = { allowed: !check.inverted, rule: check.rule, policyVersion: check.policyVersion ?? this.policy.version };
    if (decision.allowed && check.restsOnBreakGlass) {
      const now = this.clock.now();
      const btg = (await this.activeFor(actor)).breakGlass.find((b) => b.patientId === patient && b.until > now);
      if (btg) decision.breakGlassId = btg.id;
    }
    if (decision.allowed && check.restsOnGrant) {
      const now = this.clock.now();
      const grant = (await this.activeFor(actor)).grants.find((g) => g.patientId === patient && g.until > now);
      if (grant) decision.grantId = grant.id;
    }
    return decision;
  }

  /** Decides an action on a workflow subject (no record facts), e.g. `approve` on `AccessGrant`. */
  decideWorkflow(actor: Actor, action: Action, subjectType: string): Decision {
    const rule = this.ability(actor).relevantRuleFor(action, subjectType);
    return { allowed: Boolean(rule && !rule.inverted), rule: rule?.reason, policyVersion: this.policy.version };
  }

  /**
   * The condition a store applies so a search over `types` returns only what `decide` would
   * allow one by one (issue #3: full pages, honest totals). Grants and break-the-glass are
   * resolved to the patients they open, as of now.
   */
  async filter(actor: Actor, action: Action, types: readonly string[]): Promise<AccessFilter> {
    const options = this.policy.factOptions;
    const ability = this.ability(actor);
    const lists = await this.openedPatients(actor, ability, action, types);
    const withheld = await this.withheldFor(actor);
    // Types governed by the same rules (a whole policy group) share one branch: `type IN (…) AND rules`.
    const byRules = new Map<string, { types: string[]; condition: AccessCondition }>();
    for (const type of types) {
      const ast = rulesToAST(ability, action, type) as AccessCondition | null;
      if (ast === null) continue;
      const ids = withheld.flatMap((w) => w.records.get(type) ?? []);
      const allowed = resolveActorLists(ast, lists);
      // R-44: whatever the rules allow, minus the records withheld from this actor.
      const resolved: AccessCondition = ids.length ? { operator: 'and', value: [{ operator: 'nin', field: 'id', value: ids }, allowed] } : allowed;
      const key = JSON.stringify(resolved);
      const group = byRules.get(key) ?? { types: [], condition: resolved };
      group.types.push(type);
      byRules.set(key, group);
    }
    const branches: AccessCondition[] = [...byRules.values()].map((g) =>
      types.length === 1 ? g.condition : { operator: 'and', value: [{ operator: 'in', field: 'type', value: g.types }, g.condition] },
    );
    const condition: AccessCondition | null = branches.length === 0 ? null : branches.length === 1 ? branches[0] : { operator: 'or', value: branches };
    return { condition, options };
  }

  /** Whether any rule that could judge `action` on `type` for this actor reads a context fact (care team, …). */
  needsContext(actor: Actor, action: Action, type: string): boolean {
    return this.ability(actor)
      .rulesFor(action, type)
      .some((r) => {
        const c = r.conditions as Record<string, unknown> | undefined;
        return Boolean(c && CONTEXT_FACTS.some((f) => f in c));
      });
  }

  /** Records withheld from this actor (R-44): sealed records of a public incident whose team does not name them. */
  private async withheldFor(actor: Actor): Promise<Withholding[]> {
    if (!this.withheld) return [];
    const all = await this.withheld.current();
    return all.length === 0 ? [] : all.filter((w) => !onCaseTeam(w.team, actor));
  }

  /**
   * A grant or break-the-glass of the actor changed here: forget what this instance cached,
   * and tell the other instances (cluster event `access`) so their next decision reads it too.
   */
  async invalidate(actorId: string): Promise<void> {
    this.forget([actorId]);
    const announcement = await this.cluster?.publish('access', [actorId]);
    // Answered once every instance forgot the actor's grants, or its cache of them expired.
    await announcement?.delivered(ACTIVE_ACCESS_TTL_MS);
  }

  /** Drops the cached grants of `actors` (all actors: `undefined`). */
  private forget(actors: readonly string[] | undefined): void {
    this.generation++;
    if (actors === undefined) this.active.clear();
    else for (const a of actors) this.active.delete(a);
  }

  /**
   * Patients the actor holds an unexpired grant or break-the-glass for, as of now: looked up
   * only when a rule for `action` on `types` depends on them.
   */
  private async openedPatients(actor: Actor, ability: AccessAbility, action: Action, types: readonly string[]): Promise<{ grantees: string[]; breakGlass: string[] }> {
    if (!types.some((t) => this.needsActiveAccess(ability, action, t))) return { grantees: [], breakGlass: [] };
    const active = await this.activeFor(actor);
    const now = this.clock.now();
    return {
      grantees: active.grants.filter((g) => g.until > now).map((g) => g.patientId),
      breakGlass: active.breakGlass.filter((b) => b.until > now).map((b) => b.patientId),
    };
  }

  private async activeFor(actor: Actor): Promise<ActiveAccess> {
    const cached = this.active.get(actor.id);
    // While this instance is not listening, another's change would not reach it: nothing is reused.
    const trusted = this.cluster?.listening ?? true;
    if (cached && trusted && Date.now() - cached.at < ACTIVE_ACCESS_TTL_MS) return cached.value;
    const generation = this.generation;
    // The TTL runs from before the read: what it read is never older than the TTL when used.
    const startedAt = Date.now();
    const value = await this.activeAccess.activeFor(actor.id, this.clock.now());
    // Invalidated while reading: what was read may predate the change; use it for this decision only.
    if (generation !== this.generation) return value;
    this.active.set(actor.id, { at: startedAt, value });
    if (this.active.size > ABILITY_CACHE_SIZE) this.active.delete(this.active.keys().next().value as string);
    return value;
  }

  /** Only actors whose rules mention grants or break-the-glass pay for looking them up. */
  private needsActiveAccess(ability: AccessAbility, action: Action, type: string): boolean {
    return ability.rulesFor(action, type).some((r) => {
      const c = r.conditions as Record<string, unknown> | undefined;
      return Boolean(c && ('grantees' in c || 'breakGlass' in c));
    });
  }
}

const EMPTY: ActiveAccess = { grants: [], breakGlass: [] };

/** How a decision names a withholding: the case, and the rule. */
function withholdingRule(w: Withholding): string {
  return `dispute ${w.caseId} (R-44)`;
}

/** Whether a rule's conditions require a break-the-glass (then the access is marked as one, R-04). */
function restsOnBreakGlass(conditions: unknown): boolean {
  return Boolean((conditions as Record<string, unknown> | undefined)?.breakGlass);
}

function restsOnGrant(conditions: unknown): boolean {
  return Boolean((conditions as Record<string, unknown> | undefined)?.grantees);
}

/** `grantees = me` / `breakGlass = me` become `patient IN (patients I hold)`, so a store needs no grant table. */
function resolveActorLists(c: AccessCondition, lists: { grantees: string[]; breakGlass: string[] }): AccessCondition {
  if (!('field' in c)) {
    return { operator: c.operator, value: c.value.map((v) => resolveActorLists(v, lists)) };
  }
  if (c.field === 'grantees' || c.field === 'breakGlass') {
    return { operator: 'in', field: 'patient', value: lists[c.field] };
  }
  return c;
}
