import type { NumberLexemes } from '../common/fhir-json-text.js';
import type { Resource } from '@medplum/fhirtypes';
import type { AccessCondition, AccessFactOptions, AccessFacts, AccessFilter } from './access-facts.js';
import type { SearchRequest } from './search/search-request.js';
import type { UnitOfWork } from '../database/unit-of-work.js';
import type { PatientRecordIndex, WriteScope } from './patient-record-index.port.js';
import { StoreError, StoreErrorCode } from './store.errors.js';

/** Options for `FhirStore.create`. */
export interface CreateOptions {
  /**
   * Conditional create (`If-None-Exist`): create only when this search matches nothing. Its
   * `access` filter applies as in any search: a record outside it never counts as a match.
   */
  ifNoneExist?: SearchRequest;
  /** An id chosen by ChartWarden itself (transaction entries whose `urn:uuid` others reference). */
  assignedId?: string;
  /** The sender's lexical form of numbers JSON.stringify would change (`1.50`, `1e-30`), by JSON pointer into the resource: kept in the stored text (docs/decisions/0014). */
  numbers?: NumberLexemes;
  /**
   * Told the patient of each resource `ifNoneExist` matched, as soon as the match is known and
   * whatever the outcome (created, matched, or more than one match): a probe concerns those
   * patients as a search does.
   */
  onMatches?: (patients: readonly (string | undefined)[]) => void;
}

/** Options for `FhirStore.update`. */
export interface UpdateOptions {
  /** The version the caller last saw (`If-Match: W/"<versionId>"`); a different current version is a conflict. */
  ifMatch?: string;
  /** As `CreateOptions.numbers`. */
  numbers?: NumberLexemes;
}

/** What a write did: the stored version, and whether it created the resource. */
export interface WriteOutcome<T extends Resource = Resource> {
  resource: T;
  /** True when the resource did not exist before (201), false for a new version (200). */
  created: boolean;
  /** True when an update changed nothing, so no version was added (conditional create that matched, or a no-op update). */
  unchanged?: boolean;
}

/** A page of history, newest first. */
export interface HistoryPage {
  entries: { resource: Resource; method: 'POST' | 'PUT' }[];
  total: number;
}

/** Paging for history and `$everything`. */
export interface PageRequest {
  count: number;
  offset: number;
  /** Only versions (or resources) updated at or after this instant. */
  since?: string;
  /** Only resources the access policy lets the caller see (judged on their current version). */
  access?: AccessFilter;
}

/** A stored version as the JSON text the store holds, served without parsing it again. */
export interface StoredJson {
  json: string;
  versionId: string;
  lastUpdated: string;
}

/** One page of search results plus what `_include` / `_revinclude` brought. */
export interface SearchResult {
  matches: Resource[];
  /** The patient each match belongs to (same order as `matches`; undefined for resources of no patient). */
  patients?: (string | undefined)[];
  included: Resource[];
  /** Absent when `_total=none`. */
  total?: number;
}

/**
 * The port to a FHIR R4 store. The embedded `PostgresFhirStore` implements it in
 * ChartWarden's own tables; a remote adapter would implement it over FHIR REST. Every
 * adapter must pass `test/contract/fhir-store.contract.ts`.
 *
 * Version ids are opaque strings: never assume they are integers.
 * https://hl7.org/fhir/R4/http.html
 */
export abstract class FhirStore {
  /** The current version. Throws `StoreError(NotFound)`. */
  abstract read(resourceType: string, id: string): Promise<Resource>;

  /** One version. Throws `StoreError(NotFound)`. */
  abstract vread(resourceType: string, id: string, versionId: string): Promise<Resource>;

  /** Creates with a server-assigned id (or `assignedId`); honours conditional create. */
  abstract create<T extends Resource>(resource: T, options?: CreateOptions): Promise<WriteOutcome<T>>;

  /** Writes a new version of `resource.id`, creating it when it does not exist yet (HIS systems keep their own ids). */
  abstract update<T extends Resource>(resource: T & { id: string }, options?: UpdateOptions): Promise<WriteOutcome<T>>;

  /** Instance history when `id` is given, type history otherwise; newest first. */
  abstract history(resourceType: string, id: string | undefined, page: PageRequest): Promise<HistoryPage>;

  abstract search(request: SearchRequest): Promise<SearchResult>;

  /** The patient and every resource in the patient's compartment (`Patient/$everything`). */
  abstract everything(patientId: string, page: PageRequest): Promise<SearchResult>;

  /** The access facts of the current version of a stored resource. Throws `StoreError(NotFound)`. */
  abstract accessFacts(resourceType: string, id: string, options: AccessFactOptions): Promise<AccessFacts>;

  /**
   * Evaluates access conditions, in order, on the current version of a stored resource, in
   * one round trip with its patient (and its content when asked): how single reads are
   * decided with the very expressions searches are filtered by. `firstMatch` is the index of
   * the first condition that holds (later ones are not evaluated), -1 when none does.
   * Throws `StoreError(NotFound)`.
   */
  abstract check(
    resourceType: string,
    id: string,
    conditions: readonly AccessCondition[],
    options: AccessFactOptions,
    withContent: boolean,
  ): Promise<{ stored?: StoredJson; patient?: string; firstMatch: number }>;

  /**
   * `check` for many resources of one type in one round trip (history pages, `$changes`):
   * per id found, its patient and the first condition that holds. Unknown ids are left out.
   */
  abstract checkMany(
    resourceType: string,
    ids: readonly string[],
    conditions: readonly AccessCondition[],
    options: AccessFactOptions,
  ): Promise<Map<string, { patient?: string; firstMatch: number }>>;

  /** The access facts a resource would have if it were stored as given (an incoming or older version). */
  abstract accessFactsOf(resource: Resource, options: AccessFactOptions): Promise<AccessFacts>;

  /**
   * Runs `work` atomically: every write through the store it is given commits together or
   * not at all. Calls inside an open transaction join it. `unit` is the unit of work in
   * ChartWarden's database that commits with the writes: the edit ledger, the audit entry and
   * the holds join it through their own repositories (R-51, docs/decisions/0013).
   */
  abstract transaction<T>(work: (store: FhirStore, unit: UnitOfWork) => Promise<T>): Promise<T>;

  /** This store joined to a unit of work a feature opened (a seal locks and reads the records it inventories in its own transaction). */
  abstract within(unit: UnitOfWork): FhirStore;

  /** The store's answers about a patient's record (bound to this store's transaction, if any). */
  abstract get records(): PatientRecordIndex;

  /**
   * Before a write, in this store's transaction: resolves what `resource` is about and takes
   * the locks the write needs (see `WriteScope`). `create`: the id is not known yet (or is
   * `assignedId`); `update`: `resource.id` names the record, which may not exist yet. Needs a
   * transaction (the store given by `transaction` or `within`): refused outside one.
   * `numbers`: the sender's number lexemes (as `CreateOptions.numbers`), so `unchanged` is judged
   * on the numbers as written (1.5 → 1.50 is a change, decision 0014).
   */
  abstract lockForWrite(resource: Resource, mode: 'create' | 'update', options?: { numbers?: NumberLexemes }): Promise<WriteScope>;
}

/**
 * How every adapter answers a resource or version it does not have. A record or version the
 * access policy hides (`hiddenRecords: not-found`) is worded exactly so (docs/decisions/0005, 0010).
 */
export function notFoundError(resourceType: string, id: string, versionId?: string): StoreError {
  return new StoreError(
    StoreErrorCode.NotFound,
    versionId ? `${resourceType}/${id} has no version ${versionId}` : `${resourceType}/${id} is not known`,
  );
}
