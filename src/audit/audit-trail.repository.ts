import { Injectable } from '@nestjs/common';
import { ChartWardenDatabase } from '../database/chartwarden-database.js';
import { SqlParams } from '../database/sql-params.js';
import type { DateRange } from '../store/search/date-range.js';
import type { AccessReportRow } from './access-report.js';
import type { AuditCriterion, AuditDatePrefix } from './audit-search.js';
import { DISCLOSED_MARK } from './domain/audit-entry.js';

/** The predicate of `ix_audit_entry_disclosed` (a constant: canonical JSON escapes every quote a caller could send). */
const DISCLOSED_SQL = `strpos(e.content, '${DISCLOSED_MARK}') > 0`;
/** A disclosure's entry, by its canonical content (the same escaping argument: no caller-supplied value matches). */
const DISCLOSE_SQL = `strpos(e.content, '"lifecycle":"disclose"') > 0`;

/** One stored entry as the reader renders it: its place in its chain, its canonical content and its hash. */
export interface StoredAuditEntry {
  chain: number;
  seq: string;
  content: string;
  hash: Buffer;
}

/** The period of an access report: entries recorded at or after `from`, at or before `to`. */
export interface ReportPeriod {
  from?: DateRange;
  to?: DateRange;
}

/**
 * Reads `audit_entry` for the trail's readers (R-20, R-22): searches, one entry, the access
 * report. Writing is `AuditLog`'s alone; nothing here changes a row.
 */
@Injectable()
export class AuditTrailRepository {
  constructor(private readonly db: ChartWardenDatabase) {}

  /** A page of entries matching every criterion, newest first, and how many match in all. */
  async search(criteria: readonly AuditCriterion[], count: number, offset: number): Promise<{ entries: StoredAuditEntry[]; total: number }> {
    const p = new SqlParams();
    const where = criteria.map((c) => criterionSql(c, p));
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const countParams = [...p.values];
    const [entries, [{ n }]] = await Promise.all([
      this.db.query<StoredAuditEntry>(
        `SELECT e.chain, e.seq, e.content, e.hash FROM audit_entry e ${clause} ORDER BY e.recorded DESC, e.chain, e.seq DESC
         ${p.page(count, offset)}`,
        p.values,
      ),
      this.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_entry e ${clause}`, countParams),
    ]);
    return { entries, total: n };
  }

  /** The entry at `seq` in `chain`, with the patient it concerns; undefined when there is none. */
  async entry(chain: number, seq: string): Promise<{ content: string; hash: Buffer; patient: string | null } | undefined> {
    const rows = await this.db.query<{ content: string; hash: Buffer; patient: string | null }>(
      'SELECT content, hash, patient FROM audit_entry WHERE chain = $1 AND seq = $2',
      [chain, seq],
    );
    return rows[0];
  }

  /**
   * Accesses to `patient`'s records in `period`, one row per actor and calendar day, the day
   * as the clock of `timeZone` reads it (the hospital's zone), with what each one's disclosures
   * handed out.
   */
  async accessReport(patient: string, period: ReportPeriod, timeZone: string): Promise<AccessReportRow[]> {
    const p = new SqlParams();
    const where = [`e.patient = ${p.add(patient)}`];
    if (period.from) where.push(`e.recorded >= ${p.add(period.from.low)}::timestamptz`);
    if (period.to) where.push(`e.recorded <= ${p.add(period.to.high)}::timestamptz`);
    // The hospital's calendar day (an IANA zone, as PostgreSQL's time zone database names it; daylight saving included).
    const day = `to_char(e.recorded AT TIME ZONE ${p.add(timeZone)}::text, 'YYYY-MM-DD')`;
    const [rows, handedOut] = await Promise.all([
      this.db.query<Record<string, unknown>>(
        `SELECT coalesce(e.actor, '(unidentified)') AS actor,
                max(e.content::jsonb -> 'agent' ->> 'practitioner') AS practitioner,
                max((e.content::jsonb -> 'agent' -> 'roles')::text) AS roles,
                max(e.content::jsonb -> 'agent' ->> 'department') AS department,
                ${day} AS day,
                count(*)::int AS accesses,
                count(*) FILTER (WHERE e.action = 'R' AND e.outcome = 0)::int AS reads,
                count(*) FILTER (WHERE e.action = 'E' AND e.subtype IN ('search-type', 'everything', 'transaction', 'batch')
                                   AND e.outcome = 0)::int AS searches,
                count(*) FILTER (WHERE e.action IN ('C', 'U', 'D') AND e.outcome = 0)::int AS writes,
                count(*) FILTER (WHERE e.outcome <> 0)::int AS refused,
                count(*) FILTER (WHERE e.outcome = 0 AND ${DISCLOSE_SQL})::int AS disclosures,
                coalesce(array_agg(DISTINCT e.content::jsonb ->> 'purpose') FILTER (WHERE e.content::jsonb ? 'purpose'), '{}') AS purposes,
                count(*) FILTER (WHERE e.content::jsonb ->> 'purpose' = 'BTG' OR e.content::jsonb ? 'breakGlass')::int AS "breakGlass",
                min(e.recorded) AS first, max(e.recorded) AS last
           FROM audit_entry e WHERE ${where.join(' AND ')}
          GROUP BY 1, 5 ORDER BY 5, 1`,
        p.values,
      ),
      // The versions each actor's disclosures handed out, per day (only entries that hold some are parsed).
      this.db.query<{ actor: string; day: string; ref: string }>(
        `SELECT DISTINCT coalesce(e.actor, '(unidentified)') AS actor, ${day} AS day,
                (d ->> 'type') || '/' || (d ->> 'id') || '/_history/' || (d ->> 'version') AS ref
           FROM audit_entry e CROSS JOIN LATERAL jsonb_array_elements(e.content::jsonb -> 'disclosed') d
          WHERE ${where.join(' AND ')} AND e.outcome = 0 AND ${DISCLOSED_SQL} AND ${DISCLOSE_SQL}
          ORDER BY 1, 2, 3`,
        p.values,
      ),
    ]);
    const disclosed = new Map<string, string[]>();
    for (const h of handedOut) {
      const key = `${h.actor}\u0000${h.day}`;
      disclosed.set(key, [...(disclosed.get(key) ?? []), h.ref]);
    }
    return rows.map((r) => ({
      actor: r.actor as string,
      ...(r.practitioner ? { practitioner: r.practitioner as string } : {}),
      roles: r.roles ? (JSON.parse(r.roles as string) as string[]) : [],
      ...(r.department ? { department: r.department as string } : {}),
      day: r.day as string,
      accesses: r.accesses as number,
      reads: r.reads as number,
      searches: r.searches as number,
      writes: r.writes as number,
      refused: r.refused as number,
      disclosures: r.disclosures as number,
      disclosed: disclosed.get(`${r.actor as string}\u0000${r.day as string}`) ?? [],
      purposes: r.purposes as string[],
      breakGlass: r.breakGlass as number,
      first: (r.first as Date).toISOString(),
      last: (r.last as Date).toISOString(),
    }));
  }
}

/** One criterion as SQL over `audit_entry e`, its values bound through `p`. */
function criterionSql(c: AuditCriterion, p: SqlParams): string {
  switch (c.on) {
    case 'patient':
      return `e.patient = ANY(${p.add(c.ids)}::text[])`;
    case 'practitioner':
      return `(e.content::jsonb -> 'agent' ->> 'practitioner') = ${p.add(c.reference)}`;
    case 'actor':
      return `e.actor = ANY(${p.add(c.ids)}::text[])`;
    case 'recorded':
      return recordedSql(c.prefix, c.range, p);
    case 'action':
      return `e.action = ANY(${p.add(c.codes)}::text[])`;
    case 'subtype':
      return `e.subtype = ANY(${p.add(c.codes)}::text[])`;
    case 'outcome':
      return `e.outcome = ANY(${p.add(c.codes)}::smallint[])`;
    case 'entity':
      return entitySql(c, p);
  }
}

/** A date range is inclusive at both ends: `high` is the last instant it covers (see `dateRange`). */
function recordedSql(prefix: AuditDatePrefix, range: DateRange, p: SqlParams): string {
  switch (prefix) {
    case 'ge':
      return `e.recorded >= ${p.add(range.low)}::timestamptz`;
    case 'gt':
      return `e.recorded > ${p.add(range.high)}::timestamptz`;
    case 'le':
      return `e.recorded <= ${p.add(range.high)}::timestamptz`;
    case 'lt':
      return `e.recorded < ${p.add(range.low)}::timestamptz`;
    default:
      return `(e.recorded >= ${p.add(range.low)}::timestamptz AND e.recorded <= ${p.add(range.high)}::timestamptz)`;
  }
}

/**
 * `entity=Type/id` or `entity=Type/id/_history/v`: entries addressing that record
 * (a read, a write; with a version, of that version), entries of a disclosure that handed out
 * one of its versions (a print, a copy produced or delivered, an export: `disclosed`), and for a
 * Patient every entry about the patient. Each branch is an index scan: the entity columns, the
 * partial GIN index over disclosures (its predicate is repeated literally so the planner uses
 * it), the patient column.
 */
function entitySql({ type, id, version }: { type: string; id: string; version?: string }, p: SqlParams): string {
  const ofVersion = version ? ` AND (e.content::jsonb -> 'entity' ->> 'version') = ${p.add(version)}` : '';
  const addressed = `(e.entity_type = ${p.add(type)} AND e.entity_id = ${p.add(id)}${ofVersion})`;
  const holding = p.add(JSON.stringify([{ type, id, ...(version ? { version } : {}) }]));
  const disclosed = `(${DISCLOSED_SQL} AND (e.content::jsonb -> 'disclosed') @> ${holding}::jsonb)`;
  const patient = type === 'Patient' && !version ? ` OR e.patient = ${p.add(id)}` : '';
  return `(${addressed} OR ${disclosed}${patient})`;
}
