import type { Resource } from '@medplum/fhirtypes';
import type { NumberLexemes } from '../../common/fhir-json-text.js';
import type { Queryable } from '../../database/chartwarden-database.js';
import { UnitOfWork, sqlOf } from '../../database/unit-of-work.js';
import type { AccessCondition, AccessFactOptions, AccessFacts } from '../access-facts.js';
import {
  FhirStore,
  notFoundError as notFound,
  type CreateOptions,
  type HistoryPage,
  type PageRequest,
  type SearchResult,
  type StoredJson,
  type UpdateOptions,
  type WriteOutcome,
} from '../fhir-store.port.js';
import type { PatientRecordIndex, RecordRef, WriteScope } from '../patient-record-index.port.js';
import type { StoreAlarms } from '../store-alarms.js';
import { StoreError, StoreErrorCode } from '../store.errors.js';
import type { SearchRequest } from '../search/search-request.js';
import { RemoteVersions } from './remote-versions.js';
import type { UpstreamFreshness } from './upstream-freshness.js';
import type { UpstreamWrites } from './upstream-writes.js';

/** What every store of one remote adapter shares: the upstream's two directions and the alarms. */
export interface RemoteParts {
  freshness: UpstreamFreshness;
  /** ChartWarden's database, where a read outside a transaction looks up the versions it holds. */
  db: Queryable;
  writes: UpstreamWrites;
  alarms: StoreAlarms;
}

/**
 * The remote store (issue #17, decision 0017): ChartWarden in front of a hospital's existing FHIR
 * server. ChartWarden's own tables (the embedded store's, `local`) keep every version it wrote or
 * adopted, with its search index: the evidence its ledger, seals and copies rest on, and the
 * index every decision and every search is answered from. The upstream server is the record's
 * live store: each write goes to it before ChartWarden's transaction commits, and each read or
 * search page first asks it for the records' current versions, so nothing is judged or served
 * on a version the upstream has replaced.
 *
 * Clients see ChartWarden's version numbers (1, 2, 3…), as the ledger and the papers do; the
 * upstream's own version ids stay in `remote_version` and go upstream as `If-Match`.
 */
export class RemoteFhirStore extends FhirStore {
  /** Records brought up to the upstream in this transaction: a write's facts, scope and write read them once. */
  private readonly fresh = new Set<string>();

  constructor(
    /** The embedded store on ChartWarden's database (bound to `tx` when this store is). */
    private readonly local: FhirStore,
    private readonly parts: RemoteParts,
    private readonly tx?: Queryable,
    /** The unit this store joined through `within`, whose commit sends its writes upstream. */
    private readonly joined?: UnitOfWork,
  ) {
    super();
  }

  async read(resourceType: string, id: string): Promise<Resource> {
    await this.refresh({ type: resourceType, id });
    return this.local.read(resourceType, id);
  }

  /** A version ChartWarden holds: written through it or adopted (the upstream may keep no history). */
  vread(resourceType: string, id: string, versionId: string): Promise<Resource> {
    return this.local.vread(resourceType, id, versionId);
  }

  async create<T extends Resource>(resource: T, options: CreateOptions = {}): Promise<WriteOutcome<T>> {
    if (!this.tx) return this.transaction((store) => store.create(resource, options));
    const outcome = await this.local.create(resource, options);
    if (outcome.created) this.queue(outcome.resource, options.numbers);
    return outcome;
  }

  async update<T extends Resource>(resource: T & { id: string }, options: UpdateOptions = {}): Promise<WriteOutcome<T>> {
    if (!this.tx) return this.transaction((store) => store.update(resource, options));
    await this.lockRecord({ type: resource.resourceType, id: resource.id });
    await this.refresh({ type: resource.resourceType, id: resource.id }, 'write');
    const outcome = await this.local.update(resource, options);
    if (!outcome.unchanged) this.queue(outcome.resource, options.numbers);
    return outcome;
  }

  async history(resourceType: string, id: string | undefined, page: PageRequest): Promise<HistoryPage> {
    if (id !== undefined) await this.refresh({ type: resourceType, id });
    return this.local.history(resourceType, id, page);
  }

  /**
   * Answered by the local index (the policy in SQL, sorting, totals, paging: pages are never short
   * and links are ChartWarden's), then the page's records are brought up to the upstream. When one
   * changed, the search runs again on the new facts; a record that then fails is dropped and
   * alarmed (the tripwire), one the upstream no longer has is never answered.
   */
  async search(request: SearchRequest): Promise<SearchResult> {
    return this.freshPage(() => this.local.search(request));
  }

  async everything(patientId: string, page: PageRequest): Promise<SearchResult> {
    await this.refresh({ type: 'Patient', id: patientId });
    return this.freshPage(() => this.local.everything(patientId, page));
  }

  async accessFacts(resourceType: string, id: string, options: AccessFactOptions): Promise<AccessFacts> {
    await this.refresh({ type: resourceType, id });
    return this.local.accessFacts(resourceType, id, options);
  }

  async check(
    resourceType: string,
    id: string,
    conditions: readonly AccessCondition[],
    options: AccessFactOptions,
    withContent: boolean,
  ): Promise<{ stored?: StoredJson; patient?: string; firstMatch: number }> {
    await this.refresh({ type: resourceType, id });
    return this.local.check(resourceType, id, conditions, options, withContent);
  }

  /**
   * History pages and `$changes`: each record's current version is decided on what the upstream
   * holds now (one `_id` search per type), as a read is: a record moved to another patient
   * upstream is judged on its new patient; one the upstream no longer has is left out.
   */
  async checkMany(
    resourceType: string,
    ids: readonly string[],
    conditions: readonly AccessCondition[],
    options: AccessFactOptions,
  ): Promise<Map<string, { patient?: string; firstMatch: number }>> {
    const tx = this.tx;
    const refs = ids.map((id) => ({ type: resourceType, id })).filter((r) => !tx || !this.parts.writes.has(tx, `${r.type}/${r.id}`));
    const { gone } = refs.length > 0 ? await this.parts.freshness.many(this.local, refs, this.tx ?? this.parts.db) : { gone: new Set<string>() };
    const rows = await this.local.checkMany(resourceType, ids, conditions, options);
    for (const key of gone) rows.delete(key.slice(resourceType.length + 1));
    return rows;
  }

  accessFactsOf(resource: Resource, options: AccessFactOptions): Promise<AccessFacts> {
    return this.local.accessFactsOf(resource, options);
  }

  /** Runs `work` in a transaction of ChartWarden's database; its writes go upstream after `work`, before the commit. */
  async transaction<T>(work: (store: FhirStore, unit: UnitOfWork) => Promise<T>): Promise<T> {
    if (this.tx) return work(this, this.joined ?? UnitOfWork.over(this.tx));
    return this.local.transaction(async (local, unit) => {
      const tx = sqlOf(unit);
      const result = await work(new RemoteFhirStore(local, this.parts, tx), unit);
      await this.parts.writes.flush(tx);
      return result;
    });
  }

  within(unit: UnitOfWork): FhirStore {
    return new RemoteFhirStore(this.local.within(unit), this.parts, sqlOf(unit), unit);
  }

  /** What features ask about a patient's record: the versions ChartWarden holds. */
  get records(): PatientRecordIndex {
    return this.local.records;
  }

  async lockForWrite(resource: Resource, mode: 'create' | 'update', options: { numbers?: NumberLexemes } = {}): Promise<WriteScope> {
    if (mode === 'update' && resource.id) {
      await this.lockRecord({ type: resource.resourceType, id: resource.id });
      await this.refresh({ type: resource.resourceType, id: resource.id }, 'write');
    }
    return this.local.lockForWrite(resource, mode, options);
  }

  /**
   * A write's lock on the record's upstream versions (`RemoteVersions.lockRecords`), taken before
   * its row lock, in the order a reader adopting a version takes them, so the two never deadlock.
   */
  private async lockRecord(ref: RecordRef): Promise<void> {
    if (this.tx) await new RemoteVersions(this.tx).lockRecords([ref]);
  }

  /**
   * Brings one record up to the upstream (once per transaction). For a read, a record the upstream
   * does not have is not found; for a write it is a record to create (a HIS-chosen id). A record
   * this transaction wrote is what it wrote: it goes upstream at the commit.
   */
  private async refresh(ref: RecordRef, purpose: 'read' | 'write' = 'read'): Promise<void> {
    const key = `${ref.type}/${ref.id}`;
    if (this.fresh.has(key) || (this.tx && this.parts.writes.has(this.tx, key))) return;
    const { gone, deleted } = await this.parts.freshness.one(this.local, ref, this.tx ?? this.parts.db);
    if (purpose === 'read' && gone.has(key)) throw notFound(ref.type, ref.id);
    // A record ChartWarden holds and the upstream no longer has: a write would re-create what another client deleted.
    if (deleted.has(key)) {
      throw new StoreError(StoreErrorCode.Conflict, `${key} was deleted on the upstream FHIR server past ChartWarden; ChartWarden keeps its versions (R-17) but does not re-create it there`);
    }
    if (this.tx) this.fresh.add(key);
  }

  private async freshPage(page: () => Promise<SearchResult>): Promise<SearchResult> {
    const first = await page();
    // What this transaction wrote is what it wrote: it goes upstream at the commit.
    const tx = this.tx;
    const refs = [...first.matches, ...first.included]
      .map((r) => ({ type: r.resourceType, id: r.id as string }))
      .filter((r) => !tx || !this.parts.writes.has(tx, `${r.type}/${r.id}`));
    if (refs.length === 0) return first;
    const { gone, adopted } = await this.parts.freshness.many(this.local, refs, this.tx ?? this.parts.db);
    const result = adopted > 0 ? await page() : first;
    if (adopted > 0) {
      const kept = new Set(result.matches.map((r) => `${r.resourceType}/${r.id}`));
      for (const r of first.matches) {
        if (!kept.has(`${r.resourceType}/${r.id}`)) {
          this.parts.alarms.raise({ kind: 'dropped', record: { type: r.resourceType, id: r.id as string }, detail: 'changed upstream and no longer matches this search for this actor; left out of the page' });
        }
      }
    }
    return gone.size === 0 ? result : withoutGone(result, gone);
  }

  /** Queues a version this transaction wrote, to go upstream before it commits. */
  private queue(resource: Resource, numbers: NumberLexemes | undefined): void {
    const tx = this.tx as Queryable;
    this.parts.writes.add(tx, { resource: resource as Resource & { id: string }, version: Number(resource.meta?.versionId), numbers }, () => {
      // A unit a feature opened (`within`) commits without `transaction`: its commit sends the writes.
      if (this.joined) this.joined.beforeCommit(() => this.parts.writes.flush(tx));
    });
  }
}

/** The result without the records the upstream no longer has. */
function withoutGone(result: SearchResult, gone: Set<string>): SearchResult {
  const keep = result.matches.map((r) => !gone.has(`${r.resourceType}/${r.id}`));
  return {
    ...result,
    matches: result.matches.filter((_, n) => keep[n]),
    patients: result.patients?.filter((_, n) => keep[n]),
    included: result.included.filter((r) => !gone.has(`${r.resourceType}/${r.id}`)),
    total: result.total === undefined ? undefined : result.total - keep.filter((k) => !k).length,
  };
}
