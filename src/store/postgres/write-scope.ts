import type { Resource } from '@medplum/fhirtypes';
import type { Queryable } from '../../database/chartwarden-database.js';
import type { RecordRef, WriteScope } from '../patient-record-index.port.js';
import type { SearchIndex } from '../search/search-index.extractor.js';
import { byCodeUnit, present, sameContent } from './stored-content.js';

/** The current row of a record, locked. */
const LOCK_CURRENT = 'SELECT version_id, content FROM fhir_resource WHERE resource_type = $1 AND id = $2 FOR UPDATE';

/**
 * What a write is about, read from the incoming version's search index (so every reference form
 * counts: relative, absolute, versioned, every `context.encounter`), as `accessFactsOf` reads its
 * patient.
 */
export function scopeOf(resource: Resource, index: SearchIndex): Omit<WriteScope, 'stored' | 'unchanged'> {
  const targets = (params: string[], type?: string) =>
    index.references.filter((r) => params.includes(r.param) && (type === undefined || r.targetType === type));
  const patient = resource.resourceType === 'Patient' ? resource.id : targets(['patient', 'subject'], 'Patient').map((r) => r.targetId).sort(byCodeUnit)[0];
  const encounters = [...new Set(targets(['encounter', 'context'], 'Encounter').map((r) => r.targetId))].sort(byCodeUnit);
  const signed: RecordRef[] =
    resource.resourceType === 'Provenance'
      ? unique(targets(['target']).map((r) => ({ type: r.targetType, id: r.targetId }))).sort((a, b) => byCodeUnit(a.type, b.type) || byCodeUnit(a.id, b.id))
      : [];
  return { ...(patient !== undefined ? { patient } : {}), encounters, targets: signed };
}

/**
 * Takes the locks of one write in transaction `tx` (decision 0008), as the SQL function
 * `chartwarden_holds` took them after the write when the hold was checked there:
 * - an update of an existing record: its current row `FOR UPDATE` (a seal inventorying it waits,
 *   or the write waits for the seal and then sees its hold);
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
  scope: Omit<WriteScope, 'stored' | 'unchanged'>,
): Promise<WriteScope> {
  if (mode === 'update' && resource.id !== undefined) {
    const [current] = await tx.query<{ version_id: number; content: Resource }>(LOCK_CURRENT, [resource.resourceType, resource.id], { prepare: true });
    if (current) return { ...scope, stored: present(current.content), unchanged: sameContent(current.content, resource) };
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
  return { ...scope, unchanged: false };
}

function unique(refs: RecordRef[]): RecordRef[] {
  const seen = new Map(refs.map((r) => [`${r.type}/${r.id}`, r]));
  return [...seen.values()];
}
