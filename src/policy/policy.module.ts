import { Module } from '@nestjs/common';
import { DocumentTypes } from './domain/document-types.js';
import { AuditModule } from '../audit/audit.module.js';
import { StoreModule } from '../store/store.module.js';
import { AccessPolicyService } from './access-policy.service.js';
import { ExplainService } from './explain.service.js';
import { LoadedPolicy } from './loaded-policy.js';
import { PolicyDocumentTypes } from './policy-document-types.js';
import { PolicyReloader } from './policy-reloader.js';

/**
 * The access policy in force: CASL abilities per actor, workflow decisions, explanations,
 * document types, and reloading the policy file (SIGHUP). The policy document itself
 * (`LoadedPolicy`) and the ports it reads grants and holds through are bound by the root module.
 */
@Module({
  // The trail records each reload (policy → audit; audit knows nothing of policy).
  imports: [StoreModule, AuditModule],
  providers: [
    AccessPolicyService,
    ExplainService,
    PolicyReloader,
    {
      provide: DocumentTypes,
      inject: [LoadedPolicy],
      // Always the policy in force: a reloaded documentTypeMap applies without a restart.
      useFactory: (policy: LoadedPolicy) => new PolicyDocumentTypes(policy),
    },
  ],
  exports: [AccessPolicyService, ExplainService, PolicyReloader, DocumentTypes],
})
export class PolicyModule {}
