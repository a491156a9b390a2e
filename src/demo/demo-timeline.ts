import { clockAt } from '../common/hospital-time.js';

/**
 * When things happened in the demo hospital: days before the seed, at a wall-clock time of the
 * hospital's time zone (policy `settings.timeZone`). API JSON carries ISO 8601 with the zone's
 * offset (`2026-12-01T09:30:00+08:00`), as a HIS in that zone would send it.
 */
export class DemoTimeline {
  /** The hospital's calendar day of the seed, as [year, month (1-12), day]. */
  private readonly today: [number, number, number];

  constructor(
    readonly now: Date,
    readonly timeZone: string,
  ) {
    const [y, m, d] = clockAt(now.getTime(), timeZone).date.split('-').map(Number);
    this.today = [y, m, d];
  }

  /** `daysAgo` days before the seed's day, at `hour:minute` in the hospital's zone (ISO 8601 with offset). */
  at(daysAgo: number, hour: number, minute = 0): string {
    const [y, m, d] = this.today;
    const wall = Date.UTC(y, m - 1, d - daysAgo, hour, minute);
    // The zone's offset at that wall time (one correction is exact for zones without a change that day).
    const offset = this.offsetMinutes(wall - this.offsetMinutes(wall) * 60_000);
    const sign = offset < 0 ? '-' : '+';
    const abs = Math.abs(offset);
    return `${new Date(wall).toISOString().slice(0, 19)}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
  }

  /** The hospital's calendar day `daysAgo` days before the seed (YYYY-MM-DD). */
  day(daysAgo: number): string {
    return this.at(daysAgo, 12).slice(0, 10);
  }

  /** A birth date for someone `years` old at the seed, born on `month`/`day`. */
  born(years: number, month: number, day: number): string {
    return `${this.today[0] - years}-${pad(month)}-${pad(day)}`;
  }

  /** The zone's UTC offset at `instant` (ms), in minutes east: its wall clock read as UTC, less the instant. */
  private offsetMinutes(instant: number): number {
    const c = clockAt(instant, this.timeZone);
    const [y, m, d] = c.date.split('-').map(Number);
    return Math.round((Date.UTC(y, m - 1, d, c.hour, c.minute, c.second) - Math.floor(instant / 1000) * 1000) / 60_000);
  }
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}
