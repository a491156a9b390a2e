import { Inject, Injectable } from '@nestjs/common';
import type { Resource } from '@medplum/fhirtypes';
import type { UnitOfWork } from '../database/unit-of-work.js';
import type { CreateOptions, FhirStore, UpdateOptions, WriteOutcome } from '../store/fhir-store.port.js';
import type { SearchRequest } from '../store/search/search-request.js';
import { StoreError, StoreErrorCode } from '../store/store.errors.js';
import type { FhirContext } from './fhir-request.js';
import { WRITE_GUARDS, WRITE_RECORDERS, WriteGuard, WriteRecorder, type JournaledWrite, type WriteAttempt, type WriteStep } from './write-chain.port.js';

/** A write's own facts the recorders name: the patient it concerns, when the caller knows better than the store (a Provenance: the signed document's). */
export interface ChainedWrite {
  patient?: string;
}

/**
 * Every write ChartWarden makes (FHIR create and update, Bundle entries, `$sign`, `$cosign`,
 * `$archive`, amendments), inside the store's transaction `tx` and its unit of work
 * (ARCHITECTURE "write guards", docs/decisions/0013):
 * 1. the store resolves what the write is about and takes its locks (`lockForWrite`, decision 0008);
 * 2. every `WRITE_GUARDS` guard checks it, in order, none skipped; the first to throw refuses
 *    it and nothing is written (the transaction rolls back with the error);
 * 3. the store writes the version;
 * 4. every `WRITE_RECORDERS` recorder records it, in order, in the same transaction.
 * Each write gets its own context (a shallow copy of the request's): what a guard notes for the
 * recorders (the documents a passage was copied from, the amendment permit it took) belongs to
 * that write, not to the next entry of the same Bundle.
 */
@Injectable()
export class WriteChain {
  constructor(
    @Inject(WRITE_GUARDS) private readonly guards: readonly WriteGuard[],
    @Inject(WRITE_RECORDERS) private readonly recorders: readonly WriteRecorder[],
  ) {}

  /**
   * A create; a conditional one (`ifNoneExist`) that matches a stored record answers it, as the
   * store would, without a guard or recorder running: nothing is written, so nothing is
   * refused or recorded (a match the caller may not read is the caller's business, as before).
   */
  async create<T extends Resource>(ctx: FhirContext, tx: FhirStore, unit: UnitOfWork, resource: T, options: CreateOptions & ChainedWrite = {}): Promise<WriteOutcome<T>> {
    const { patient, ...store } = options;
    if (store.ifNoneExist && (await matchesAny(tx, store.ifNoneExist))) return this.answerMatch(tx, resource, store);
    const incoming = store.assignedId ? { ...resource, id: store.assignedId } : resource;
    const scope = await tx.lockForWrite(incoming, 'create');
    const own = ownContext(ctx);
    await this.check(own, { resource: incoming, creating: true, scope }, unit);
    const written = await tx.create(resource, store);
    // A concurrent create matched the condition meanwhile (the store serialises on it): answered with it, nothing written.
    if (!written.created) return written;
    // A new Patient is its own patient: its id exists only now.
    const of = patient ?? scope.patient ?? (written.resource.resourceType === 'Patient' ? written.resource.id : undefined);
    await this.record(own, { resource: written.resource, created: true, patient: of }, unit);
    return written;
  }

  /** An update (or a PUT that creates); `step` names the governance step it is, for guards and recorders. */
  async update<T extends Resource>(
    ctx: FhirContext,
    tx: FhirStore,
    unit: UnitOfWork,
    resource: T & { id: string },
    options: UpdateOptions & ChainedWrite = {},
    step?: WriteStep,
  ): Promise<WriteOutcome<T>> {
    const { patient, ...store } = options;
    const scope = await tx.lockForWrite(resource, 'update');
    const own = ownContext(ctx);
    await this.check(own, { resource, creating: scope.stored === undefined, scope, ...(step ? { step } : {}) }, unit);
    const written = await tx.update(resource, store);
    await this.record(
      own,
      {
        resource: written.resource,
        created: written.created,
        ...(written.unchanged ? { unchanged: true } : {}),
        ...(step ? { step } : {}),
        patient: patient ?? scope.patient,
        ...(scope.stored ? { previous: scope.stored } : {}),
      },
      unit,
    );
    return written;
  }

  private async check(ctx: FhirContext, attempt: WriteAttempt, unit: UnitOfWork): Promise<void> {
    for (const guard of this.guards) await guard.check(ctx, attempt, unit);
  }

  private async record(ctx: FhirContext, write: JournaledWrite, unit: UnitOfWork): Promise<void> {
    for (const recorder of this.recorders) await recorder.record(ctx, write, unit);
  }

  /**
   * The store's own answer to a conditional create whose condition matched: the match, or 412
   * for more than one. Should the match have gone in between (changed so it no longer
   * matches), the store would create without the guards: refused as a conflict instead, and
   * rolled back with the transaction.
   */
  private async answerMatch<T extends Resource>(tx: FhirStore, resource: T, options: CreateOptions): Promise<WriteOutcome<T>> {
    const answered = await tx.create(resource, options);
    if (answered.created) {
      throw new StoreError(StoreErrorCode.Conflict, `The If-None-Exist match of this ${resource.resourceType} changed while the create was processed; try again`);
    }
    return answered;
  }
}

/** Whether a conditional create's condition matches a stored record, as the store searches it (its access filter included). */
async function matchesAny(tx: FhirStore, condition: SearchRequest): Promise<boolean> {
  const found = await tx.search({ ...condition, count: 1, offset: 0, include: [], revinclude: [], total: 'none', countOnly: false });
  return found.matches.length > 0;
}

/** The write's own context: the request's, without what a previous write of the request noted. */
function ownContext(ctx: FhirContext): FhirContext {
  const { copiedFrom: _previousWrite, ...own } = ctx;
  return own;
}
