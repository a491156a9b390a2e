import type { Resource } from '@medplum/fhirtypes';
import { resourceText, withStoredText, type NumberLexemes } from '../../common/fhir-json-text.js';
import type { Queryable } from '../../database/chartwarden-database.js';
import { OWNER_PARAM } from '../patient-compartment.js';
import type { RecordRef } from '../patient-record-index.port.js';
import type { SearchIndex } from '../search/search-index.extractor.js';
import { columnArrays, INDEX_TABLES } from './index-tables.js';
import { patientLinks } from './patient-links.js';
import { SqlParams } from './search-sql.js';
import { SIGNATURE_TYPE, SIGNED_PARAM } from './signed-records.js';

/*
 * The statements that write a version: the current row, the version row and the search index
 * rows, each write in one statement (a CTE chain), so a version is never stored without its
 * index. Prepared: writes are hot and their planning costs as much as their execution.
 *
 * A version is written as its text (`resourceText`: the sender's key order, and `numbers`, the
 * sender's lexemes of the numbers that have one): the text goes to `content_text` as it is and
 * to `content` cast to jsonb, so the resource is serialised once (docs/decisions/0014). The
 * written resource then carries that text (`withStoredText`): a write's response sends it.
 *
 * Each statement also keeps whose record it is (`fhir_resource.owner`, decision 0018): the
 * version's own patient, or for a signature naming none the owners of the records it signs;
 * the date rows repeat it, and the signatures of a record that changes owner follow it. And its
 * links to patients (`patient_links`), from the reference rows it writes (`patient-links.ts`).
 */

/** Whose record a version is, as its index says: its own patient, and the records it signs. */
export interface Ownership {
  /** Its `_patient` row; absent when it names no patient (a Patient has none: it is its own). */
  own?: string;
  /** For a signature (Provenance), the records it signs: it is theirs when it names no patient. */
  signs: readonly RecordRef[];
}

const PREPARED = { prepare: true };

/** Inserts version 1 with its index in one statement; false when the id is taken. */
export async function insertFirstVersion(
  q: Queryable,
  resource: Resource,
  index: SearchIndex,
  method: 'POST' | 'PUT',
  owner: Ownership,
  numbers?: NumberLexemes,
): Promise<boolean> {
  const p = new SqlParams();
  const text = resourceText(resource, numbers);
  const [t, i, u, c] = [p.add(resource.resourceType), p.add(resource.id), p.add(resource.meta?.lastUpdated), p.add(text)];
  const own = ownSql(owner, p);
  const links = p.add(patientLinks(index));
  const rows = await q.query<{ n: number }>(
    `WITH o AS (${ownerSelect(own, t, i, owner, p)}),
     r AS (
       INSERT INTO fhir_resource (resource_type, id, version_id, last_updated, content, content_text, owner, patient_links)
       VALUES (${t}, ${i}, 1, ${u}::timestamptz, ${c}::text::jsonb, ${c}::text, (SELECT owner FROM o), ${links}::text[]) ON CONFLICT DO NOTHING
       RETURNING ${RETURNED}),
     v AS (INSERT INTO fhir_resource_version (resource_type, id, version_id, last_updated, method, content, content_text)
       SELECT resource_type, id, 1, ${u}::timestamptz, ${p.add(method)}, ${c}::text::jsonb, ${c}::text FROM r)
     ${indexInserts(index, p, 'first')}
     ${signaturesFollow(own)}
     SELECT count(*)::int AS n FROM r`,
    p.values,
    PREPARED,
  );
  return written(rows[0].n === 1, resource, text);
}

/**
 * Writes version `previous + 1` only if `previous` is still current (optimistic lock),
 * replacing the index rows that changed, in one statement. False when someone else won.
 */
export async function writeNextVersion(
  q: Queryable,
  resource: Resource,
  index: SearchIndex,
  previous: number,
  owner: Ownership,
  numbers?: NumberLexemes,
): Promise<boolean> {
  const p = new SqlParams();
  const text = resourceText(resource, numbers);
  const [t, i, u, c, next] = [p.add(resource.resourceType), p.add(resource.id), p.add(resource.meta?.lastUpdated), p.add(text), p.add(previous + 1)];
  const own = ownSql(owner, p);
  // The keys the version keeps, bound once: the deletes drop the others, and the kept rows follow a new owner.
  const kept = keptKeys(index, p);
  const rows = await q.query<{ n: number }>(
    `WITH o AS (${ownerSelect(own, t, i, owner, p)}),
     r AS (
       UPDATE fhir_resource SET version_id = ${next}, last_updated = ${u}::timestamptz, content = ${c}::text::jsonb, content_text = ${c}::text,
         owner = (SELECT owner FROM o), patient_links = ${p.add(patientLinks(index))}::text[]
       WHERE resource_type = ${t} AND id = ${i} AND version_id = ${p.add(previous)} RETURNING ${RETURNED}),
     v AS (INSERT INTO fhir_resource_version (resource_type, id, version_id, last_updated, method, content, content_text)
       SELECT resource_type, id, ${next}, ${u}::timestamptz, 'PUT', ${c}::text::jsonb, ${c}::text FROM r)
     ${indexDeletes(kept)}
     ${ownedRowsFollow(kept)}
     ${indexInserts(index, p)}
     ${signaturesFollow(own)}
     SELECT count(*)::int AS n FROM r`,
    p.values,
    PREPARED,
  );
  return written(rows[0].n === 1, resource, text);
}

/** Whether the version was written; if so, the resource carries the text it was written as. */
function written(ok: boolean, resource: Resource, text: string): boolean {
  if (ok) withStoredText(resource, text);
  return ok;
}

/**
 * `, ins_tokens AS (INSERT ... SELECT FROM r, unnest(...))` for every index table, those the
 * version gives no rows too (an empty array inserts nothing, at no cost): so each write is
 * one statement text whatever the resource, and stays prepared. Leaving out the empty kinds
 * gave up to 128 texts per statement, which crowded the prepared-statement cache.
 *
 * A record's `first` version inserts its rows as they are: `r` inserted the record's row just
 * now, so no row of it exists yet, and the extractor gives no two rows one key (its `add`;
 * dates and numbers in one text each per value: ISO instants, plain decimals). Without
 * `ON CONFLICT` each row costs one index probe less. A later version keeps the rows it shares
 * with the one it replaces: those conflict, and are left as they are.
 */
function indexInserts(index: SearchIndex, p: SqlParams, version: 'first' | 'next' = 'next'): string {
  let sql = '';
  for (const kind of Object.keys(INDEX_TABLES) as (keyof SearchIndex)[]) {
    const { table, cols, types, owned } = INDEX_TABLES[kind];
    const arrays = columnArrays(index, kind);
    const unnest = arrays.map((a, n) => `${p.add(a)}::${types[n]}[]`).join(', ');
    sql += `, ins_${kind} AS (INSERT INTO ${table} (resource_type, resource_id, ${cols.join(', ')}${owned ? ', owner' : ''})
      SELECT r.resource_type, r.id, u.*${owned ? ', r.row_owner' : ''} FROM r, unnest(${unnest}) AS u${version === 'first' ? '' : ' ON CONFLICT DO NOTHING'})`;
  }
  return sql;
}

/** Deletes the index rows of `r` that the new version no longer produces (all of a kind it gives none of). */
function indexDeletes(kept: KeptKeys): string {
  let sql = '';
  for (const kind of Object.keys(INDEX_TABLES) as (keyof SearchIndex)[]) {
    const { columns, rows } = kept[kind];
    sql += `, del_${kind} AS (DELETE FROM ${INDEX_TABLES[kind].table} x USING r WHERE x.resource_type = r.resource_type AND x.resource_id = r.id
      AND ${columns} NOT IN (${rows}))`;
  }
  return sql;
}

/** Per kind, the key columns of its rows (`(x.param, …)`) and the version's keys as rows to compare them with, bound once. */
type KeptKeys = { [K in keyof SearchIndex]: { columns: string; rows: string } };

function keptKeys(index: SearchIndex, p: SqlParams): KeptKeys {
  const kept = {} as KeptKeys;
  for (const kind of Object.keys(INDEX_TABLES) as (keyof SearchIndex)[]) {
    const { cols, types, keyCount } = INDEX_TABLES[kind];
    const keys = cols.slice(0, keyCount);
    const arrays = columnArrays(index, kind);
    kept[kind] = {
      columns: `(${keys.map((k) => `x.${k}`).join(', ')})`,
      rows: `SELECT * FROM unnest(${keys.map((_, n) => `${p.add(arrays[n])}::${types[n]}[]`).join(', ')})`,
    };
  }
  return kept;
}

/**
 * What `r` returns: its key, and the owner its index rows carry (`row_owner`): none for a
 * signature, whose owner may change with its records' (decision 0018).
 */
export const RETURNED = `resource_type, id, CASE WHEN resource_type = '${SIGNATURE_TYPE}' THEN NULL ELSE owner END AS row_owner`;

/** The version's own patient, bound once (`$n::text`, NULL when it names none). */
function ownSql(owner: Ownership, p: SqlParams): string {
  return `${p.add(owner.own ?? null)}::text`;
}

/**
 * `SELECT … AS owner`: a Patient itself; its own patient; else (a signature) the first by code
 * unit of the owners of the records it signs.
 */
function ownerSelect(own: string, type: string, id: string, owner: Ownership, p: SqlParams): string {
  const types = p.add(owner.signs.map((s) => s.type));
  const ids = p.add(owner.signs.map((s) => s.id));
  return `SELECT COALESCE(CASE WHEN ${type} = 'Patient' THEN ${id}::text END, ${own}, (SELECT min(s.target_id COLLATE "C") FROM fhir_search_reference s
      WHERE (s.resource_type, s.resource_id) IN (SELECT * FROM unnest(${types}::text[], ${ids}::text[])) AND s.param = '${OWNER_PARAM}')) AS owner`;
}

/**
 * The index rows the new version keeps carry its owner: a record moved to another patient
 * (an update changing its owner) moves its kept date rows too. Only rows the version keeps
 * (its keys), so no row is both deleted and updated by the statement.
 */
function ownedRowsFollow(kept: KeptKeys): string {
  let sql = '';
  for (const kind of Object.keys(INDEX_TABLES) as (keyof SearchIndex)[]) {
    const { table, owned } = INDEX_TABLES[kind];
    if (!owned) continue;
    sql += `, own_${kind} AS (UPDATE ${table} x SET owner = r.row_owner FROM r WHERE x.resource_type = r.resource_type AND x.resource_id = r.id
      AND x.owner IS DISTINCT FROM r.row_owner AND ${kept[kind].columns} IN (${kept[kind].rows}))`;
  }
  return sql;
}

/**
 * A signature naming no patient is the record of the records it signs (decision 0016): when
 * a record gets an owner, or another one, the signatures of it that name no patient are filed
 * again, under the first by code unit of their records' owners (this record's being `own`:
 * the statement does not see its own `_patient` row yet).
 */
function signaturesFollow(own: string): string {
  return `, signatures AS (UPDATE fhir_resource g SET owner = (
        SELECT min(signed.owner COLLATE "C") FROM (
          SELECT CASE WHEN t.target_type = r.resource_type AND t.target_id = r.id THEN ${own}
                      ELSE (SELECT min(s.target_id COLLATE "C") FROM fhir_search_reference s
                             WHERE s.resource_type = t.target_type AND s.resource_id = t.target_id AND s.param = '${OWNER_PARAM}') END AS owner
            FROM fhir_search_reference t WHERE t.resource_type = '${SIGNATURE_TYPE}' AND t.resource_id = g.id AND t.param = '${SIGNED_PARAM}') AS signed)
      FROM r
      WHERE g.resource_type = '${SIGNATURE_TYPE}' AND NOT (r.resource_type = '${SIGNATURE_TYPE}' AND r.id = g.id)
        AND g.id IN (SELECT x.resource_id FROM fhir_search_reference x
                      WHERE x.target_type = r.resource_type AND x.target_id = r.id AND x.param = '${SIGNED_PARAM}' AND x.resource_type = '${SIGNATURE_TYPE}')
        AND NOT EXISTS (SELECT 1 FROM fhir_search_reference n WHERE n.resource_type = '${SIGNATURE_TYPE}' AND n.resource_id = g.id AND n.param = '${OWNER_PARAM}')
        AND (SELECT min(s.target_id) FROM fhir_search_reference s
              WHERE s.resource_type = r.resource_type AND s.resource_id = r.id AND s.param = '${OWNER_PARAM}') IS DISTINCT FROM ${own})`;
}
