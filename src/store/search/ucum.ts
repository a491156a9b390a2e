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
 * Units seen, with their conversion (null: not UCUM), least recently used first. Bounded,
 * because the units are whatever writers and searchers send: past the bound the least
 * recently used one is dropped.
 */
const conversions = new Map<string, UnitConversion>();
const MAX_CACHED_UNITS = 2000;

/**
 * The characters of UCUM's case-sensitive grammar (https://ucum.org/ucum#section-Syntax-Rules:
 * atoms, prefixes, `[…]` and `{…}`, `.` and `/`, exponents, `10*3`, `10^3`, `%`, `'`), at most
 * 32 of them: no unit a laboratory system sends is longer. Anything else is not UCUM and never
 * reaches the library.
 */
const UCUM_CODE = /^[A-Za-z0-9./[\]{}()'%*^+\-_]{1,32}$/;

/**
 * Who pays for the units a search or a write names that are not yet converted: each costs a
 * parse by the library, and their number is whatever the caller sends. Counts distinct units
 * (whether cached or not, so the answer does not depend on what others asked before) and calls
 * `refuse` past `max`.
 */
export class UnitBudget {
  private readonly seen = new Set<string>();

  constructor(
    private readonly max: number,
    private readonly refuse: (max: number) => Error,
  ) {}

  use(unit: string): void {
    if (this.seen.has(unit)) return;
    if (this.seen.size >= this.max) throw this.refuse(this.max);
    this.seen.add(unit);
  }
}

function conversionOf(unit: string, budget?: UnitBudget): UnitConversion {
  if (!UCUM_CODE.test(unit)) return null;
  budget?.use(unit);
  let c = conversions.get(unit);
  if (c !== undefined) {
    // Most recently used last: Map keeps insertion order.
    conversions.delete(unit);
    conversions.set(unit, c);
    return c;
  }
  const r = quietly(() => library().convertToBaseUnits(unit, 1));
  c = null;
  if (r.status === 'succeeded' && r.unitToExp && typeof r.magnitude === 'number') {
    const code = canonicalCode(r.unitToExp);
    c = r.fromUnitIsSpecial ? { code, special: true } : { code, factor: r.magnitude };
  }
  if (conversions.size >= MAX_CACHED_UNITS) conversions.delete(conversions.keys().next().value as string);
  conversions.set(unit, c);
  return c;
}

function library(): UcumUtils {
  return (utils ??= ucum.UcumLhcUtils.getInstance());
}

const CONSOLE_METHODS = ['log', 'info', 'warn', 'error', 'debug'] as const;

/**
 * Runs a call into ucum-lhc with the console silenced. The library prints what it cannot parse
 * (`Unit requested for unit string …`) with `console.log`: that is the caller's text on raw
 * stdout, outside the logger and its redaction, one line per unit. The call is synchronous,
 * so nothing else can log while the console is replaced, and `finally` restores it.
 */
function quietly<T>(call: () => T): T {
  // The global console is replaced, never written to (hence no-console does not apply).
  const terminal: Console = console;
  const saved = CONSOLE_METHODS.map((m) => terminal[m]);
  const silent = (): void => undefined;
  for (const m of CONSOLE_METHODS) terminal[m] = silent;
  try {
    return call();
  } finally {
    CONSOLE_METHODS.forEach((m, n) => (terminal[m] = saved[n]));
  }
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
 * single range comparison on the canonical columns. `budget` counts the units named (`UnitBudget`).
 */
export function canonicalRange(code: string, range: NumberRange, budget?: UnitBudget): CanonicalRange | undefined {
  const c = conversionOf(code, budget);
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
    const from = specialMagnitude(code, low);
    const to = high === low ? from : specialMagnitude(code, high);
    if (from === undefined || to === undefined) return undefined;
    a = from;
    b = to;
  }
  // A decreasing conversion (a negative factor, a logarithmic unit) swaps the bounds.
  const lower = rounded(Math.min(a, b));
  // A point (every stored value) rounds once.
  return { code: c.code, low: lower, high: a === b ? lower : rounded(Math.max(a, b)) };
}

/**
 * Values of special units (temperatures, logarithmic units) converted, by unit and value: each
 * is a parse and a conversion by the library, and a ward's values repeat (36.5 Cel, 37.2 Cel…).
 * Bounded like `conversions`; emptied when full (a hit only saves time, a miss converts again).
 */
const specialValues = new Map<string, number | undefined>();
const MAX_CACHED_SPECIAL_VALUES = 4000;

/** The magnitude of `value` `code` in base units, or undefined when the library gives none. */
function specialMagnitude(code: string, value: number): number | undefined {
  // `-0` apart from `0`: the library gets the number itself.
  const key = `${code}\u0000${Object.is(value, -0) ? '-0' : String(value)}`;
  if (specialValues.has(key)) return specialValues.get(key);
  const r = quietly(() => library().convertToBaseUnits(code, value));
  const magnitude = typeof r.magnitude === 'number' ? r.magnitude : undefined;
  if (specialValues.size >= MAX_CACHED_SPECIAL_VALUES) specialValues.clear();
  specialValues.set(key, magnitude);
  return magnitude;
}
