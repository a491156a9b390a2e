import type { Observation, Resource } from '@medplum/fhirtypes';
import type { Queryable } from '../database/chartwarden-database.js';
import { UnitOfWork } from '../database/unit-of-work.js';
import type { CreateOptions, FhirStore, SearchResult, UpdateOptions, WriteOutcome } from '../store/fhir-store.port.js';
import type { WriteScope } from '../store/patient-record-index.port.js';
import type { SearchRequest } from '../store/search/search-request.js';
import { StoreError, StoreErrorCode } from '../store/store.errors.js';
import type { FhirContext } from './fhir-request.js';
import { WriteChain } from './write-chain.js';
import { WriteGuard, WriteRecorder, type JournaledWrite, type WriteAttempt } from './write-chain.port.js';

/**
 * The write chain's contract (ARCHITECTURE "write guards", decision 0013): the store's locks,
 * then every guard in order, then the write, then every recorder in order; a guard that throws
 * stops the chain before anything is written. The store here is a stand-in that logs what it
 * is asked, so the order is observed, not assumed.
 */
describe('WriteChain', () => {
  const unit = UnitOfWork.over({} as Queryable);
  const ctx = { actor: { id: 'dr', practitioner: 'Practitioner/dr', roles: ['attending'], scopes: [] }, baseUrl: 'http://x/fhir' } as unknown as FhirContext;
  const observation = (value: number): Observation => ({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, valueQuantity: { value } });

  /** A store logging each call; `stored` is the current version an update finds, `matches` what a conditional create's search finds. */
  class LoggingStore {
    readonly log: string[] = [];
    constructor(
      private readonly stored?: Resource,
      private readonly matches: Resource[] = [],
    ) {}
    async lockForWrite(resource: Resource, mode: 'create' | 'update'): Promise<WriteScope> {
      this.log.push(`lock ${mode}`);
      const stored = mode === 'update' ? this.stored : undefined;
      const unchanged = stored !== undefined && JSON.stringify({ ...stored, meta: undefined }) === JSON.stringify({ ...resource, meta: undefined });
      return { ...(stored ? { stored } : {}), unchanged, patient: 'p1', patients: ['p1'], encounters: [], storedEncounters: [], targets: [] };
    }
    async search(_request: SearchRequest): Promise<SearchResult> {
      this.log.push('search');
      return { matches: this.matches, included: [] };
    }
    async create<T extends Resource>(resource: T, options: CreateOptions = {}): Promise<WriteOutcome<T>> {
      this.log.push('store create');
      if (options.ifNoneExist && this.matches.length) return { resource: this.matches[0] as T, created: false, unchanged: true };
      return { resource: { ...resource, id: options.assignedId ?? 'new-1', meta: { versionId: '1' } }, created: true };
    }
    async update<T extends Resource>(resource: T & { id: string }, _options: UpdateOptions = {}): Promise<WriteOutcome<T>> {
      this.log.push('store update');
      if (this.stored && JSON.stringify({ ...this.stored, meta: undefined }) === JSON.stringify({ ...resource, meta: undefined })) {
        return { resource: this.stored as T, created: false, unchanged: true };
      }
      return { resource: { ...resource, meta: { versionId: this.stored ? '2' : '1' } }, created: !this.stored };
    }
    as(): FhirStore {
      return this as unknown as FhirStore;
    }
  }

  class NamedGuard extends WriteGuard {
    readonly attempts: WriteAttempt[] = [];
    constructor(
      private readonly name: string,
      private readonly log: string[],
      private readonly refuse?: Error,
    ) {
      super();
    }
    async check(_ctx: FhirContext, attempt: WriteAttempt): Promise<void> {
      this.log.push(`guard ${this.name}`);
      this.attempts.push(attempt);
      if (this.refuse) throw this.refuse;
    }
  }

  class NamedRecorder extends WriteRecorder {
    readonly writes: JournaledWrite[] = [];
    constructor(
      private readonly name: string,
      private readonly log: string[],
    ) {
      super();
    }
    async record(_ctx: FhirContext, write: JournaledWrite): Promise<void> {
      this.log.push(`recorder ${this.name}`);
      this.writes.push(write);
    }
  }

  it('locks, runs every guard in order, writes, then runs every recorder in order (a create)', async () => {
    const store = new LoggingStore();
    const recorder = new NamedRecorder('ledger', store.log);
    const chain = new WriteChain([new NamedGuard('hold', store.log), new NamedGuard('hospital', store.log)], [new NamedRecorder('fingerprints', store.log), recorder, new NamedRecorder('audit', store.log)]);
    const outcome = await chain.create(ctx, store.as(), unit, observation(5));
    expect(store.log).toEqual(['lock create', 'guard hold', 'guard hospital', 'store create', 'recorder fingerprints', 'recorder ledger', 'recorder audit']);
    expect(outcome).toMatchObject({ created: true, resource: { id: 'new-1' } });
    expect(recorder.writes).toEqual([{ resource: outcome.resource, created: true, patient: 'p1' }]);
  });

  it('a guard that throws stops the chain: no later guard, no write, no recorder, and its error reaches the caller', async () => {
    const store = new LoggingStore({ ...observation(5), id: 'o1', meta: { versionId: '1' } });
    const refusal = new StoreError(StoreErrorCode.Conflict, 'refused by the hospital');
    const chain = new WriteChain([new NamedGuard('hold', store.log), new NamedGuard('hospital', store.log, refusal), new NamedGuard('later', store.log)], [new NamedRecorder('audit', store.log)]);
    await expect(chain.update(ctx, store.as(), unit, { ...observation(900), id: 'o1' })).rejects.toBe(refusal);
    expect(store.log).toEqual(['lock update', 'guard hold', 'guard hospital']);
    await expect(chain.create(ctx, store.as(), unit, observation(900))).rejects.toBe(refusal);
    expect(store.log.slice(3)).toEqual(['lock create', 'guard hold', 'guard hospital']);
  });

  it('an update: guards see the stored version and the step; recorders get the previous version, the step and the patient given', async () => {
    const stored = { ...observation(5), id: 'o1', meta: { versionId: '1' } };
    const store = new LoggingStore(stored);
    const guard = new NamedGuard('hold', store.log);
    const recorder = new NamedRecorder('audit', store.log);
    const chain = new WriteChain([guard], [recorder]);
    await chain.update(ctx, store.as(), unit, { ...observation(6), id: 'o1' }, { ifMatch: '1', patient: 'given' }, 'sign');
    expect(guard.attempts).toEqual([expect.objectContaining({ creating: false, step: 'sign', scope: expect.objectContaining({ stored, unchanged: false }) })]);
    expect(recorder.writes).toEqual([{ resource: expect.objectContaining({ id: 'o1', meta: { versionId: '2' } }), created: false, step: 'sign', patient: 'given', previous: stored }]);
  });

  it('a no-op update: guards are told it is unchanged, the recorders run as before (the audit entry records the 200)', async () => {
    const stored = { ...observation(5), id: 'o1', meta: { versionId: '1' } };
    const store = new LoggingStore(stored);
    const guard = new NamedGuard('hold', store.log);
    const recorder = new NamedRecorder('audit', store.log);
    await new WriteChain([guard], [recorder]).update(ctx, store.as(), unit, { ...observation(5), id: 'o1' });
    expect(guard.attempts[0].scope.unchanged).toBe(true);
    expect(recorder.writes).toEqual([expect.objectContaining({ created: false, unchanged: true })]);
  });

  it('a PUT to an unknown id is a creation for the guards', async () => {
    const store = new LoggingStore();
    const guard = new NamedGuard('hold', store.log);
    await new WriteChain([guard], []).update(ctx, store.as(), unit, { ...observation(5), id: 'his-1' });
    expect(guard.attempts[0].creating).toBe(true);
  });

  it('a conditional create that matches a stored record answers it: no guard (even one that would refuse) and no recorder runs', async () => {
    const existing = { ...observation(5), id: 'old-1', meta: { versionId: '3' } };
    const store = new LoggingStore(undefined, [existing]);
    const chain = new WriteChain([new NamedGuard('hospital', store.log, new Error('would refuse'))], [new NamedRecorder('audit', store.log)]);
    const condition = { resourceType: 'Observation', criteria: [], count: 2, offset: 0, sort: [], total: 'none', include: [], revinclude: [], countOnly: false, used: [] } as SearchRequest;
    const outcome = await chain.create(ctx, store.as(), unit, observation(900), { ifNoneExist: condition });
    expect(outcome).toEqual({ resource: existing, created: false, unchanged: true });
    expect(store.log).toEqual(['search', 'store create']);
  });

  it('a conditional create that matches nothing is guarded and recorded like any create', async () => {
    const store = new LoggingStore(undefined, []);
    const chain = new WriteChain([new NamedGuard('hold', store.log)], [new NamedRecorder('audit', store.log)]);
    const condition = { resourceType: 'Observation', criteria: [], count: 2, offset: 0, sort: [], total: 'none', include: [], revinclude: [], countOnly: false, used: [] } as SearchRequest;
    await chain.create(ctx, store.as(), unit, observation(5), { ifNoneExist: condition, assignedId: 'chosen' });
    expect(store.log).toEqual(['search', 'lock create', 'guard hold', 'store create', 'recorder audit']);
  });

  it('each write has its own context: what a guard notes for one write does not carry to the next', async () => {
    const store = new LoggingStore();
    const seen: (string[] | undefined)[] = [];
    class Noting extends WriteGuard {
      async check(own: FhirContext, attempt: WriteAttempt): Promise<void> {
        seen.push(own.copiedFrom);
        if ((attempt.resource as Observation).valueQuantity?.value === 1) own.copiedFrom = ['Composition/source'];
      }
    }
    class Reading extends WriteRecorder {
      async record(own: FhirContext): Promise<void> {
        seen.push(own.copiedFrom);
      }
    }
    const chain = new WriteChain([new Noting()], [new Reading()]);
    await chain.create(ctx, store.as(), unit, observation(1));
    await chain.create(ctx, store.as(), unit, observation(2));
    expect(seen).toEqual([undefined, ['Composition/source'], undefined, undefined]);
    expect(ctx.copiedFrom).toBeUndefined();
  });
  it('decision 0013: the chain keeps its own frozen copy of the guards and recorders: whoever holds the injected lists cannot empty them', async () => {
    const store = new LoggingStore();
    const guards = [new NamedGuard('hold', store.log)];
    const recorders = [new NamedRecorder('audit', store.log)];
    const chain = new WriteChain(guards, recorders);
    guards.splice(0);
    recorders.splice(0);
    await chain.create(ctx, store.as(), unit, observation(5));
    expect(store.log).toEqual(['lock create', 'guard hold', 'store create', 'recorder audit']);
  });

  it('R-41: guards judge a frozen copy of the write: a later guard cannot change what the hold checked, nor what is written', async () => {
    const stored = { ...observation(5), id: 'o1', meta: { versionId: '1' } };
    const store = new LoggingStore(stored);
    const hold = new NamedGuard('hold', store.log);
    class Tampering extends WriteGuard {
      async check(_ctx: FhirContext, attempt: WriteAttempt): Promise<void> {
        expect(() => ((attempt.resource as Observation).valueQuantity!.value = 9999)).toThrow(TypeError);
        expect(() => ((attempt.scope.stored as Observation).status = 'cancelled')).toThrow(TypeError);
        expect(() => attempt.scope.encounters.push('Encounter/elsewhere')).toThrow(TypeError);
      }
    }
    const recorder = new NamedRecorder('audit', store.log);
    const incoming = { ...observation(6), id: 'o1' };
    await new WriteChain([hold, new Tampering()], [recorder]).update(ctx, store.as(), unit, incoming);
    expect(recorder.writes[0].resource).toMatchObject({ valueQuantity: { value: 6 } });
    expect(hold.attempts[0].resource).toMatchObject({ valueQuantity: { value: 6 } });
    // The caller's own object is neither frozen nor changed, and the version written goes back to it unfrozen.
    expect(Object.isFrozen(incoming)).toBe(false);
    expect(incoming.valueQuantity?.value).toBe(6);
    expect(Object.isFrozen(recorder.writes[0].resource)).toBe(false);
  });

  it('RFC 9110 §13.2.2: a stale If-Match answers 412 before any guard runs (a sealed or archived record included), as the store answers it', async () => {
    const store = new LoggingStore({ ...observation(5), id: 'o1', meta: { versionId: '2' } });
    const chain = new WriteChain([new NamedGuard('hold', store.log, new Error('sealed'))], [new NamedRecorder('audit', store.log)]);
    const stale = chain.update(ctx, store.as(), unit, { ...observation(6), id: 'o1' }, { ifMatch: '1' });
    await expect(stale).rejects.toMatchObject({ code: StoreErrorCode.VersionConflict, answer: { status: 412 } });
    await expect(chain.update(ctx, store.as(), unit, { ...observation(6), id: 'unknown' }, { ifMatch: '1' })).rejects.toMatchObject({ code: StoreErrorCode.VersionConflict });
    expect(store.log).toEqual(['lock update', 'lock update']);
  });

  it('R-12: a PUT judged as a creation that the store wrote as an update of a version the guards never saw is refused (409), nothing recorded', async () => {
    class RacingStore extends LoggingStore {
      override async update<T extends Resource>(resource: T & { id: string }): Promise<WriteOutcome<T>> {
        this.log.push('store update');
        return { resource: { ...resource, meta: { versionId: '2' } }, created: false };
      }
    }
    const store = new RacingStore();
    const chain = new WriteChain([new NamedGuard('hold', store.log)], [new NamedRecorder('ledger', store.log)]);
    await expect(chain.update(ctx, store.as(), unit, { ...observation(5), id: 'his-1' })).rejects.toMatchObject({ code: StoreErrorCode.Conflict, answer: { status: 409 } });
    expect(store.log).toEqual(['lock update', 'guard hold', 'store update']);
  });
});
