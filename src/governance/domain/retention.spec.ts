import { addCalendarYears, keptUntil } from './retention.js';

/**
 * R-18 retention as PostgreSQL computed it (`timestamptz + make_interval(years => n)` in the
 * session's time zone). Every expected value below is PostgreSQL's own answer (psql, PostgreSQL
 * 15), not this code's.
 */
const years = (iso: string, n: number, zone: string) => new Date(addCalendarYears(Date.parse(iso), n, zone)).toISOString();

describe('R-18: calendar years as PostgreSQL adds them', () => {
  it('29 February becomes 28 February in a common year', () => {
    expect(years('2004-02-29T12:00:00Z', 15, 'Etc/UTC')).toBe('2019-02-28T12:00:00.000Z');
  });

  it('the date is the local one: 01:00 on 29 February in Shanghai is still 28 February in UTC', () => {
    expect(years('2004-02-28T17:00:00Z', 1, 'Etc/UTC')).toBe('2005-02-28T17:00:00.000Z');
    expect(years('2004-02-28T17:00:00Z', 1, 'Asia/Shanghai')).toBe('2005-02-27T17:00:00.000Z');
  });

  it('a local time that falls in a spring-forward gap takes the offset before it (China, 15 April 1990); milliseconds are kept', () => {
    expect(years('1960-04-14T18:30:00.250Z', 30, 'Asia/Shanghai')).toBe('1990-04-14T18:30:00.250Z');
    expect(years('2004-03-10T07:30:00Z', 15, 'America/New_York')).toBe('2019-03-10T07:30:00.000Z');
  });

  it('a local time repeated by a fall-back takes the offset after it', () => {
    expect(years('2004-11-03T06:30:00Z', 15, 'America/New_York')).toBe('2019-11-03T06:30:00.000Z');
  });

  it('infinity stays infinity', () => {
    expect(addCalendarYears(8.64e15, 15, 'Etc/UTC')).toBe(Infinity);
    expect(addCalendarYears(-8.64e15, 15, 'Asia/Shanghai')).toBe(-Infinity);
  });

  it('a time zone the runtime does not know is refused by name', () => {
    expect(() => addCalendarYears(0, 1, 'Mars/Olympus_Mons')).toThrow(/Mars\/Olympus_Mons/);
  });
});

describe('R-18: kept until the later of last visit + outpatient years and last discharge + inpatient years', () => {
  const policy = { outpatientYears: 15, inpatientYears: 30 };

  it('the later of the two counts; a missing side is ignored (greatest)', () => {
    const mixed = { lastOutpatient: new Date('2015-06-01T02:00:00Z'), lastInpatient: new Date('1990-01-10T02:00:00Z') };
    expect(keptUntil(mixed, policy, 'Etc/UTC')?.toISOString()).toBe('2030-06-01T02:00:00.000Z');
    expect(keptUntil({ lastInpatient: new Date('2000-01-01T02:00:00Z') }, policy, 'Etc/UTC')?.toISOString()).toBe('2030-01-01T02:00:00.000Z');
  });

  it('nothing to count from, or a visit that never ends: never', () => {
    expect(keptUntil({}, policy, 'Etc/UTC')).toBeUndefined();
    expect(keptUntil({ lastOutpatient: new Date('2005-03-01T15:59:59.999Z'), lastInpatient: new Date(8.64e15) }, policy, 'Etc/UTC')).toBeUndefined();
  });
});
