/**
 * Times as people in the hospital read them: the wall clock of the hospital's time zone
 * (policy `settings.timeZone`, default Asia/Shanghai), whatever offset the HIS sent. FHIR
 * dates without a time (`2026-03-01`, `2026-03`) are printed as sent: they name a local day,
 * not an instant. API JSON never goes through here: it keeps ISO 8601 with offsets.
 */

/** A wall-clock reading: the local calendar day, hour and minute. */
export interface WallClock {
  date: string;
  hour: number;
  minute: number;
}

const formats = new Map<string, Intl.DateTimeFormat>();

/** One formatter per zone, made once: building an Intl format is far dearer than using it. A zone the runtime does not know is refused by name. */
function formatIn(timeZone: string): Intl.DateTimeFormat {
  let f = formats.get(timeZone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-CA', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
      });
    } catch (e) {
      throw new RangeError(`time zone ${JSON.stringify(timeZone)} is not one this runtime knows (an IANA name such as Asia/Shanghai)`, { cause: e });
    }
    formats.set(timeZone, f);
  }
  return f;
}

/** The wall clock in `timeZone` of an instant (ms since the epoch). */
export function clockAt(ms: number, timeZone: string): WallClock & { second: number } {
  const parts: Record<string, string> = {};
  for (const p of formatIn(timeZone).formatToParts(ms)) parts[p.type] = p.value;
  return {
    date: `${parts.year.padStart(4, '0')}-${parts.month}-${parts.day}`,
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    second: Number(parts.second),
  };
}

/**
 * The local day, hour and minute in `timeZone` of a FHIR instant or dateTime with a time;
 * undefined for a date without a time, an unreadable value, or an instant whose local day
 * is not a FHIR day (past 9999-12-31).
 */
export function hospitalClock(value: string | undefined, timeZone: string): WallClock | undefined {
  if (!value || !value.includes('T')) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return undefined;
  const { date, hour, minute } = clockAt(ms, timeZone);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) return undefined;
  return { date, hour, minute };
}

/** `YYYY-MM-DD HH:mm` in `timeZone`; a date without a time as sent; undefined stays undefined. */
export function hospitalTime(value: string | undefined, timeZone: string): string | undefined {
  if (!value) return undefined;
  const clock = hospitalClock(value, timeZone);
  if (!clock) return value;
  return `${clock.date} ${pad(clock.hour)}:${pad(clock.minute)}`;
}

/** The local day in `timeZone` of an instant, or a date sent without a time as it is; undefined otherwise. */
export function hospitalDay(value: string | undefined, timeZone: string): string | undefined {
  return hospitalClock(value, timeZone)?.date ?? (/^\d{4}-\d{2}-\d{2}$/.test(value ?? '') ? value : undefined);
}

/** `YYYY-MM-DD HH:mm` in `timeZone` of a Date (when a paper was produced, a seal was made). */
export function hospitalTimeOf(at: Date, timeZone: string): string {
  const c = clockAt(at.getTime(), timeZone);
  return `${c.date} ${pad(c.hour)}:${pad(c.minute)}`;
}

/** `YYYY-MM-DD HH:mm 北京时间` (or the zone's IANA name): an instant as a line of a paper or an explanation states it, zone named. */
export function hospitalTimeNamed(at: Date, timeZone: string): string {
  return `${hospitalTimeOf(at, timeZone)} ${zoneLabel(timeZone)}`;
}

/** How a paper names the zone its times are in: `北京时间` for China's zone, else the IANA name. */
export function zoneLabel(timeZone: string): string {
  return CHINA_ZONES.has(timeZone) ? '北京时间' : timeZone;
}

/** The zones that keep China Standard Time (UTC+8), which people call Beijing time. */
const CHINA_ZONES: ReadonlySet<string> = new Set(['Asia/Shanghai', 'Asia/Chongqing', 'Asia/Harbin', 'PRC', 'Asia/Chungking']);

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/**
 * Port: the hospital's time zone in force (policy `settings.timeZone`), for a feature that
 * states times to people but knows nothing of the policy (the audit trail). Bound to the
 * policy in force, so a reloaded zone applies at once.
 */
export abstract class HospitalTimeZone {
  /** An IANA zone name, e.g. Asia/Shanghai. */
  abstract readonly timeZone: string;
}

const DAY_MS = 86_400_000;

/** The wall clock in `timeZone` at `ms`, as the UTC instant with the same fields (milliseconds kept). */
function wallAt(ms: number, timeZone: string): number {
  const c = clockAt(ms, timeZone);
  const [year, month, day] = c.date.split('-').map(Number);
  // setUTCFullYear, not Date.UTC (which reads years 0–99 as 1900–1999); a five-digit year too.
  const midnight = new Date(0);
  midnight.setUTCFullYear(year, month - 1, day);
  return midnight.getTime() + ((c.hour * 60 + c.minute) * 60 + c.second) * 1000 + (((ms % 1000) + 1000) % 1000);
}

/** `timeZone`'s offset from UTC at the instant `ms`, in ms (positive east of Greenwich). */
export function offsetAt(ms: number, timeZone: string): number {
  return wallAt(ms, timeZone) - ms;
}

/**
 * The instant (ms) a wall-clock reading in `timeZone` names (`wall`: the UTC instant with the
 * same fields): the earlier of the two in an hour the clocks repeat; in an hour they skip, the
 * instant read that much later (as Temporal's `compatible`), so a day starting in a skipped hour
 * starts when the clocks jump.
 */
export function instantOfWall(wall: number, timeZone: string): number {
  // The zone's offsets a day either side: a transition between them lies within (zones change at most once a day).
  const candidates = [...new Set([wall - offsetAt(wall - DAY_MS, timeZone), wall - offsetAt(wall + DAY_MS, timeZone)])].filter(Number.isFinite).sort((a, b) => a - b);
  return candidates.find((t) => wallAt(t, timeZone) === wall) ?? candidates.find((t) => wallAt(t, timeZone) > wall) ?? wall - offsetAt(wall, timeZone);
}

/** The first instant of the local day `date` (`YYYY-MM-DD`) in `timeZone`. */
export function dayStartsAt(date: string, timeZone: string): Date {
  return new Date(instantOfWall(Date.parse(`${date}T00:00:00Z`), timeZone));
}

/** The last millisecond of the local day `date` (`YYYY-MM-DD`) in `timeZone`: a day is 23, 24 or 25 hours long. */
export function dayEndsAt(date: string, timeZone: string): Date {
  return new Date(dayStartsAt(addDays(date, 1), timeZone).getTime() - 1);
}

/** The calendar day `days` after `date` (`YYYY-MM-DD`). */
export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}

/** Whole days from `from` to `to` (both `YYYY-MM-DD`). */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}
