import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { PolicyModule } from '../policy/policy.module.js';
import { StoreModule } from '../store/store.module.js';
import { CertifiedCopyRenderer } from './certified-copy.renderer.js';
import { CopyCandidates } from './copy-candidates.js';
import { CopyDeliveryService } from './copy-delivery.service.js';
import { CopyFilesController } from './copy-files.controller.js';
import { CopyProductionService } from './copy-production.service.js';
import { CopyRequestReader } from './copy-request.reader.js';
import { CopyRequestScreening } from './copy-request.screening.js';
import { CopyRequestSteps } from './copy-request.steps.js';
import { CopyRequestsController } from './copy-requests.controller.js';
import { CopyRequestsRepository } from './copy-requests.repository.js';
import { CopyRequestsService } from './copy-requests.service.js';
import { CopyVersionRule } from './copy-version-rule.js';
import { PrintController } from './print.controller.js';
import { PrintService } from './print.service.js';

/** Release of information (R-30…R-34): the record room's copy requests, and clinicians' print and export. Uses `copies/`, never `disputes/`. */
@Module({
  imports: [PolicyModule, AuditModule, StoreModule],
  controllers: [PrintController, CopyRequestsController, CopyFilesController],
  providers: [
    CopyRequestsRepository,
    CopyRequestReader,
    CopyRequestSteps,
    CopyRequestScreening,
    CopyVersionRule,
    CopyCandidates,
    CertifiedCopyRenderer,
    CopyRequestsService,
    CopyProductionService,
    CopyDeliveryService,
    PrintService,
  ],
})
export class ReleaseModule {}
