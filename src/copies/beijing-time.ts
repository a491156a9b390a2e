/**
 * Times as a Chinese hospital prints them: Beijing time (UTC+8, no daylight saving), whatever
 * offset the HIS sent. FHIR dates without a time (`2026-03-01`, `2026-03`) are printed as sent:
 * they name a local day, not an instant.
 */

const OFFSET_MS = 8 * 3_600_000;

/** The Beijing calendar day and hour of an instant, or undefined for a date without a time or an unreadable value. */
export function beijingClock(value: string | undefined): { date: string; hour: number; minute: number } | undefined {
  if (!value || !value.includes('T')) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return undefined;
  const local = new Date(ms + OFFSET_MS);
  const date = local.toISOString().slice(0, 10);
  // An instant late on 9999-12-31 (UTC) falls in year 10000 in Beijing: no FHIR day, so not placed on a day.
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) return undefined;
  return { date, hour: local.getUTCHours(), minute: local.getUTCMinutes() };
}

/** `YYYY-MM-DD HH:mm` in Beijing time; a date without a time as sent; undefined stays undefined. */
export function beijingTime(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const clock = beijingClock(value);
  if (!clock) return value;
  return `${clock.date} ${String(clock.hour).padStart(2, '0')}:${String(clock.minute).padStart(2, '0')}`;
}

/** The calendar day `days` after `date` (`YYYY-MM-DD`). */
export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}

/** Whole days from `from` to `to` (both `YYYY-MM-DD`). */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}
