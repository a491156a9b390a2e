import { Injectable } from '@nestjs/common';
import { AuditTrailAccess, type AuditTrailRefusal, type AuditTrailScope } from '../audit/audit-trail-access.port.js';
import type { Actor } from '../identity/actor.js';
import { AccessPolicyService } from '../policy/access-policy.service.js';
import { AccessError, AccessErrorCode } from '../policy/policy.errors.js';

/**
 * The audit trail's access port, answered by the policy: the `audit` action on
 * `AuditEvent` reads the whole trail (auditors); the `list` action reads the accounting of
 * accesses to one named patient at a time (the record room); neither reads nothing.
 */
@Injectable()
export class PolicyAuditTrailAccess extends AuditTrailAccess {
  constructor(private readonly decisions: AccessPolicyService) {
    super();
  }

  scopeOf(actor: Actor): AuditTrailScope {
    const wholeTrail = this.decisions.decideWorkflow(actor, 'audit', 'AuditEvent');
    const accounting = this.decisions.decideWorkflow(actor, 'list', 'AuditEvent');
    return {
      reads: wholeTrail.allowed ? 'all' : accounting.allowed ? 'one-patient' : 'nothing',
      wholeTrail,
      accounting,
      refusal: (why: AuditTrailRefusal) =>
        new AccessError(
          AccessErrorCode.Forbidden,
          why === 'one-patient-at-a-time'
            ? 'The record room reads the audit trail one patient at a time: name the patient (patient=Patient/<id>) (R-20)'
            : `The access policy (version ${wholeTrail.policyVersion}) does not allow reading the audit trail for this operator (R-20)`,
          accounting.rule ?? wholeTrail.rule,
        ),
    };
  }
}
