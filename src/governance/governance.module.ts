import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { FhirModule } from '../fhir/fhir.module.js';
import { PolicyModule } from '../policy/policy.module.js';
import { StoreModule } from '../store/store.module.js';
import { AmendmentService } from './amendment.service.js';
import { ArchiveService } from './archive.service.js';
import { CopyPasteGuard } from './copy-paste.guard.js';
import { EditLedger } from './edit-ledger.js';
import { GovernanceController } from './governance.controller.js';
import { LedgerService } from './ledger.service.js';
import { OverdueService } from './overdue.service.js';
import { SigningService } from './signing.service.js';

/**
 * Edit governance (R-10…R-17): writing deadlines, edit windows, sign / co-sign / archive /
 * amend, the edit ledger and the cross-patient copy-paste check. Its write guards and
 * recorders join the write chain the root module composes.
 */
@Module({
  imports: [PolicyModule, AuditModule, StoreModule, FhirModule],
  controllers: [GovernanceController],
  providers: [EditLedger, LedgerService, SigningService, AmendmentService, ArchiveService, OverdueService, CopyPasteGuard],
  exports: [EditLedger, CopyPasteGuard],
})
export class GovernanceModule {}
