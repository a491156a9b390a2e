import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { PolicyModule } from '../policy/policy.module.js';
import { StoreModule } from '../store/store.module.js';
import { CopyRequestsController, PrintController } from './copy-requests.controller.js';
import { CopyRequestsService } from './copy-requests.service.js';
import { PrintService } from './print.service.js';

/** Release of information (R-30…R-34): the record room's copy requests, and clinicians' print and export. Uses `copies/`, never `disputes/`. */
@Module({
  imports: [PolicyModule, AuditModule, StoreModule],
  controllers: [PrintController, CopyRequestsController],
  providers: [CopyRequestsService, PrintService],
})
export class ReleaseModule {}
