import { Injectable } from '@nestjs/common';
import { AuditWriteJournal } from '../audit/audit-write-journal.js';
import { Clock } from '../common/clock.js';
import { ChartWardenDatabase } from '../database/chartwarden-database.js';
import { UnitOfWork } from '../database/unit-of-work.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { CopyRequestsRepository } from './copy-requests.repository.js';
import type { CopyEvent, CopyRequestRecord, CopyRequestStatus } from './domain/copy-request.js';
import { ReleaseError, ReleaseErrorCode } from './release.errors.js';

/** One step being taken on a request: its unit of work, the request as read under its lock, and when. */
export interface CopyStep {
  unit: UnitOfWork;
  request: CopyRequestRecord;
  at: Date;
}

/** What a step records: its event (step and details), the state it moves the request to, and for a disclosure its audit entry's status. */
export interface StepRecord {
  event: Omit<CopyEvent, 'at' | 'by'>;
  status?: CopyRequestStatus;
  /** With `status`: when the request closed (null: it stays open); absent leaves it as it is. */
  closedAt?: Date | null;
  /** A step that discloses (a produced or delivered copy): its audit entry commits with it. */
  audited?: number;
}

/**
 * The steps of a request's life, one at a time: each runs in its own unit of work with
 * the request locked, checks under the lock that the request is in a state the step needs (two
 * clicks, two officers: one wins, the other gets 409), and records itself in the same unit:
 * the new state, the event, and for a disclosure its audit entry.
 */
@Injectable()
export class CopyRequestSteps {
  constructor(
    private readonly db: ChartWardenDatabase,
    private readonly requests: CopyRequestsRepository,
    private readonly journal: AuditWriteJournal,
    private readonly clock: Clock,
  ) {}

  /** The time a step taken now carries. */
  now(): Date {
    return this.clock.now();
  }

  /** Runs `work` as one step on request `id`, which must be in one of `allowed` (`what` says why it is not, in the 409). */
  take<T>(id: string, allowed: readonly CopyRequestStatus[], what: string, work: (step: CopyStep) => Promise<T>): Promise<T> {
    return UnitOfWork.run(this.db, async (unit) => {
      const request = await this.requests.lock(id, unit);
      if (!request || !allowed.includes(request.status)) {
        throw new ReleaseError(ReleaseErrorCode.WrongState, `Copy request ${id} is ${request?.status ?? 'unknown'}: ${what}`);
      }
      return work({ unit, request, at: this.clock.now() });
    });
  }

  /** Records `step` in its unit: the new state, the audit entry of a disclosure, then the event. */
  async record(ctx: FhirContext, step: CopyStep, record: StepRecord): Promise<void> {
    const { unit, request, at } = step;
    if (record.status) await this.requests.setStatus(request.id, record.status, unit, record.closedAt);
    if (record.audited !== undefined) await this.journal.recordStep(ctx, request.patient, record.audited, unit);
    await this.requests.appendEvent(request.id, { at: at.toISOString(), by: ctx.actor.id, ...record.event } as CopyEvent, unit);
  }
}
