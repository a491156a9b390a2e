import { hash } from 'node:crypto';
import type { TypedValue } from '@medplum/core';
import { dateRangeOf, evaluate, fitsIndex, indexedString, numberRangeOf, quantitiesOf, referenceOf, stringsOf, tokensOf, type QuantityMemo } from './index-values.js';
import { INDEX_LIMITS, indexTooLarge } from './index-limits.js';
import type { ComponentParamType, CompositeComponentDef, SearchParamDef } from './search-parameter.registry.js';
import type { UnitBudget } from './ucum.js';

/**
 * A composite parameter's index row (https://hl7.org/fhir/R4/search.html#composite): one
 * combination of component values taken from the same element, so that
 * `component-code-value-quantity=http://loinc.org|8480-6$gt100` matches a blood pressure whose
 * systolic component is above 100, not one whose diastolic is. The first component (a token,
 * or a reference as type and id) is `system`/`code`; the second fills the columns of its kind.
 */
export interface CompositeRow {
  param: string;
  /** Identifies the row among the resource's rows of the parameter (a digest of its values). */
  tuple: string;
  system: string;
  code: string;
  /** Second component: a token's system and code, a reference's type and id, a quantity's system and code (else unit), a normalised string. */
  valueSystem: string | null;
  valueCode: string | null;
  /** Second component: a number's or quantity's range, or a date's as epoch milliseconds. */
  low: string | null;
  high: string | null;
  canonicalCode: string | null;
  canonicalLow: string | null;
  canonicalHigh: string | null;
}

type SecondPart = Omit<CompositeRow, 'param' | 'tuple' | 'system' | 'code'>;

const NONE: SecondPart = { valueSystem: null, valueCode: null, low: null, high: null, canonicalCode: null, canonicalLow: null, canonicalHigh: null };

/**
 * Component values already computed in one extraction, by element and component: the
 * composites of a type share their components (Observation's eight composites evaluate `code`
 * on the same elements six times), so each is evaluated once per resource.
 */
export type ComponentCache = Map<unknown, Map<string, unknown[]>>;

/**
 * The composite rows of one element the composite's expression yielded. Their number is the
 * product of the components' values, so it is checked before any row is built
 * (`INDEX_LIMITS.compositeRowsPerElement`, 422 beyond). Values too long for an index row are
 * left out, as in the rows of their kinds (`fitsIndex`).
 */
export function compositeRowsOf(
  def: SearchParamDef,
  element: TypedValue,
  cache: ComponentCache,
  units: UnitBudget,
  defaultOffset?: string,
  quantities?: QuantityMemo,
): CompositeRow[] {
  const [first, second] = def.components ?? [];
  if (!first || !second) return [];
  const keys = keysOf(first, second);
  const firsts = cached(cache, element, first, keys.first, (v) => firstPartsOf(first.type, v), (f) => fitsIndex(f.system, f.code));
  if (firsts.length === 0) return [];
  const seconds = cached(
    cache,
    element,
    second,
    keys.second,
    (v) => secondPartsOf(second.type, v, units, defaultOffset, quantities),
    (s) => fitsIndex(s.valueSystem, s.valueCode, s.canonicalCode),
  );
  const max = INDEX_LIMITS.compositeRowsPerElement;
  if (firsts.length * seconds.length > max) {
    throw indexTooLarge(def.code, `one element gives ${firsts.length} × ${seconds.length} combinations of its components, more than ${max}`);
  }
  // Composites with the same components (`code-value-quantity`, `combo-code-value-quantity`) share the combinations' digests.
  const byComponent = cache.get(element.value) as Map<string, unknown[]>;
  let tuples = byComponent.get(keys.pair) as string[] | undefined;
  if (!tuples) {
    tuples = [];
    for (const f of firsts) for (const s of seconds) tuples.push(hash('sha256', JSON.stringify([f.system, f.code, ...Object.values(s)]), 'base64url'));
    byComponent.set(keys.pair, tuples);
  }
  const rows: CompositeRow[] = [];
  let n = 0;
  for (const f of firsts) for (const s of seconds) rows.push({ param: def.code, tuple: tuples[n++], ...f, ...s });
  return rows;
}

/** The cache keys of a composite's components (its role, type and expression) and of their pair, per definition. */
const componentKeys = new WeakMap<CompositeComponentDef, { first: string; second: string; pair: string }>();

function keysOf(first: CompositeComponentDef, second: CompositeComponentDef): { first: string; second: string; pair: string } {
  let keys = componentKeys.get(second);
  if (!keys) {
    const f = `1${first.type}\u0000${first.expression}`;
    const s = `2${second.type}\u0000${second.expression}`;
    componentKeys.set(second, (keys = { first: f, second: s, pair: `${f}\u0001${s}` }));
  }
  return keys;
}

/** A component's values on one element (those that fit an index row), computed once per extraction. */
function cached<T>(cache: ComponentCache, element: TypedValue, component: CompositeComponentDef, key: string, parts: (v: TypedValue) => T[], fits: (part: T) => boolean): T[] {
  let byComponent = cache.get(element.value);
  if (!byComponent) cache.set(element.value, (byComponent = new Map()));
  let out = byComponent.get(key) as T[] | undefined;
  if (!out) byComponent.set(key, (out = evaluate(component.atoms, [element]).flatMap(parts).filter(fits)));
  return out;
}

function firstPartsOf(type: ComponentParamType, v: TypedValue): { system: string; code: string }[] {
  if (type === 'reference') {
    const ref = referenceOf(v);
    return ref ? [{ system: ref.targetType, code: ref.targetId }] : [];
  }
  return tokensOf(v);
}

function secondPartsOf(type: ComponentParamType, v: TypedValue, units: UnitBudget, defaultOffset?: string, quantities?: QuantityMemo): SecondPart[] {
  switch (type) {
    case 'token':
    case 'uri':
      return tokensOf(v).map((t) => ({ ...NONE, valueSystem: t.system, valueCode: t.code }));
    case 'reference': {
      const ref = referenceOf(v);
      return ref ? [{ ...NONE, valueSystem: ref.targetType, valueCode: ref.targetId }] : [];
    }
    case 'string':
      return stringsOf(v).map((s) => ({ ...NONE, valueCode: indexedString(s) }));
    case 'number': {
      const r = numberRangeOf(v);
      return r ? [{ ...NONE, low: r.low, high: r.high }] : [];
    }
    case 'date': {
      const r = dateRangeOf(v, defaultOffset);
      return r ? [{ ...NONE, low: epochMs(r.low), high: epochMs(r.high) }] : [];
    }
    case 'quantity':
      return quantitiesOf(v, units, quantities).map((q) => ({
        valueSystem: q.system,
        valueCode: q.code !== '' ? q.code : q.unit,
        low: q.low,
        high: q.high,
        canonicalCode: q.canonical?.code ?? null,
        canonicalLow: q.canonical?.low ?? null,
        canonicalHigh: q.canonical?.high ?? null,
      }));
  }
}

/** A date bound (ISO instant or ±infinity) as epoch milliseconds: composite rows keep every range as `numeric`. */
export function epochMs(instant: string): string {
  if (instant === '-infinity') return '-Infinity';
  if (instant === 'infinity') return 'Infinity';
  return String(Date.parse(instant));
}
