import { createRequire } from 'node:module';
import { jest } from '@jest/globals';
import { canonicalRange, UnitBudget } from './ucum.js';

/** The library itself, as the oracle of a special unit's conversion. */
const library = (createRequire(import.meta.url)('@lhncbc/ucum-lhc') as {
  UcumLhcUtils: { getInstance(): { convertToBaseUnits(unit: string, value: number): { magnitude?: number } } };
}).UcumLhcUtils.getInstance();

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

  it('converts each value of a special unit as the library does, however often it is asked and however many values it met', () => {
    const inKelvin = (unit: string, x: number) => String(Number((library.convertToBaseUnits(unit, x).magnitude as number).toPrecision(12)));
    // More values than are kept (4,000), asked twice: the second round partly from what was kept, partly converted again.
    const values = Array.from({ length: 4500 }, (_, n) => (n - 300) / 10);
    for (let round = 0; round < 2; round++) {
      for (const x of values) {
        const unit = x % 2 === 0 ? 'Cel' : '[degF]';
        expect(canonicalRange(unit, { low: String(x), high: String(x) })).toEqual({ code: 'K', low: inKelvin(unit, x), high: inKelvin(unit, x) });
      }
    }
    expect(canonicalRange('Cel', { low: '-0', high: '0' })).toEqual({ code: 'K', low: inKelvin('Cel', -0), high: inKelvin('Cel', 0) });
    expect(canonicalRange('Cel', { low: '36', high: '38' })).toEqual({ code: 'K', low: '309.15', high: '311.15' });
  });
});

describe('the UCUM library is called quietly and within budget (R-51)', () => {
  it('a unit the library cannot parse writes nothing to the console and converts to nothing', () => {
    const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((m) => jest.spyOn(console, m));
    try {
      // Printable UCUM-grammar characters the library logs about when it fails to parse them.
      for (const unit of ['6-+4_()', `x${Date.now()}{`, "[in_i]'/%"]) expect(canonicalRange(unit, { low: '1', high: '2' })).toBeUndefined();
      for (const spy of spies) expect(spy).not.toHaveBeenCalled();
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    // The console is the caller's again afterwards.
    expect(jest.isMockFunction(console.error)).toBe(false);
  });

  it('refuses before the library sees it: more than 32 characters, or characters outside the grammar', () => {
    expect(canonicalRange('m'.repeat(33), { low: '1', high: '2' })).toBeUndefined();
    expect(canonicalRange('mg dL', { low: '1', high: '2' })).toBeUndefined();
    expect(canonicalRange('mg/dL', { low: '1', high: '2' })?.code).toBe('g.m-3');
  });

  it('a budget counts distinct units and refuses past its bound', () => {
    const budget = new UnitBudget(2, (max) => new Error(`more than ${max}`));
    canonicalRange('mg', { low: '1', high: '1' }, budget);
    canonicalRange('mg', { low: '1', high: '1' }, budget);
    canonicalRange('g', { low: '1', high: '1' }, budget);
    expect(() => canonicalRange('kg', { low: '1', high: '1' }, budget)).toThrow('more than 2');
    // Text that is not UCUM costs nothing.
    expect(canonicalRange('not a unit', { low: '1', high: '1' }, budget)).toBeUndefined();
  });
});
