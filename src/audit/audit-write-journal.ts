import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { WriteRecorder, type JournaledWrite } from '../fhir/write-chain.port.js';
import type { UnitOfWork } from '../database/unit-of-work.js';
import { entryFor } from './audit-entries.js';
import { AuditLog } from './audit-log.js';
import { PendingAuditEntries } from './pending-entries.repository.js';

/**
 * A write's audit entry, committed in the write's transaction (R-51, ARCHITECTURE "data that
 * must never be lost"): a version never exists without the entry saying who wrote it. The last
 * of the write recorders; a refused write has no entry here (nothing was written): the request's
 * own entry records the refusal.
 */
@Injectable()
export class AuditWriteJournal extends WriteRecorder {
  private readonly pending: PendingAuditEntries;

  constructor(
    log: AuditLog,
    private readonly clock: Clock,
  ) {
    super();
    this.pending = new PendingAuditEntries(log);
  }

  async record(ctx: FhirContext, write: JournaledWrite, unit: UnitOfWork): Promise<void> {
    const audit = ctx.audit;
    if (!audit) return;
    const { resourceType: type, id, meta } = write.resource;
    const entry = entryFor(
      audit,
      { status: write.created ? 201 : 200 },
      this.clock.now(),
      {
        interaction: write.created
          ? { action: 'C', subtype: 'create', lifecycle: 'originate', entity: { type, id, version: meta?.versionId } }
          : write.step
            ? { action: 'U', subtype: write.step, lifecycle: write.step === 'archive' ? 'archive' : 'attest', entity: { type, id, version: meta?.versionId } }
            : { action: 'U', subtype: 'update', lifecycle: 'amend', entity: { type, id, version: meta?.versionId } },
        patient: write.patient,
      },
    );
    // In ChartWarden's unit of work, whatever the store: the version and its entry commit together.
    await this.pending.add(unit, entry);
    audit.journaled.push(entry);
  }

  /**
   * A workflow step's own entry (a seal, a produced or delivered copy: the request as its
   * interaction names it), committed in the step's transaction, so the step never exists
   * without its entry. The recorder then does not repeat it for the success.
   */
  async recordStep(ctx: FhirContext, patient: string | undefined, status: number, unit: UnitOfWork): Promise<void> {
    const audit = ctx.audit;
    if (!audit) return;
    const entry = entryFor(audit, { status }, this.clock.now(), { patient });
    await this.pending.add(unit, entry);
    audit.journaled.push(entry);
  }
}

