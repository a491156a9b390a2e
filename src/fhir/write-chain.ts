import { Inject, Injectable } from '@nestjs/common';
import type { Resource } from '@medplum/fhirtypes';
import type { UnitOfWork } from '../database/unit-of-work.js';
import type { CreateOptions, FhirStore, UpdateOptions, WriteOutcome } from '../store/fhir-store.port.js';
import type { SearchRequest } from '../store/search/search-request.js';
import { StoreError, StoreErrorCode } from '../store/store.errors.js';
import type { FhirContext } from './fhir-request.js';
import { deepFreeze, frozenCopyJson } from './json-copy.js';
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
 * 2. an `If-Match` that names another version than the locked one answers 412 at once: HTTP
 *    evaluates preconditions before anything else (RFC 9110 §13.2.2), so a stale client learns
 *    to re-read, not a guard's refusal of a version it did not see;
 * 3. every `WRITE_GUARDS` guard checks it, in order, none skipped; the first to throw refuses
 *    it and nothing is written (the transaction rolls back with the error). Guards see one
 *    deep-frozen copy of the incoming version, and the scope frozen: no guard can change what a
 *    guard before it judged, nor what is written (the caller's own object, which no guard
 *    holds; callers pass one of their own: `FhirService` clones the request's body). The
 *    version written is not frozen: the store's answer goes back to the caller;
 * 4. the store writes the version;
 * 5. every `WRITE_RECORDERS` recorder records it, in order, in the same transaction.
 * Each write gets its own context (a shallow copy of the request's): what a guard notes for the
 * recorders (the documents a passage was copied from, the amendment permit it took) belongs to
 * that write, not to the next entry of the same Bundle.
 */
@Injectable()
export class WriteChain {
  private readonly guards: readonly WriteGuard[];
  private readonly recorders: readonly WriteRecorder[];

  /** Keeps frozen copies of the lists: whoever holds the injected arrays cannot take a guard out of the chain. */
  constructor(@Inject(WRITE_GUARDS) guards: readonly WriteGuard[], @Inject(WRITE_RECORDERS) recorders: readonly WriteRecorder[]) {
    this.guards = Object.freeze([...guards]);
    this.recorders = Object.freeze([...recorders]);
  }

  /**
   * A create; a conditional one (`ifNoneExist`) that matches a stored record answers it, as the
   * store would, without a guard or recorder running: nothing is written, so nothing is
   * refused or recorded (a match the caller may not read is the caller's business, as before).
   */
  async create<T extends Resource>(ctx: FhirContext, tx: FhirStore, unit: UnitOfWork, resource: T, options: CreateOptions & ChainedWrite = {}): Promise<WriteOutcome<T>> {
    const { patient, ...store } = options;
    if (store.ifNoneExist && (await matchesAny(tx, store.ifNoneExist))) return this.answerMatch(tx, resource, store);
    const judged = frozenCopy(store.assignedId ? { ...resource, id: store.assignedId } : resource);
    const scope = deepFreeze(await tx.lockForWrite(judged, 'create'));
    const own = ownContext(ctx);
    await this.check(own, { resource: judged, creating: true, minted: true, scope }, unit);
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
    const judged = frozenCopy(resource);
    const scope = deepFreeze(await tx.lockForWrite(judged, 'update', { numbers: store.numbers }));
    if (store.ifMatch !== undefined) preconditionHolds(judged, scope.stored, store.ifMatch);
    const own = ownContext(ctx);
    await this.check(own, { resource: judged, creating: scope.stored === undefined, scope, ...(step ? { step } : {}) }, unit);
    const written = await tx.update(resource, store);
    // Judged as a creation but stored as an update of a version the guards never saw (a store
    // that does not serialise PUTs creating one id): refused, nothing of it commits.
    if (scope.stored === undefined && !written.created) {
      throw new StoreError(StoreErrorCode.Conflict, `${resource.resourceType}/${resource.id} was created by another request while this one was processed; read it and try again`);
    }
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

/**
 * `If-Match` against the locked version, before any guard (RFC 9110 §13.2.2): 412 in the
 * store's own words when it names another version or the record does not exist.
 */
function preconditionHolds(resource: Resource & { id: string }, stored: Resource | undefined, ifMatch: string): void {
  if (!stored) throw new StoreError(StoreErrorCode.VersionConflict, `If-Match: ${resource.resourceType}/${resource.id} does not exist`);
  const current = stored.meta?.versionId;
  if (current === ifMatch) return;
  throw new StoreError(
    StoreErrorCode.VersionConflict,
    `${resource.resourceType}/${resource.id} is at version ${current}, not ${ifMatch}: read it again and reapply the change`,
  );
}

/** One deep copy of the incoming version per write, frozen, for the guards (`structuredClone`'s copy, made faster for JSON). */
function frozenCopy<T extends Resource>(resource: T): T {
  return frozenCopyJson(resource);
}
