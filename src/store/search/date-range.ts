/**
 * FHIR date/dateTime/instant values as the instant range they cover at their precision
 * (https://hl7.org/fhir/R4/search.html#date): `2024` covers the whole year, `2024-03-05`
 * the whole day, `2024-03-05T10:00:00+08:00` that second. Values without a time zone are
 * read in `defaultOffset` (the hospital's local zone, configurable).
 */
export interface DateRange {
  /** ISO instant, or '-infinity'. */
  low: string;
  /** ISO instant, or 'infinity'. */
  high: string;
}

/**
 * The offset the search index reads a date written without a zone in (`2024-03-05`: that day's
 * instants at +08:00), at write and at search alike. A fixed convention of the stored rows, not
 * the hospital's `settings.timeZone`: rows must not change meaning when the policy does. Every
 * day a person reads (papers, reports, a case's date range) uses the policy's zone instead
 * (`common/hospital-time.ts`).
 */
export const HOSPITAL_OFFSET = '+08:00';

const DATE_RE = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/** Parses a FHIR date-like string; undefined when it is not one. */
export function dateRange(value: string, defaultOffset = HOSPITAL_OFFSET): DateRange | undefined {
  const m = DATE_RE.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  // Calendar checks Date.UTC would silently roll over (2024-02-31 → 2024-03-02).
  if (mo !== undefined && (Number(mo) < 1 || Number(mo) > 12)) return undefined;
  if (d !== undefined && (Number(d) < 1 || Number(d) > new Date(Date.UTC(Number(y), Number(mo), 0)).getUTCDate())) return undefined;
  if (h !== undefined && (Number(h) > 23 || Number(mi) > 59 || Number(s ?? 0) > 59)) return undefined;
  if (zone && zone !== 'Z' && (Number(zone.slice(1, 3)) > 14 || Number(zone.slice(4, 6)) > 59)) return undefined;
  const offset = zone === 'Z' ? '+00:00' : (zone ?? defaultOffset);
  const offsetMs = zone === 'Z' ? 0 : offsetToMs(offset);
  const year = Number(y);
  let startMs: number;
  let endMs: number;
  if (mo === undefined) {
    startMs = Date.UTC(year, 0, 1);
    endMs = Date.UTC(year + 1, 0, 1);
  } else if (d === undefined) {
    startMs = Date.UTC(year, Number(mo) - 1, 1);
    endMs = Date.UTC(year, Number(mo), 1);
  } else if (h === undefined) {
    startMs = Date.UTC(year, Number(mo) - 1, Number(d));
    endMs = startMs + 86_400_000;
  } else {
    const base = Date.UTC(year, Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? 0));
    const ms = frac ? Math.floor(Number(`0${frac}`) * 1000) : 0;
    startMs = base + ms;
    endMs = s === undefined ? base + 60_000 : frac ? startMs + 1 : base + 1000;
  }
  if (Number.isNaN(startMs) || Number.isNaN(endMs)) return undefined;
  return { low: new Date(startMs - offsetMs).toISOString(), high: new Date(endMs - offsetMs - 1).toISOString() };
}

export function offsetToMs(offset: string): number {
  const sign = offset.startsWith('-') ? -1 : 1;
  const [hh, mm] = offset.slice(1).split(':').map(Number);
  return sign * (hh * 60 + mm) * 60_000;
}
