import { createMongoAbility, type MongoAbility, type MongoQuery, type RawRuleOf } from '@casl/ability';
import type { Actor } from '../../identity/actor.js';
import { ACTIONS, WORKFLOW_SUBJECTS, type Action } from './actions.js';
import type { PolicyDocument, PolicyRule } from './policy-document.js';
import { scopeLimit } from './smart-scopes.js';

/** The CASL ability of one actor under one policy version. */
export type AccessAbility = MongoAbility;

const WORKFLOW = new Set<string>(WORKFLOW_SUBJECTS);

/**
 * Compiles the policy for one actor into CASL rules (R-02: what no rule allows is denied).
 * Conditions on the actor (licence, specialty) are decided here; conditions on the record
 * become CASL conditions over `SubjectAttributes`, so the same rules decide a single
 * resource in memory and are pushed down into search SQL. Deny rules outrank allow rules;
 * SMART scopes are added last as denials, so they only ever narrow (issue #3).
 * Each CASL rule's `reason` is the policy rule's id, for explanations and the audit trail.
 */
export function buildAbility(policy: PolicyDocument, actor: Actor): AccessAbility {
  const allows: RawRuleOf<AccessAbility>[] = [];
  const denies: RawRuleOf<AccessAbility>[] = [];
  for (const roleName of actor.roles) {
    // Role names come from tokens: only the policy's own roles count (`constructor` is not one, R-02).
    const role = ownValue(policy.roles, roleName);
    if (!role) continue;
    for (const rule of role.rules) {
      if (!actorMatches(rule, actor)) continue;
      const conditions = recordConditions(rule, actor, policy);
      if (conditions === null) continue; // needs an actor attribute this actor lacks
      for (const type of expandSubjects(policy, rule.on)) {
        const typed = WORKFLOW.has(type) ? withoutLabel(conditions) : conditions;
        const entry = { action: (rule.allow ?? rule.deny) as Action[], subject: type, reason: rule.id, ...(Object.keys(typed).length ? { conditions: typed } : {}) };
        (rule.deny ? denies : allows).push(rule.deny ? { ...entry, inverted: true } : entry);
      }
    }
  }
  // CASL gives later rules priority: ordinary rules after grant and break-the-glass ones, so
  // the rule reported (and audited) is the ordinary one whenever it applies.
  const rank = (r: RawRuleOf<AccessAbility>) => {
    const c = (r.conditions ?? {}) as Record<string, unknown>;
    return 'breakGlass' in c ? 0 : 'grantees' in c ? 1 : 2;
  };
  allows.sort((a, b) => rank(a) - rank(b));
  return createMongoAbility<AccessAbility>([...allows, ...denies, ...scopeRules(allows, actor)]);
}

/** Group names → resource types; anything else is a type name already. */
export function expandSubjects(policy: PolicyDocument, on: readonly string[]): string[] {
  return [...new Set(on.flatMap((name) => ownValue(policy.groups, name) ?? [name]))];
}

/**
 * `record[key]` when the record itself has that key, else undefined: a lookup keyed by text
 * from outside (a token's roles, a query) never reaches `Object.prototype` (`__proto__`,
 * `constructor`, `toString`), so an unknown name is simply unknown (R-02: default deny).
 */
export function ownValue<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

function actorMatches(rule: PolicyRule, actor: Actor): boolean {
  const a = rule.actor;
  if (!a) return true;
  if (a.licence && !(actor.licence && a.licence.includes(actor.licence))) return false;
  if (a.specialty && !(actor.specialty && a.specialty.includes(actor.specialty))) return false;
  return true;
}

const LABEL_KEY = 'label';

function recordConditions(rule: PolicyRule, actor: Actor, policy: PolicyDocument): MongoQuery | null {
  const w = rule.when ?? {};
  const c: Record<string, unknown> = {};
  if (w.onCareTeam) c.careTeam = actor.practitioner;
  if (w.sameDepartment) {
    if (!actor.department) return null;
    c.departments = actor.department;
  }
  if (w.withinCareWindow) c.withinCareWindow = true;
  if (w.hasGrant) c.grantees = actor.id;
  if (w.breakGlass) c.breakGlass = actor.id;
  if (w.authoredBySelf) c.authors = actor.practitioner;
  if (w.encounterClass) c.encounterClass = { $in: w.encounterClass };
  if (w.status) c.status = { $in: w.status };
  if (w.docType) c.docType = { $in: w.docType };
  if (rule.allow) c[LABEL_KEY] = { $in: rule.labels ?? policy.settings.defaultLabels };
  else if (rule.labels) c[LABEL_KEY] = { $in: rule.labels };
  return c as MongoQuery;
}

function withoutLabel(conditions: MongoQuery): MongoQuery {
  const { [LABEL_KEY]: _label, ...rest } = conditions as Record<string, unknown>;
  return rest as MongoQuery;
}

/** Denials for whatever the token's SMART scopes do not cover, for the types the actor's rules name. */
function scopeRules(allows: RawRuleOf<AccessAbility>[], actor: Actor): RawRuleOf<AccessAbility>[] {
  if (actor.scopes.length === 0) return [];
  const out: RawRuleOf<AccessAbility>[] = [];
  const seen = new Set<string>();
  for (const rule of allows) {
    const type = rule.subject as string;
    if (WORKFLOW.has(type)) continue;
    for (const action of rule.action as Action[]) {
      const key = `${action} ${type}`;
      if (seen.has(key) || !ACTIONS.includes(action)) continue;
      seen.add(key);
      const limit = scopeLimit(actor.scopes, action, type, actor.patientContext);
      if (limit.kind === 'denied' || (limit.kind === 'patient' && !limit.patient)) {
        out.push({ action, subject: type, inverted: true, reason: 'smart-scope' });
      } else if (limit.kind === 'patient') {
        out.push({ action, subject: type, inverted: true, conditions: { patient: { $ne: limit.patient } }, reason: 'smart-scope' });
      }
    }
  }
  return out;
}
