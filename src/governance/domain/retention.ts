import { offsetAt } from '../../common/hospital-time.js';

/**
 * Record retention as calendar arithmetic: a record is kept until the later of its last
 * outpatient visit + the outpatient years and its last discharge + the inpatient years.
 * "Years" are calendar years on the wall clock of a time zone, exactly as PostgreSQL adds
 * `make_interval(years => n)` to a `timestamptz` in its session time zone (the report computed
 * this in SQL before, and its answers must not move): the local date and time keep their
 * fields, 29 February becomes 28 February in a common year, and a local time that does not
 * exist or exists twice on the new date is resolved as PostgreSQL resolves it.
 */

/** The latest and earliest instants a `Date` holds: they stand for PostgreSQL's `±infinity`, which stays put. */
const MAX_TIME = 8.64e15;

const DAY = 86_400_000;


/** The day the record may leave the archive (undefined when there is no finished visit to count from, or never). */
export function keptUntil(
  visits: { lastOutpatient?: Date; lastInpatient?: Date },
  years: { outpatientYears: number; inpatientYears: number },
  timeZone: string,
): Date | undefined {
  // PostgreSQL's greatest() ignores a missing side, and infinity is later than any day.
  const ends = [
    visits.lastOutpatient && addCalendarYears(visits.lastOutpatient.getTime(), years.outpatientYears, timeZone),
    visits.lastInpatient && addCalendarYears(visits.lastInpatient.getTime(), years.inpatientYears, timeZone),
  ].filter((t): t is number => t !== undefined);
  if (ends.length === 0) return undefined;
  const latest = Math.max(...ends);
  return Number.isFinite(latest) ? new Date(latest) : undefined;
}

/**
 * `instant + make_interval(years => years)` in `timeZone` (an IANA name, as PostgreSQL's
 * `TimeZone` setting holds): ±infinity (the extremes of `Date`) stay what they are.
 */
export function addCalendarYears(instant: number, years: number, timeZone: string): number {
  if (instant >= MAX_TIME) return Infinity;
  if (instant <= -MAX_TIME) return -Infinity;
  if (isUtc(timeZone)) return shiftYears(instant, years);
  const fraction = mod(instant, 1000);
  const whole = instant - fraction;
  const local = shiftYears(whole + offsetAt(whole, timeZone), years);
  return instantOfWallClock(local, timeZone) + fraction;
}

/** A UTC wall-clock time (ms) moved by whole years, the day of month clamped to the new month's last day. */
function shiftYears(wall: number, years: number): number {
  const d = new Date(wall);
  const year = d.getUTCFullYear() + years;
  const month = d.getUTCMonth();
  d.setUTCFullYear(year, month, Math.min(d.getUTCDate(), daysInMonth(year, month)));
  return d.getTime();
}

/**
 * The instant a local wall-clock time (whole seconds, as if UTC) names in `timeZone`, as
 * PostgreSQL's `DetermineTimeZoneOffset` resolves it: the offsets in force a day before and
 * a day after are the candidates; across a transition, a time in a spring-forward gap takes
 * the offset before it, a time repeated by a fall-back the offset after it.
 */
function instantOfWallClock(local: number, timeZone: string): number {
  const before = offsetAt(local - DAY, timeZone);
  const after = offsetAt(local + DAY, timeZone);
  const beforeTime = local - before;
  if (before === after) return beforeTime;
  const afterTime = local - after;
  const boundary = transitionBetween(local - DAY, local + DAY, before, timeZone);
  if (beforeTime < boundary && afterTime < boundary) return beforeTime;
  if (beforeTime >= boundary && afterTime >= boundary) return afterTime;
  return beforeTime > afterTime ? beforeTime : afterTime;
}

/** The first whole second in (from, to] whose offset is no longer `offset` (binary search: zones change offset at most once in two days). */
function transitionBetween(from: number, to: number, offset: number, timeZone: string): number {
  let lo = from;
  let hi = to;
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (offsetAt(mid, timeZone) === offset) lo = mid;
    else hi = mid;
  }
  return hi;
}

function isUtc(timeZone: string): boolean {
  return /^(Etc\/)?(UTC|UCT|GMT|Zulu|Universal|Greenwich)([+-]?0)?$/i.test(timeZone);
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Days in `month` (0-11) of `year`, proleptic Gregorian as PostgreSQL counts. */
function daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return month === 1 && leap ? 29 : MONTH_DAYS[month];
}

function mod(n: number, m: number): number {
  return ((n % m) + m) % m;
}
