import type { Resource } from '@medplum/fhirtypes';
import type { QueryResultRow } from 'pg';
import { byCodeUnit } from '../../common/code-unit-order.js';
import type { Queryable } from '../../database/chartwarden-database.js';
import type { PatientCompartment } from '../patient-compartment.js';
import type { SearchParameterRegistry } from '../search/search-parameter.registry.js';
import { notFoundError, type HistoryPage, type PageRequest, type SearchResult } from '../fhir-store.port.js';
import { DEFAULT_COUNT_UP_TO, type SearchRequest } from '../search/search-request.js';
import type { ResourceRef } from './access-sql.js';
import { accessSql, atInstant, datedPageSql, patientGateSql, searchSql, SqlParams, type Sql } from './search-sql.js';
import { broadCountSql, broadPageSql } from './broad-page-sql.js';
import { broadWalkSql, everyPatientCodeRowsUpTo } from './broad-walk-sql.js';
import { codeKeyedSql, KEYED_UP_TO, type KeyedPage } from './keyed-page-sql.js';
import { PatientLevelFacts } from './patient-level-facts.js';
import { SIGNATURE_TYPE } from './signed-records.js';
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
    conds.push(`EXISTS (SELECT 1 FROM fhir_resource r WHERE r.resource_type = v.resource_type AND r.id = v.id AND ${accessSql(page.access, p, { type: 'r.resource_type', id: 'r.id', patient: 'r.owner', manyPatients: true })})`);
  }
  const where = conds.join(' AND ');
  const countParams = [...p.values];
  const order = id !== undefined ? 'version_id DESC' : 'last_updated DESC, id, version_id DESC';
  const [rows, count] = await Promise.all([
    q.query<StoredRow & { method: 'POST' | 'PUT' }>(
      `SELECT ${storedColumns('v')}, method FROM fhir_resource_version v WHERE ${where} ORDER BY ${order} ${p.page(page.count, page.offset)}`,
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
  // A search by a code counts from its rows of that code: the patient's (`codeKeyedSql`), or each visible patient's (`broadCountSql`).
  const keyed = codeKeyedSql(request);
  const counts = keyed ?? broadCountSql(request) ?? sql;
  const run = async <T extends QueryResultRow>(s: Sql) => q.query<T>(s.text, atInstant(s.params, now), PREPARED);
  const cap = request.countUpTo ?? DEFAULT_COUNT_UP_TO;
  // `estimate` (decision 0018): exact up to the cap, left out beyond it; never a scan of everything.
  const upToCap = (n: number) => (request.total === 'accurate' || n <= cap ? n : undefined);
  const counted = async (): Promise<number | undefined> => {
    if (request.knownTotal !== undefined) return request.knownTotal;
    if (request.total === 'accurate') return (await run<{ n: number }>(counts.count))[0].n;
    return upToCap((await run<{ n: number }>(counts.countUpTo(cap)))[0].n);
  };
  if (request.countOnly) return { matches: [], included: [], total: (await run<{ n: number }>(counts.count))[0].n };
  // A search across patients by a code walks the type's records in the page's order while that finds
  // the page soon (`broadWalkSql`), else reads each visible patient's first rows (`broadPageSql`).
  const broad = keyed ? undefined : broadPageSql(request);
  // The plain page with a default total to count: the page counts it in the same statement (`pageCountingUpTo`).
  const countsWithPage = counts === sql && request.total === 'estimate' && request.knownTotal === undefined;
  const pageStatement = () => broad ?? (countsWithPage ? sql.pageCountingUpTo(cap) : sql.page);
  const rows = (keyed && (await keyedRows(keyed, run))) || (await walkedRows(request, run)) || (await pageRows(request, pageStatement, run));
  const more = rows.length > request.count;
  const page = rows.slice(0, request.count);
  const matches = page.map(storedResource);
  const patients = page.map((r) => r.patient ?? undefined);
  // The total is known without counting when this page reaches the end of the results, or when it read every match (`matched`), or counted them (`counted`).
  let total: number | undefined;
  if (request.total !== 'none') {
    const matched = rows[0]?.matched ?? (more ? (rows[0]?.counted ?? undefined) : undefined);
    if (!more && (matches.length > 0 || request.offset === 0)) total = request.offset + matches.length;
    else if (request.knownTotal === undefined && matched !== undefined) total = upToCap(matched);
    else total = await counted();
  }
  return { matches, patients, included: await included(q, request, matches), total };
}

/**
 * The page read from the patient's rows of a code, when there are at most `KEYED_UP_TO` of
 * them (each row then says how many the caller sees in all); undefined when there are more:
 * the code is common in the record, and walking the record in the order asked for finds a
 * page sooner (`pageRows`).
 */
async function keyedRows(keyed: KeyedPage, run: <T extends QueryResultRow>(s: Sql) => Promise<T[]>): Promise<PageRow[] | undefined> {
  const [{ n }] = await run<{ n: number }>(keyed.matchesUpTo(KEYED_UP_TO));
  return n <= KEYED_UP_TO ? run<PageRow>(keyed.page) : undefined;
}

/**
 * The page read by a walk of the type's records in its order (`broadWalkSql`), when the walk found
 * every row the page needs (one more than the page: there is more, and the total is counted);
 * undefined when it gave up or the search is not of that shape, and, for a walk that probes every
 * record (`everyPatientCodeRowsUpTo`), when the code has at most `KEYED_UP_TO` rows in all.
 */
async function walkedRows(request: SearchRequest, run: <T extends QueryResultRow>(s: Sql) => Promise<T[]>): Promise<PageRow[] | undefined> {
  const walk = broadWalkSql(request);
  if (!walk) return undefined;
  const few = everyPatientCodeRowsUpTo(request, KEYED_UP_TO);
  if (few && (await run<{ n: number }>(few))[0].n <= KEYED_UP_TO) return undefined;
  const rows = await run<PageRow>(walk);
  return rows.length > request.count ? rows : undefined;
}

/**
 * A page's row: its patient and, read from a code's rows, how many the caller sees in all
 * (`matched`); read by `pageCountingUpTo`, how many up to the cap when there is more (`counted`).
 */
type PageRow = StoredRow & { patient: string | null; matched?: number; counted?: number | null };

/**
 * One row more than the page, in the order asked for. A patient's page sorted by a date reads
 * the resources with a value from the patient's date index, then (sorted last) those without:
 * each part reads only as far as the page goes (`datedPageSql`). Otherwise `page`'s statement,
 * built only then.
 */
async function pageRows(request: SearchRequest, page: () => Sql, run: <T extends QueryResultRow>(s: Sql) => Promise<T[]>): Promise<PageRow[]> {
  const split = datedPageSql(request);
  if (!split) return run<PageRow>(page());
  const want = request.count + 1;
  const dated = await run<PageRow>(split.dated(want, request.offset));
  if (dated.length === want) return dated;
  // How many have a value: known when this page holds some of them or starts at the first; counted otherwise.
  const datedTotal = dated.length > 0 || request.offset === 0 ? request.offset + dated.length : (await run<{ n: number }>(split.datedCount))[0].n;
  return [...dated, ...(await run<PageRow>(split.undated(want - dated.length, Math.max(0, request.offset - datedTotal))))];
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

/**
 * A page of the patient's compartment (`Patient/$everything`; the caller checked the patient
 * exists), as three streams one after the other (decision 0018): the Patient; the resources
 * filed under the patient (`owner`: what the policy judges as their record, signatures naming
 * no patient included), type by type in time order, each type read from
 * `ix_fhir_resource_owner` only as far as the page goes; then the few that name the patient by
 * another link than their type's first (an Observation of A naming B as performer) while filed
 * under someone else. A page costs its offset and its size, not the record's length; the total
 * is counted up to `DEFAULT_COUNT_UP_TO` and left out beyond.
 */
export async function everythingPage(
  q: Queryable,
  now: Date,
  registry: SearchParameterRegistry,
  compartment: PatientCompartment,
  patientId: string,
  page: PageRequest,
): Promise<SearchResult> {
  const reads = new CompartmentReads(q, now, registry, compartment, patientId, page);
  const rows: StoredRow[] = [];
  let skip = page.offset;
  let exhausted = true;
  // Each stream takes what remains of the page after skipping what earlier pages showed.
  for (const stream of [(_want: number, skipped: number) => reads.patient(skipped), (want: number, skipped: number) => reads.filed(want, skipped), (want: number, skipped: number) => reads.linked(want, skipped)]) {
    const want = page.count + 1 - rows.length;
    if (want <= 0) {
      exhausted = false;
      break;
    }
    const part = await stream(want, skip);
    rows.push(...part.rows);
    skip = Math.max(0, skip - (part.size ?? 0));
  }
  const more = !exhausted || rows.length > page.count;
  const matches = rows.slice(0, page.count).map(storedResource);
  const total = !more && (matches.length > 0 || page.offset === 0) ? page.offset + matches.length : await reads.countUpTo(DEFAULT_COUNT_UP_TO);
  return { matches, included: [], total };
}

/** One stream's part of a page, and how many rows the stream has when it ran out (`size`; absent when it did not). */
interface StreamPart {
  rows: StoredRow[];
  size?: number;
}

/** The statements of `everythingPage`, each reading one stream of the patient's compartment. */
class CompartmentReads {
  /** The types filed under a patient, the Patient itself aside, in code-unit order. */
  private readonly filedTypes: string[];
  /** (type, param) pairs linking a patient other than by the type's first link. */
  private readonly others: { types: string[]; params: string[] };

  constructor(
    private readonly q: Queryable,
    private readonly now: Date,
    registry: SearchParameterRegistry,
    compartment: PatientCompartment,
    private readonly patientId: string,
    private readonly page: PageRequest,
  ) {
    this.filedTypes = compartment.ownedTypes().filter((t) => t !== 'Patient').sort(byCodeUnit);
    const { types, params } = compartment.memberParams(registry);
    const pairs = types.map((t, n) => [t, params[n]] as const).filter(([t, param]) => compartment.linkParams(t)[0] !== param);
    this.others = { types: pairs.map(([t]) => t), params: pairs.map(([, c]) => c) };
  }

  /** The Patient itself, when the caller sees it (and an earlier page did not show it). */
  async patient(skip: number): Promise<StreamPart> {
    const rows = await this.run<StoredRow>((p, owner, once) => `SELECT ${storedColumns('r')} FROM fhir_resource r WHERE r.resource_type = 'Patient' AND r.id = ${owner}${this.filters(p, owner, once)}`);
    return { rows: skip > 0 ? [] : rows, size: rows.length };
  }

  /**
   * The resources filed under the patient, type by type: which types it has (one index probe
   * per compartment type, in one statement), then each type's rows in time order. The probe is
   * fenced (`OFFSET 0`), so it stays one probe per type: as a semi-join, PostgreSQL's kept plan
   * on statistics taken while the stay was small merged the type list with every index entry
   * of the patient's, 100 ms at 100,000 Observations (issue #13).
   */
  async filed(want: number, skip: number): Promise<StreamPart> {
    const types = (
      await this.run<{ t: string }>(
        (p, owner) => `SELECT t FROM unnest(${p.add(this.filedTypes)}::text[]) AS t
          WHERE EXISTS (SELECT 1 FROM fhir_resource r WHERE r.owner = ${owner} AND r.resource_type = t OFFSET 0) ORDER BY t COLLATE "C"`,
      )
    ).map((r) => r.t);
    const rows: StoredRow[] = [];
    let size = 0;
    for (const type of types) {
      const need = want - rows.length;
      if (need <= 0) return { rows };
      const part = await this.run<StoredRow>(
        (p, owner, once) => `SELECT ${storedColumns('r')} FROM fhir_resource r WHERE r.owner = ${owner} AND r.resource_type = ${p.add(type)}${this.filters(p, owner, once)}
          ORDER BY r.last_updated, r.id ${p.page(need, skip)}`,
      );
      rows.push(...part);
      // How many of this type the caller sees: known when this part holds some or started at the first; counted (up to the skip) otherwise.
      const typeSize = part.length > 0 || skip === 0 ? skip + part.length : await this.countOfType(type, skip);
      if (part.length === need) return { rows };
      size += typeSize;
      skip = Math.max(0, skip - typeSize);
    }
    return { rows, size };
  }

  /** The resources of other patients that name this one by a link other than their type's first. */
  async linked(want: number, skip: number): Promise<StreamPart> {
    const rows = await this.run<StoredRow>(
      (p, owner) => `SELECT ${storedColumns('r')} FROM fhir_resource r WHERE ${this.linkedCondition(p, owner)}
        ORDER BY r.resource_type COLLATE "C", r.last_updated, r.id ${p.page(want, skip)}`,
    );
    return rows.length === want ? { rows } : { rows, size: skip + rows.length };
  }

  /** The compartment's size up to `cap` (undefined beyond): what a page's `total` says. */
  async countUpTo(cap: number): Promise<number | undefined> {
    const [{ n }] = await this.run<{ n: number }>(
      (p, owner, once) => `SELECT count(*)::int AS n FROM (
          (SELECT 1 FROM fhir_resource r WHERE r.owner = ${owner}${this.filters(p, owner, once)}
            ORDER BY r.resource_type, r.last_updated, r.id ${p.countCap(cap + 1)})
          UNION ALL SELECT 1 FROM fhir_resource r WHERE ${this.linkedCondition(p, owner)} ${p.countCap(cap + 1)}) AS c`,
    );
    return n <= cap ? n : undefined;
  }

  private async countOfType(type: string, upTo: number): Promise<number> {
    const [{ n }] = await this.run<{ n: number }>(
      (p, owner, once) => `SELECT count(*)::int AS n FROM (SELECT 1 FROM fhir_resource r WHERE r.owner = ${owner} AND r.resource_type = ${p.add(type)}${this.filters(p, owner, once, type)} ${p.countCap(upTo)}) AS c`,
    );
    return n;
  }

  /**
   * `_since` and the access policy; every row here is the patient's, so its patient-level
   * conditions are computed once (`once`, the statement's CTE), and first: a caller with no way
   * to the patient reads none of its rows (`patientGateSql`). `type`, for a count of the rows of
   * one type: the patient's labelled records of it are looked up once (`ResourceRef.onePatient`;
   * a page's rows cost about as much to probe); a signature's token rows carry no owner, so its
   * labels stay probed.
   */
  private filters(p: SqlParams, owner: string, once: PatientLevelFacts, type?: string): string {
    if (!this.page.access) return this.rowFilters(p, { type: 'r.resource_type', id: 'r.id', patient: owner });
    const onePatient = type === undefined || type === SIGNATURE_TYPE ? undefined : { resourceType: type, owner: 'r.owner' };
    const gate = ` AND ${patientGateSql(this.page.access, p, owner, once)}`;
    return `${gate}${this.rowFilters(p, { type: 'r.resource_type', id: 'r.id', patient: owner, onePatient, patientLevel: once })}`;
  }

  /** `_since` and the access policy over rows whose patient is `ref.patient`. */
  private rowFilters(p: SqlParams, ref: ResourceRef): string {
    const since = this.page.since ? ` AND r.last_updated >= ${p.add(this.page.since)}::timestamptz` : '';
    return `${since}${this.page.access ? ` AND ${accessSql(this.page.access, p, ref)}` : ''}`;
  }

  private linkedCondition(p: SqlParams, owner: string): string {
    return `(r.resource_type, r.id) IN (
        SELECT x.resource_type, x.resource_id FROM fhir_search_reference x WHERE x.target_type = 'Patient' AND x.target_id = ${owner}
          AND (x.resource_type, x.param) IN (SELECT * FROM unnest(${p.add(this.others.types)}::text[], ${p.add(this.others.params)}::text[])))
      AND r.owner IS DISTINCT FROM ${owner} AND r.resource_type <> 'Patient'${this.rowFilters(p, { type: 'r.resource_type', id: 'r.id', patient: 'r.owner', manyPatients: true })}`;
  }

  private run<T extends QueryResultRow>(build: (p: SqlParams, owner: string, once: PatientLevelFacts) => string): Promise<T[]> {
    const p = new SqlParams();
    const owner = `${p.add(this.patientId)}::text`;
    const once = new PatientLevelFacts();
    const text = build(p, owner, once);
    return this.q.query<T>(`${once.withClause()}${text}`, atInstant(p.values, this.now), PREPARED);
  }
}
