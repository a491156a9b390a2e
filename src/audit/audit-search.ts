import { FhirRequestError, FhirRequestErrorCode } from '../fhir/fhir.errors.js';
import { instantOfWall } from '../common/hospital-time.js';
import { dateRange, type DateRange } from '../store/search/date-range.js';

/** The search parameters of `GET /fhir/AuditEvent` (IHE BALP, R-22), with paging and format. */
const PARAMS = new Set(['patient', 'agent', 'date', 'action', 'subtype', 'outcome', 'entity', '_count', '_offset', '_format', '_pretty']);
const PREFIXES = ['ge', 'gt', 'le', 'lt', 'eq'] as const;

/** A date prefix the trail's `date` parameter takes (`eq` when none is given). */
export type AuditDatePrefix = (typeof PREFIXES)[number];

/**
 * One parameter of a trail search, parsed: every criterion must hold (AND); the values of one
 * criterion are alternatives (OR), as in FHIR search.
 */
export type AuditCriterion =
  | { on: 'patient'; ids: string[] }
  /** `agent=Practitioner/<id>`: the practitioner the agent acted as. */
  | { on: 'practitioner'; reference: string }
  /** `agent=<id>,…`: the token's subject. */
  | { on: 'actor'; ids: string[] }
  | { on: 'recorded'; prefix: AuditDatePrefix; range: DateRange }
  | { on: 'action'; codes: string[] }
  | { on: 'subtype'; codes: string[] }
  | { on: 'outcome'; codes: number[] }
  /** `entity=Type/id[/_history/v]`: the record addressed, a disclosure holding it, or (a Patient) every entry about them. */
  | { on: 'entity'; type: string; id: string; version?: string };

/** A parsed trail search: its criteria and the page asked for. */
export interface AuditSearch {
  criteria: AuditCriterion[];
  count: number;
  offset: number;
}

/** Page sizes: the server's default and its maximum. */
export interface AuditPaging {
  defaultPageSize: number;
  maxPageSize: number;
}

/** Refuses a parameter the trail cannot be searched by (400 naming it). */
export function assertAuditSearchParameters(pairs: readonly [string, string][]): void {
  for (const [k] of pairs) {
    if (!PARAMS.has(k)) {
      const problem = `AuditEvent cannot be searched by ${k}; use patient, agent, date, action, subtype, outcome or entity`;
      throw new FhirRequestError(FhirRequestErrorCode.InvalidRequest, problem, [k]);
    }
  }
}

/** The patients a search names (`patient=Patient/<id>` or `<id>`), one per parameter, as given. */
export function patientsNamed(pairs: readonly [string, string][]): string[] {
  return pairs.filter(([k]) => k === 'patient').map(([, v]) => stripType(v, 'Patient'));
}

/**
 * Parses a trail search's values (the parameters were checked by `assertAuditSearchParameters`);
 * each bad value is a 400 naming it. A date or time sent without an offset is the hospital's
 * (`timeZone`, policy `settings.timeZone`).
 */
export function parseAuditSearch(pairs: readonly [string, string][], paging: AuditPaging, timeZone: string): AuditSearch {
  const criteria: AuditCriterion[] = [];
  for (const [k, v] of pairs) {
    const criterion = criterionOf(k, v, timeZone);
    if (criterion) criteria.push(criterion);
  }
  return {
    criteria,
    count: pageNumber(pairs, '_count', paging.defaultPageSize, paging.maxPageSize),
    offset: pageNumber(pairs, '_offset', 0, Number.MAX_SAFE_INTEGER),
  };
}

/**
 * `from`/`to` of the access report: a date or an instant, inclusive at both ends (400 naming it
 * otherwise); a date is the hospital's day (`timeZone`).
 */
export function reportBoundary(value: string, name: string, timeZone: string): DateRange {
  const range = hospitalDateRange(value, timeZone);
  if (!range) throw new FhirRequestError(FhirRequestErrorCode.InvalidRequest, `${name} must be a date (YYYY-MM-DD) or an instant, not ${value}`, [name]);
  return range;
}

/** `Patient/123` → `123`; a bare id stays as it is. */
export function stripType(v: string, type: string): string {
  return v.startsWith(`${type}/`) ? v.slice(type.length + 1) : v;
}

/**
 * The instants a FHIR date, dateTime or instant covers (`dateRange`), a value sent without an
 * offset read on the hospital's clock (`timeZone`): `2026-11-30` is that day in the hospital,
 * 23 or 25 hours long when the clocks change. A value with an offset or `Z` is read as sent.
 */
export function hospitalDateRange(value: string, timeZone: string): DateRange | undefined {
  // Read as UTC, the range's ends are the wall-clock readings; an offset sent overrides it.
  const wall = dateRange(value, '+00:00');
  if (!wall || /T.*(Z|[+-]\d{2}:\d{2})$/.test(value.trim())) return wall;
  const at = (iso: string) => new Date(instantOfWall(Date.parse(iso), timeZone)).toISOString();
  return { low: at(wall.low), high: at(wall.high) };
}

function criterionOf(k: string, v: string, timeZone: string): AuditCriterion | undefined {
  const codes = () => v.split(',').map((c) => c.slice(c.indexOf('|') + 1));
  switch (k) {
    case 'patient':
      return { on: 'patient', ids: v.split(',').map((x) => stripType(x, 'Patient')) };
    case 'agent':
      return v.startsWith('Practitioner/') ? { on: 'practitioner', reference: v } : { on: 'actor', ids: v.split(',') };
    case 'date':
      return dateCriterion(v, timeZone);
    case 'action':
      return { on: 'action', codes: v.split(',') };
    case 'subtype':
      return { on: 'subtype', codes: codes() };
    case 'outcome': {
      const outcomes = codes();
      if (!outcomes.every((c) => /^(0|4|8|12)$/.test(c))) {
        throw new FhirRequestError(FhirRequestErrorCode.InvalidRequest, 'outcome is 0, 4, 8 or 12', ['outcome']);
      }
      return { on: 'outcome', codes: outcomes.map(Number) };
    }
    case 'entity':
      return entityCriterion(v);
    default:
      return undefined;
  }
}

/** A date range is inclusive at both ends: `high` is the last instant it covers (see `dateRange`). */
function dateCriterion(value: string, timeZone: string): AuditCriterion {
  const prefix = PREFIXES.find((x) => value.startsWith(x));
  const range = hospitalDateRange(prefix ? value.slice(2) : value, timeZone);
  if (!range) {
    const problem = `date must be a FHIR date or instant with an optional prefix (ge, gt, le, lt, eq), not ${value}`;
    throw new FhirRequestError(FhirRequestErrorCode.InvalidRequest, problem, ['date']);
  }
  return { on: 'recorded', prefix: prefix ?? 'eq', range };
}

function entityCriterion(value: string): AuditCriterion {
  const m = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/([A-Za-z0-9\-.]{1,64}))?$/.exec(value);
  if (!m) {
    const example = 'Patient/123, Composition/abc or Composition/abc/_history/2';
    throw new FhirRequestError(FhirRequestErrorCode.InvalidRequest, `entity must be a reference like ${example}`, ['entity']);
  }
  const [, type, id, version] = m;
  return { on: 'entity', type, id, ...(version ? { version } : {}) };
}

function pageNumber(pairs: readonly [string, string][], name: string, fallback: number, max: number): number {
  const v = pairs.find(([k]) => k === name)?.[1];
  if (v === undefined) return fallback;
  if (!/^\d{1,9}$/.test(v)) throw new FhirRequestError(FhirRequestErrorCode.InvalidRequest, `${name} must be a non-negative integer`, [name]);
  return Math.min(Number(v), max);
}
