import { canonicalRange } from './ucum.js';

describe('canonical UCUM ranges (R4 search.html#quantity)', () => {
  it('puts units of one dimension on one scale: mg/dL, g/L and kg/m3 agree bound for bound', () => {
    expect(canonicalRange('mg/dL', { low: '99.5', high: '100.5' })).toEqual({ code: 'g.m-3', low: '995', high: '1005' });
    expect(canonicalRange('g/L', { low: '0.995', high: '1.005' })).toEqual({ code: 'g.m-3', low: '995', high: '1005' });
    expect(canonicalRange('kg/m3', { low: '0.995', high: '1.005' })).toEqual({ code: 'g.m-3', low: '995', high: '1005' });
  });

  it('converts special units by value (temperatures have an offset), and refuses what is not UCUM', () => {
    const celsius = canonicalRange('Cel', { low: '36.95', high: '37.05' });
    expect(celsius).toEqual({ code: 'K', low: '310.1', high: '310.2' });
    const fahrenheit = canonicalRange('[degF]', { low: '98.5', high: '98.7' });
    expect(fahrenheit?.code).toBe('K');
    expect(Number(fahrenheit?.low)).toBeCloseTo(310.1, 1);
    expect(canonicalRange('mm[Hg]', { low: '119.5', high: '120.5' })?.code).toBe('g.m-1.s-2');
    expect(canonicalRange('%', { low: '95', high: '96' })).toEqual({ code: '1', low: '0.95', high: '0.96' });
    expect(canonicalRange('beats per minute', { low: '1', high: '2' })).toBeUndefined();
  });
});
