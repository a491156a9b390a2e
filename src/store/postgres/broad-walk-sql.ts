import { DEFAULT_COUNT_UP_TO, type SearchRequest } from '../search/search-request.js';
import { acrossPatientsByCode, broadCountedRows, countOfRows, visibleClause } from './broad-page-sql.js';
import { listedPatientsSql, listsPatients } from './condition-parts.js';
import { matchingRows } from './keyed-page-sql.js';
import { PatientLevelFacts } from './patient-level-facts.js';
import { accessRef, accessSql, criterionSql, lateralClause, orderByClause, SqlParams, type Sql } from './search-sql.js';
import { storedColumns } from './stored-content.js';

/**
 * How many of the type's records a walk reads per row it must find (`broadWalkSql`): 21 rows
 * found within 2,100 read, or the walk gives up. Each record read costs about one buffer (its
 * row by the type's `last_updated` index) and the owner's look-up in the hashed set of visible
 * patients; only a visible patient's record is probed further. A walk that gives up has cost a
 * few milliseconds before the per-patient plan answers.
 */
export const WALK_READS_PER_ROW = 100;

/** The most records one walk reads, whatever the page: deep pages go to the per-patient plan. */
export const WALK_READS_AT_MOST = 10_000;

/**
 * A search across patients by a code, sorted by `_lastUpdated` either way (issue #13, decision
 * 0018), read by walking the type's records in that order (`ix_fhir_resource_type_updated`) and
 * keeping a row only if its owner is a patient the caller may see (the policy's sets, listed once
 * per statement and hashed), its criteria hold (each a probe of its own index rows) and the full
 * condition allows it. The walk reads at most `WALK_READS_PER_ROW` records per row the page needs
 * (`offset + count + 1`), and stops as soon as it has them. When it has them, the same
 * statement counts the total asked for (`matched` on each row), reading the same sets of patients:
 * listed once for the page and its total, where a second statement listed them again.
 *
 * The page is the right one only when the walk found every row it needed: the first rows of a
 * walk in the page's order are the first rows of the result. So the caller keeps the answer only
 * when it holds `count + 1` rows (`walkedRows` in `page-reads.ts`), and otherwise asks the
 * per-patient plan (`broadPageSql`, ascending) or the general one. A walk finds its rows soon when
 * the caller's patients' records are spread through the order: the newest records, walked
 * backwards (`_sort=-_lastUpdated`, a ward's latest heart rates), are mostly of today's
 * inpatients; in ascending order a ward's patients are usually the last ones, and the walk gives up.
 *
 * A policy whose patients cannot be listed (the HIS's and the record room's: every patient, judged
 * by the records' labels) walks the same way with no owner test, each record judged by the full
 * condition alone; its total counts the code's rows of every patient (`broadCountedRows`). Without
 * the walk, such a search had only the general plan, which on statistics taken when the code was
 * rarer read every row of the code and sorted them (150–270 ms at 100,000 Observations).
 *
 * Undefined when the search is not of that shape: no policy, one patient, a Provenance (its owner
 * may follow its records), no token criterion with a code, another order, or a page deeper than the
 * walk's limit allows.
 *
 * Why the plan stays the same whatever the statistics: the walk is a fenced subquery with its own
 * `ORDER BY … LIMIT` on the type's `(last_updated, id)` index, which PostgreSQL does not pull up
 * and reads in order; the owner's test is `COALESCE(owner IN (SELECT … FROM visible), FALSE)`, a
 * hashed subplan that is never a join (and absent when the patients cannot be listed); every
 * other test is a probe of the row's own index rows.
 * The rows found are a materialized CTE whose `LIMIT` stops the walk when the page is full; the
 * page is cut from them (at most 10,000 / 100 rows, sorted again). The total is a scalar subquery
 * inside a `CASE` on their number, so PostgreSQL runs it only when the walk found them all.
 */
export function broadWalkSql(request: SearchRequest): Sql | undefined {
  const access = request.access;
  const [rule, ...more] = request.sort;
  if (!access?.condition || !acrossPatientsByCode(request)) return undefined;
  if (!rule || more.length || rule.key !== '_lastUpdated') return undefined;
  const want = request.offset + request.count + 1;
  const reads = want * WALK_READS_PER_ROW;
  if (reads > WALK_READS_AT_MOST) return undefined;
  const p = new SqlParams();
  const sets = new PatientLevelFacts();
  // Undefined when the policy's patients cannot be listed (the HIS's: every patient, by the records' labels).
  const patients = listedPatientsSql(access, p, sets);
  const order = orderByClause(request.sort, p);
  const walk = `SELECT * FROM fhir_resource r WHERE r.resource_type = ${p.add(request.resourceType)} ORDER BY ${order} LIMIT ${p.add(reads)}`;
  const judged = [
    ...(patients === undefined ? [] : ['COALESCE(r.owner IN (SELECT v.patient FROM visible v), FALSE)']),
    ...request.criteria.map((c) => criterionSql(c, p, true)),
    accessSql(access, p, accessRef(request, sets)),
  ].join(' AND ');
  const found = `SELECT ${storedColumns('r')}, r.owner AS patient, r.last_updated, r.id FROM (${walk}) r${lateralClause(request)}
      WHERE ${judged} ORDER BY ${order} LIMIT ${p.add(want)}`;
  const total = totalSql(request, p, sets, patients === undefined);
  // The total only when the walk found every row it needed: a walk that gave up is answered again, and counted, by another plan.
  const matched = total ? `, CASE WHEN (SELECT count(*) FROM walked) = ${p.add(want)} THEN ${total} END AS matched` : '';
  const text = `${visibleClause(sets, patients, `walked AS MATERIALIZED (${found})`)}
    SELECT ${storedColumns('r')}, r.patient${matched} FROM walked r ORDER BY ${order} ${p.page(request.count + 1, request.offset)}`;
  return { text, params: p.values };
}

/**
 * For a walk with no owner test (the policy's patients cannot be listed), how many index rows
 * the code has across every patient, up to `limit` and one more; undefined for any other
 * search. Such a walk probes every record it reads for the code (about 10 µs each), so a code
 * with few rows would cost its whole reads, 20–30 ms at 2,100, before giving up: with at most
 * `limit` rows, the page is read from them instead (the general plan: a patient's identifier, a
 * rare lab). In the lookup index's order, so it stops at the cap whatever the statistics say.
 */
export function everyPatientCodeRowsUpTo(request: SearchRequest, limit: number): Sql | undefined {
  const key = acrossPatientsByCode(request);
  if (!key || !request.access || listsPatients(request.access)) return undefined;
  const p = new SqlParams();
  return { text: `SELECT count(*)::int AS n FROM (SELECT 1 FROM ${matchingRows(request, key, undefined, p)} ORDER BY x.owner LIMIT ${p.add(limit + 1)}) c`, params: p.values };
}

/**
 * The search's total as the page's statement counts it, from the visible patients' rows of the
 * code, or every patient's when they cannot be listed (`broadCountedRows`), reading the
 * statement's own sets (listed once for the page and the total): every match when
 * `_total=accurate`, else up to the cap and one more (decision 0018: exact up to the cap, left out
 * beyond it). None when the total is not asked for, or is known already (`knownTotal`, from the
 * paging token).
 */
function totalSql(request: SearchRequest, p: SqlParams, sets: PatientLevelFacts, everyPatient: boolean): string | undefined {
  if (request.total === 'none' || request.knownTotal !== undefined) return undefined;
  const rows = broadCountedRows(request, p, sets, everyPatient);
  if (rows === undefined) return undefined;
  return countOfRows(rows, request.total === 'accurate' ? undefined : (request.countUpTo ?? DEFAULT_COUNT_UP_TO), p);
}
