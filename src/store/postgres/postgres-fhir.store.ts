import { randomUUID } from 'node:crypto';
import { FHIR_ID } from '../../common/fhir-reference.js';
import type { Resource } from '@medplum/fhirtypes';
import type { NumberLexemes } from '../../common/fhir-json-text.js';
import type { Clock } from '../../common/clock.js';
import type { Queryable } from '../../database/chartwarden-database.js';
import { UnitOfWork, sqlOf } from '../../database/unit-of-work.js';
import type { AccessCondition, AccessFactOptions, AccessFacts } from '../access-facts.js';
import {
  FhirStore,
  type CreateOptions,
  type HistoryPage,
  type PageRequest,
  type SearchResult,
  type StoredJson,
  type UpdateOptions,
  type WriteOutcome,
  notFoundError as notFound,
} from '../fhir-store.port.js';
import type { PatientRecordIndex, WriteScope } from '../patient-record-index.port.js';
import { extractSearchIndex, SearchIndexMemo, type SearchIndex } from '../search/search-index.extractor.js';
import type { SearchParamDef, SearchParameterRegistry } from '../search/search-parameter.registry.js';
import type { SearchRequest } from '../search/search-request.js';
import { StoreError, StoreErrorCode } from '../store.errors.js';
import { AccessChecks } from './access-checks.js';
import { everythingPage, historyPage, searchPage } from './page-reads.js';
import { OWNER_PARAM, type PatientCompartment } from '../patient-compartment.js';
import { PostgresRecordIndex } from './postgres-record-index.js';
import { SIGNATURE_TYPE, SIGNED_PARAM } from './signed-records.js';
import { sameContent, STORED_COLUMNS, storedResource, type StoredRow } from './stored-content.js';
import { DeferredFirstVersions } from './first-versions.js';
import { insertFirstVersion, writeNextVersion, type Ownership } from './version-writes.js';
import { lockScope, scopeOf, type LockedVersion } from './write-scope.js';

/** The database operations the store needs: queries, and opening a transaction. */
export interface StoreDatabase extends Queryable {
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
}

/** Reads and writes are hot and plan in about the time they run: prepared once per connection (`Queryable.query`). */
const PREPARED = { prepare: true };

/**
 * The embedded FHIR R4 store: resources as JSONB in ChartWarden's own PostgreSQL tables,
 * every version kept, search indexes written with the version. Each write is a single SQL
 * statement (atomic on its own) or runs inside the caller's transaction. This class holds the
 * interactions; its statements live beside it, one file per concern: `page-reads.ts` (history,
 * search, `$everything`), `version-writes.ts`, `access-checks.ts`, `write-scope.ts` (a write's
 * locks), `signed-records.ts` (whose record a signature is) and `postgres-record-index.ts` (what
 * features ask). Only `src/store/postgres/` touches the store's tables.
 */
export class PostgresFhirStore extends FhirStore {
  private readonly access: AccessChecks;
  /**
   * Versions `lockForWrite` locked in this transaction, until their update: the row cannot
   * change under our `FOR UPDATE`, so the update uses it instead of reading (and parsing) it again.
   */
  private readonly locked = new Map<string, LockedVersion>();
  /** Encounters this transaction's creates locked `FOR KEY SHARE` (`lockScope`): held until it ends, so taken once. */
  private readonly keyShared = new Set<string>();
  /** Shared by the store and the stores of its transactions: a write's facts are read on the one, its version written on the other. */
  private readonly memo: SearchIndexMemo;

  constructor(
    private readonly db: StoreDatabase,
    private readonly registry: SearchParameterRegistry,
    private readonly compartment: PatientCompartment,
    private readonly clock: Clock,
    /** Set on the store handed to a transaction's work: statements run on `tx`. */
    private readonly tx?: Queryable,
  ) {
    super();
    this.access = new AccessChecks(this.q, clock);
    this.memo = memoOf(registry);
  }

  private get q(): Queryable {
    return this.tx ?? this.db;
  }

  async read(resourceType: string, id: string): Promise<Resource> {
    const rows = await this.q.query<StoredRow>(`SELECT ${STORED_COLUMNS} FROM fhir_resource WHERE resource_type = $1 AND id = $2`, [resourceType, id], PREPARED);
    if (rows.length === 0) throw notFound(resourceType, id);
    return storedResource(rows[0]);
  }

  async vread(resourceType: string, id: string, versionId: string): Promise<Resource> {
    if (!/^\d{1,9}$/.test(versionId)) throw notFound(resourceType, id, versionId);
    const rows = await this.q.query<StoredRow>(
      `SELECT ${STORED_COLUMNS} FROM fhir_resource_version WHERE resource_type = $1 AND id = $2 AND version_id = $3`,
      [resourceType, id, Number(versionId)],
      PREPARED,
    );
    if (rows.length === 0) throw notFound(resourceType, id, versionId);
    return storedResource(rows[0]);
  }

  async create<T extends Resource>(resource: T, options: CreateOptions = {}): Promise<WriteOutcome<T>> {
    if (options.ifNoneExist) {
      const condition = options.ifNoneExist;
      return this.transaction(async (store) => (store as PostgresFhirStore).conditionalCreate(resource, condition, options));
    }
    const id = options.assignedId ?? randomUUID();
    const stored = this.stamp(resource, id, 1);
    const index = this.index(stored);
    const ownership = ownershipOf(stored.resourceType, index);
    // A minted id nobody else knows yet, of a record that signs nothing: written with the transaction's other creates (first-versions.ts).
    if (this.tx instanceof DeferredFirstVersions && stored.resourceType !== SIGNATURE_TYPE) {
      await this.tx.defer({ resource: stored, index, own: ownership.own, numbers: options.numbers });
      return { resource: stored, created: true };
    }
    if (!(await insertFirstVersion(this.q, stored, index, 'POST', ownership, options.numbers))) {
      throw new StoreError(StoreErrorCode.Conflict, `${resource.resourceType}/${id} already exists`);
    }
    return { resource: stored, created: true };
  }

  private async conditionalCreate<T extends Resource>(resource: T, condition: SearchRequest, options: CreateOptions): Promise<WriteOutcome<T>> {
    // Two identical conditional creates must not both create: serialise on the condition.
    const key = `${resource.resourceType}?${condition.used.map(([k, v]) => `${k}=${v}`).sort().join('&')}`;
    await this.q.query('SELECT pg_advisory_xact_lock(hashtext($1))', [key]);
    const found = await this.search({ ...condition, count: 2, offset: 0, include: [], revinclude: [], total: 'none' });
    options.onMatches?.(found.patients ?? []);
    if (found.matches.length > 1) {
      throw new StoreError(StoreErrorCode.MultipleMatches, `If-None-Exist matched ${found.matches.length} or more ${resource.resourceType} resources; be more specific`);
    }
    if (found.matches.length === 1) return { resource: found.matches[0] as T, created: false, unchanged: true };
    return this.create(resource, { assignedId: options.assignedId, numbers: options.numbers });
  }

  async update<T extends Resource>(resource: T & { id: string }, options: UpdateOptions = {}): Promise<WriteOutcome<T>> {
    if (!FHIR_ID.test(resource.id)) {
      throw new StoreError(StoreErrorCode.InvalidResource, `"${resource.id}" is not a valid FHIR id ([A-Za-z0-9-.]{1,64})`, ['id']);
    }
    // Fast path: optimistic (no transaction, no row lock). Inside a transaction, lock at once.
    const first = await this.tryUpdate(resource, options, this.tx !== undefined);
    if (first) return first;
    if (options.ifMatch !== undefined) {
      throw new StoreError(StoreErrorCode.VersionConflict, `${resource.resourceType}/${resource.id} changed while this update was applied; read it again`);
    }
    // Lost a race without If-Match: the caller wants last-writer-wins, so queue behind the row lock.
    return this.transaction(async (store) => {
      for (let attempt = 0; attempt < 3; attempt++) {
        const outcome = await (store as PostgresFhirStore).tryUpdate(resource, options, true);
        if (outcome) return outcome;
      }
      throw new StoreError(StoreErrorCode.Conflict, `${resource.resourceType}/${resource.id} is being changed by others; try again`);
    });
  }

  /** One attempt at an update; undefined when a concurrent writer got there first. */
  private async tryUpdate<T extends Resource>(resource: T & { id: string }, options: UpdateOptions, lock: boolean): Promise<WriteOutcome<T> | undefined> {
    const key = `${resource.resourceType}/${resource.id}`;
    const held = lock ? this.locked.get(key) : undefined;
    this.locked.delete(key);
    const current = held ?? (await this.current(resource, lock));
    if (!current) {
      if (options.ifMatch !== undefined) {
        throw new StoreError(StoreErrorCode.VersionConflict, `If-Match: ${resource.resourceType}/${resource.id} does not exist`);
      }
      const stored = this.stamp(resource, resource.id, 1);
      const index = this.index(stored);
      return (await insertFirstVersion(this.q, stored, index, 'PUT', ownershipOf(stored.resourceType, index), options.numbers)) ? { resource: stored, created: true } : undefined;
    }
    if (options.ifMatch !== undefined && options.ifMatch !== String(current.versionId)) {
      throw new StoreError(
        StoreErrorCode.VersionConflict,
        `${resource.resourceType}/${resource.id} is at version ${current.versionId}, not ${options.ifMatch}: read it again and reapply the change`,
      );
    }
    if (sameContent(current.stored, resource, options.numbers)) return { resource: current.stored as T, created: false, unchanged: true };
    const stored = this.stamp(resource, resource.id, current.versionId + 1);
    const index = this.index(stored);
    return (await writeNextVersion(this.q, stored, index, current.versionId, ownershipOf(stored.resourceType, index), options.numbers)) ? { resource: stored, created: false } : undefined;
  }

  /** The record's current version (`FOR UPDATE` when `lock`); undefined when it is not stored. */
  private async current(resource: Resource & { id: string }, lock: boolean): Promise<LockedVersion | undefined> {
    const [row] = await this.q.query<StoredRow & { version_id: number }>(
      `SELECT version_id, ${STORED_COLUMNS} FROM fhir_resource WHERE resource_type = $1 AND id = $2${lock ? ' FOR UPDATE' : ''}`,
      [resource.resourceType, resource.id],
      PREPARED,
    );
    return row && { versionId: row.version_id, stored: storedResource(row) };
  }

  history(resourceType: string, id: string | undefined, page: PageRequest): Promise<HistoryPage> {
    return historyPage(this.q, this.clock.now(), resourceType, id, page);
  }

  search(request: SearchRequest): Promise<SearchResult> {
    return searchPage(this.q, this.clock.now(), request);
  }

  async everything(patientId: string, page: PageRequest): Promise<SearchResult> {
    await this.read('Patient', patientId);
    return everythingPage(this.q, this.clock.now(), this.registry, this.compartment, patientId, page);
  }

  accessFacts(resourceType: string, id: string, options: AccessFactOptions): Promise<AccessFacts> {
    return this.access.storedFacts(resourceType, id, options);
  }

  check(
    resourceType: string,
    id: string,
    conditions: readonly AccessCondition[],
    options: AccessFactOptions,
    withContent: boolean,
  ): Promise<{ stored?: StoredJson; patient?: string; firstMatch: number }> {
    return this.access.check(resourceType, id, conditions, options, withContent);
  }

  checkMany(
    resourceType: string,
    ids: readonly string[],
    conditions: readonly AccessCondition[],
    options: AccessFactOptions,
  ): Promise<Map<string, { patient?: string; firstMatch: number }>> {
    return this.access.checkMany(resourceType, ids, conditions, options);
  }

  /** The write's one extraction of its version's index (`SearchIndexMemo`): its scope and its rows reuse it. */
  accessFactsOf(resource: Resource, options: AccessFactOptions): Promise<AccessFacts> {
    return this.access.incomingFacts(resource, this.withOwner(resource, this.memo.remember(resource)), options);
  }

  async transaction<T>(work: (store: FhirStore, unit: UnitOfWork) => Promise<T>): Promise<T> {
    if (this.tx) return work(this, UnitOfWork.over(this.tx));
    return this.db.transaction((opened) => {
      // Its creates are written together, before its next statement or its commit (first-versions.ts).
      const tx = DeferredFirstVersions.over(opened);
      return work(this.on(tx), UnitOfWork.over(tx));
    });
  }

  within(unit: UnitOfWork): FhirStore {
    return this.on(sqlOf(unit));
  }

  get records(): PatientRecordIndex {
    return new PostgresRecordIndex(this.q, this.registry, this.compartment, this.tx !== undefined);
  }

  /** Needs a transaction (`transaction` or `within`): the locks last until it ends. */
  async lockForWrite(resource: Resource, mode: 'create' | 'update', options: { numbers?: NumberLexemes } = {}): Promise<WriteScope> {
    if (!this.tx) throw new Error(`lockForWrite(${resource.resourceType}) needs a transaction: call it on the store given by transaction() or within()`);
    // The index its facts were read from when the content is the same; else only what the scope reads.
    const index = this.memo.recall(resource) ?? extractSearchIndex(resource, scopeParams(this.registry, this.compartment, resource.resourceType));
    const scope = scopeOf(resource, index, this.compartment);
    const onLocked = (current: LockedVersion) => this.locked.set(`${resource.resourceType}/${resource.id}`, current);
    return lockScope(this.tx, resource, mode, scope, { numbers: options.numbers, onLocked, keyShared: this.keyShared });
  }

  /** This store with its statements on `tx`. */
  private on(tx: Queryable): PostgresFhirStore {
    return new PostgresFhirStore(this.db, this.registry, this.compartment, this.clock, tx);
  }

  /** Sets the server-owned metadata: id, `meta.versionId`, `meta.lastUpdated`. */
  private stamp<T extends Resource>(resource: T, id: string, version: number): T {
    return {
      ...resource,
      id,
      meta: { ...resource.meta, versionId: String(version), lastUpdated: this.clock.now().toISOString() },
    };
  }

  /**
   * The version's index rows, with the row naming the patient whose record it is (`OWNER_PARAM`,
   * decision 0016): those its access facts were read from when it has their content (the stamp
   * aside, `SearchIndexMemo`), else extracted now.
   */
  private index(resource: Resource): SearchIndex {
    return this.withOwner(resource, this.memo.indexOf(resource));
  }

  /** `index` with the owner row added. */
  private withOwner(resource: Resource, index: SearchIndex): SearchIndex {
    const owner = resource.resourceType === 'Patient' ? undefined : this.compartment.ownerOf(resource.resourceType, resource.id, index.references);
    if (owner !== undefined) index.references.push({ param: OWNER_PARAM, targetType: 'Patient', targetId: owner });
    return index;
  }
}

/** Whose record a version is, from its index: its owner row, or (a signature naming no patient) the records it signs. */
function ownershipOf(type: string, index: SearchIndex): Ownership {
  const own = index.references.find((r) => r.param === OWNER_PARAM)?.targetId;
  return { own, signs: own === undefined && type === SIGNATURE_TYPE ? index.references.filter((r) => r.param === SIGNED_PARAM).map((r) => ({ type: r.targetType, id: r.targetId })) : [] };
}

/** One memo per set of parameters: an index is a function of the content and the parameters alone. */
const memos = new WeakMap<SearchParameterRegistry, SearchIndexMemo>();

function memoOf(registry: SearchParameterRegistry): SearchIndexMemo {
  let memo = memos.get(registry);
  if (!memo) memos.set(registry, (memo = new SearchIndexMemo((type) => registry.forType(type))));
  return memo;
}

/** The search parameters a write's scope is read from (`scopeOf`), besides its type's patient links: its encounters and the records it signs. */
const SCOPE_PARAMS = new Set(['encounter', 'context', SIGNED_PARAM]);
const scopeParamCache = new WeakMap<SearchParameterRegistry, Map<string, readonly SearchParamDef[]>>();

/** Of a type's parameters, those `scopeOf` reads: a write's scope costs a few FHIRPath evaluations, not the whole index. */
function scopeParams(registry: SearchParameterRegistry, compartment: PatientCompartment, type: string): readonly SearchParamDef[] {
  let byType = scopeParamCache.get(registry);
  if (!byType) scopeParamCache.set(registry, (byType = new Map()));
  let params = byType.get(type);
  if (!params) {
    const links = new Set(compartment.linkParams(type));
    byType.set(type, (params = registry.forType(type).filter((p) => SCOPE_PARAMS.has(p.code) || links.has(p.code))));
  }
  return params;
}
