import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { FhirModule } from '../fhir/fhir.module.js';
import { PolicyModule } from '../policy/policy.module.js';
import { StoreModule } from '../store/store.module.js';
import { AmendmentRepository } from './amendment.repository.js';
import { AmendmentService } from './amendment.service.js';
import { ArchiveGuard } from './archive.guard.js';
import { ArchiveService } from './archive.service.js';
import { CopyPasteGuard } from './copy-paste.guard.js';
import { EditLedgerRecorder } from './edit-ledger.js';
import { EditLedgerRepository } from './edit-ledger.repository.js';
import { EditWindowGuard } from './edit-window.guard.js';
import { FingerprintRecorder } from './fingerprint.recorder.js';
import { GovernanceController } from './governance.controller.js';
import { LedgerReadsRepository } from './ledger-reads.repository.js';
import { LedgerService } from './ledger.service.js';
import { OverdueService } from './overdue.service.js';
import { ReasonRequiredGuard } from './reason-required.guard.js';
import { SigningService } from './signing.service.js';
import { TextFingerprintRepository } from './text-fingerprint.repository.js';

/** Governance's write guards and recorders (fingerprints, the edit ledger): the root module puts them in the write chain. */
const WRITE_CHAIN_PARTS = [ArchiveGuard, EditWindowGuard, ReasonRequiredGuard, CopyPasteGuard, FingerprintRecorder, EditLedgerRecorder];

/**
 * Edit governance (R-10…R-17): writing deadlines, edit windows, sign / co-sign / archive /
 * amend, the edit ledger and the cross-patient copy-paste check. Its write guards and
 * recorders join the write chain the root module composes.
 */
@Module({
  imports: [PolicyModule, AuditModule, StoreModule, FhirModule],
  controllers: [GovernanceController],
  providers: [
    ...WRITE_CHAIN_PARTS,
    LedgerService,
    SigningService,
    AmendmentService,
    ArchiveService,
    OverdueService,
    AmendmentRepository,
    EditLedgerRepository,
    LedgerReadsRepository,
    TextFingerprintRepository,
  ],
  exports: WRITE_CHAIN_PARTS,
})
export class GovernanceModule {}
