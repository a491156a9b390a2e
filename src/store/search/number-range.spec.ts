import { approximateRange, exactRange, precisionRange } from './number-range.js';

describe('number ranges (R4 search.html#number)', () => {
  it.each([
    ['100', '99.5', '100.5'],
    ['100.00', '99.995', '100.005'],
    ['0.5', '0.45', '0.55'],
    ['-1.5', '-1.55', '-1.45'],
    ['1e2', '50', '150'],
    ['1.5e3', '1450', '1550'],
    ['1e-30', '0.0000000000000000000000000000005', '0.0000000000000000000000000000015'],
    ['0', '-0.5', '0.5'],
  ])('%s stands for [%s, %s), computed on its digits', (text, low, high) => {
    expect(precisionRange(text)).toEqual({ low, high });
  });

  it('an integer is the point it is; ap is ±10%; text that is not a number has no range', () => {
    expect(exactRange('80')).toEqual({ low: '80', high: '80' });
    expect(approximateRange('100')).toEqual({ low: '90', high: '110' });
    expect(approximateRange('-10')).toEqual({ low: '-11', high: '-9' });
    for (const bad of ['', 'abc', '1.', '.5', '1e', '0x10', '1,5', 'Infinity']) expect(precisionRange(bad)).toBeUndefined();
  });
});
