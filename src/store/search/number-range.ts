/**
 * Numbers as the range their precision implies (https://hl7.org/fhir/R4/search.html#number):
 * `100` stands for [99.5, 100.5), `100.00` for [99.995, 100.005), `1e2` (one significant figure)
 * for [50, 150). The bounds are exact decimal strings (computed on the digits, never in binary
 * floating point), bound as `numeric`, so a bound compares equal to the one a query computes.
 */
export interface NumberRange {
  /** Inclusive lower bound, a decimal string. */
  low: string;
  /** Upper bound, a decimal string: exclusive for a precision range, equal to `low` for an exact value. */
  high: string;
}

const DECIMAL = /^([+-]?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/** Significand digits and scale of a decimal text: its value is `digits × 10^-scale`. */
function parseDecimal(text: string): { digits: bigint; scale: number } | undefined {
  const m = DECIMAL.exec(text.trim());
  if (!m) return undefined;
  const [, sign, int, frac = '', exp = '0'] = m;
  const scale = frac.length - Number(exp);
  if (!Number.isSafeInteger(scale) || Math.abs(scale) > 1000) return undefined;
  const digits = BigInt(`${int}${frac}`);
  return { digits: sign === '-' ? -digits : digits, scale };
}

/** `digits × 10^-scale` as a plain decimal string (no exponent: PostgreSQL's numeric reads it exactly). */
function formatDecimal(digits: bigint, scale: number): string {
  const negative = digits < 0n;
  let s = (negative ? -digits : digits).toString();
  if (scale <= 0) s += '0'.repeat(-scale);
  else {
    s = s.padStart(scale + 1, '0');
    s = `${s.slice(0, s.length - scale)}.${s.slice(s.length - scale)}`;
  }
  return negative && /[1-9]/.test(s) ? `-${s}` : s;
}

/** The range a decimal text stands for at its precision; undefined when it is not a number. */
export function precisionRange(text: string): NumberRange | undefined {
  const d = parseDecimal(text);
  if (!d) return undefined;
  // Half a unit of the last digit either side: (10·digits ± 5) × 10^-(scale+1).
  return { low: formatDecimal(d.digits * 10n - 5n, d.scale + 1), high: formatDecimal(d.digits * 10n + 5n, d.scale + 1) };
}

/** An exact value as a one-point range (integers in resources compare exactly, R4 search.html#number). */
export function exactRange(text: string): NumberRange | undefined {
  const d = parseDecimal(text);
  if (!d) return undefined;
  const v = formatDecimal(d.digits, d.scale);
  return { low: v, high: v };
}

/**
 * `ap` (approximately): R4 recommends 10% of the stated value either side. Computed in
 * floating point: an approximation needs no exact bound.
 */
export function approximateRange(text: string): NumberRange | undefined {
  const v = Number(text);
  if (!precisionRange(text) || !Number.isFinite(v)) return undefined;
  const margin = Math.abs(v) * 0.1;
  return { low: String(v - margin), high: String(v + margin) };
}

