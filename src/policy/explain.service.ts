import { Injectable } from '@nestjs/common';
import { subject } from '@casl/ability';
import { Clock } from '../common/clock.js';
import { hospitalTimeNamed } from '../common/hospital-time.js';
import type { Actor } from '../identity/actor.js';
import { FhirStore } from '../store/fhir-store.port.js';
import type { AccessFacts } from '../store/access-facts.js';
import { AccessPolicyService, type Decision } from './access-policy.service.js';
import { ActiveAccessSource } from './active-access.port.js';
import { StoreError, StoreErrorCode } from '../store/store.errors.js';
import type { Action } from './domain/actions.js';
import { LoadedPolicy } from './loaded-policy.js';
import { AccessError, AccessErrorCode } from './policy.errors.js';

/**
 * One rule of the explained actor's roles for the action. `matched` and `conditions` are
 * given only to a caller who may read the record (`detail: 'full'`): they restate its facts.
 */
export interface RuleTrace {
  rule: string;
  effect: 'allow' | 'deny';
  matched?: boolean;
  conditions?: Record<string, unknown>;
}

/**
 * `GET /access/explain`: the decision, the rule that made it, every rule considered, in words.
 * `full`: the caller may itself read the record, and also sees the facts the decision rested
 * on (patient, care team, label…). `decision-only`: the caller may not (an admin has no
 * clinical access), or the record does not exist; both answer alike, so the answer reveals
 * neither facts nor existence.
 */
export interface Explanation {
  allowed: boolean;
  decidedBy?: string;
  policyVersion: string;
  explanation: string;
  detail: 'full' | 'decision-only';
  facts?: AccessFacts;
  rules: RuleTrace[];
}

/** What to explain: may `target` (an actor described in the query) take `action` on `resourceType/id`? */
export interface ExplainRequest {
  target: Actor;
  action: Action;
  resourceType: string;
  id: string;
}

/** The part of the request's audit record explain writes to (R-20): its decision and the patient concerned. */
export interface ExplainAudit {
  decided(decision: Decision, patient: string | undefined): void;
}

/** How a decision-only answer names a withholding (R-44), without the case. */
const WITHHELD = 'the record is withheld from the actor by a sealed public-incident case (R-44)';

const WORDS: ReadonlyMap<string, string> = new Map([
  ['careTeam', 'the actor is on the patient\'s care team'],
  ['departments', 'the patient has an encounter in the actor\'s department inside the care window'],
  ['withinCareWindow', 'the record is inside the care window'],
  ['grantees', 'the actor holds an approved, unexpired grant for the patient'],
  ['breakGlass', 'the actor broke the glass for the patient and it has not expired'],
  ['authors', 'the actor is the author'],
  ['encounterClass', 'the encounter class is one of'],
  ['status', 'the status is one of'],
  ['docType', 'the document type is one of'],
  ['label', 'the confidentiality label is one of'],
  ['patient', 'the patient is'],
]);

/**
 * Explains, in words, which policy rule allowed or denied an action (for `auditor` and
 * `admin`): the same decision the FHIR API would make, and every rule of the actor's roles
 * that concerns the action. The facts behind it go only to a caller who may read the record
 * (R-02: an explanation is no way around the policy); a record that does not exist is
 * explained as a record without facts, exactly as one the caller may not read. The trail
 * names the record's patient either way (R-20). A decision resting on a grant (R-05) or a
 * break-the-glass (R-04) says until when, as the hospital's clock reads it (policy `timeZone`).
 */
@Injectable()
export class ExplainService {
  constructor(
    private readonly decisions: AccessPolicyService,
    private readonly policy: LoadedPolicy,
    private readonly store: FhirStore,
    private readonly activeAccess: ActiveAccessSource,
    private readonly clock: Clock,
  ) {}

  /** The roles an explanation may name (the policy's): anything else is refused with this list. */
  get roleNames(): readonly string[] {
    return this.policy.roleNames;
  }

  async explain(requester: Actor, request: ExplainRequest, audit?: ExplainAudit): Promise<Explanation> {
    const { target, action, resourceType, id } = request;
    const stored = await this.factsOf(resourceType, id);
    const gate = this.decisions.decideWorkflow(requester, 'explain', 'Policy');
    // Allowed or refused, the trail names the patient whose record was asked about.
    audit?.decided(gate, stored?.patient);
    if (!gate.allowed) throw new AccessError(AccessErrorCode.Forbidden, 'Explaining decisions is for the auditor and admin roles', gate.rule);
    const facts = stored ?? unknownRecord(resourceType, id);
    const decision = await this.decisions.decide(target, action, facts);
    const considered = this.decisions.ability(target).rulesFor(action, resourceType);
    const probe = subject(resourceType, { ...facts, grantees: [], breakGlass: [] });
    const traces: Required<RuleTrace>[] = considered.map((r) => ({
      rule: r.reason ?? '(unnamed)',
      effect: r.inverted ? 'deny' : 'allow',
      matched: r.matchesConditions(probe),
      conditions: (r.conditions ?? {}) as Record<string, unknown>,
    }));
    const full = stored !== undefined && (await this.decisions.decide(requester, 'read', stored)).allowed;
    // A record withheld from the target (R-44) is decided by its sealing case, not by a policy rule: only a reader learns which case.
    const byPolicy = decision.rule === undefined || traces.some((t) => t.rule === decision.rule);
    const shown = full || byPolicy ? decision : { ...decision, rule: WITHHELD };
    const answer = {
      allowed: shown.allowed,
      decidedBy: shown.rule,
      policyVersion: shown.policyVersion,
      // Worded from the decision and the policy's rules only, never from the facts: the same for both kinds of answer.
      explanation: this.words(shown, target, action, resourceType, id, traces) + (await this.lasting(target, shown)),
    };
    if (!full) return { ...answer, detail: 'decision-only', rules: traces.map(({ rule, effect }) => ({ rule, effect })) };
    return { ...answer, detail: 'full', facts: stored, rules: traces };
  }

  /** The record's facts; undefined when there is no such record (which the answer must not tell). */
  private async factsOf(resourceType: string, id: string): Promise<AccessFacts | undefined> {
    try {
      return await this.store.accessFacts(resourceType, id, this.policy.factOptions);
    } catch (e) {
      if (e instanceof StoreError && e.code === StoreErrorCode.NotFound) return undefined;
      throw e;
    }
  }

  /**
   * For an access resting on a grant or a break-the-glass: ` It lasts until <time> <zone>.`, its
   * end on the hospital's clock; empty otherwise. Read from the target's active access, like the
   * decision.
   */
  private async lasting(target: Actor, d: Decision): Promise<string> {
    const id = d.allowed ? (d.grantId ?? d.breakGlassId) : undefined;
    if (!id) return '';
    const active = await this.activeAccess.activeFor(target.id, this.clock.now());
    const held = [...active.grants, ...active.breakGlass].find((a) => a.id === id);
    if (!held) return '';
    const zone = this.policy.timeZone;
    const what = d.grantId ? 'The grant' : 'The break-the-glass access';
    return ` ${what} lasts until ${hospitalTimeNamed(held.until, zone)}.`;
  }

  private words(d: Decision, actor: Actor, action: string, type: string, id: string, rules: readonly Required<RuleTrace>[]): string {
    const who = `${actor.id} (${actor.roles.join(', ') || 'no role'}${actor.department ? `, ${actor.department}` : ''})`;
    const deciding = describe(rules.find((r) => r.rule === d.rule)?.conditions ?? {});
    if (d.allowed) return `Allowed: ${who} may ${action} ${type}/${id} by rule ${d.rule}, because ${deciding}.`;
    if (rules.length === 0) return `Denied: no rule of ${who}'s roles allows ${action} on ${type} (default deny, R-02).`;
    // Not a policy rule: a withholding (R-44), which names itself.
    if (d.rule && !rules.some((r) => r.rule === d.rule)) return `Denied: ${d.rule}.`;
    if (d.rule) return `Denied by rule ${d.rule} (${deciding}).`;
    return `Denied: ${rules.length} rule(s) of ${who}'s roles concern ${action} on ${type}, none applies: ${rules
      .map((r) => `${r.rule} needs ${describe(r.conditions)}`)
      .join('; ')}.`;
  }
}

function describe(conditions: Record<string, unknown>): string {
  const parts = Object.entries(conditions).map(([k, v]) => {
    const value = (v as { $in?: unknown[] })?.$in ?? (v as { $ne?: unknown })?.$ne ?? v;
    const words = WORDS.get(k);
    if (Array.isArray(value)) return `${words ?? k} ${value.join('/')}`;
    return typeof v === 'object' ? `${words ?? k} ${JSON.stringify(v)}` : (words ?? `${k} = ${String(v)}`);
  });
  return parts.length ? parts.join(' and ') : 'it applies to every such record';
}

/** A record with no facts at all: what an unknown id is judged as, so that it answers like a record the caller may not read. */
function unknownRecord(type: string, id: string): AccessFacts {
  return { type, id, withinCareWindow: false, careTeam: [], departments: [], authors: [], docType: [], label: 'N' };
}
