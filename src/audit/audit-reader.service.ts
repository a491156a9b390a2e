import { Injectable } from '@nestjs/common';
import type { Bundle } from '@medplum/fhirtypes';
import { ChartWardenDatabase } from '../database/chartwarden-database.js';
import { queryPairs, type FhirContext } from '../fhir/fhir-request.js';
import { checkSearchCost } from '../store/search/search-request.js';
import { FhirRequestError, FhirRequestErrorCode } from '../fhir/fhir.errors.js';
import { FhirSettings } from '../fhir/fhir.settings.js';
import { pagingLinks } from '../fhir/bundle.builder.js';
import { AccessPolicyService } from '../policy/access-policy.service.js';
import { AccessError, AccessErrorCode } from '../policy/policy.errors.js';
import { SqlParams } from '../store/postgres/search-sql.js';
import { dateRange, HOSPITAL_OFFSET, offsetToMs } from '../store/search/date-range.js';
import { StoreError, StoreErrorCode } from '../store/store.errors.js';
import { DISCLOSED_MARK, type AuditEntry } from './domain/audit-entry.js';
import { toAuditEvent } from './domain/balp.js';

const PARAMS = new Set(['patient', 'agent', 'date', 'action', 'subtype', 'outcome', 'entity', '_count', '_offset', '_format', '_pretty']);
const PREFIXES = ['ge', 'gt', 'le', 'lt', 'eq'] as const;
/** The predicate of `ix_audit_entry_disclosed` (a constant: canonical JSON escapes every quote a caller could send). */
const DISCLOSED_SQL = `strpos(e.content, '${DISCLOSED_MARK}') > 0`;
/** A disclosure's entry, by its canonical content (the same escaping argument: no caller-supplied value matches). */
const DISCLOSE_SQL = `strpos(e.content, '"lifecycle":"disclose"') > 0`;

/** One row of the "who looked at my record" report: one actor, one day. */
export interface AccessReportRow {
  actor: string;
  practitioner?: string;
  roles: string[];
  department?: string;
  /** Calendar day in the hospital's zone. */
  day: string;
  accesses: number;
  reads: number;
  searches: number;
  writes: number;
  refused: number;
  /** Disclosures that day: prints, copies produced or delivered, exports. */
  disclosures: number;
  /** What they handed out: each version `Type/id/_history/v`, once, sorted. */
  disclosed: string[];
  first: string;
  last: string;
}

export interface AccessReport {
  patient: string;
  from?: string;
  to?: string;
  rows: AccessReportRow[];
}

/**
 * Reading the audit trail: `GET /fhir/AuditEvent` as BALP AuditEvents, and the
 * patient's access report. Who may read: the policy's `audit` action on `AuditEvent`
 * (auditors: everything), or its `list` action (the record room's accounting of accesses
 * to one patient, who must be named).
 */
@Injectable()
export class AuditReaderService {
  constructor(
    private readonly db: ChartWardenDatabase,
    private readonly policy: AccessPolicyService,
    private readonly settings: FhirSettings,
  ) {}

  async search(ctx: FhirContext, query: string): Promise<Bundle> {
    const pairs = queryPairs(query);
    checkSearchCost(pairs, { maxValuesPerParameter: this.settings.maxValuesPerParameter, maxSearchParameters: this.settings.maxSearchParameters });
    for (const [k] of pairs) {
      if (!PARAMS.has(k)) throw new FhirRequestError(FhirRequestErrorCode.InvalidRequest, `AuditEvent cannot be searched by ${k}; use patient, agent, date, action, subtype, outcome or entity`, [k]);
    }
    const patients = pairs.filter(([k]) => k === 'patient').map(([, v]) => stripType(v, 'Patient'));
    this.authorize(ctx, patients);
    const p = new SqlParams();
    const where: string[] = [];
    for (const [k, v] of pairs) {
      switch (k) {
        case 'patient':
          where.push(`e.patient = ANY(${p.add(v.split(',').map((x) => stripType(x, 'Patient')))}::text[])`);
          break;
        case 'agent':
          where.push(
            v.startsWith('Practitioner/')
              ? `(e.content::jsonb -> 'agent' ->> 'practitioner') = ${p.add(v)}`
              : `e.actor = ANY(${p.add(v.split(','))}::text[])`,
          );
          break;
        case 'date':
          where.push(dateSql(v, p));
          break;
        case 'action':
          where.push(`e.action = ANY(${p.add(v.split(','))}::text[])`);
          break;
        case 'subtype':
          where.push(`e.subtype = ANY(${p.add(v.split(',').map((c) => c.slice(c.indexOf('|') + 1)))}::text[])`);
          break;
        case 'outcome': {
          const codes = v.split(',').map((c) => c.slice(c.indexOf('|') + 1));
          if (!codes.every((c) => /^(0|4|8|12)$/.test(c))) throw new FhirRequestError(FhirRequestErrorCode.InvalidRequest, 'outcome is 0, 4, 8 or 12', ['outcome']);
          where.push(`e.outcome = ANY(${p.add(codes.map(Number))}::smallint[])`);
          break;
        }
        case 'entity':
          where.push(entitySql(v, p));
          break;
      }
    }
    const count = pageNumber(pairs, '_count', this.settings.defaultPageSize, this.settings.maxPageSize);
    const offset = pageNumber(pairs, '_offset', 0, Number.MAX_SAFE_INTEGER);
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const countParams = [...p.values];
    const [rows, [{ n }]] = await Promise.all([
      this.db.query<{ chain: number; seq: string; content: string; hash: Buffer }>(
        `SELECT e.chain, e.seq, e.content, e.hash FROM audit_entry e ${clause} ORDER BY e.recorded DESC, e.chain, e.seq DESC
         LIMIT ${p.add(count)} OFFSET ${p.add(offset)}`,
        p.values,
      ),
      this.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_entry e ${clause}`, countParams),
    ]);
    ctx.audit?.concerns(patients);
    const base = ctx.baseUrl;
    const links = pagingLinks({
      url: `${base}/AuditEvent`,
      params: pairs.filter(([k]) => k !== '_count' && k !== '_offset'),
      count,
      offset,
      total: n,
      full: rows.length === count,
    });
    return {
      resourceType: 'Bundle',
      type: 'searchset',
      total: n,
      link: links,
      entry: rows.map((r) => {
        const id = `${r.chain}-${r.seq}`;
        return { fullUrl: `${base}/AuditEvent/${id}`, resource: toAuditEvent(id, JSON.parse(r.content) as AuditEntry, r.hash.toString('hex')), search: { mode: 'match' } };
      }),
    };
  }

  async read(ctx: FhirContext, id: string): Promise<ReturnType<typeof toAuditEvent>> {
    const m = /^(\d{1,5})-(\d{1,18})$/.exec(id);
    const rows = m
      ? await this.db.query<{ content: string; hash: Buffer; patient: string | null }>('SELECT content, hash, patient FROM audit_entry WHERE chain = $1 AND seq = $2', [Number(m[1]), m[2]])
      : [];
    const row = rows[0];
    const notFound = () => new StoreError(StoreErrorCode.NotFound, `AuditEvent/${id} is not known`);
    const event = () => toAuditEvent(id, JSON.parse(row.content) as AuditEntry, row.hash.toString('hex'));
    const auditor = this.policy.decideWorkflow(ctx.actor, 'audit', 'AuditEvent');
    if (auditor.allowed) {
      ctx.audit?.decided(auditor, row?.patient ?? undefined);
      if (!row) throw notFound();
      return event();
    }
    const accounting = this.policy.decideWorkflow(ctx.actor, 'list', 'AuditEvent');
    if (!accounting.allowed) {
      ctx.audit?.decided(auditor, undefined);
      throw new AccessError(AccessErrorCode.Forbidden, `The access policy (version ${auditor.policyVersion}) does not allow reading the audit trail for this operator (R-20)`);
    }
    // The record room reads entries about a patient only; any other entry is "not known", like a missing id.
    if (!row?.patient) {
      ctx.audit?.decided({ ...accounting, allowed: false }, undefined);
      throw notFound();
    }
    ctx.audit?.decided(accounting, row.patient);
    return event();
  }

  /** "Who looked at my record": accesses to one patient's records, per actor and day. */
  async accessReport(ctx: FhirContext, patient: string, from?: string, to?: string): Promise<AccessReport> {
    const id = stripType(patient, 'Patient');
    this.authorize(ctx, [id]);
    ctx.audit?.concerns([id]);
    const p = new SqlParams();
    const where = [`e.patient = ${p.add(id)}`];
    if (from) where.push(`e.recorded >= ${p.add(boundary(from, 'from').low)}::timestamptz`);
    if (to) where.push(`e.recorded <= ${p.add(boundary(to, 'to').high)}::timestamptz`);
    const minutes = offsetToMs(HOSPITAL_OFFSET) / 60_000;
    const day = `to_char((e.recorded AT TIME ZONE 'UTC') + make_interval(mins => ${p.add(minutes)}::int), 'YYYY-MM-DD')`;
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
    return {
      patient: `Patient/${id}`,
      ...(from ? { from } : {}),
      ...(to ? { to } : {}),
      rows: rows.map((r) => ({
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
        first: (r.first as Date).toISOString(),
        last: (r.last as Date).toISOString(),
      })),
    };
  }

  /** Auditors read everything; the record room reads the accounting of one named patient. */
  private authorize(ctx: FhirContext, patients: string[]): void {
    const auditor = this.policy.decideWorkflow(ctx.actor, 'audit', 'AuditEvent');
    if (auditor.allowed) {
      ctx.audit?.decided(auditor, patients.length === 1 ? patients[0] : undefined);
      return;
    }
    const accounting = this.policy.decideWorkflow(ctx.actor, 'list', 'AuditEvent');
    const one = patients.length === 1 && !patients[0].includes(',');
    ctx.audit?.decided(accounting.allowed && one ? accounting : { ...accounting, allowed: false }, one ? patients[0] : undefined);
    if (accounting.allowed && one) return;
    throw new AccessError(
      AccessErrorCode.Forbidden,
      accounting.allowed
        ? 'The record room reads the audit trail one patient at a time: name the patient (patient=Patient/<id>) (R-20)'
        : `The access policy (version ${auditor.policyVersion}) does not allow reading the audit trail for this operator (R-20)`,
      accounting.rule ?? auditor.rule,
    );
  }
}

function stripType(v: string, type: string): string {
  return v.startsWith(`${type}/`) ? v.slice(type.length + 1) : v;
}

function pageNumber(pairs: [string, string][], name: string, fallback: number, max: number): number {
  const v = pairs.find(([k]) => k === name)?.[1];
  if (v === undefined) return fallback;
  if (!/^\d{1,9}$/.test(v)) throw new FhirRequestError(FhirRequestErrorCode.InvalidRequest, `${name} must be a non-negative integer`, [name]);
  return Math.min(Number(v), max);
}

/**
 * `entity=Type/id` or `entity=Type/id/_history/v`: entries addressing that record
 * (a read, a write; with a version, of that version), entries of a disclosure that handed out
 * one of its versions (a print, a copy produced or delivered, an export: `disclosed`), and for a
 * Patient every entry about the patient. Each branch is an index scan: the entity columns, the
 * partial GIN index over disclosures (its predicate is repeated literally so the planner uses
 * it), the patient column.
 */
function entitySql(value: string, p: SqlParams): string {
  const m = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/([A-Za-z0-9\-.]{1,64}))?$/.exec(value);
  if (!m) {
    const example = 'Patient/123, Composition/abc or Composition/abc/_history/2';
    throw new FhirRequestError(FhirRequestErrorCode.InvalidRequest, `entity must be a reference like ${example}`, ['entity']);
  }
  const [, type, id, version] = m;
  const ofVersion = version ? ` AND (e.content::jsonb -> 'entity' ->> 'version') = ${p.add(version)}` : '';
  const addressed = `(e.entity_type = ${p.add(type)} AND e.entity_id = ${p.add(id)}${ofVersion})`;
  const holding = p.add(JSON.stringify([{ type, id, ...(version ? { version } : {}) }]));
  const disclosed = `(${DISCLOSED_SQL} AND (e.content::jsonb -> 'disclosed') @> ${holding}::jsonb)`;
  const patient = type === 'Patient' && !version ? ` OR e.patient = ${p.add(id)}` : '';
  return `(${addressed} OR ${disclosed}${patient})`;
}

/** A date range is inclusive at both ends: `high` is the last instant it covers (see `dateRange`). */
function dateSql(value: string, p: SqlParams): string {
  const prefix = PREFIXES.find((x) => value.startsWith(x));
  const range = dateRange(prefix ? value.slice(2) : value);
  if (!range) throw new FhirRequestError(FhirRequestErrorCode.InvalidRequest, `date must be a FHIR date or instant with an optional prefix (ge, gt, le, lt, eq), not ${value}`, ['date']);
  switch (prefix ?? 'eq') {
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

function boundary(value: string, name: string): { low: string; high: string } {
  const range = dateRange(value);
  if (!range) throw new FhirRequestError(FhirRequestErrorCode.InvalidRequest, `${name} must be a date (YYYY-MM-DD) or an instant, not ${value}`, [name]);
  return range;
}
