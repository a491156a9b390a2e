import { Injectable } from '@nestjs/common';
import { AuditWriteJournal } from '../audit/audit-write-journal.js';
import { Clock } from '../common/clock.js';
import { ChartWardenDatabase } from '../database/chartwarden-database.js';
import { UnitOfWork } from '../database/unit-of-work.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { DisputeWithholdings } from './dispute-withholdings.js';

/** One step of a case, in progress: its unit of work and the instant it is taken at. */
export interface DisputeStep {
  unit: UnitOfWork;
  at: Date;
}

/** How a step commits: whether it changes the withheld records, and whether it locks a scope (and may deadlock). */
export interface StepOptions {
  /** A seal, supplement or unseal: the other instances are told in the step, and the step answers once every instance forgot its list. */
  withheld?: boolean;
  /** A seal or supplement locks a whole scope: tried again when PostgreSQL aborts it as a deadlock victim. */
  locksScope?: boolean;
}

/**
 * Runs a case's step (open, confirm, seal, supplement, unseal) as one unit of work in
 * ChartWarden's database, committed with its audit entry: the step never exists
 * without the entry naming it, nor a confirmation the officer could use without its own.
 */
@Injectable()
export class DisputeSteps {
  constructor(
    private readonly db: ChartWardenDatabase,
    private readonly journal: AuditWriteJournal,
    private readonly withholdings: DisputeWithholdings,
    private readonly clock: Clock,
  ) {}

  /** `work` in a new unit, then the withheld-records notice and the audit entry (`status`, concerning `patient`) in it. */
  async run<T>(ctx: FhirContext, patient: string, status: number, work: (step: DisputeStep) => Promise<T>, options: StepOptions = {}): Promise<T> {
    const attempt = () =>
      UnitOfWork.run(this.db, async (unit) => {
        const result = await work({ unit, at: this.clock.now() });
        const announcement = options.withheld ? await this.withholdings.changedWithin(unit) : undefined;
        await this.journal.recordStep(ctx, patient, status, unit);
        return { result, announcement };
      });
    const { result, announcement } = options.locksScope ? await retryOnDeadlock(attempt) : await attempt();
    if (options.withheld) await this.withholdings.changed(announcement);
    return result;
  }
}

/**
 * Sealing locks a whole scope; a transaction Bundle that both updates a record in scope and
 * creates one for a sealed visit can deadlock with it, and PostgreSQL then aborts one of the two.
 * The seal is tried again (the Bundle, if it was the one aborted, answers 500 and wrote nothing).
 */
async function retryOnDeadlock<T>(work: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await work();
    } catch (e) {
      if (i >= attempts || (e as { code?: string }).code !== '40P01') throw e;
    }
  }
}
