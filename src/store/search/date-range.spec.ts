import { dateRange } from './date-range.js';

describe('dateRange', () => {
  it('covers a whole day in the given zone', () => {
    expect(dateRange('2024-03-05', '+08:00')).toEqual({ low: '2024-03-04T16:00:00.000Z', high: '2024-03-05T15:59:59.999Z' });
  });
  it('covers a whole year and month', () => {
    expect(dateRange('2024', '+00:00')).toEqual({ low: '2024-01-01T00:00:00.000Z', high: '2024-12-31T23:59:59.999Z' });
    expect(dateRange('2024-02', '+00:00')).toEqual({ low: '2024-02-01T00:00:00.000Z', high: '2024-02-29T23:59:59.999Z' });
  });
  it('reads an explicit zone over the default', () => {
    expect(dateRange('2024-03-05T10:00:00Z', '+08:00')).toEqual({ low: '2024-03-05T10:00:00.000Z', high: '2024-03-05T10:00:00.999Z' });
    expect(dateRange('2024-03-05T10:00:00+08:00')).toEqual({ low: '2024-03-05T02:00:00.000Z', high: '2024-03-05T02:00:00.999Z' });
  });
  it('keeps millisecond precision for instants', () => {
    expect(dateRange('2024-03-05T10:00:00.250Z')).toEqual({ low: '2024-03-05T10:00:00.250Z', high: '2024-03-05T10:00:00.250Z' });
  });
  it('rejects what is not a date', () => {
    expect(dateRange('yesterday')).toBeUndefined();
    expect(dateRange('2024-3-5')).toBeUndefined();
  });
  it('rejects impossible calendar values instead of rolling them over', () => {
    for (const bad of ['2024-13', '2024-00-10', '2024-02-30', '2023-02-29', '2024-04-31', '2024-13-45', '2024-03-05T24:00', '2024-03-05T10:60', '2024-03-05T10:00:61Z', '2024-03-05T10:00+15:00']) {
      expect({ bad, range: dateRange(bad) }).toEqual({ bad, range: undefined });
    }
    expect(dateRange('2024-02-29', '+00:00')).toEqual({ low: '2024-02-29T00:00:00.000Z', high: '2024-02-29T23:59:59.999Z' });
    expect(dateRange('2024-12-31T23:59:59+14:00')).toEqual({ low: '2024-12-31T09:59:59.000Z', high: '2024-12-31T09:59:59.999Z' });
  });
});
