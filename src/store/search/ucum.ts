import { createRequire } from 'node:module';
import type { NumberRange } from './number-range.js';

/** The UCUM code system: only its codes convert (https://hl7.org/fhir/R4/search.html#quantity). */
export const UCUM_SYSTEM = 'http://unitsofmeasure.org';

/** A quantity's range in the canonical unit of its dimension (`g.m-3` for both `mg/dL` and `g/L`). */
export interface CanonicalRange extends NumberRange {
  /** The base-unit expression, e.g. `g.m-3`, `K`, `s-1`; `1` when dimensionless. */
  code: string;
}

interface UcumConversion {
  status: string;
  magnitude?: number;
  unitToExp?: Record<string, number>;
  fromUnitIsSpecial?: boolean;
}
interface UcumUtils {
  convertToBaseUnits(unit: string, value: number): UcumConversion;
}

// @lhncbc/ucum-lhc (NLM) is CommonJS without type declarations: loaded with require, typed here.
const ucum = createRequire(import.meta.url)('@lhncbc/ucum-lhc') as { UcumLhcUtils: { getInstance(): UcumUtils } };
let utils: UcumUtils | undefined;

/** What a unit converts to: a factor, or (temperatures and other special units) a conversion per value. */
type UnitConversion = { code: string; factor: number } | { code: string; special: true } | null;

/**
 * Units seen, with their conversion (null: not UCUM). Bounded, because the units are whatever
 * writers and searchers send: at the bound it starts again rather than growing.
 */
const conversions = new Map<string, UnitConversion>();
const MAX_CACHED_UNITS = 2000;

/**
 * UCUM codes are printable ASCII without spaces. Anything else is refused before the library
 * sees it: its parser logs what it cannot parse to the console, and units are the caller's text.
 */
const UCUM_CODE = /^[!-~]{1,64}$/;

function conversionOf(unit: string): UnitConversion {
  if (!UCUM_CODE.test(unit)) return null;
  let c = conversions.get(unit);
  if (c !== undefined) return c;
  utils ??= ucum.UcumLhcUtils.getInstance();
  const r = utils.convertToBaseUnits(unit, 1);
  c = null;
  if (r.status === 'succeeded' && r.unitToExp && typeof r.magnitude === 'number') {
    const code = canonicalCode(r.unitToExp);
    c = r.fromUnitIsSpecial ? { code, special: true } : { code, factor: r.magnitude };
  }
  if (conversions.size >= MAX_CACHED_UNITS) conversions.clear();
  conversions.set(unit, c);
  return c;
}

/** `{g: 1, m: -3}` → `g.m-3` (dimensions in a fixed order, so equal dimensions give equal codes). */
function canonicalCode(exponents: Record<string, number>): string {
  const parts = Object.keys(exponents)
    .filter((k) => exponents[k] !== 0)
    .sort()
    .map((k) => (exponents[k] === 1 ? k : `${k}${exponents[k]}`));
  return parts.length ? parts.join('.') : '1';
}

/**
 * Converting bounds multiplies floating-point numbers: rounding to 12 significant digits
 * removes the noise (`0.995 × 1000` and `99.5 × 10` both give `995`), so a bound converted
 * from one unit equals the same bound converted from another.
 */
function rounded(x: number): string {
  return String(Number(x.toPrecision(12)));
}

/**
 * The range of a UCUM quantity in its dimension's canonical unit, or undefined when the code
 * is not UCUM (or does not parse). Write time and query time both use this, so a search is a
 * single range comparison on the canonical columns.
 */
export function canonicalRange(code: string, range: NumberRange): CanonicalRange | undefined {
  const c = conversionOf(code);
  if (!c) return undefined;
  const low = Number(range.low);
  const high = Number(range.high);
  if (!Number.isFinite(low) || !Number.isFinite(high)) return undefined;
  let a: number;
  let b: number;
  if ('factor' in c) {
    a = low * c.factor;
    b = high * c.factor;
  } else {
    const from = (utils as UcumUtils).convertToBaseUnits(code, low);
    const to = (utils as UcumUtils).convertToBaseUnits(code, high);
    if (typeof from.magnitude !== 'number' || typeof to.magnitude !== 'number') return undefined;
    a = from.magnitude;
    b = to.magnitude;
  }
  // A decreasing conversion (a negative factor, a logarithmic unit) swaps the bounds.
  return { code: c.code, low: rounded(Math.min(a, b)), high: rounded(Math.max(a, b)) };
}
