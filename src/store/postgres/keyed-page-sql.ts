import type { AccessFilter } from '../access-facts.js';
import type { Criterion, SearchRequest } from '../search/search-request.js';
import { INDEX_TABLES } from './index-tables.js';
import { PatientLevelFacts } from './patient-level-facts.js';
import { fixedPatient, lateralClause, orderByClause, patientGateSql, SqlParams, whereClause, type Sql } from './search-sql.js';
import { SIGNATURE_TYPE } from './signed-records.js';
import { storedColumns } from './stored-content.js';
import { valueSql } from './search-value-sql.js';

/**
 * How many of a patient's index rows matching a code `codeKeyedSql`'s page reads at most
 * (`KeyedPage.matchesUpTo`). Up to that many it reads them all, judges and sorts them: a
 * page costs the code's rows, not the record's. Beyond, the code is common in the record
 * (at least this many of the patient's rows), so walking the patient's rows in the order asked
 * for finds a page after about `page size × record ÷ matches` rows (168 for one code in eight),
 * and that plan is kept (`datedPageSql`, or the general one). The same number as the default
 * total's cap, so that the page's own count of its matches is the total the cap allows.
 */
export const KEYED_UP_TO = 500;

/** The statements of a patient's search read from its rows of one code (`codeKeyedSql`). */
export interface KeyedPage {
  /** How many of the patient's index rows match the code, up to `limit + 1` (none for a caller with no way to the patient): whether the page reads them all. */
  matchesUpTo: (limit: number) => Sql;
  /** The page, in the order asked for, each row with `matched`: how many the caller sees in all. */
  page: Sql;
  /** How many the caller sees. */
  count: Sql;
  /** How many the caller sees, up to `cap + 1`. */
  countUpTo: (cap: number) => Sql;
}

/**
 * A patient's search filtered by a code (`Observation?patient=X&code=s|c`, issue #13, decision
 * 0018) read from the patient's index rows of that code: `ix_fhir_search_token_lookup` (type,
 * param, code, owner) leads to them, since every token row carries its record's owner, kept by
 * every write (`INDEX_TABLES.owned`). Each row's resource is then read by its primary key and
 * judged as on the patient's page (the patient once, `patient_level`; its own facts on the row;
 * its `owner` still X and the `patient=` criterion read from its links, `patient_links`, which
 * cannot change which rows drive); the code criterion is the driving row itself and is not
 * probed again. Before, the code was a probe of each of the patient's rows, and a page walked
 * the record until it had found 20 and a count until 501.
 *
 * Undefined when the search is not of that shape: no access policy or no single patient (the
 * general plans); a Provenance (its token rows carry no owner); no token criterion with a code
 * in each value and no modifier.
 *
 * Why the plan stays the same whatever the statistics: the driving rows are read by equalities
 * on all four columns of the lookup index (no other index has `code` and `owner`), fenced
 * (`OFFSET 0`); each resource is read by a LATERAL fenced subquery on its primary key, so the
 * join is a nested loop by construction; every other per-row read is the probe the patient's
 * page already makes, and every patient-level condition an InitPlan.
 */
export function codeKeyedSql(request: SearchRequest): KeyedPage | undefined {
  if (!request.access || request.resourceType === SIGNATURE_TYPE) return undefined;
  const patient = fixedPatient(request);
  const key = request.criteria.find(keyable);
  if (patient === undefined || !key) return undefined;
  const build = (shape: 'page' | 'count' | 'every', tail: (p: SqlParams, body: string) => string) => {
    const p = new SqlParams();
    const once = new PatientLevelFacts();
    // The resources the code's rows name; once per resource (`first`) when one may have two matching rows.
    const rows = matchingRows(request, key, `${p.add(patient)}::text`, p);
    // The resource's row when the statement needs it: `patient=` is then read from its links, else probed.
    const rowRead = shape === 'page' || readsResourceRow(request);
    const where = whereClause(request, p, 'dates', once, shape === 'every' ? 'every' : 'count', key, rowRead);
    const first = onePerResource(key) ? '' : ` AND ${firstMatchSql(key, p)}`;
    const select = shape === 'page' ? `${storedColumns('r')}, r.owner AS patient, (count(*) OVER ())::int AS matched` : '1';
    const resources = rowRead ? resourceRows(request, p) : TOKEN_ROW_AS_RESOURCE;
    const from = `(SELECT x.resource_id, x.system, x.code, x.resource_type, x.owner FROM ${rows} OFFSET 0) m
      ${resources}${lateralClause(request)}`;
    const body = `SELECT ${select} FROM ${from} WHERE ${where}${first}`;
    return { text: `${once.withClause()}${tail(p, body)}`, params: p.values };
  };
  return {
    // Behind the patient gate, as the page is: a caller the policy gives no way to the patient
    // counts none, so which plan answers them (and how long it takes) says nothing of the record.
    matchesUpTo: (limit) => {
      const p = new SqlParams();
      const once = new PatientLevelFacts();
      const x = `${p.add(patient)}::text`;
      const gate = patientGateSql(request.access as AccessFilter, p, x, once);
      const rows = matchingRows(request, key, x, p);
      return { text: `${once.withClause()}SELECT count(*)::int AS n FROM (SELECT 1 FROM ${rows} AND ${gate} ${p.countCap(limit + 1)}) AS c`, params: p.values };
    },
    page: build('page', (p, body) => `${body} ORDER BY ${orderByClause(request.sort, p)} ${p.page(request.count + 1, request.offset)}`),
    count: build('every', (_p, body) => `SELECT count(*)::int AS n FROM (${body}) AS c`),
    countUpTo: (cap) => build('count', (p, body) => `SELECT count(*)::int AS n FROM (${body} ${p.countCap(cap + 1)}) AS c`),
  };
}

/** Each driving row's resource, read by its primary key (fenced: a nested loop by construction). */
export function resourceRows(request: SearchRequest, p: SqlParams): string {
  return `CROSS JOIN LATERAL (SELECT * FROM fhir_resource r0 WHERE r0.resource_type = ${p.add(request.resourceType)} AND r0.id = m.resource_id OFFSET 0) r`;
}

/**
 * A count judges each driving row without reading its resource (issue #13): every fact the
 * count's conditions read of `r` is its type, its id (their facts, `patient=` among them, are
 * probes of its own index rows) and its owner, and the token row carries all three. (Built
 * from the reference rows, the links cost more than the probe of the one row `patient=` asks
 * for: the keyed pages of the scale bench got 1–2 ms slower.) A token row exists only with its
 * resource (written and replaced in the version's statement; `fhir_resource` refuses deletes)
 * and carries its owner (`INDEX_TABLES.owned`, kept by every write, the same column the driving
 * rows are read by). Half of a count's reads were the resources' rows.
 */
export const TOKEN_ROW_AS_RESOURCE = 'CROSS JOIN LATERAL (SELECT m.resource_type, m.resource_id AS id, m.owner) r';

/** Whether a count must still read the resource's row: a criterion on `_lastUpdated` compares its column. */
export function readsResourceRow(request: SearchRequest): boolean {
  return request.criteria.some((c) => c.param === '_lastUpdated');
}

/** A criterion the patient's token rows can be read by: a token parameter, no modifier, a code in every value. */
export function keyable(c: Criterion): boolean {
  return typeof c.param === 'object' && c.param.type === 'token' && !c.modifier && c.values.length > 0 && c.values.every((v) => v.kind === 'token' && v.code !== undefined);
}

/** A token value as searched: its code (always given here) and, when given, its system. */
const tokenOf = (c: Criterion) => c.values as { kind: 'token'; system?: string; code: string }[];

/**
 * `fhir_search_token x` and the conditions that make its rows the patient's rows matching the
 * criterion (`owner`: the patient, as SQL): the lookup index's four columns by equality (one code as `=`: as `= ANY` a
 * PostgreSQL with statistics may read every row of the type's param), then each value's own
 * condition (its system). Without `owner`, every patient's rows: the index's first three columns.
 */
export function matchingRows(request: SearchRequest, key: Criterion, owner: string | undefined, p: SqlParams): string {
  const codes = [...new Set(tokenOf(key).map((v) => v.code))];
  const code = codes.length === 1 ? `x.code = ${p.add(codes[0])}` : `x.code = ANY(${p.add(codes)}::text[])`;
  const param = (key.param as { code: string }).code;
  return `${INDEX_TABLES.tokens.table} x WHERE x.resource_type = ${p.add(request.resourceType)} AND x.param = ${p.add(param)} AND ${code}
    ${owner === undefined ? '' : `AND x.owner = ${owner} `}AND (${key.values.map((v) => valueSql(v, undefined, p)).join(' OR ')})`;
}

/** One value with its system: the primary key (type, id, param, system, code) allows one matching row per resource. */
export function onePerResource(key: Criterion): boolean {
  return key.values.length === 1 && tokenOf(key)[0].system !== undefined;
}

/**
 * The driving row `m` is its resource's first matching row (by system, then code): a resource
 * with two (a code under two systems, or two of the codes asked for) is read once. A probe of
 * the resource's own token rows by primary key, fenced as a criterion's probe is.
 */
export function firstMatchSql(key: Criterion, p: SqlParams): string {
  const param = (key.param as { code: string }).code;
  return `NOT EXISTS (SELECT 1 FROM (SELECT * FROM ${INDEX_TABLES.tokens.table} x0 WHERE x0.resource_type = r.resource_type AND x0.resource_id = r.id OFFSET 0) x
    WHERE x.param = ${p.add(param)} AND (x.system COLLATE "C", x.code COLLATE "C") < (m.system COLLATE "C", m.code COLLATE "C")
      AND (${key.values.map((v) => valueSql(v, undefined, p)).join(' OR ')}))`;
}
