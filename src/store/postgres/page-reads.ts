import type { Resource } from '@medplum/fhirtypes';
import type { Queryable } from '../../database/chartwarden-database.js';
import { notFoundError, type HistoryPage, type PageRequest, type SearchResult } from '../fhir-store.port.js';
import type { SearchParameterRegistry } from '../search/search-parameter.registry.js';
import type { SearchRequest } from '../search/search-request.js';
import { OWNER_PARAM, type PatientCompartment } from '../patient-compartment.js';
import { accessSql, atInstant, searchSql, SqlParams } from './search-sql.js';
import { storedColumns, storedResource, type StoredRow } from './stored-content.js';

/*
 * The store's paged reads: history, search (with `_include`/`_revinclude`) and `$everything`.
 * The access policy, when given, is part of each query (issue #3): pages are full and totals
 * count only what the caller may see; `now` is the store's clock (the care window). Each
 * resource carries its stored text (`storedResource`): responses send it as it was sent.
 */

/**
 * Statements are prepared once per connection (see `Queryable.query`). Searches too: a search
 * carrying the access policy takes ~12 ms to plan and ~2 ms to run; PostgreSQL keeps planning
 * each execution afresh (custom plans) whenever a generic plan would be costlier, as with
 * string prefixes, so values still shape the plan where they matter.
 */
const PREPARED = { prepare: true };

/** Instance history when `id` is given, type history otherwise; newest first. */
export async function historyPage(q: Queryable, now: Date, resourceType: string, id: string | undefined, page: PageRequest): Promise<HistoryPage> {
  const p = new SqlParams();
  const conds = [`resource_type = ${p.add(resourceType)}`];
  if (id !== undefined) conds.push(`id = ${p.add(id)}`);
  if (page.since) conds.push(`last_updated >= ${p.add(page.since)}::timestamptz`);
  if (page.access) {
    conds.push(`EXISTS (SELECT 1 FROM fhir_resource r WHERE r.resource_type = v.resource_type AND r.id = v.id AND ${accessSql(page.access, p)})`);
  }
  const where = conds.join(' AND ');
  const countParams = [...p.values];
  const order = id !== undefined ? 'version_id DESC' : 'last_updated DESC, id, version_id DESC';
  const [rows, count] = await Promise.all([
    q.query<StoredRow & { method: 'POST' | 'PUT' }>(
      `SELECT ${storedColumns('v')}, method FROM fhir_resource_version v WHERE ${where} ORDER BY ${order} LIMIT ${p.add(page.count)} OFFSET ${p.add(page.offset)}`,
      atInstant(p.values, now),
    ),
    q.query<{ n: number }>(`SELECT count(*)::int AS n FROM fhir_resource_version v WHERE ${where}`, atInstant(countParams, now)),
  ]);
  if (id !== undefined && count[0].n === 0 && !page.since && !page.access) throw notFoundError(resourceType, id);
  return { entries: rows.map((r) => ({ resource: storedResource(r), method: r.method })), total: count[0].n };
}

/** One page of a search, the total when asked, and what `_include` / `_revinclude` bring. */
export async function searchPage(q: Queryable, now: Date, request: SearchRequest): Promise<SearchResult> {
  const sql = searchSql(request);
  const [pageParams, countParams] = [atInstant(sql.page.params, now), atInstant(sql.count.params, now)];
  if (request.countOnly) {
    const [{ n }] = await q.query<{ n: number }>(sql.count.text, countParams, PREPARED);
    return { matches: [], included: [], total: n };
  }
  const rows = await q.query<StoredRow & { patient: string | null }>(sql.page.text, pageParams, PREPARED);
  const more = rows.length > request.count;
  const page = rows.slice(0, request.count);
  const matches = page.map(storedResource);
  const patients = page.map((r) => r.patient ?? undefined);
  // The total is known without counting when this page reaches the end of the results.
  let total: number | undefined;
  if (request.total !== 'none') {
    total = !more && (matches.length > 0 || request.offset === 0)
      ? request.offset + matches.length
      : (await q.query<{ n: number }>(sql.count.text, countParams, PREPARED))[0].n;
  }
  return { matches, patients, included: await included(q, request, matches), total };
}

/** `_include` targets and `_revinclude` sources of one page, each once, never a match twice. */
async function included(q: Queryable, request: SearchRequest, matches: Resource[]): Promise<Resource[]> {
  if (matches.length === 0 || (request.include.length === 0 && request.revinclude.length === 0)) return [];
  const ids = matches.map((m) => m.id as string);
  const out = new Map<string, Resource>();
  const seen = new Set(matches.map((m) => `${m.resourceType}/${m.id}`));
  const collect = (rows: (StoredRow & { resource_type: string; id: string })[]) => {
    for (const row of rows) {
      const key = `${row.resource_type}/${row.id}`;
      if (!seen.has(key)) out.set(key, storedResource(row));
    }
  };
  for (const inc of request.include) {
    collect(
      await q.query(
        `SELECT t.resource_type, t.id, ${storedColumns('t')} FROM fhir_search_reference x JOIN fhir_resource t ON t.resource_type = x.target_type AND t.id = x.target_id
         WHERE x.resource_type = $1 AND x.resource_id = ANY($2::text[]) AND x.param = $3 AND ($4::text IS NULL OR x.target_type = $4)`,
        [request.resourceType, ids, inc.param, inc.targetType ?? null],
      ),
    );
  }
  for (const rev of request.revinclude) {
    collect(
      await q.query(
        `SELECT s.resource_type, s.id, ${storedColumns('s')} FROM fhir_search_reference x JOIN fhir_resource s ON s.resource_type = x.resource_type AND s.id = x.resource_id
         WHERE x.resource_type = $1 AND x.param = $2 AND x.target_type = $3 AND x.target_id = ANY($4::text[])`,
        [rev.sourceType, rev.param, request.resourceType, ids],
      ),
    );
  }
  return [...out.values()];
}

/** A page of the patient's compartment, the Patient first (`Patient/$everything`); the caller checked the patient exists. */
export async function everythingPage(
  q: Queryable,
  now: Date,
  registry: SearchParameterRegistry,
  compartment: PatientCompartment,
  patientId: string,
  page: PageRequest,
): Promise<SearchResult> {
  const p = new SqlParams();
  const { types, params } = compartment.memberParams(registry);
  // The compartment's members first (index lookups), then their rows by primary key.
  const where = `(r.resource_type, r.id) IN (
      SELECT 'Patient', ${p.add(patientId)}::text
      UNION
      SELECT x.resource_type, x.resource_id FROM fhir_search_reference x
      WHERE x.target_type = 'Patient' AND x.target_id = $1
        AND (x.resource_type, x.param) IN (SELECT * FROM unnest(${p.add(types)}::text[], ${p.add(params)}::text[]))
      UNION
      -- The signatures of the patient's records: a Provenance naming no patient is filed under its records' (decision 0016).
      SELECT t.resource_type, t.resource_id FROM fhir_search_reference o
        JOIN fhir_search_reference t ON t.target_type = o.resource_type AND t.target_id = o.resource_id AND t.param = 'target' AND t.resource_type = 'Provenance'
      WHERE o.target_type = 'Patient' AND o.target_id = $1 AND o.param = '${OWNER_PARAM}')`;
  const since =
    (page.since ? ` AND r.last_updated >= ${p.add(page.since)}::timestamptz` : '') + (page.access ? ` AND ${accessSql(page.access, p)}` : '');
  const countParams = [...p.values];
  const [rows, count] = await Promise.all([
    q.query<StoredRow>(
      `SELECT ${storedColumns('r')} FROM fhir_resource r WHERE (${where})${since}
       ORDER BY (r.resource_type <> 'Patient'), r.resource_type, r.last_updated, r.id LIMIT ${p.add(page.count)} OFFSET ${p.add(page.offset)}`,
      atInstant(p.values, now),
    ),
    q.query<{ n: number }>(`SELECT count(*)::int AS n FROM fhir_resource r WHERE (${where})${since}`, atInstant(countParams, now)),
  ]);
  return { matches: rows.map(storedResource), included: [], total: count[0].n };
}
