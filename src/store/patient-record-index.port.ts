import type { Encounter, Resource } from '@medplum/fhirtypes';

/** A stored record by its type and id. */
export interface RecordRef {
  type: string;
  id: string;
}

/** One version of a stored record (version ids are opaque strings). */
export interface VersionRef extends RecordRef {
  version: string;
}

/** The current version of a record as the store holds it. */
export interface IndexedRecord {
  resource: Resource;
  versionId: string;
  lastUpdated: string;
  /** The encounter it was found under, when the question was about encounters. */
  encounter?: string;
}

/**
 * Per patient with a finished or open encounter: the end of the last outpatient visit and inpatient stay (R-18).
 * An encounter with no end yet ends at the end of time (the latest instant a `Date` holds).
 */
export interface PatientVisits {
  patient: string;
  lastOutpatient?: Date;
  lastInpatient?: Date;
  /** An encounter of the patient is still open. */
  open: boolean;
}

/**
 * What a write is about, resolved by the store from the incoming resource the way its search
 * index would resolve it (every reference form: relative, absolute, versioned, every
 * `context.encounter`), with the locks the write needs taken in the caller's transaction:
 * the current version `FOR UPDATE` (an update), the encounters, and for a Provenance the
 * records it signs, `FOR KEY SHARE` (a create), so a concurrent seal either commits first
 * and is seen, or waits (docs/decisions/0008).
 */
export interface WriteScope {
  /** The current version, locked; absent for a create or a PUT that creates. */
  stored?: Resource;
  /** An update that would change nothing (the store would add no version). */
  unchanged: boolean;
  /** The patient whose record the incoming version is (its compartment's first link naming a Patient, decision 0016); first of `patients`. */
  patient?: string;
  /** Every patient the incoming version links through its compartment's parameters, its owner first, then sorted; for a Provenance, also the patients of the records it signs: a hold or a copy check asks about each of them. */
  patients: string[];
  /** The encounters the incoming version belongs to (`encounter`, `context`). */
  encounters: string[];
  /** The encounters the current version belongs to, as its search index holds them (a record moved out of a visit still concerns it); empty for a create. */
  storedEncounters: string[];
  /** For a Provenance: the records it signs (`target`). */
  targets: RecordRef[];
  /**
   * Of `encounters`, those the write's transaction holds `FOR KEY SHARE` (a create's visits that
   * exist, decision 0008): no seal of them can commit before the transaction ends, so what a
   * guard learns of them holds for its later writes too. Absent when none is held.
   */
  lockedEncounters?: string[];
}

/**
 * The store's answers to the questions features ask about a patient's record, in the domain's
 * words. Features never read the store's tables (only `src/store/**` does,
 * docs/decisions/0013): what they need that the FHIR interactions do not give is asked here.
 * Bound to a transaction when obtained from one (`FhirStore.within(unit).records`).
 * Every answer is the current version unless it says otherwise; none applies the access
 * policy: callers decide what the actor may see.
 */
export abstract class PatientRecordIndex {
  /** The patient's encounters (by `subject`/`patient`), optionally those whose period overlaps [from, to]; ids, sorted. */
  abstract encountersOfPatient(patient: string, period?: { from: string; to: string }): Promise<string[]>;

  /** Encounters served by a department (`service-provider`), newest first, of a class when given. */
  abstract encountersOfDepartment(department: string, options: { classCode?: string; limit: number }): Promise<Encounter[]>;

  /**
   * Records of `types` filed under any of `encounters` (`encounter`/`context`), each with the
   * encounter it was found under (a record under two of them comes twice), sorted by `Type/id`;
   * `excludingStatuses`: leave out records whose document status (`docStatus`, else `status`)
   * is one of these.
   */
  abstract recordsOfEncounters(encounters: readonly string[], types: readonly string[], options?: { excludingStatuses?: readonly string[] }): Promise<IndexedRecord[]>;

  /**
   * Governed documents (`types`) of the department's encounters (service provider) that are not in
   * `excludingStatuses`, as keys only, oldest update first: a department may hold many drafts, and
   * a caller narrows the keys (the co-signature queue, by the ledger) before reading any content.
   */
  abstract documentKeysOfDepartment(department: string, types: readonly string[], excludingStatuses: readonly string[]): Promise<RecordRef[]>;

  /** Records of `types` of the patient (`subject`/`patient`), optionally only those filed under `encounters` (an empty list restricts nothing); oldest update first. */
  abstract recordsOfPatient(patient: string, types: readonly string[], options?: { encounters?: readonly string[] }): Promise<IndexedRecord[]>;

  /**
   * What a dispute seals (R-40): the encounters, the patient's records filed under them, for a
   * whole record the rest of the patient's compartment, the Provenance signing any of these, and
   * `also` (pending lines, wherever they are now); sorted by type and id; locked `FOR UPDATE`
   * when `lock`. A record of another patient filed under the encounter is left out; so is the Patient.
   */
  abstract sealScope(scope: { patient: string; encounters: readonly string[]; wholeRecord: boolean; also: readonly RecordRef[] }, lock: boolean): Promise<IndexedRecord[]>;

  /** Per patient: the ends of the last outpatient visit (`outpatientClasses`) and inpatient stay, and whether one is open (R-18). */
  abstract lastVisits(outpatientClasses: readonly string[]): Promise<PatientVisits[]>;

  /**
   * Patients (ids, sorted) with a current `identifier` whose value is exactly `value`, in any
   * system, as the search index holds it: at most `page.limit`, those after the id `page.after`
   * when given (keyset paging). Candidates only: the caller reads them and decides which
   * identifier it means (a 病案号 lookup keeps the patients whose 病案号 it is).
   */
  abstract patientsWithIdentifierValue(value: string, page: { limit: number; after?: string }): Promise<string[]>;

  /** The current versions of these records (unknown ones are left out), in no particular order. */
  abstract readMany(refs: readonly RecordRef[]): Promise<IndexedRecord[]>;

  /** These versions' content, keyed `Type/id/version` (missing ones are left out). */
  abstract versions(refs: readonly VersionRef[]): Promise<Map<string, Resource>>;

  /** The current version id of each record, keyed `Type/id` (unknown ones are left out). */
  abstract currentVersions(refs: readonly RecordRef[]): Promise<Map<string, string>>;

  /** When the record's first version was written, and when a version first had one of `statuses` (signed). Throws `StoreError(NotFound)`. */
  abstract firstTimes(ref: RecordRef, statuses: readonly string[]): Promise<{ created: Date; reached?: Date }>;

  /** Records of `types` updated at or after `since`, keys only, sorted (integrity checks). */
  abstract recordsUpdatedSince(types: readonly string[], since: Date, ref?: RecordRef): Promise<RecordRef[]>;

  /** Records of `types` whose current content differs from their current version as stored (an edit made in the database). */
  abstract currentDiffersFromVersion(types: readonly string[], ref?: RecordRef): Promise<(RecordRef & { version: string })[]>;

  /** Locks these records (`update`: `FOR UPDATE`; `key-share`: `FOR KEY SHARE`) in a stable order, in the bound transaction (refused without one). */
  abstract lock(refs: readonly RecordRef[], mode: 'update' | 'key-share'): Promise<void>;
}
