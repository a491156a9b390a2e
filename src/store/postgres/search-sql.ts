import { SqlParams } from '../../database/sql-params.js';
import type { AccessFilter } from '../access-facts.js';
import type { Criterion, CriterionValue, SearchRequest, SortRule } from '../search/search-request.js';
import { accessConditionSql, encounterOf, patientOf, type ResourceRef } from './access-sql.js';

/** A parameterized SQL fragment; `params` bind to `$1..$n` in order. */
export interface Sql {
  text: string;
  params: unknown[];
}

// The parameter builder is the database layer's (the audit trail builds its searches with it too).
export { atInstant, NOW, SqlParams } from '../../database/sql-params.js';

const INDEX_TABLE = {
  token: 'fhir_search_token',
  uri: 'fhir_search_token',
  string: 'fhir_search_string',
  reference: 'fhir_search_reference',
  date: 'fhir_search_date',
} as const;

/**
 * The WHERE clause (over `fhir_resource r`) for a search's criteria: every criterion is an
 * EXISTS over its index table, so the planner can drive from the most selective index.
 */
export function whereClause(request: SearchRequest, p: SqlParams): string {
  const parts = [`r.resource_type = ${p.add(request.resourceType)}`];
  for (const c of request.criteria) parts.push(criterionSql(c, p));
  if (request.access) {
    const patient = fixedPatient(request);
    if (patient === undefined) {
      parts.push(accessSql(request.access, p, ACCESS_REF));
    } else {
      // One patient for every row (`patient=X`): the policy's patient-level conditions (care
      // team, departments…) no longer depend on the row, so PostgreSQL evaluates them once
      // (InitPlans) instead of once per row. Rows whose own patient is not X are left out:
      // a stricter answer, never a wider one.
      const x = `${p.add(patient)}::text`;
      parts.push(`f.patient = ${x}`);
      parts.push(accessSql(request.access, p, { ...ACCESS_REF, patient: x }));
    }
  }
  return parts.join(' AND ');
}

/** The single Patient id a search is restricted to by `patient=` / `subject=Patient/…`, if any. */
function fixedPatient(request: SearchRequest): string | undefined {
  for (const c of request.criteria) {
    if (typeof c.param === 'string' || c.modifier || (c.param.code !== 'patient' && c.param.code !== 'subject')) continue;
    if (c.values.length !== 1) continue;
    const v = c.values[0];
    if (v.kind === 'reference' && v.targetType === 'Patient') return v.targetId;
  }
  return undefined;
}

/** With an access filter, each row's patient and encounter are computed once, in a LATERAL (see `fromClause`). */
const ACCESS_REF = { type: 'r.resource_type', id: 'r.id', patient: 'f.patient', encounter: 'f.encounter' };

/** `FROM fhir_resource r`, plus the LATERAL the access filter reads when there is one. */
function fromClause(request: SearchRequest): string {
  if (!request.access) return 'fhir_resource r';
  const r = { type: 'r.resource_type', id: 'r.id' };
  return `fhir_resource r CROSS JOIN LATERAL (SELECT ${patientOf(r)} AS patient, ${encounterOf(r)} AS encounter) f`;
}

/** The access policy's filter over `r`; `FALSE` when the caller may see nothing (issue #3). */
export function accessSql(access: AccessFilter, p: SqlParams, r: ResourceRef = { type: 'r.resource_type', id: 'r.id' }): string {
  return access.condition === null ? 'FALSE' : `COALESCE(${accessConditionSql(access.condition, r, p, access.options)}, FALSE)`;
}

function criterionSql(c: Criterion, p: SqlParams): string {
  if (c.param === '_id') return `r.id = ANY(${p.add(c.values.map((v) => (v as { id: string }).id))}::text[])`;
  if (c.param === '_lastUpdated') {
    return `(${c.values.map((v) => dateSql(v, 'r.last_updated', 'r.last_updated', p)).join(' OR ')})`;
  }
  const table = INDEX_TABLE[c.param.type];
  const head = `SELECT 1 FROM ${table} x WHERE x.resource_type = r.resource_type AND x.resource_id = r.id AND x.param = ${p.add(c.param.code)}`;
  if (c.modifier === 'missing') return `${c.missing ? 'NOT ' : ''}EXISTS (${head})`;
  const ors = c.values.map((v) => valueSql(v, c.modifier, p));
  return `EXISTS (${head} AND (${ors.join(' OR ')}))`;
}

function valueSql(v: CriterionValue, modifier: Criterion['modifier'], p: SqlParams): string {
  switch (v.kind) {
    case 'token': {
      const conds: string[] = [];
      if (v.system !== undefined) conds.push(`x.system = ${p.add(v.system)}`);
      if (v.code !== undefined) conds.push(`x.code = ${p.add(v.code)}`);
      return conds.length ? `(${conds.join(' AND ')})` : 'TRUE';
    }
    case 'string':
      if (modifier === 'exact') return `x.exact = ${p.add(v.value)}`;
      if (modifier === 'contains') return `x.value LIKE ${p.add('%' + escapeLike(v.value) + '%')}`;
      return `x.value LIKE ${p.add(escapeLike(v.value) + '%')}`;
    case 'reference':
      return v.targetType
        ? `(x.target_type = ${p.add(v.targetType)} AND x.target_id = ${p.add(v.targetId)})`
        : `x.target_id = ${p.add(v.targetId)}`;
    case 'date':
      return dateSql(v, 'x.low', 'x.high', p);
    case 'id':
      return `x.resource_id = ${p.add(v.id)}`;
  }
}

/** R4 search.html#prefix over a stored range [low, high] and a searched range [qlow, qhigh]. */
function dateSql(v: CriterionValue, low: string, high: string, p: SqlParams): string {
  if (v.kind !== 'date') throw new Error('date expected');
  const ql = () => `${p.add(v.range.low)}::timestamptz`;
  const qh = () => `${p.add(v.range.high)}::timestamptz`;
  switch (v.prefix) {
    case 'eq':
      return `(${low} >= ${ql()} AND ${high} <= ${qh()})`;
    case 'ne':
      return `NOT (${low} >= ${ql()} AND ${high} <= ${qh()})`;
    case 'gt':
      return `${high} > ${qh()}`;
    case 'lt':
      return `${low} < ${ql()}`;
    case 'ge':
      return `${high} >= ${ql()}`;
    case 'le':
      return `${low} <= ${qh()}`;
    case 'sa':
      return `${low} > ${qh()}`;
    case 'eb':
      return `${high} < ${ql()}`;
  }
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => '\\' + c);
}

/** ORDER BY for the sort rules, always ending with `r.id` so pages are stable. */
export function orderByClause(sort: SortRule[], p: SqlParams): string {
  const keys = sort.map((s) => {
    const dir = s.descending ? 'DESC' : 'ASC';
    if (s.key === '_lastUpdated') return `r.last_updated ${dir}`;
    if (s.key === '_id') return `r.id ${dir}`;
    const agg = s.descending ? 'max(d.high)' : 'min(d.low)';
    return `(SELECT ${agg} FROM fhir_search_date d WHERE d.resource_type = r.resource_type AND d.resource_id = r.id AND d.param = ${p.add(s.key.code)}) ${dir} NULLS LAST`;
  });
  if (!sort.some((s) => s.key === '_id')) keys.push('r.id ASC');
  return keys.join(', ');
}

/** The page query (one row more than a page: whether there is more, without counting) and, separately, its count. */
export function searchSql(request: SearchRequest): { page: Sql; count: Sql } {
  const p = new SqlParams();
  const where = whereClause(request, p);
  const countParams = [...p.values];
  const order = orderByClause(request.sort, p);
  const from = fromClause(request);
  // Each row's patient comes along: the audit trail records one entry per patient found.
  const patient = request.access ? 'f.patient' : patientOf({ type: 'r.resource_type', id: 'r.id' });
  const page = `SELECT r.content, ${patient} AS patient FROM ${from} WHERE ${where} ORDER BY ${order} LIMIT ${p.add(request.count + 1)} OFFSET ${p.add(request.offset)}`;
  return {
    page: { text: page, params: p.values },
    count: { text: `SELECT count(*)::int AS n FROM ${from} WHERE ${where}`, params: countParams },
  };
}
