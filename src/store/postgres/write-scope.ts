import type { Resource } from '@medplum/fhirtypes';
import { byCodeUnit } from '../../common/code-unit-order.js';
import type { NumberLexemes } from '../../common/fhir-json-text.js';
import type { Queryable } from '../../database/chartwarden-database.js';
import type { RecordRef, WriteScope } from '../patient-record-index.port.js';
import type { PatientCompartment } from '../patient-compartment.js';
import { StoreError, StoreErrorCode } from '../store.errors.js';
import type { SearchIndex } from '../search/search-index.extractor.js';
import { SIGNATURE_TYPE, SIGNED_PARAM, signedRecordOwners } from './signed-records.js';
import { sameContent, storedColumns, storedResource, type StoredRow } from './stored-content.js';

/**
 * The current row of a record, locked, with the encounters its search index files it under
 * (the index rows of the current version, written with it by the same extraction `scopeOf` uses).
 */
const LOCK_CURRENT = `SELECT r.version_id, ${storedColumns('r')},
    ARRAY(SELECT DISTINCT x.target_id COLLATE "C" FROM fhir_search_reference x
           WHERE x.resource_type = r.resource_type AND x.resource_id = r.id AND x.param IN ('encounter', 'context') AND x.target_type = 'Encounter'
           ORDER BY 1) AS encounters
  FROM fhir_resource r WHERE r.resource_type = $1 AND r.id = $2 FOR UPDATE OF r`;

/**
 * A create's encounter, locked `FOR KEY SHARE` (R-41: a seal inventorying the visit waits for the
 * write, or the write for the seal), by both columns of the primary key. As `id = ANY($1)`,
 * PostgreSQL kept the plan it made for the connection's first writes: on a new database's small
 * table, a read of every Encounter with the ids as a filter, which it then ran on every create
 * however many visits the hospital came to hold (15–130 ms a lock at 10,000 visits, before
 * autovacuum analysed the table; issue #13). A plan for the whole key reads one index entry.
 */
export const LOCK_ENCOUNTER = `SELECT r.id FROM fhir_resource r WHERE r.resource_type = 'Encounter' AND r.id = $1 FOR KEY SHARE`;

/**
 * A create's encounters when there are several, in id order (the order a seal locks them in), each
 * read by the whole primary key (`LOCK_ENCOUNTER`); the ids are rows of the statement, so PostgreSQL
 * plans it for their number each time.
 */
export const LOCK_ENCOUNTERS = `SELECT r.id FROM (SELECT DISTINCT u.id FROM unnest($1::text[]) AS u(id) ORDER BY u.id) u
  CROSS JOIN LATERAL (SELECT r.id FROM fhir_resource r WHERE r.resource_type = 'Encounter' AND r.id = u.id FOR KEY SHARE) r`;

/**
 * A PUT to an id not stored yet waits here for another transaction creating the same record
 * (two-key form: its own key space, apart from the conditional create's one-key locks), so the
 * second PUT sees the first's row and is judged as the update it is.
 */
const LOCK_NEW_ID = 'SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))';

/** What `scopeOf` resolves from the incoming version; the rest of `WriteScope` comes from the stored row. */
export type IncomingScope = Omit<WriteScope, 'stored' | 'unchanged' | 'storedEncounters'>;

/**
 * What a write is about, read from the incoming version's search index (so every reference form
 * counts: relative, absolute, versioned, every `context.encounter`), as `accessFactsOf` reads its
 * patient.
 */
export function scopeOf(resource: Resource, index: SearchIndex, compartment: PatientCompartment): IncomingScope {
  const targets = (params: string[], type?: string) =>
    index.references.filter((r) => params.includes(r.param) && (type === undefined || r.targetType === type));
  const owner = compartment.ownerOf(resource.resourceType, resource.id, index.references);
  const others = compartment.patientsOf(resource.resourceType, resource.id, index.references).filter((p) => p !== owner).sort(byCodeUnit);
  const patients = owner === undefined ? others : [owner, ...others];
  const encounters = [...new Set(targets(['encounter', 'context'], 'Encounter').map((r) => r.targetId))].sort(byCodeUnit);
  const signed: RecordRef[] =
    resource.resourceType === SIGNATURE_TYPE
      ? unique(targets([SIGNED_PARAM]).map((r) => ({ type: r.targetType, id: r.targetId }))).sort((a, b) => byCodeUnit(a.type, b.type) || byCodeUnit(a.id, b.id))
      : [];
  return { ...(owner !== undefined ? { patient: owner } : {}), patients, encounters, targets: signed };
}

/**
 * Takes the locks of one write in transaction `tx` (decision 0008), as the SQL function
 * `chartwarden_holds` took them after the write when the hold was checked there:
 * - an update of an existing record: its current row `FOR UPDATE` (a seal inventorying it waits,
 *   or the write waits for the seal and then sees its hold);
 * - a PUT to an id not stored yet: first a transaction lock on (type, id), then the row again:
 *   of two PUTs creating the same record, the second waits for the first to commit and is then
 *   an update of it, judged as one (its edit window, its reason, its ledger chain);
 * - a create (or a PUT that creates): its encounters `FOR KEY SHARE` in id order, then, for a
 *   Provenance, the records it signs in (type, id) order, so a seal in progress is waited for,
 *   or waits for this write and then inventories it. An update does not lock its encounters:
 *   one moving a record into a visit being sealed would deadlock with the seal.
 * Each lock is its own statement: under READ COMMITTED, the hold check that follows sees a seal
 * that committed while the lock waited.
 */
export async function lockScope(
  tx: Queryable,
  resource: Resource,
  mode: 'create' | 'update',
  scope: IncomingScope,
  options: LockOptions = {},
): Promise<WriteScope> {
  if (mode === 'update' && resource.id !== undefined) {
    let row = await lockCurrent(tx, resource);
    if (!row) {
      await tx.query(LOCK_NEW_ID, [resource.resourceType, resource.id], { prepare: true });
      row = await lockCurrent(tx, resource);
    }
    if (row) {
      const stored = storedResource(row);
      options.onLocked?.({ versionId: row.version_id, stored });
      const signed = await withSignedPatients(tx, scope);
      const unchanged = sameContent(stored, resource, options.numbers);
      return { ...signed, stored, storedEncounters: row.encounters, unchanged };
    }
  }
  // An encounter this transaction locked already stays locked until it ends: the lock is not taken again.
  const keyShared = options.keyShared ?? new Set<string>();
  const encounters = scope.encounters.filter((e) => !keyShared.has(e));
  if (encounters.length) {
    const [text, value] = encounters.length === 1 ? [LOCK_ENCOUNTER, encounters[0]] : [LOCK_ENCOUNTERS, encounters];
    const locked = await tx.query<{ id: string }>(text, [value], { prepare: true });
    for (const { id } of locked) keyShared.add(id);
  }
  if (scope.targets.length) {
    await tx.query(
      `SELECT 1 FROM fhir_resource r WHERE (r.resource_type, r.id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
        ORDER BY r.resource_type, r.id FOR KEY SHARE`,
      [scope.targets.map((t) => t.type), scope.targets.map((t) => t.id)],
      { prepare: true },
    );
  }
  const lockedEncounters = scope.encounters.filter((e) => keyShared.has(e));
  return { ...(await withSignedPatients(tx, scope)), storedEncounters: [], unchanged: false, ...(lockedEncounters.length ? { lockedEncounters } : {}) };
}

/** What `lockScope` takes besides the write: how to judge `unchanged`, and who keeps the locked version. */
export interface LockOptions {
  /** The write's number lexemes (`UpdateOptions.numbers`): `unchanged` is judged on the numbers as written (`sameContent`). */
  numbers?: NumberLexemes;
  /** Told the current version an update locked, built once (`storedResource`): the update that follows uses it. */
  onLocked?: (current: LockedVersion) => void;
  /**
   * The encounters transaction `tx` holds `FOR KEY SHARE` already (a Bundle's entries of one visit):
   * those are not locked again, and those this call locks (the ones that exist) are added.
   */
  keyShared?: Set<string>;
}

/** A record's current version as `lockScope` locked it (`FOR UPDATE`): it cannot change until the transaction ends. */
export interface LockedVersion {
  versionId: number;
  stored: Resource;
}

/**
 * A Provenance is filed under the patient of the records it signs when it names no patient
 * itself (decision 0016): that patient joins the scope, so a hold on the patient holds the
 * signature too. One that spans patients (`signedRecordOwners`) belongs to no one record: it is
 * refused.
 */
async function withSignedPatients(tx: Queryable, scope: IncomingScope): Promise<IncomingScope> {
  if (scope.targets.length === 0) return scope;
  const owners = await signedRecordOwners(tx, scope.patient, scope.targets);
  if (owners.spans) {
    throw new StoreError(
      StoreErrorCode.SpansPatients,
      `A Provenance signs the records of one patient; this one concerns ${owners.patients.length} patients. Record one Provenance per patient.`,
      ['Provenance.target'],
    );
  }
  const patient = owners.patient;
  return patient === undefined ? scope : { ...scope, patient, patients: [...new Set([patient, ...scope.patients])] };
}

/** A record's current row as `LOCK_CURRENT` selects it: its version and stored content, with its encounters. */
interface LockedRow extends StoredRow {
  version_id: number;
  encounters: string[];
}

/** The record's current row, locked `FOR UPDATE`, with its encounters; undefined when it is not stored. */
async function lockCurrent(tx: Queryable, resource: Resource): Promise<LockedRow | undefined> {
  const [current] = await tx.query<LockedRow>(LOCK_CURRENT, [resource.resourceType, resource.id], { prepare: true });
  return current;
}

function unique(refs: RecordRef[]): RecordRef[] {
  const seen = new Map(refs.map((r) => [`${r.type}/${r.id}`, r]));
  return [...seen.values()];
}
