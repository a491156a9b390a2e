import type { Resource } from '@medplum/fhirtypes';
import type { UnitOfWork } from '../database/unit-of-work.js';
import type { FhirContext } from './fhir-request.js';

/** One write as it is committed: the stored version, and the patient it belongs to. */
export interface JournaledWrite {
  resource: Resource;
  created: boolean;
  /** An update that changed nothing: no version was added. */
  unchanged?: boolean;
  /** The governance step this write is (a signature, a co-signature, an archiving): the ledger and the trail name it. */
  step?: 'sign' | 'cosign' | 'archive';
  patient?: string;
}

/**
 * Port: what must be recorded with a write, in the write's own transaction (R-51: a version
 * and its records commit together or not at all). The audit trail implements it; `tx` is the
 * store's transaction when the store shares ChartWarden's database.
 */
export abstract class WriteJournal {
  abstract record(ctx: FhirContext, write: JournaledWrite, unit: UnitOfWork): Promise<void>;
}

/** Several journals, in order, as one (the edit ledger, then the audit trail). */
export class WriteJournals extends WriteJournal {
  constructor(private readonly journals: readonly WriteJournal[]) {
    super();
  }

  async record(ctx: FhirContext, write: JournaledWrite, unit: UnitOfWork): Promise<void> {
    for (const journal of this.journals) await journal.record(ctx, write, unit);
  }
}
