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

const formats = new Map<string, Intl.DateTimeFormat>();

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
  const local = shiftYears(wallClock(instant - fraction, timeZone), years);
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

/** `timeZone`'s offset from UTC at `instant` (ms, whole seconds). */
function offsetAt(instant: number, timeZone: string): number {
  const whole = instant - mod(instant, 1000);
  return wallClock(whole, timeZone) - whole;
}

/** The wall-clock time in `timeZone` at `instant` (whole seconds), as the UTC instant with the same fields. */
function wallClock(instant: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const p of format(timeZone).formatToParts(new Date(instant))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const d = new Date(0);
  d.setUTCFullYear(parts.year, parts.month - 1, parts.day);
  d.setUTCHours(parts.hour, parts.minute, parts.second, 0);
  return d.getTime();
}

function format(timeZone: string): Intl.DateTimeFormat {
  let f = formats.get(timeZone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone,
        calendar: 'gregory',
        numberingSystem: 'latn',
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch (e) {
      throw new RangeError(`time zone ${JSON.stringify(timeZone)} is not one this runtime knows (an IANA name such as Asia/Shanghai)`, { cause: e });
    }
    formats.set(timeZone, f);
  }
  return f;
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
