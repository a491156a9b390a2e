import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { PolicyModule } from '../policy/policy.module.js';
import { StoreModule } from '../store/store.module.js';
import { DisputeCaseAccess } from './dispute-case-access.js';
import { DisputeCasesService } from './dispute-cases.service.js';
import { DisputeConfirmationsService } from './dispute-confirmations.service.js';
import { DisputeHoldGuard } from './dispute-hold.guard.js';
import { DisputeSealingService } from './dispute-sealing.service.js';
import { DisputeSteps } from './dispute-steps.js';
import { DisputeWithholdings } from './dispute-withholdings.js';
import { DisputesController } from './disputes.controller.js';
import { DisputesRepository } from './disputes.repository.js';
import { HoldsRepository } from './holds.repository.js';
import { SealedCopiesController } from './sealed-copies.controller.js';
import { SealedCopiesService } from './sealed-copies.service.js';
import { SealedInventoryService } from './sealed-inventory.service.js';
import { UnsealRecordRepository } from './unseal-record.repository.js';
import { UnsealRecordService } from './unseal-record.service.js';
import { DisputeSignaturesRepository } from './signatures.repository.js';

/**
 * Disputes (R-40…R-44): cases and their steps (open, confirm, seal, supplement, unseal), the
 * sealed inventory and its copies, the records a sealed public incident withholds, and
 * the legal hold on every write (`DisputeHoldGuard`, a write guard). Uses `copies/`, never `release/`.
 */
@Module({
  imports: [PolicyModule, AuditModule, StoreModule],
  controllers: [DisputesController, SealedCopiesController],
  providers: [
    DisputesRepository,
    HoldsRepository,
    DisputeHoldGuard,
    DisputeWithholdings,
    DisputeSteps,
    DisputeCaseAccess,
    UnsealRecordRepository,
    DisputeSignaturesRepository,
    UnsealRecordService,
    SealedInventoryService,
    SealedCopiesService,
    DisputeConfirmationsService,
    DisputeCasesService,
    DisputeSealingService,
  ],
  exports: [DisputeHoldGuard, DisputeWithholdings],
})
export class DisputesModule {}
