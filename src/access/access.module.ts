import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { PolicyModule } from '../policy/policy.module.js';
import { AccessGrantRepository } from './access-grant.repository.js';
import { AccessGrantService } from './access-grant.service.js';
import { AccessController } from './access.controller.js';
import { BreakGlassService } from './break-glass.service.js';
import { PolicyAuditTrailAccess } from './policy-audit-trail-access.js';
import { PolicyFhirAccess } from './policy-fhir-access.js';

/**
 * Access beyond the care relation: grants and their approval, break-the-glass,
 * explanations of a decision; `PolicyFhirAccess`, the FHIR facade's access port, and
 * `PolicyAuditTrailAccess`, the audit trail's (who reads what of the trail, R-20).
 */
@Module({
  imports: [PolicyModule, AuditModule],
  controllers: [AccessController],
  providers: [AccessGrantRepository, AccessGrantService, BreakGlassService, PolicyFhirAccess, PolicyAuditTrailAccess],
  exports: [AccessGrantRepository, BreakGlassService, PolicyFhirAccess, PolicyAuditTrailAccess],
})
export class AccessModule {}
