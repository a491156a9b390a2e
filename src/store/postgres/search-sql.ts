import { SqlParams } from '../../database/sql-params.js';
import type { AccessFilter } from '../access-facts.js';
import { tokenTextParam, type SearchIndex } from '../search/search-index.extractor.js';
import type { SearchParamDef } from '../search/search-parameter.registry.js';
import type { Criterion, SearchRequest, SortRule } from '../search/search-request.js';
import { accessConditionSql, encounterOf, patientOf, type ResourceRef } from './access-sql.js';
import { INDEX_TABLES } from './index-tables.js';
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
  // `:text` searches a token's text, indexed with the strings (`code:text`).
  const [kind, param] = c.modifier === 'text' ? (['strings', tokenTextParam(c.param.code)] as const) : [INDEX_KIND[c.param.type], c.param.code];
  const { table } = INDEX_TABLES[kind];
  const head = `SELECT 1 FROM ${table} x WHERE x.resource_type = r.resource_type AND x.resource_id = r.id AND x.param = ${p.add(param)}`;
  if (c.modifier === 'missing') return `${c.missing ? 'NOT ' : ''}EXISTS (${head})`;
  const ors = c.values.map((v) => valueSql(v, c.modifier === 'text' ? undefined : c.modifier, p));
  // `:not` (R4 search.html#token): resources with no matching token, those with none included.
  return `${c.modifier === 'not' ? 'NOT ' : ''}EXISTS (${head} AND (${ors.join(' OR ')}))`;
}

/** ORDER BY for the sort rules, always ending with `r.id` so pages are stable. */
export function orderByClause(sort: SortRule[], p: SqlParams): string {
  const keys = sort.map((s) => {
    const dir = s.descending ? 'DESC' : 'ASC';
    if (s.key === '_lastUpdated') return `r.last_updated ${dir}`;
    if (s.key === '_id') return `r.id ${dir}`;
    const agg = s.descending ? 'max(d.high)' : 'min(d.low)';
    return `(SELECT ${agg} FROM ${INDEX_TABLES.dates.table} d WHERE d.resource_type = r.resource_type AND d.resource_id = r.id AND d.param = ${p.add(s.key.code)}) ${dir} NULLS LAST`;
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
  const page = `SELECT ${storedColumns('r')}, ${patient} AS patient FROM ${from} WHERE ${where} ORDER BY ${order} LIMIT ${p.add(request.count + 1)} OFFSET ${p.add(request.offset)}`;
  return {
    page: { text: page, params: p.values },
    count: { text: `SELECT count(*)::int AS n FROM ${from} WHERE ${where}`, params: countParams },
  };
}
