import { evalFhirPathTyped, type FhirPathAtom, type TypedValue } from '@medplum/core';
import { dateRange, type DateRange } from './date-range.js';
import { exactRange, precisionRange, type NumberRange } from './number-range.js';
import { canonicalRange, UCUM_SYSTEM, type CanonicalRange } from './ucum.js';

/*
 * What one FHIRPath result value contributes to each kind of index row
 * (https://hl7.org/fhir/R4/search.html#ptypes). Shared by plain parameters
 * (`search-index.extractor.ts`) and the components of composite ones (`composite.ts`).
 */

/** A quantity as indexed: its range as given, and in canonical UCUM units when it converts. */
export interface QuantityValue extends NumberRange {
  system: string;
  code: string;
  unit: string;
  canonical?: CanonicalRange;
}

/**
 * The values of an expression's alternatives; one that cannot apply to the input's shape yields
 * none. `memo` (one resource's extraction) keeps each alternative's values: parameters share
 * alternatives (the registry parses each text once), so each is evaluated once.
 */
export function evaluate(atoms: readonly FhirPathAtom[], input: TypedValue[], memo?: Map<FhirPathAtom, TypedValue[]>): TypedValue[] {
  const one = (atom: FhirPathAtom): TypedValue[] => {
    if (!memo) return tryEvaluate(atom, input);
    let values = memo.get(atom);
    if (!values) memo.set(atom, (values = tryEvaluate(atom, input)));
    return values;
  };
  return atoms.length === 1 ? one(atoms[0]) : atoms.flatMap(one);
}

function tryEvaluate(atom: FhirPathAtom, input: TypedValue[]): TypedValue[] {
  try {
    return evalFhirPathTyped(atom, input);
  } catch {
    return [];
  }
}

/** Lower case, accents removed, trimmed: how string search compares (R4 search.html#string). */
export function normalizeString(s: string): string {
  return s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().trim();
}

export function tokensOf(v: TypedValue): { system: string; code: string }[] {
  const value = v.value as unknown;
  if (value === null || value === undefined) return [];
  if (typeof value !== 'object') return [{ system: '', code: String(value) }];
  const o = value as Record<string, unknown>;
  switch (v.type) {
    case 'CodeableConcept':
      return ((o.coding as Record<string, unknown>[] | undefined) ?? [])
        .filter((c) => c.code !== undefined)
        .map((c) => ({ system: String(c.system ?? ''), code: String(c.code) }));
    case 'Coding':
      return o.code === undefined ? [] : [{ system: String(o.system ?? ''), code: String(o.code) }];
    case 'Identifier':
    case 'ContactPoint':
      return o.value === undefined ? [] : [{ system: String(o.system ?? ''), code: String(o.value) }];
    default:
      return [];
  }
}

/**
 * The text a token carries, for `:text` (R4 search.html#modifiers): a CodeableConcept's text and
 * its codings' displays, a Coding's display, an Identifier's type text.
 */
export function displaysOf(v: TypedValue): string[] {
  const o = v.value as Record<string, unknown> | null | undefined;
  if (!o || typeof o !== 'object') return [];
  const out: string[] = [];
  const push = (x: unknown) => {
    if (typeof x === 'string' && x.trim() !== '') out.push(x);
  };
  switch (v.type) {
    case 'CodeableConcept':
      push(o.text);
      for (const c of (o.coding as Record<string, unknown>[] | undefined) ?? []) push(c.display);
      break;
    case 'Coding':
      push(o.display);
      break;
    case 'Identifier':
      push((o.type as Record<string, unknown> | undefined)?.text);
      break;
  }
  return out;
}

export function stringsOf(v: TypedValue): string[] {
  const value = v.value as unknown;
  if (typeof value === 'string') return [value];
  if (!value || typeof value !== 'object') return [];
  const o = value as Record<string, unknown>;
  const out: string[] = [];
  const keys = v.type === 'HumanName'
    ? ['text', 'family', 'given', 'prefix', 'suffix']
    : v.type === 'Address'
      ? ['text', 'line', 'city', 'district', 'state', 'postalCode', 'country']
      : [];
  for (const k of keys) {
    const x = o[k];
    if (typeof x === 'string') out.push(x);
    else if (Array.isArray(x)) out.push(...x.filter((e): e is string => typeof e === 'string'));
  }
  if (v.type === 'HumanName' && typeof o.family === 'string' && Array.isArray(o.given)) {
    // Chinese names are searched whole, family first ("张三"), as well as by part.
    out.push(`${o.family}${(o.given as string[]).join('')}`);
  }
  return out;
}

const RELATIVE_REF = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/;

export function referenceOf(v: TypedValue): { targetType: string; targetId: string } | undefined {
  const ref = (v.value as { reference?: unknown } | undefined)?.reference;
  if (typeof ref !== 'string' || ref.startsWith('#') || ref.startsWith('urn:')) return undefined;
  const m = RELATIVE_REF.exec(ref);
  return m ? { targetType: m[1], targetId: m[2] } : undefined;
}

export function dateRangeOf(v: TypedValue, defaultOffset?: string): DateRange | undefined {
  const value = v.value as unknown;
  if (typeof value === 'string') return dateRange(value, defaultOffset);
  if (v.type === 'Period' && value && typeof value === 'object') {
    const p = value as { start?: string; end?: string };
    const start = p.start ? dateRange(p.start, defaultOffset) : undefined;
    const end = p.end ? dateRange(p.end, defaultOffset) : undefined;
    if (!start && !end) return undefined;
    return { low: start?.low ?? '-infinity', high: end?.high ?? 'infinity' };
  }
  return undefined;
}

const INTEGER_TYPES = new Set(['integer', 'positiveInt', 'unsignedInt']);

/** A number element's range: exact for integers, its precision's range for decimals (R4 search.html#number). */
export function numberRangeOf(v: TypedValue): NumberRange | undefined {
  if (typeof v.value !== 'number' || !Number.isFinite(v.value)) return undefined;
  // The parsed number's shortest form: `1.50` was read as 1.5, so its range is the wider one of `1.5`.
  return INTEGER_TYPES.has(v.type) ? exactRange(String(v.value)) : precisionRange(String(v.value));
}

const MONEY_SYSTEM = 'urn:iso:std:iso:4217';

/** Quantities (Age, Duration, Money… and both ends of a Range) as indexed (R4 search.html#quantity). */
export function quantitiesOf(v: TypedValue): QuantityValue[] {
  const o = v.value as Record<string, unknown> | null | undefined;
  if (!o || typeof o !== 'object') return [];
  if (v.type === 'Range') {
    const low = quantityOf(o.low as Record<string, unknown> | undefined);
    const high = quantityOf(o.high as Record<string, unknown> | undefined);
    const unitOf = low ?? high;
    if (!unitOf) return [];
    // One range from the low end's low bound to the high end's high bound, in the unit they share.
    if (low && high && (low.system !== high.system || low.code !== high.code)) return [low, high];
    const { system, code, unit } = unitOf;
    return [withCanonical({ system, code, unit, low: low?.low ?? '-Infinity', high: high?.high ?? 'Infinity' })];
  }
  if (v.type === 'Money') {
    const m = quantityOf({ value: o.value, system: MONEY_SYSTEM, code: o.currency });
    return m ? [m] : [];
  }
  const q = quantityOf(o);
  return q ? [q] : [];
}

function quantityOf(o: Record<string, unknown> | undefined): QuantityValue | undefined {
  if (!o || typeof o.value !== 'number' || !Number.isFinite(o.value)) return undefined;
  const range = precisionRange(String(o.value));
  if (!range) return undefined;
  return withCanonical({ ...range, system: str(o.system), code: str(o.code), unit: str(o.unit) });
}

function withCanonical(q: QuantityValue): QuantityValue {
  if (q.system !== UCUM_SYSTEM || q.code === '' || !Number.isFinite(Number(q.low)) || !Number.isFinite(Number(q.high))) return q;
  const canonical = canonicalRange(q.code, q);
  return canonical ? { ...q, canonical } : q;
}

function str(x: unknown): string {
  return typeof x === 'string' ? x : '';
}
