import type { Criterion, SearchRequest } from '../search/search-request.js';
import { listedPatientsSql } from './condition-parts.js';
import { PatientLevelFacts } from './patient-level-facts.js';
import { firstMatchSql, keyable, KEYED_UP_TO, matchingRows, onePerResource, readsResourceRow, resourceRows, TOKEN_ROW_AS_RESOURCE } from './keyed-page-sql.js';
import { accessRef, accessSql, criterionSql, fixedPatient, lateralClause, SqlParams, type Sql } from './search-sql.js';
import { SIGNATURE_TYPE } from './signed-records.js';
import { storedColumns } from './stored-content.js';

/**
 * A search across patients by a code, in the default order (`Observation?code=s|c`, issue #13,
 * decision 0018), read one visible patient at a time so that a page reads about a page of rows
 * per patient instead of judging and sorting every visible match.
 *
 * The patients come from the policy's own patient sets (`visiblePatientsSql`: a department's
 * patients, a care team's, the grants'), listed once per statement in a materialized CTE; each
 * row's owner is one of them, and a resource is read under its owner only, so once. For each
 * patient, one of two reads gives its first `offset + count + 1` allowed matches in
 * `(last_updated, id)` order:
 * - at most `KEYED_UP_TO` of its index rows match the code: those rows (the lookup index by
 *   type, param, code and owner, fenced), each resource by its primary key, sorted, then judged
 *   in that order until enough are found;
 * - more: its resources of the type in that order (`ix_fhir_resource_owner`, one row at a time
 *   by keyset), each criterion a probe of the row's own index rows, judged until enough are found (about `page × record ÷
 *   matches` rows, as on the patient's own page).
 * The per-patient lists are then merged (sorted, at most `patients × page` rows). The global
 * first rows are among each patient's first rows, so the page is the one the general plan
 * gives; every row is still judged by the full condition (`accessSql`), as there.
 *
 * Undefined when the search is not of that shape: no policy, a policy whose patients cannot be
 * listed (a negation, a rule for any patient), one patient (`codeKeyedSql` and the patient's
 * page), a Provenance (its token rows carry no owner), no token criterion with a code in each
 * value, another order, or a page deeper than `KEYED_UP_TO`.
 *
 * Why the plan stays the same whatever the statistics: the patients are a MATERIALIZED CTE; each
 * patient's reads are LATERAL subqueries (nested loops by construction) whose choice is a
 * one-time filter on the patient's count of matching rows; the code's rows are read by equality on
 * the lookup index's four columns and fenced, each resource by a fenced primary-key read.
 */
export function broadPageSql(request: SearchRequest): Sql | undefined {
  const access = request.access;
  const [rule, ...more] = request.sort;
  const key = acrossPatientsByCode(request);
  if (!access?.condition || !key) return undefined;
  if (!rule || more.length || rule.key !== '_lastUpdated' || rule.descending) return undefined;
  const want = request.offset + request.count + 1;
  if (want > KEYED_UP_TO) return undefined;
  const p = new SqlParams();
  // The policy's sets of patients, listed once: the patients visited and each row's judgement read the same CTEs.
  const sets = new PatientLevelFacts();
  const patients = listedPatientsSql(access, p, sets);
  if (patients === undefined) return undefined;
  const type = p.add(request.resourceType);
  const owner = 'v.patient';
  const judged = (keyedBy: typeof key | undefined) =>
    [`r.owner = ${owner}`, ...request.criteria.filter((c) => c !== keyedBy).map((c) => criterionSql(c, p, true)), accessSql(access, p, accessRef(request, sets))].join(' AND ');
  const lateral = lateralClause(request);
  const columns = 'r.resource_type, r.id, r.last_updated, r.owner, r.content_text, r.content';
  const limit = p.add(want);
  const first = onePerResource(key) ? '' : ` WHERE ${firstMatchSql(key, p)}`;
  // The patient's rows of the code, each resource once, in the order asked for; judged after.
  const keyedRows = `(SELECT r.* FROM (SELECT x.resource_id, x.system, x.code FROM ${matchingRows(request, key, owner, p)} OFFSET 0) m
      CROSS JOIN LATERAL (SELECT * FROM fhir_resource r0 WHERE r0.resource_type = ${type} AND r0.id = m.resource_id OFFSET 0) r${first}
      ORDER BY r.last_updated, r.id OFFSET 0) r`;
  const upTo = p.add(KEYED_UP_TO);
  const keyed = `SELECT ${columns} FROM ${keyedRows}${lateral} WHERE k.n <= ${upTo} AND ${judged(key)} ORDER BY r.last_updated, r.id LIMIT ${limit}`;
  // The patient's resources of the type one at a time in the order asked for, each the next by
  // keyset (`LIMIT 1`: an ordered index read whatever the statistics; a plain ORDER BY … LIMIT
  // may become a read and sort of the whole record once analysed), judged as they come.
  const next = (after: string) => `(SELECT r0.last_updated, r0.id FROM fhir_resource r0 WHERE r0.owner = ${owner} AND r0.resource_type = ${type}${after}
      ORDER BY r0.last_updated, r0.id LIMIT 1)`;
  const walk = `WITH RECURSIVE w AS (${next('')} UNION ALL SELECT n.last_updated, n.id FROM w CROSS JOIN LATERAL ${next(' AND (r0.last_updated, r0.id) > (w.last_updated, w.id)')} n)`;
  const walked = `${walk} SELECT ${columns} FROM w CROSS JOIN LATERAL (SELECT * FROM fhir_resource r0 WHERE r0.resource_type = ${type} AND r0.id = w.id OFFSET 0) r${lateral}
      WHERE k.n > ${upTo} AND ${judged(undefined)} LIMIT ${limit}`;
  const count = `SELECT count(*)::int AS n FROM (SELECT 1 FROM ${matchingRows(request, key, owner, p)} LIMIT ${upTo} + 1) AS c`;
  const text = `${visibleClause(sets, patients)}
    SELECT ${storedColumns('r')}, r.owner AS patient FROM visible v
      CROSS JOIN LATERAL (${count}) k
      CROSS JOIN LATERAL ((${keyed}) UNION ALL (${walked})) r
    ORDER BY r.last_updated, r.id ${p.page(request.count + 1, request.offset)}`;
  return { text, params: p.values };
}

/**
 * `WITH <the statement's sets>, visible AS MATERIALIZED (…), <ctes> `: the patients the caller may
 * see, each once, from the policy's sets (no `visible` when they cannot be listed,
 * `listedPatientsSql`), then the statement's own CTEs. Empty when there is nothing to define.
 */
export function visibleClause(sets: PatientLevelFacts, patients: string | undefined, ...ctes: string[]): string {
  const visible = patients === undefined ? [] : [`visible AS MATERIALIZED (SELECT DISTINCT s.patient FROM (${patients}) AS s(patient) WHERE s.patient IS NOT NULL)`];
  const list = `${sets.definitions()}${[...visible, ...ctes].join(', ')}`.replace(/, $/, '');
  return list ? `WITH ${list} ` : '';
}

/**
 * The rows a search across patients by a code counts for its total (issue #13, decision 0018): the
 * code's token rows, each resource once, judged as the general count judges it but without reading
 * its resource row (`TOKEN_ROW_AS_RESOURCE`, as a patient's count by a code does: the token row
 * carries the type, the id and the owner). Before, the count read each of the code's rows, then its
 * resource, then judged it: about a third of a department doctor's broad search at 10,000 patients.
 * - In a statement whose `visible` CTE lists the caller's patients (`visibleClause`, built from
 *   `sets`): each visible patient's rows of the code, read as its page reads them (the lookup
 *   index's four columns by equality, fenced). Every row the policy allows is filed under a
 *   visible patient, and every token row of a resource carries the resource's owner, so each match
 *   is counted once, under its owner.
 * - `everyPatient`, for a policy whose patients cannot be listed (the HIS's, by the records'
 *   labels): the code's rows of every patient, from the lookup index's first three columns, a
 *   single relation read in the index's order, so a capped count stops at its cap (`countOfRows`).
 *
 * Undefined when the search is not of that shape: no policy, one patient (`codeKeyedSql`), a
 * Provenance (its token rows carry no owner), no token criterion with a code in each value.
 */
export function broadCountedRows(request: SearchRequest, p: SqlParams, sets: PatientLevelFacts, everyPatient = false): string | undefined {
  const access = request.access;
  const key = acrossPatientsByCode(request);
  if (!access || !key) return undefined;
  const judged = [...request.criteria.filter((c) => c !== key).map((c) => criterionSql(c, p, true)), accessSql(access, p, accessRef(request, sets))];
  if (!onePerResource(key)) judged.push(firstMatchSql(key, p));
  const resources = readsResourceRow(request) ? resourceRows(request, p) : TOKEN_ROW_AS_RESOURCE;
  const columns = 'x.resource_id, x.system, x.code, x.resource_type, x.owner';
  const rows = everyPatient
    ? `(SELECT ${columns} FROM ${matchingRows(request, key, undefined, p)}) m`
    : `visible v CROSS JOIN LATERAL (SELECT ${columns} FROM ${matchingRows(request, key, 'v.patient', p)} OFFSET 0) m`;
  // Every patient's rows in the lookup index's order: a capped count stops at its cap whatever the statistics say of the code.
  const order = everyPatient ? ' ORDER BY m.owner' : '';
  return `SELECT 1 FROM ${rows}
      ${resources}${lateralClause(request)} WHERE ${judged.join(' AND ')}${order}`;
}

/**
 * The count of a search across patients by a code (`_summary=count`, `_total=accurate`, the default
 * total past the page) from the code's rows (`broadCountedRows`): each visible patient's, or every
 * patient's when the policy's patients cannot be listed. Undefined when the search is not of that
 * shape (the general count).
 */
export function broadCountSql(request: SearchRequest): { count: Sql; countUpTo: (cap: number) => Sql } | undefined {
  const access = request.access;
  if (!access?.condition || !acrossPatientsByCode(request)) return undefined;
  const build = (cap?: number): Sql => {
    const p = new SqlParams();
    const sets = new PatientLevelFacts();
    const patients = listedPatientsSql(access, p, sets);
    const rows = broadCountedRows(request, p, sets, patients === undefined) as string;
    return { text: `${visibleClause(sets, patients)}SELECT ${countOfRows(rows, cap, p)} AS n`, params: p.values };
  };
  return { count: build(), countUpTo: (cap) => build(cap) };
}

/**
 * `(SELECT count(*) …)` of `rows`, up to `cap` and one more when a cap is given (the default total:
 * exact up to the cap, left out beyond it), every row otherwise.
 */
export function countOfRows(rows: string, cap: number | undefined, p: SqlParams): string {
  return `(SELECT count(*)::int FROM (${rows}${cap === undefined ? '' : ` LIMIT ${p.add(cap + 1)}`}) c)`;
}

/**
 * The shape every plan across patients by a code starts from (the per-patient page, the walk, the
 * count): an access policy, no single patient (`codeKeyedSql` and the patient's page), not a
 * Provenance (its token rows carry no owner), and a token criterion with a code in each value,
 * which is returned: the criterion whose rows are read.
 */
export function acrossPatientsByCode(request: SearchRequest): Criterion | undefined {
  if (!request.access?.condition || request.resourceType === SIGNATURE_TYPE || fixedPatient(request) !== undefined) return undefined;
  return request.criteria.find(keyable);
}
