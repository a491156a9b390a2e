import type { Resource } from '@medplum/fhirtypes';
import { resourceText, withStoredText, type NumberLexemes } from '../../common/fhir-json-text.js';
import type { Queryable } from '../../database/chartwarden-database.js';
import type { SearchIndex } from '../search/search-index.extractor.js';
import { columnArrays, INDEX_TABLES } from './index-tables.js';
import { SqlParams } from './search-sql.js';

/*
 * The statements that write a version: the current row, the version row and the search index
 * rows, each write in one statement (a CTE chain), so a version is never stored without its
 * index. Prepared: writes are hot and their planning costs as much as their execution.
 *
 * A version is written as its text (`resourceText`: the sender's key order, and `numbers`, the
 * sender's lexemes of the numbers that have one): the text goes to `content_text` as it is and
 * to `content` cast to jsonb, so the resource is serialised once (docs/decisions/0014). The
 * written resource then carries that text (`withStoredText`): a write's response sends it.
 */

const PREPARED = { prepare: true };

/** Inserts version 1 with its index in one statement; false when the id is taken. */
export async function insertFirstVersion(
  q: Queryable,
  resource: Resource,
  index: SearchIndex,
  method: 'POST' | 'PUT',
  numbers?: NumberLexemes,
): Promise<boolean> {
  const p = new SqlParams();
  const text = resourceText(resource, numbers);
  const [t, i, u, c] = [p.add(resource.resourceType), p.add(resource.id), p.add(resource.meta?.lastUpdated), p.add(text)];
  const rows = await q.query<{ n: number }>(
    `WITH r AS (
       INSERT INTO fhir_resource (resource_type, id, version_id, last_updated, content, content_text)
       VALUES (${t}, ${i}, 1, ${u}::timestamptz, ${c}::text::jsonb, ${c}::text) ON CONFLICT DO NOTHING RETURNING resource_type, id),
     v AS (INSERT INTO fhir_resource_version (resource_type, id, version_id, last_updated, method, content, content_text)
       SELECT resource_type, id, 1, ${u}::timestamptz, ${p.add(method)}, ${c}::text::jsonb, ${c}::text FROM r)
     ${indexInserts(index, p)}
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
export async function writeNextVersion(q: Queryable, resource: Resource, index: SearchIndex, previous: number, numbers?: NumberLexemes): Promise<boolean> {
  const p = new SqlParams();
  const text = resourceText(resource, numbers);
  const [t, i, u, c, next] = [p.add(resource.resourceType), p.add(resource.id), p.add(resource.meta?.lastUpdated), p.add(text), p.add(previous + 1)];
  const rows = await q.query<{ n: number }>(
    `WITH r AS (
       UPDATE fhir_resource SET version_id = ${next}, last_updated = ${u}::timestamptz, content = ${c}::text::jsonb, content_text = ${c}::text
       WHERE resource_type = ${t} AND id = ${i} AND version_id = ${p.add(previous)} RETURNING resource_type, id),
     v AS (INSERT INTO fhir_resource_version (resource_type, id, version_id, last_updated, method, content, content_text)
       SELECT resource_type, id, ${next}, ${u}::timestamptz, 'PUT', ${c}::text::jsonb, ${c}::text FROM r)
     ${indexDeletes(index, p)}
     ${indexInserts(index, p)}
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
 */
function indexInserts(index: SearchIndex, p: SqlParams): string {
  let sql = '';
  for (const kind of Object.keys(INDEX_TABLES) as (keyof SearchIndex)[]) {
    const { table, cols, types } = INDEX_TABLES[kind];
    const arrays = columnArrays(index, kind);
    const unnest = arrays.map((a, n) => `${p.add(a)}::${types[n]}[]`).join(', ');
    sql += `, ins_${kind} AS (INSERT INTO ${table} (resource_type, resource_id, ${cols.join(', ')})
      SELECT r.resource_type, r.id, u.* FROM r, unnest(${unnest}) AS u ON CONFLICT DO NOTHING)`;
  }
  return sql;
}

/** Deletes the index rows of `r` that the new version no longer produces (all of a kind it gives none of). */
function indexDeletes(index: SearchIndex, p: SqlParams): string {
  let sql = '';
  for (const kind of Object.keys(INDEX_TABLES) as (keyof SearchIndex)[]) {
    const { table, cols, types, keyCount } = INDEX_TABLES[kind];
    const keys = cols.slice(0, keyCount);
    const arrays = columnArrays(index, kind);
    const keyArrays = keys.map((_, n) => `${p.add(arrays[n])}::${types[n]}[]`).join(', ');
    sql += `, del_${kind} AS (DELETE FROM ${table} x USING r WHERE x.resource_type = r.resource_type AND x.resource_id = r.id
      AND (${keys.map((k) => `x.${k}`).join(', ')}) NOT IN (SELECT * FROM unnest(${keyArrays})))`;
  }
  return sql;
}
