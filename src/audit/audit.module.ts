import { Module } from '@nestjs/common';
import { AUDIT_DEFAULTS, type ChartWardenOptions } from '../config/chartwarden.options.js';
import { CHARTWARDEN_OPTIONS } from '../config/module-options.js';
import { Clock } from '../common/clock.js';
import { ChartWardenDatabase } from '../database/chartwarden-database.js';
import { AuditLog } from './audit-log.js';
import { AuditReaderService } from './audit-reader.service.js';
import { AuditTrailRepository } from './audit-trail.repository.js';
import { AuditRecorder } from './audit-recorder.js';
import { AuditWriteJournal } from './audit-write-journal.js';
import { AuditController } from './audit.controller.js';
import { IntegrityController } from './integrity.controller.js';
import { IntegrityRunRepository } from './integrity-run.repository.js';
import { IntegrityRunService } from './integrity-run.service.js';
import { AuditCheckpointScheduler } from './checkpoint-scheduler.js';
import { LedgerHeads } from './ledger-heads.port.js';

/** The append-only, hash-chained audit trail (R-20…R-22): recording every request, reading it back, signed checkpoints. */
@Module({
  controllers: [AuditController, IntegrityController],
  providers: [
    {
      provide: AuditLog,
      inject: [ChartWardenDatabase, CHARTWARDEN_OPTIONS],
      useFactory: (db: ChartWardenDatabase, o: ChartWardenOptions) =>
        new AuditLog(db, o.audit?.chains ?? AUDIT_DEFAULTS.chains, o.audit?.maxBatch ?? AUDIT_DEFAULTS.maxBatch, o.audit?.lanes ?? AUDIT_DEFAULTS.lanes),
    },
    AuditRecorder,
    AuditReaderService,
    AuditTrailRepository,
    AuditWriteJournal,
    // The state of `audit verify` / `ledger verify` and runs started by auditors (issue #18); the checks: the root's `IntegrityChecks`.
    IntegrityRunRepository,
    IntegrityRunService,
    {
      provide: AuditCheckpointScheduler,
      // The ledger's heads through audit's port: governance implements it, the root module binds it.
      inject: [ChartWardenDatabase, LedgerHeads, Clock, CHARTWARDEN_OPTIONS],
      useFactory: (db: ChartWardenDatabase, ledger: LedgerHeads, clock: Clock, o: ChartWardenOptions) => new AuditCheckpointScheduler(db, ledger, clock, o.dataDir, o.checkpoint),
    },
  ],
  exports: [AuditLog, AuditRecorder, AuditWriteJournal],
})
export class AuditModule {}
