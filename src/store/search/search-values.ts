import { parseReference as parseFhirReference } from '../../common/fhir-reference.js';
import { StoreError, StoreErrorCode } from '../store.errors.js';
import { dateRange, type DateRange } from './date-range.js';
import { indexedString } from './index-values.js';
import { approximateRange, precisionRange, type NumberRange } from './number-range.js';
import type { ComponentParamType, SearchParamDef } from './search-parameter.registry.js';
import { canonicalRange, UCUM_SYSTEM, UnitBudget, type CanonicalRange } from './ucum.js';

/*
 * The values of one search parameter as a query writes them (https://hl7.org/fhir/R4/search.html),
 * parsed and checked: a value that cannot be read is refused, never matched loosely.
 */

/** Date comparison prefixes (R4 search.html#prefix). */
export type DatePrefix = 'eq' | 'ne' | 'gt' | 'lt' | 'ge' | 'le' | 'sa' | 'eb';

/** Number and quantity prefixes: the date ones and `ap` (approximately, ±10%). */
export type NumberPrefix = DatePrefix | 'ap';

/** One value of a criterion; values of one criterion are OR-ed. */
export type CriterionValue =
  | { kind: 'token'; system?: string; code?: string }
  | { kind: 'string'; value: string }
  | { kind: 'reference'; targetType?: string; targetId: string }
  | { kind: 'date'; prefix: DatePrefix; range: DateRange }
  | { kind: 'number'; prefix: NumberPrefix; range: NumberRange }
  /** `canonical`: the searched range in canonical UCUM units, when the query's unit converts. */
  | { kind: 'quantity'; prefix: NumberPrefix; range: NumberRange; system?: string; code?: string; canonical?: CanonicalRange }
  /** One value per component, matched on the same element (`code$value`). */
  | { kind: 'composite'; parts: CriterionValue[] }
  | { kind: 'id'; id: string };

/**
 * Splits on unescaped commas, keeping the escapes (R4 search.html#escaping): a value is
 * unescaped only after it is split at its own separators (`|` of a token or quantity, `$` of a
 * composite), so that `\|` and `\$` stay data instead of splitting it.
 */
export function splitValues(raw: string): string[] {
  return splitEscaped(raw, ',').filter((v) => v !== '');
}

/** `raw` split at each `sep` not escaped by a backslash; the pieces keep their escapes. */
export function splitEscaped(raw: string, sep: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === '\\') i++;
    else if (raw[i] === sep) {
      out.push(raw.slice(start, i));
      start = i + 1;
    }
  }
  out.push(raw.slice(start));
  return out;
}

/** `\,` `\|` `\$` `\\` → `,` `|` `$` `\\` (a trailing lone backslash stays). */
export function unescapeValue(v: string): string {
  return v.replace(/\\([\s\S])/g, '$1');
}

export function parseToken(v: string): CriterionValue {
  const [first, ...rest] = splitEscaped(v, '|');
  if (rest.length === 0) return { kind: 'token', code: unescapeValue(first) };
  const system = unescapeValue(first);
  const code = unescapeValue(rest.join('|'));
  return { kind: 'token', system, code: code === '' ? undefined : code };
}

export function parseReference(raw: string, v: string, modifierType: string | undefined, param: SearchParamDef | undefined): CriterionValue {
  // A versioned value is refused below: the index keeps no version to match it on.
  const named = parseFhirReference(v);
  if (named && named.version === undefined) {
    if (modifierType && modifierType !== named.type) throw invalid(raw, `value ${v} does not match :${modifierType}`);
    return { kind: 'reference', targetType: named.type, targetId: named.id };
  }
  if (!/^[A-Za-z0-9\-.]{1,64}$/.test(v)) throw invalid(raw, `"${v}" is not a reference (Type/id or id)`);
  const targetType = modifierType ?? (param?.targets.length === 1 ? param.targets[0] : undefined);
  return { kind: 'reference', targetType, targetId: v };
}

export function parseDate(raw: string, v: string, defaultOffset?: string): CriterionValue {
  const prefixMatch = /^(eq|ne|gt|lt|ge|le|sa|eb)/.exec(v);
  const prefix = (prefixMatch?.[1] ?? 'eq') as DatePrefix;
  const range = dateRange(prefixMatch ? v.slice(2) : v, defaultOffset);
  if (!range) throw invalid(raw, `"${v}" is not a FHIR date (e.g. ge2024-01-31 or 2024-01-31T08:00:00+08:00)`);
  return { kind: 'date', prefix, range };
}

/** `[prefix]number` (R4 search.html#number): the number stands for the range its precision implies. */
export function parseNumber(raw: string, v: string): CriterionValue {
  const { prefix, range } = prefixedNumber(raw, v, `"${v}" is not a number (e.g. 100, ge0.5, 1e-3)`);
  return { kind: 'number', prefix, range };
}

/**
 * most distinct UCUM units one search may name. Each unit not yet seen costs a parse by
 * the UCUM library, and a search may carry 50 parameters of 100 values; no real question
 * names more than a few units. Beyond, 400 `too-costly`.
 */
export const MAX_SEARCH_UNITS = 20;

/** A search's `UnitBudget`: one per parsed search. */
export function searchUnitBudget(): UnitBudget {
  return new UnitBudget(
    MAX_SEARCH_UNITS,
    (max) => new StoreError(StoreErrorCode.SearchTooCostly, `The search names more than ${max} distinct UCUM units; the server allows at most ${max} per search. Split it into several searches.`),
  );
}

/**
 * `[prefix]number|system|code` or `[prefix]number||unit` or `[prefix]number` (R4 search.html#quantity).
 * A UCUM unit that converts is searched in canonical units, so `gt1|http://unitsofmeasure.org|g/L`
 * finds 120 mg/dL.
 */
export function parseQuantity(raw: string, v: string, units: UnitBudget): CriterionValue {
  const [number, system, code, ...extra] = splitEscaped(v, '|').map(unescapeValue);
  if (extra.length || (system !== undefined && code === undefined)) throw invalid(raw, `"${v}" is not a quantity (number|system|code, number||unit or number)`);
  const { prefix, range } = prefixedNumber(raw, number, `"${v}" does not start with a number (e.g. gt5.4|http://unitsofmeasure.org|mg)`);
  const value: CriterionValue = { kind: 'quantity', prefix, range };
  if (system) value.system = system;
  if (code) value.code = code;
  if (system === UCUM_SYSTEM && code) {
    const canonical = canonicalRange(code, range, units);
    if (canonical) value.canonical = canonical;
  }
  return value;
}

/** `a$b`: one value per component, each read as its component's type. */
export function parseComposite(raw: string, v: string, param: SearchParamDef, units: UnitBudget, defaultOffset?: string): CriterionValue {
  const components = param.components ?? [];
  const parts = splitEscaped(v, '$');
  if (parts.length !== components.length || parts.some((p) => p === '')) {
    throw invalid(raw, `"${v}" must give ${components.length} values separated by $ (e.g. http://loinc.org|8480-6$gt100)`);
  }
  return { kind: 'composite', parts: parts.map((p, n) => componentValue(raw, p, components[n].type, units, defaultOffset)) };
}

function componentValue(raw: string, v: string, type: ComponentParamType, units: UnitBudget, defaultOffset?: string): CriterionValue {
  switch (type) {
    case 'token':
    case 'uri':
      return parseToken(v);
    case 'reference':
      return parseReference(raw, unescapeValue(v), undefined, undefined);
    case 'string':
      return { kind: 'string', value: indexedString(unescapeValue(v)) };
    case 'date':
      return parseDate(raw, unescapeValue(v), defaultOffset);
    case 'number':
      return parseNumber(raw, unescapeValue(v));
    case 'quantity':
      return parseQuantity(raw, v, units);
  }
}

function prefixedNumber(raw: string, v: string, why: string): { prefix: NumberPrefix; range: NumberRange } {
  const m = /^(eq|ne|gt|lt|ge|le|sa|eb|ap)?(.*)$/.exec(v) as RegExpExecArray;
  const prefix = (m[1] ?? 'eq') as NumberPrefix;
  const range = prefix === 'ap' ? approximateRange(m[2]) : precisionRange(m[2]);
  if (!range) throw invalid(raw, why);
  return { prefix, range };
}

export function invalid(name: string, why: string): StoreError {
  return new StoreError(StoreErrorCode.InvalidSearch, `Search parameter ${name}: ${why}.`, [name]);
}
