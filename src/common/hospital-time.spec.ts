import { addDays, clockAt, dayEndsAt, dayStartsAt, daysBetween, hospitalClock, hospitalDay, hospitalTime, hospitalTimeOf, instantOfWall, offsetAt, zoneLabel } from './hospital-time.js';

describe('times as people in the hospital read them (policy settings.timeZone)', () => {
  it('an instant reads as the wall clock of the zone, whatever offset the sender wrote', () => {
    for (const sent of ['2026-03-01T00:29:15.616Z', '2026-03-01T08:29:15+08:00', '2026-02-28T19:29:15-05:00']) {
      expect(hospitalTime(sent, 'Asia/Shanghai')).toBe('2026-03-01 08:29');
      expect(hospitalTime(sent, 'Europe/Berlin')).toBe('2026-03-01 01:29');
    }
    expect(hospitalTime('2026-03-01T00:29:15Z', 'UTC')).toBe('2026-03-01 00:29');
  });

  it('a zone with daylight saving reads its summer time; China keeps UTC+8 all year', () => {
    expect(hospitalTime('2026-07-01T10:00:00Z', 'Europe/Berlin')).toBe('2026-07-01 12:00');
    expect(hospitalTime('2026-01-01T10:00:00Z', 'Europe/Berlin')).toBe('2026-01-01 11:00');
    expect(hospitalTime('2026-07-01T10:00:00Z', 'Asia/Shanghai')).toBe('2026-07-01 18:00');
    // Berlin's clocks go forward at 01:00 UTC on 29 March 2026.
    expect(hospitalTime('2026-03-29T00:59:00Z', 'Europe/Berlin')).toBe('2026-03-29 01:59');
    expect(hospitalTime('2026-03-29T01:00:00Z', 'Europe/Berlin')).toBe('2026-03-29 03:00');
  });

  it('a date without a time names a local day and is printed as sent; nothing stays nothing; an unreadable value is printed as sent', () => {
    expect(hospitalTime('2026-03-01', 'Asia/Shanghai')).toBe('2026-03-01');
    expect(hospitalTime('2026-03', 'Asia/Shanghai')).toBe('2026-03');
    expect(hospitalTime(undefined, 'Asia/Shanghai')).toBeUndefined();
    expect(hospitalTime('soon-T-ish', 'Asia/Shanghai')).toBe('soon-T-ish');
    expect(hospitalClock('2026-03-01', 'Asia/Shanghai')).toBeUndefined();
  });

  it('the local day crosses midnight with the zone; an instant whose local day is past 9999-12-31 has no day', () => {
    expect(hospitalDay('2026-02-28T16:00:00Z', 'Asia/Shanghai')).toBe('2026-03-01');
    expect(hospitalDay('2026-02-28T16:00:00Z', 'Europe/Berlin')).toBe('2026-02-28');
    expect(hospitalDay('2026-03-01', 'Europe/Berlin')).toBe('2026-03-01');
    expect(hospitalDay('2026-03', 'Europe/Berlin')).toBeUndefined();
    expect(hospitalClock('2026-02-28T17:45:00Z', 'Asia/Shanghai')).toEqual({ date: '2026-03-01', hour: 1, minute: 45 });
    expect(hospitalClock('9999-12-31T23:00:00Z', 'Asia/Shanghai')).toBeUndefined();
    expect(hospitalClock('9999-12-31T23:00:00Z', 'UTC')).toEqual({ date: '9999-12-31', hour: 23, minute: 0 });
    expect(hospitalClock('0001-01-01T02:00:00Z', 'Asia/Shanghai')?.date).toBe('0001-01-01');
  });

  it('a Date (when a paper was made) reads the same way; the zone is named as a reader knows it', () => {
    expect(hospitalTimeOf(new Date('2026-03-01T00:29:15Z'), 'Asia/Shanghai')).toBe('2026-03-01 08:29');
    expect(hospitalTimeOf(new Date('2026-03-01T00:29:15Z'), 'Europe/Berlin')).toBe('2026-03-01 01:29');
    expect(clockAt(Date.parse('2026-03-01T00:29:15Z'), 'Asia/Shanghai')).toEqual({ date: '2026-03-01', hour: 8, minute: 29, second: 15 });
    expect(zoneLabel('Asia/Shanghai')).toBe('北京时间');
    expect(zoneLabel('PRC')).toBe('北京时间');
    expect(zoneLabel('Europe/Berlin')).toBe('Europe/Berlin');
  });

  it("a local day's first and last instant in the zone: 24 hours, 23 when the clocks go forward, 25 when they go back", () => {
    expect(dayStartsAt('2026-03-01', 'Asia/Shanghai').toISOString()).toBe('2026-02-28T16:00:00.000Z');
    expect(dayEndsAt('2026-03-01', 'Asia/Shanghai').toISOString()).toBe('2026-03-01T15:59:59.999Z');
    expect(dayStartsAt('2026-01-15', 'Europe/Berlin').toISOString()).toBe('2026-01-14T23:00:00.000Z');
    expect(dayStartsAt('2026-07-15', 'Europe/Berlin').toISOString()).toBe('2026-07-14T22:00:00.000Z');
    // Berlin: forward on 29 March 2026, back on 25 October 2026.
    expect(dayEndsAt('2026-03-29', 'Europe/Berlin').getTime() + 1 - dayStartsAt('2026-03-29', 'Europe/Berlin').getTime()).toBe(23 * 3_600_000);
    expect(dayEndsAt('2026-10-25', 'Europe/Berlin').getTime() + 1 - dayStartsAt('2026-10-25', 'Europe/Berlin').getTime()).toBe(25 * 3_600_000);
    expect(dayStartsAt('2026-03-01', 'UTC').toISOString()).toBe('2026-03-01T00:00:00.000Z');
    expect(dayStartsAt('2026-03-01', 'America/New_York').toISOString()).toBe('2026-03-01T05:00:00.000Z');
    // Santiago's clocks jump at midnight (6 September 2026): the day starts at 01:00, when they jump.
    expect(dayStartsAt('2026-09-06', 'America/Santiago').toISOString()).toBe('2026-09-06T04:00:00.000Z');
    expect(clockAt(dayStartsAt('2026-09-06', 'America/Santiago').getTime(), 'America/Santiago')).toMatchObject({ date: '2026-09-06', hour: 1, minute: 0 });
  });

  it("a wall-clock reading's instant and the zone's offset; a repeated hour reads its first instant", () => {
    expect(offsetAt(Date.parse('2026-07-01T00:00:00Z'), 'Europe/Berlin')).toBe(2 * 3_600_000);
    expect(offsetAt(Date.parse('2026-01-01T00:00:00Z'), 'Europe/Berlin')).toBe(3_600_000);
    expect(offsetAt(Date.parse('2026-01-01T00:00:00Z'), 'Asia/Shanghai')).toBe(8 * 3_600_000);
    expect(new Date(instantOfWall(Date.parse('2026-07-01T12:30:15.250Z'), 'Europe/Berlin')).toISOString()).toBe('2026-07-01T10:30:15.250Z');
    // 02:30 happens twice in Berlin on 25 October 2026 (at 00:30Z and at 01:30Z).
    expect(new Date(instantOfWall(Date.parse('2026-10-25T02:30:00Z'), 'Europe/Berlin')).toISOString()).toBe('2026-10-25T00:30:00.000Z');
  });

  it('calendar days: adding and counting across months, leap days and years', () => {
    expect(addDays('2024-02-28', 1)).toBe('2024-02-29');
    expect(addDays('2025-02-28', 1)).toBe('2025-03-01');
    expect(addDays('2025-12-31', 7)).toBe('2026-01-07');
    expect(addDays('2026-03-10', -10)).toBe('2026-02-28');
    expect(daysBetween('2024-02-28', '2024-03-01')).toBe(2);
    expect(daysBetween('2026-03-10', '2026-03-01')).toBe(-9);
  });
});
