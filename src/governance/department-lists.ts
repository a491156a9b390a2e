import type { FhirContext } from '../fhir/fhir-request.js';
import type { AccessPolicyService } from '../policy/access-policy.service.js';
import type { Action } from '../policy/domain/actions.js';
import { AccessError, AccessErrorCode } from '../policy/policy.errors.js';
import { GovernanceError, GovernanceErrorCode } from './governance.errors.js';

/**
 * The department a governance list is about (`dept=`, else the operator's own), once the
 * operator may read it: a physician the policy lets `action` documents, for their own
 * department, or medical affairs for any. The decision is noted for the audit trail.
 */
export function departmentToList(decisions: AccessPolicyService, ctx: FhirContext, action: Action, dept: string | undefined, list: string, refusal: (department: string) => string): string {
  const department = dept ?? ctx.actor.department;
  if (!department) throw new GovernanceError(GovernanceErrorCode.NotGoverned, `${list} needs dept=<department id> (or a department in the token)`);
  const decision = decisions.decideWorkflow(ctx.actor, action, 'Composition');
  const allowed = ctx.actor.roles.includes('medical-affairs') || (decision.allowed && department === ctx.actor.department);
  ctx.audit?.decided({ ...decision, allowed }, undefined);
  if (!allowed) throw new AccessError(AccessErrorCode.Forbidden, refusal(department));
  return department;
}
