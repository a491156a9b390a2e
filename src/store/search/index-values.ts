import type { FhirPathAtom, TypedValue } from '@medplum/core';
import { parseReference } from '../../common/fhir-reference.js';
import { compiledPath } from './compiled-path.js';
import { dateRange, type DateRange } from './date-range.js';
import { exactRange, type NumberRange } from './number-range.js';
import { canonicalRange, UCUM_SYSTEM, type CanonicalRange, type UnitBudget } from './ucum.js';

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
  if (atoms.length === 1) return valuesOf(atoms[0], input, memo);
  const out: TypedValue[] = [];
  for (const atom of atoms) for (const v of valuesOf(atom, input, memo)) out.push(v);
  return out;
}

function valuesOf(atom: FhirPathAtom, input: TypedValue[], memo?: Map<FhirPathAtom, TypedValue[]>): TypedValue[] {
  if (!memo) return tryEvaluate(atom, input);
  let values = memo.get(atom);
  if (!values) memo.set(atom, (values = tryEvaluate(atom, input)));
  return values;
}

function tryEvaluate(atom: FhirPathAtom, input: TypedValue[]): TypedValue[] {
  try {
    return compiledPath(atom)(input);
  } catch {
    return [];
  }
}

/** Lower case, accents removed, trimmed: how string search compares (R4 search.html#string). */
export function normalizeString(s: string): string {
  return s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().trim();
}

/**
 * How much of a string is indexed and compared: index rows live in btree indexes, whose rows
 * PostgreSQL caps at 2704 bytes (a longer value fails the whole write, PG 54000). A string's
 * row keeps its first 256 normalised characters (at most 768 UTF-8 bytes), and a searched
 * string is cut the same way, so a search compares the first 256 characters: a prefix search
 * finds a long text by any prefix of it, `:contains` looks within those characters, and
 * `:exact` still compares the whole text (the `exact` column is in no index).
 */
export const MAX_STRING_CHARS = 256;

/** The normalised, bounded form of a string that its index row keeps and its search compares. */
export function indexedString(s: string): string {
  const n = normalizeString(s);
  if (n.length <= MAX_STRING_CHARS) return n;
  // Never split a surrogate pair: a lone surrogate is not valid text for PostgreSQL.
  const end = /[\ud800-\udbff]/.test(n[MAX_STRING_CHARS - 1]) ? MAX_STRING_CHARS - 1 : MAX_STRING_CHARS;
  return n.slice(0, end);
}

/**
 * Most UTF-8 bytes of the texts a token-like row (token, quantity, composite) keeps in index
 * keys. Past it the row is left out, so the resource is stored but is not found by that value:
 * cutting a code would make it equal to other codes and find what it does not carry. 1024
 * bytes leave room, under the btree's 2704, for the row's type, id, parameter and numbers.
 */
export const MAX_KEY_BYTES = 1024;

/** Whether a row's key texts fit an index row (`MAX_KEY_BYTES`). */
export function fitsIndex(...texts: (string | null | undefined)[]): boolean {
  let bytes = 0;
  for (const t of texts) if (t) bytes += Buffer.byteLength(t, 'utf8');
  return bytes <= MAX_KEY_BYTES;
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

/** A Reference as indexed: the record it names, in any form `parseReference` reads (a version is not kept). */
export function referenceOf(v: TypedValue): { targetType: string; targetId: string } | undefined {
  const ref = (v.value as { reference?: unknown } | undefined)?.reference;
  const target = typeof ref === 'string' ? parseReference(ref) : undefined;
  return target && { targetType: target.type, targetId: target.id };
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

/**
 * A number element as indexed: the point it is (R4 search.html#number). R4 says the stored
 * value's precision SHOULD be considered too; it is not, as in HAPI: the resource was parsed
 * into a binary number, so `37.0` and `37` are the same stored value, and indexing either as a
 * precision range ([36.95, 37.05) or [36.5, 37.5)) would make `eq` miss one of the values the
 * sender wrote. Only the SEARCHED value's precision counts: `37.0` is [36.95, 37.05), `37` is
 * [36.5, 37.5), both containing the stored 37; `36.95` is [36.945, 36.955), which does not.
 */
export function numberRangeOf(v: TypedValue): NumberRange | undefined {
  if (typeof v.value !== 'number' || !Number.isFinite(v.value)) return undefined;
  return exactRange(String(v.value));
}

const MONEY_SYSTEM = 'urn:iso:std:iso:4217';

/**
 * The quantities of one extraction, by value: a value is read by several parameters
 * (`value-quantity`, `combo-value-quantity`, the composites), each of which would convert it.
 */
export type QuantityMemo = Map<object, { type: string; values: QuantityValue[] }>;

/**
 * Quantities (Age, Duration, Money… and both ends of a Range) as indexed (R4 search.html#quantity).
 * With `memo`, a value already converted (as the same type) is not converted again; its units
 * were counted by `units` then.
 */
export function quantitiesOf(v: TypedValue, units?: UnitBudget, memo?: QuantityMemo): QuantityValue[] {
  const o = v.value as Record<string, unknown> | null | undefined;
  if (!o || typeof o !== 'object') return [];
  if (!memo) return quantitiesOfObject(v.type, o, units);
  const kept = memo.get(o);
  if (kept?.type === v.type) return kept.values;
  const values = quantitiesOfObject(v.type, o, units);
  memo.set(o, { type: v.type, values });
  return values;
}

function quantitiesOfObject(type: string, o: Record<string, unknown>, units?: UnitBudget): QuantityValue[] {
  if (type === 'Range') {
    const low = quantityOf(o.low as Record<string, unknown> | undefined, units);
    const high = quantityOf(o.high as Record<string, unknown> | undefined, units);
    const unitOf = low ?? high;
    if (!unitOf) return [];
    // One range from the low end's low bound to the high end's high bound, in the unit they share.
    if (low && high && (low.system !== high.system || low.code !== high.code)) return [low, high];
    const { system, code, unit } = unitOf;
    return [withCanonical({ system, code, unit, low: low?.low ?? '-Infinity', high: high?.high ?? 'Infinity' }, units)];
  }
  if (type === 'Money') {
    const m = quantityOf({ value: o.value, system: MONEY_SYSTEM, code: o.currency }, units);
    return m ? [m] : [];
  }
  const q = quantityOf(o, units);
  return q ? [q] : [];
}

function quantityOf(o: Record<string, unknown> | undefined, units?: UnitBudget): QuantityValue | undefined {
  if (!o || typeof o.value !== 'number' || !Number.isFinite(o.value)) return undefined;
  // A point, as numbers are (`numberRangeOf`): the searched value's precision is what counts.
  const range = exactRange(String(o.value));
  if (!range) return undefined;
  return withCanonical({ ...range, system: str(o.system), code: str(o.code), unit: str(o.unit) }, units);
}

function withCanonical(q: QuantityValue, units?: UnitBudget): QuantityValue {
  if (q.system !== UCUM_SYSTEM || q.code === '' || !Number.isFinite(Number(q.low)) || !Number.isFinite(Number(q.high))) return q;
  const canonical = canonicalRange(q.code, q, units);
  return canonical ? { ...q, canonical } : q;
}

function str(x: unknown): string {
  return typeof x === 'string' ? x : '';
}
