import type { Resource } from '@medplum/fhirtypes';
import type { Queryable } from '../../database/chartwarden-database.js';
import type { RecordRef, WriteScope } from '../patient-record-index.port.js';
import { OWNER_PARAM, type PatientCompartment } from '../patient-compartment.js';
import { StoreError, StoreErrorCode } from '../store.errors.js';
import type { SearchIndex } from '../search/search-index.extractor.js';
import type { NumberLexemes } from '../../common/fhir-json-text.js';
import { byCodeUnit, sameContent, storedResource } from './stored-content.js';

/**
 * The current row of a record, locked, with the encounters its search index files it under
 * (the index rows of the current version, written with it by the same extraction `scopeOf` uses).
 */
const LOCK_CURRENT = `SELECT r.version_id, r.content, r.content_text,
    ARRAY(SELECT DISTINCT x.target_id COLLATE "C" FROM fhir_search_reference x
           WHERE x.resource_type = r.resource_type AND x.resource_id = r.id AND x.param IN ('encounter', 'context') AND x.target_type = 'Encounter'
           ORDER BY 1) AS encounters
  FROM fhir_resource r WHERE r.resource_type = $1 AND r.id = $2 FOR UPDATE OF r`;

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
    resource.resourceType === 'Provenance'
      ? unique(targets(['target']).map((r) => ({ type: r.targetType, id: r.targetId }))).sort((a, b) => byCodeUnit(a.type, b.type) || byCodeUnit(a.id, b.id))
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
  numbers: NumberLexemes | undefined,
  onLocked?: (row: LockedRow) => void,
): Promise<WriteScope> {
  if (mode === 'update' && resource.id !== undefined) {
    let stored = await lockCurrent(tx, resource);
    if (!stored) {
      await tx.query(LOCK_NEW_ID, [resource.resourceType, resource.id], { prepare: true });
      stored = await lockCurrent(tx, resource);
    }
    if (stored) onLocked?.(stored);
    if (stored) {
      const signed = await withSignedPatients(tx, scope);
      const previous = storedResource(stored);
      const unchanged = sameContent(previous, resource, numbers);
      return { ...signed, stored: previous, storedEncounters: stored.encounters, unchanged };
    }
  }
  if (scope.encounters.length) {
    await tx.query(
      `SELECT 1 FROM fhir_resource r WHERE r.resource_type = 'Encounter' AND r.id = ANY($1::text[]) ORDER BY r.id FOR KEY SHARE`,
      [scope.encounters],
      { prepare: true },
    );
  }
  if (scope.targets.length) {
    await tx.query(
      `SELECT 1 FROM fhir_resource r WHERE (r.resource_type, r.id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
        ORDER BY r.resource_type, r.id FOR KEY SHARE`,
      [scope.targets.map((t) => t.type), scope.targets.map((t) => t.id)],
      { prepare: true },
    );
  }
  return { ...(await withSignedPatients(tx, scope)), storedEncounters: [], unchanged: false };
}

/**
 * A Provenance is filed under the patient of the records it signs when it names no patient
 * itself (decision 0016): that patient joins the scope, so a hold on the patient holds the
 * signature too. One that signs records of two patients, or names one patient and signs
 * another's record, belongs to no one record: it is refused.
 */
async function withSignedPatients(tx: Queryable, scope: IncomingScope): Promise<IncomingScope> {
  if (scope.targets.length === 0) return scope;
  const rows = await tx.query<{ patient: string }>(
    `SELECT DISTINCT x.target_id AS patient FROM fhir_search_reference x
      WHERE (x.resource_type, x.resource_id) IN (SELECT * FROM unnest($1::text[], $2::text[])) AND x.param = $3 ORDER BY 1`,
    [scope.targets.map((t) => t.type), scope.targets.map((t) => t.id), OWNER_PARAM],
    { prepare: true },
  );
  const patients = [...new Set([...(scope.patient !== undefined ? [scope.patient] : []), ...rows.map((r) => r.patient)])];
  if (patients.length > 1) {
    throw new StoreError(
      StoreErrorCode.SpansPatients,
      `A Provenance signs the records of one patient; this one concerns ${patients.length} patients. Record one Provenance per patient.`,
      ['Provenance.target'],
    );
  }
  const patient = patients[0];
  return patient === undefined ? scope : { ...scope, patient, patients: [...new Set([patient, ...scope.patients])] };
}

/** A record's current row as `lockScope` locked it (`FOR UPDATE`): its version and content, with its encounters. */
export interface LockedRow {
  version_id: number;
  content: Resource;
  /** The text the version was stored as (decision 0014); null for one written before it. */
  content_text: string | null;
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
