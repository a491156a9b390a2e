import { Injectable } from '@nestjs/common';
import { subject } from '@casl/ability';
import type { Actor } from '../identity/actor.js';
import { FhirStore } from '../store/fhir-store.port.js';
import type { AccessFacts } from '../store/access-facts.js';
import { AccessPolicyService, type Decision } from './access-policy.service.js';
import { ACTIONS, type Action } from './domain/actions.js';
import { LoadedPolicy } from './loaded-policy.js';
import { AccessError, AccessErrorCode } from './policy.errors.js';

/** One rule as it applied (or not) to the record. */
export interface RuleTrace {
  rule: string;
  effect: 'allow' | 'deny';
  matched: boolean;
  conditions: Record<string, unknown>;
}

/** `GET /access/explain`: the decision, the facts it rested on, and every rule considered. */
export interface Explanation {
  allowed: boolean;
  decidedBy?: string;
  policyVersion: string;
  explanation: string;
  facts: AccessFacts;
  rules: RuleTrace[];
}

const WORDS: Record<string, string> = {
  careTeam: 'the actor is on the patient\'s care team',
  departments: 'the patient has an encounter in the actor\'s department inside the care window',
  withinCareWindow: 'the record is inside the care window',
  grantees: 'the actor holds an approved, unexpired grant for the patient',
  breakGlass: 'the actor broke the glass for the patient and it has not expired',
  authors: 'the actor is the author',
  encounterClass: 'the encounter class is one of',
  status: 'the status is one of',
  docType: 'the document type is one of',
  label: 'the confidentiality label is one of',
  patient: 'the patient is',
};

/**
 * Explains, in words, which policy rule allowed or denied an action (for `auditor` and
 * `admin`): the same decision the FHIR API would make, with the facts and every rule of
 * the actor's roles that concerns the action.
 */
@Injectable()
export class ExplainService {
  constructor(
    private readonly decisions: AccessPolicyService,
    private readonly policy: LoadedPolicy,
    private readonly store: FhirStore,
  ) {}

  async explain(requester: Actor, target: Actor, action: string, resourceType: string, id: string): Promise<Explanation> {
    if (!this.decisions.decideWorkflow(requester, 'explain', 'Policy').allowed) {
      throw new AccessError(AccessErrorCode.Forbidden, 'Explaining decisions is for the auditor and admin roles');
    }
    if (!ACTIONS.includes(action as Action)) {
      throw new AccessError(AccessErrorCode.Forbidden, `Unknown action "${action}"; actions: ${ACTIONS.join(', ')}`);
    }
    const facts = await this.store.accessFacts(resourceType, id, this.policy.factOptions);
    const decision = await this.decisions.decide(target, action as Action, facts);
    const ability = this.decisions.ability(target);
    const probe = subject(resourceType, { ...facts, grantees: [], breakGlass: [] });
    const rules: RuleTrace[] = ability.rulesFor(action, resourceType).map((r) => ({
      rule: r.reason ?? '(unnamed)',
      effect: r.inverted ? 'deny' : 'allow',
      matched: r.matchesConditions(probe),
      conditions: (r.conditions ?? {}) as Record<string, unknown>,
    }));
    return { allowed: decision.allowed, decidedBy: decision.rule, policyVersion: decision.policyVersion, explanation: this.words(decision, target, action, resourceType, id, rules), facts, rules };
  }

  private words(d: Decision, actor: Actor, action: string, type: string, id: string, rules: RuleTrace[]): string {
    const who = `${actor.id} (${actor.roles.join(', ') || 'no role'}${actor.department ? `, ${actor.department}` : ''})`;
    if (d.allowed) return `Allowed: ${who} may ${action} ${type}/${id} by rule ${d.rule}, because ${describe(rules.find((r) => r.rule === d.rule)?.conditions ?? {})}.`;
    if (rules.length === 0) return `Denied: no rule of ${who}'s roles allows ${action} on ${type} (default deny, R-02).`;
    if (d.rule) return `Denied by rule ${d.rule} (${describe(rules.find((r) => r.rule === d.rule)?.conditions ?? {})}).`;
    return `Denied: ${rules.length} rule(s) of ${who}'s roles concern ${action} on ${type}, none applies: ${rules
      .map((r) => `${r.rule} needs ${describe(r.conditions)}`)
      .join('; ')}.`;
  }
}

function describe(conditions: Record<string, unknown>): string {
  const parts = Object.entries(conditions).map(([k, v]) => {
    const value = (v as { $in?: unknown[] })?.$in ?? (v as { $ne?: unknown })?.$ne ?? v;
    return Array.isArray(value) ? `${WORDS[k] ?? k} ${value.join('/')}` : typeof v === 'object' ? `${WORDS[k] ?? k} ${JSON.stringify(v)}` : (WORDS[k] ?? `${k} = ${String(v)}`);
  });
  return parts.length ? parts.join(' and ') : 'it applies to every such record';
}
