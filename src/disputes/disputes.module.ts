import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { PolicyModule } from '../policy/policy.module.js';
import { StoreModule } from '../store/store.module.js';
import { DisputeHoldGuard } from './dispute-hold.guard.js';
import { DisputeWithholdings } from './dispute-withholdings.js';
import { DisputesController } from './disputes.controller.js';
import { DisputesService } from './disputes.service.js';

/** Disputes (R-40…R-44): cases, sealing and unsealing, supplements, the legal hold on every write. Uses `copies/`, never `release/`. */
@Module({
  imports: [PolicyModule, AuditModule, StoreModule],
  controllers: [DisputesController],
  providers: [DisputeHoldGuard, DisputeWithholdings, DisputesService],
  exports: [DisputeHoldGuard, DisputeWithholdings],
})
export class DisputesModule {}
