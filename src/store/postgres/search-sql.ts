import { SqlParams } from '../../database/sql-params.js';
import type { AccessFilter } from '../access-facts.js';
import { tokenTextParam, type SearchIndex } from '../search/search-index.extractor.js';
import type { SearchParamDef } from '../search/search-parameter.registry.js';
import type { Criterion, SearchRequest, SortRule } from '../search/search-request.js';
import { accessConditionSql, encounterOf, type ResourceRef } from './access-sql.js';
import { patientLevelPart, readsEncounter } from './condition-parts.js';
import { INDEX_TABLES } from './index-tables.js';
import { PatientLevelFacts } from './patient-level-facts.js';
import { patientLink } from './patient-links.js';
import { SIGNATURE_TYPE } from './signed-records.js';
import { dateSql, valueSql } from './search-value-sql.js';
import { storedColumns } from './stored-content.js';

/** A parameterized SQL fragment; `params` bind to `$1..$n` in order. */
export interface Sql {
  text: string;
  params: unknown[];
}

// The parameter builder is the database layer's (the audit trail builds its searches with it too).
export { atInstant, NOW, SqlParams } from '../../database/sql-params.js';

/** The index rows each parameter type is searched in (their tables are `INDEX_TABLES`'). */
const INDEX_KIND: Record<SearchParamDef['type'], keyof SearchIndex> = {
  token: 'tokens',
  uri: 'tokens',
  string: 'strings',
  reference: 'references',
  date: 'dates',
  number: 'numbers',
  quantity: 'quantities',
  composite: 'composites',
};

/**
 * The WHERE clause (over `fhir_resource r`) for a search's criteria: every criterion is an
 * EXISTS over its index table, so the planner can drive from the most selective index. On one
 * patient's page it may read `once`, whose `withClause()` the statement must then begin with.
 * `reads`: a `count` reads up to `countUpTo` rows, `every` is a count of every match
 * (`_total=accurate`); both look up the patient's labelled records once
 * (`ResourceRef.onePatient`) and read a Patient criterion from the row's own links
 * (`criterionSql`); a `page` reads a page's rows, which cost about as much to probe as that
 * lookup does, and probes the criterion (`rowLinks`: whether the criterion is read from the
 * links; a statement whose `r` stands in for the resource's row has none). `drivenBy`: `rows` when a patient's rows come from its owner index;
 * otherwise (its dates, its rows of a code) the owner is a filter only. `keyedBy`: the criterion
 * whose index rows drive the statement (`codeKeyedSql`), not probed again.
 */
export function whereClause(
  request: SearchRequest,
  p: SqlParams,
  drivenBy: 'rows' | 'dates',
  once: PatientLevelFacts,
  reads: 'page' | 'count' | 'every',
  keyedBy?: Criterion,
  rowLinks = reads !== 'page',
): string {
  const parts = [`r.resource_type = ${p.add(request.resourceType)}`];
  // One patient's page is read from the patient's own index (decision 0018): each criterion is
  // then a probe of the row's own index rows (`probe`), never a scan started from the criterion.
  const probe = request.access !== undefined && fixedPatient(request) !== undefined;
  const prefilter = probe ? undefined : ownerPrefilter(request, once);
  for (const c of request.criteria) if (c !== keyedBy) parts.push(criterionSql(c, p, probe, prefilter, rowLinks));
  if (request.access) {
    const patient = fixedPatient(request);
    if (patient === undefined) {
      parts.push(accessSql(request.access, p, accessRef(request, once)));
    } else {
      // One patient for every row (`patient=X`): the policy's patient-level conditions (care
      // team, departments, grants, break-the-glass) no longer depend on the row. Each is computed
      // once per statement (`once`, the `patient_level` CTE) and read by a one-time gate, before
      // any row, and by each row's full condition (`patientGateSql`). Rows whose own patient is
      // not X are left out: a stricter answer, never a wider one. Row facts stay judged on each
      // row; in a count, the label, which most records lack, from the patient's labelled records
      // (`labelIn`).
      const x = `${p.add(patient)}::text`;
      // Read from the patient's dates or rows of a code, a row is the patient's already: no second
      // index on `r` to choose. Its owner is still compared, so that every row judged as the
      // patient's is filed under the patient (`ownerStillSql`).
      parts.push(drivenBy === 'rows' ? `r.owner = ${x}` : ownerStillSql(x));
      parts.push(patientGateSql(request.access, p, x, once));
      // A Provenance's token rows carry no owner (its owner may follow its records): probed.
      const onePatient = reads === 'page' || request.resourceType === SIGNATURE_TYPE ? undefined : { resourceType: request.resourceType, owner: 'r.owner' };
      parts.push(accessSql(request.access, p, { ...accessRef(request), patient: x, manyPatients: false, onePatient, patientLevel: once }));
    }
  }
  return parts.join(' AND ');
}

/**
 * `r.owner = x` on a row read from the patient's own index rows (its dates, its rows of a code),
 * written so that no index can serve it and PostgreSQL costs it at 0.995 (a NULL test of an
 * expression), whatever its statistics say. The driving rows were found by the same owner, so
 * the two are one fact; as a plain equality, PostgreSQL counted the patient's share of the
 * records twice (once for the driving rows, once here). On statistics taken while the record
 * was small, that estimated a page's 100,000 rows at 6: the first executions on a connection
 * read every date row of the stay through a bitmap and sorted them, 1.5–2.8 s a page (issue
 * #13, decision 0018). True exactly when the equality is: a NULL owner or another is left out.
 */
function ownerStillSql(x: string): string {
  return `(CASE WHEN r.owner = ${x} THEN TRUE END) IS NOT NULL`;
}

/** The single Patient id a search is restricted to by `patient=` / `subject=Patient/…`, if any. */
export function fixedPatient(request: SearchRequest): string | undefined {
  for (const c of request.criteria) {
    if (typeof c.param === 'string' || c.modifier || (c.param.code !== 'patient' && c.param.code !== 'subject')) continue;
    if (c.values.length !== 1) continue;
    const v = c.values[0];
    if (v.kind === 'reference' && v.targetType === 'Patient') return v.targetId;
  }
  return undefined;
}

/**
 * How the access filter reads a row: its patient is its `owner`; its encounter, when the policy
 * asks for it, is computed once per row in a LATERAL (see `fromClause`).
 */
export function accessRef(request: SearchRequest, sets?: PatientLevelFacts): ResourceRef {
  const ref = { type: 'r.resource_type', id: 'r.id', patient: 'r.owner', manyPatients: true, patientSets: sets };
  return lateralClause(request) ? { ...ref, encounter: 'f.encounter' } : ref;
}

/** `FROM fhir_resource r`, plus the LATERAL the access filter reads when there is one. */
function fromClause(request: SearchRequest): string {
  return `fhir_resource r${lateralClause(request)}`;
}

/**
 * The row's encounter, for a policy that reads it (care window, encounter class, department),
 * fenced (`OFFSET 0`): a plain column of each row, which the per-row probes of the encounter's
 * facts take as a key of the primary key. Pulled up into the statement, it stayed an
 * expression with a subquery, which no index condition takes: on a fresh database each row's
 * care-window probe then read every Encounter's status rows (a nurse's page, 0.5 s at 2,000
 * patients; issue #13). A policy that never reads the encounter reads none.
 */
export function lateralClause(request: SearchRequest): string {
  const condition = request.access?.condition;
  if (!condition || !readsEncounter(condition)) return '';
  return ` CROSS JOIN LATERAL (SELECT ${encounterOf({ type: 'r.resource_type', id: 'r.id' })} AS encounter OFFSET 0) f`;
}

/** The access policy's filter over `r`; `FALSE` when the caller may see nothing (issue #3). */
export function accessSql(access: AccessFilter, p: SqlParams, r: ResourceRef = { type: 'r.resource_type', id: 'r.id' }): string {
  return access.condition === null ? 'FALSE' : `COALESCE(${accessConditionSql(access.condition, r, p, access.options)}, FALSE)`;
}

/**
 * For rows all filed under one patient (`patient`, a bound value): what the policy asks of that
 * patient alone (`patientLevelPart`: every row the policy allows is of a patient this allows),
 * once per statement. It reads no column of the row, so PostgreSQL evaluates it before it reads
 * any row (a one-time filter on top of the plan, whatever the statistics): a caller the policy
 * gives no way to the patient reads none of the patient's rows instead of judging each of them.
 * The full condition still judges each row; both read the patient's conditions from `once`, the
 * statement's `patient_level` CTE, so each is computed once. `TRUE` when the policy asks nothing
 * of the patient.
 */
export function patientGateSql(access: AccessFilter, p: SqlParams, patient: string, once: PatientLevelFacts): string {
  const part = access.condition && patientLevelPart(access.condition);
  const ref = { type: 'r.resource_type', id: 'r.id', patient, manyPatients: false, patientLevel: once };
  return part ? `COALESCE(${accessConditionSql(part, ref, p, access.options)}, FALSE)` : 'TRUE';
}

/**
 * For a search across patients under a policy with patient-level conditions (a department, a
 * care team, grants): those conditions over an index row's `owner`, so the token rows of
 * patients the caller may not see are dropped before any resource is read (decision 0018).
 * Not for a Provenance, whose index rows carry no owner.
 */
function ownerPrefilter(request: SearchRequest, sets: PatientLevelFacts): ((p: SqlParams) => string) | undefined {
  const condition = request.access?.condition;
  if (!condition || request.resourceType === SIGNATURE_TYPE) return undefined;
  const part = patientLevelPart(condition);
  if (!part) return undefined;
  const options = request.access!.options;
  const ref = { type: 'x.resource_type', id: 'x.resource_id', patient: 'x.owner', manyPatients: true, patientSets: sets };
  return (p) => `COALESCE(${accessConditionSql(part, ref, p, options)}, FALSE)`;
}

/**
 * One criterion over `r`: an EXISTS over its index table; `probe`, a fenced read of the row's own
 * index rows by primary key (never a scan of what the value matches); `prefilter`, the policy's
 * patient-level conditions over the index rows' owner; `rowLinks`, a link to a Patient read from
 * the row's own `patient_links` instead of probed.
 *
 * `rowLinks` for counts, of every match and up to the cap, not for a page. A count reads its rows
 * in any order: with statistics that put a long stay's records at a dozen, PostgreSQL may count
 * them through a bitmap of the owner index, with the probe as with the column (decision 0018
 * measures both). A page reads them in its order under a LIMIT: with a filter this cheap,
 * PostgreSQL 15 with those statistics read a long stay's 100,000 records through a bitmap and
 * sorted them (248 ms for 20) instead of walking the owner index in order and stopping (12 ms).
 */
export function criterionSql(c: Criterion, p: SqlParams, probe: boolean, prefilter?: (p: SqlParams) => string, rowLinks = false): string {
  if (c.param === '_id') return `r.id = ANY(${p.add(c.values.map((v) => (v as { id: string }).id))}::text[])`;
  if (c.param === '_lastUpdated') {
    return `(${c.values.map((v) => dateSql(v, 'r.last_updated', 'r.last_updated', p)).join(' OR ')})`;
  }
  // `:text` searches a token's text, indexed with the strings (`code:text`).
  const [kind, param] = c.modifier === 'text' ? (['strings', tokenTextParam(c.param.code)] as const) : [INDEX_KIND[c.param.type], c.param.code];
  const { table } = INDEX_TABLES[kind];
  const one = c.values[0];
  if (probe && kind === 'references' && !c.modifier && c.values.length === 1 && one.kind === 'reference' && one.targetType) {
    // A link to a Patient (`patient=Patient/X`, the criterion that fixes the page), in a count:
    // the row's own `patient_links`, which list exactly its reference rows naming a Patient
    // (`patient-links.ts`). As `array_position(…) IS NOT NULL`, which PostgreSQL costs as nearly
    // always true (it is, on the patient's own rows): `'P|X' = ANY(patient_links)` was costed from
    // the links' statistics, and for a patient they did not know yet at about one row in 500,
    // which made a capped count of a long stay read the whole stay through a bitmap.
    if (rowLinks && one.targetType === 'Patient') return `array_position(r.patient_links, ${p.add(patientLink(param, one.targetId))}::text) IS NOT NULL`;
    // Otherwise (and for any other typed reference): the row's own index row by its whole primary
    // key, one index tuple per row. The target is compared `COLLATE "C"` (the same equality) so
    // that `ix_fhir_search_reference_target`, led by it, cannot serve the probe (its rows of X are
    // every record of X); the fence keeps it a probe.
    return `EXISTS (SELECT 1 FROM ${table} x WHERE x.resource_type = r.resource_type AND x.resource_id = r.id AND x.param = ${p.add(param)}
      AND x.target_type COLLATE "C" = ${p.add(one.targetType)} AND x.target_id COLLATE "C" = ${p.add(one.targetId)} OFFSET 0)`;
  }
  // A probe reads the row's own index rows by primary key, fenced (`OFFSET 0`) so that PostgreSQL
  // cannot turn it into a scan of everything the value matches (on a fresh database it did).
  const rows = probe ? `(SELECT * FROM ${table} x0 WHERE x0.resource_type = r.resource_type AND x0.resource_id = r.id OFFSET 0) x` : `${table} x`;
  const head = `SELECT 1 FROM ${rows} WHERE ${probe ? '' : 'x.resource_type = r.resource_type AND x.resource_id = r.id AND '}x.param = ${p.add(param)}`;
  if (c.modifier === 'missing') return `${c.missing ? 'NOT ' : ''}EXISTS (${head})`;
  const ors = c.values.map((v) => valueSql(v, c.modifier === 'text' ? undefined : c.modifier, p));
  // `:not` (R4 search.html#token): resources with no matching token, those with none included.
  if (c.modifier === 'not') return `NOT EXISTS (${head} AND (${ors.join(' OR ')}))`;
  const owned = prefilter && INDEX_TABLES[kind].owned ? ` AND ${prefilter(p)}` : '';
  return `EXISTS (${head} AND (${ors.join(' OR ')})${owned})`;
}

/** ORDER BY for the sort rules, always ending with `r.id` so pages are stable (descending after a descending date). */
export function orderByClause(sort: SortRule[], p: SqlParams): string {
  const keys = sort.map((s) => {
    const dir = s.descending ? 'DESC' : 'ASC';
    if (s.key === '_lastUpdated') return `r.last_updated ${dir}`;
    if (s.key === '_id') return `r.id ${dir}`;
    return `${dateKey(s, 'r', p)} ${dir} NULLS LAST`;
  });
  if (!sort.some((s) => s.key === '_id')) keys.push(`r.id ${tieOrder(sort)}`);
  return keys.join(', ');
}

/** A resource's sort value for a date parameter: its latest end descending, its earliest start ascending. */
function dateKey(s: SortRule, r: string, p: SqlParams): string {
  const agg = s.descending ? 'max(d.high)' : 'min(d.low)';
  return `(SELECT ${agg} FROM ${INDEX_TABLES.dates.table} d WHERE d.resource_type = ${r}.resource_type AND d.resource_id = ${r}.id AND d.param = ${p.add((s.key as SearchParamDef).code)})`;
}

/**
 * Ties are broken by id, descending when the last sort key is a descending date: the order a
 * patient's date index gives read backwards (`datedPageSql`), so both plans page alike.
 */
function tieOrder(sort: SortRule[]): 'ASC' | 'DESC' {
  const last = sort[sort.length - 1];
  return last && typeof last.key === 'object' && last.descending ? 'DESC' : 'ASC';
}

/**
 * The page query (one row more than a page: whether there is more, without counting) and,
 * separately, its count; `pageCountingUpTo`, the page with its count up to a cap in the same
 * statement (`counted` on each row, null when the page shows there is no more).
 */
export function searchSql(request: SearchRequest): { page: Sql; count: Sql; countUpTo: (cap: number) => Sql; pageCountingUpTo: (cap: number) => Sql } {
  const statement = (reads: 'page' | 'count' | 'every') => {
    const p = new SqlParams();
    const once = new PatientLevelFacts();
    const where = whereClause(request, p, 'rows', once, reads);
    return { p, where, w: once.withClause() };
  };
  const from = fromClause(request);
  // Each row's patient comes along: the audit trail records one entry per patient found (R-22).
  const pageOf = (p: SqlParams, where: string) =>
    `SELECT ${storedColumns('r')}, r.owner AS patient FROM ${from} WHERE ${where} ORDER BY ${orderByClause(request.sort, p)} ${p.page(request.count + 1, request.offset)}`;
  const upTo = (p: SqlParams, where: string, cap: number) => `SELECT count(*)::int AS n FROM (SELECT 1 FROM ${from} WHERE ${where} ${p.countCap(cap + 1)}) AS c`;
  // Each statement is built when asked: a search runs the page or the page counting its total, not both.
  return {
    get page() {
      const page = statement('page');
      return { text: `${page.w}${pageOf(page.p, page.where)}`, params: page.p.values };
    },
    // A count of every match is asked for once per search at most (`_total=accurate`, `_summary=count`): built when asked.
    get count() {
      const every = statement('every');
      return { text: `${every.w}SELECT count(*)::int AS n FROM ${from} WHERE ${every.where}`, params: every.p.values };
    },
    countUpTo: (cap) => {
      const count = statement('count');
      return { text: `${count.w}${upTo(count.p, count.where, cap)}`, params: count.p.values };
    },
    // A page and its default total in one statement (issue #13): a round trip less per search,
    // and the patient's conditions (`patient_level`) computed once for both. The page is a
    // MATERIALIZED CTE, planned as the page statement alone is (its own ORDER BY and LIMIT); the
    // count is an uncorrelated subquery inside a CASE, which PostgreSQL runs once, and only when
    // the CASE needs it: when the page holds one row more than asked for. The rows come out in
    // the page's order: the CTE's rows are read as they were stored, and nothing is joined to them.
    pageCountingUpTo: (cap) => {
      const p = new SqlParams();
      const once = new PatientLevelFacts();
      const rows = pageOf(p, whereClause(request, p, 'rows', once, 'page'));
      const count = upTo(p, whereClause(request, p, 'rows', once, 'count'), cap);
      return {
        text: `WITH ${once.definitions()}page AS MATERIALIZED (${rows})
          SELECT page.*, CASE WHEN (SELECT count(*) FROM page) > ${p.add(request.count)} THEN (${count}) END AS counted FROM page`,
        params: p.values,
      };
    },
  };
}

/**
 * A patient's page sorted by one date parameter (decision 0018), in two parts that each read
 * an index in the order asked for: `dated`, the resources with a value, walking the patient's
 * date rows (`ix_fhir_search_date_owner_high`/`_low`) and keeping each resource's row that
 * gives its sort value; then `undated`, those without one (sorted last), by id. Undefined when
 * the search is not of that shape (the general plan then sorts the matches).
 */
export function datedPageSql(request: SearchRequest): { dated: (limit: number, offset: number) => Sql; undated: (limit: number, offset: number) => Sql; datedCount: Sql } | undefined {
  const [rule, ...more] = request.sort;
  // A Provenance's date rows carry no owner (its owner may follow its records): the general plan.
  if (!rule || more.length || typeof rule.key !== 'object' || !request.access || request.resourceType === SIGNATURE_TYPE || fixedPatient(request) === undefined) return undefined;
  const build = (dated: boolean, limit?: number, offset?: number): Sql => {
    const p = new SqlParams();
    const once = new PatientLevelFacts();
    const where = whereClause(request, p, dated ? 'dates' : 'rows', once, limit === undefined ? 'count' : 'page');
    const w = once.withClause();
    const param = p.add((rule.key as SearchParamDef).code);
    const from = fromClause(request);
    const tail = limit === undefined ? '' : ` ${p.page(limit, offset ?? 0)}`;
    if (!dated) {
      return {
        text: `${w}SELECT ${storedColumns('r')}, r.owner AS patient FROM ${from} WHERE ${where}
          AND NOT EXISTS (SELECT 1 FROM ${INDEX_TABLES.dates.table} e WHERE e.resource_type = r.resource_type AND e.resource_id = r.id AND e.param COLLATE "C" = ${param})
          ORDER BY r.id ${rule.descending ? 'DESC' : 'ASC'}${tail}`,
        params: p.values,
      };
    }
    // The row giving the resource's value: its latest (high, low) descending, its earliest (low, high) ascending; one per resource.
    const [key, other, cmp, dir] = rule.descending ? ['high', 'low', '>', 'DESC'] : ['low', 'high', '<', 'ASC'];
    const select = limit === undefined ? 'count(*)::int AS n' : `${storedColumns('r')}, r.owner AS patient`;
    const owner = `${p.add(fixedPatient(request))}::text`;
    return {
      text: `${w}SELECT ${select} FROM ${INDEX_TABLES.dates.table} d JOIN fhir_resource r ON r.resource_type = d.resource_type AND r.id = d.resource_id${lateralClause(request)}
        WHERE d.resource_type = ${p.add(request.resourceType)} AND d.param = ${param} AND d.owner = ${owner}
          AND NOT EXISTS (SELECT 1 FROM ${INDEX_TABLES.dates.table} e WHERE e.resource_type = d.resource_type AND e.resource_id = d.resource_id
                            AND e.param COLLATE "C" = d.param AND (e.${key}, e.${other}) ${cmp} (d.${key}, d.${other}))
          AND ${where}${limit === undefined ? '' : ` ORDER BY d.${key} ${dir}, d.resource_id ${dir}`}${tail}`,
      params: p.values,
    };
  };
  return { dated: (limit, offset) => build(true, limit, offset), undated: (limit, offset) => build(false, limit, offset), datedCount: build(true) };
}
