import { toTypedValue, type FhirPathAtom, type TypedValue } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { compositeRowsOf, type ComponentCache, type CompositeRow } from './composite.js';
import type { DateRange } from './date-range.js';
import { INDEX_LIMITS, indexTooLarge } from './index-limits.js';
import { dateRangeOf, displaysOf, evaluate, fitsIndex, indexedString, numberRangeOf, quantitiesOf, referenceOf, stringsOf, tokensOf } from './index-values.js';
import type { NumberRange } from './number-range.js';
import type { SearchParamDef } from './search-parameter.registry.js';
import { UnitBudget } from './ucum.js';

/** The index rows one resource version produces. */
export interface SearchIndex {
  tokens: { param: string; system: string; code: string }[];
  /** String parameters, and the text of token parameters under `<code>:text` (for `:text`). */
  strings: { param: string; value: string; exact: string }[];
  references: { param: string; targetType: string; targetId: string }[];
  dates: ({ param: string } & DateRange)[];
  numbers: ({ param: string } & NumberRange)[];
  quantities: QuantityRow[];
  composites: CompositeRow[];
}

/** A quantity parameter's row; the canonical columns are null when the unit is not UCUM or does not convert. */
export interface QuantityRow extends NumberRange {
  param: string;
  system: string;
  code: string;
  unit: string;
  canonicalCode: string | null;
  canonicalLow: string | null;
  canonicalHigh: string | null;
}

/** Where a token parameter's text is indexed, in the string rows (`code:text`, R4 search.html#modifiers). */
export function tokenTextParam(code: string): string {
  return `${code}:text`;
}

/**
 * Evaluates each search parameter's FHIRPath expression on the resource and turns the
 * values into index rows (duplicates removed). Pure: the store writes the rows in the same
 * transaction as the version.
 */
export function extractSearchIndex(resource: Resource, params: readonly SearchParamDef[], defaultOffset?: string): SearchIndex {
  const index: SearchIndex = { tokens: [], strings: [], references: [], dates: [], numbers: [], quantities: [], composites: [] };
  const input = [toTypedValue(resource)];
  const seen = new Set<string>();
  const components: ComponentCache = new Map();
  const memo = new Map<FhirPathAtom, TypedValue[]>();
  let current = '';
  const units = new UnitBudget(INDEX_LIMITS.unitsPerResource, (max) => indexTooLarge(current, `the resource carries more than ${max} distinct UCUM units`));
  const add = <K extends keyof SearchIndex>(kind: K, row: SearchIndex[K][number]) => {
    const key = `${kind}\u0000${Object.values(row).join('\u0000')}`;
    if (seen.has(key)) return;
    if (seen.size >= INDEX_LIMITS.rowsPerResource) {
      throw indexTooLarge(row.param, `the resource gives more than ${INDEX_LIMITS.rowsPerResource} index rows`);
    }
    seen.add(key);
    (index[kind] as SearchIndex[K][number][]).push(row);
  };
  // Codes too long for an index row are left out (`fitsIndex`); strings are cut (`indexedString`).
  const token = (param: string, t: { system: string; code: string }) => {
    if (fitsIndex(t.system, t.code)) add('tokens', { param, ...t });
  };
  const text = (param: string, s: string) => add('strings', { param, value: indexedString(s), exact: s });
  for (const p of params) {
    current = p.code;
    for (const v of evaluate(p.atoms, input, memo)) {
      switch (p.type) {
        case 'token':
          for (const t of tokensOf(v)) token(p.code, t);
          for (const s of displaysOf(v)) text(tokenTextParam(p.code), s);
          break;
        case 'uri':
          for (const t of tokensOf(v)) token(p.code, t);
          break;
        case 'string':
          for (const s of stringsOf(v)) text(p.code, s);
          break;
        case 'reference': {
          const ref = referenceOf(v);
          if (ref) add('references', { param: p.code, ...ref });
          break;
        }
        case 'date': {
          const range = dateRangeOf(v, defaultOffset);
          if (range) add('dates', { param: p.code, ...range });
          break;
        }
        case 'number': {
          const range = numberRangeOf(v);
          if (range) add('numbers', { param: p.code, ...range });
          break;
        }
        case 'quantity':
          for (const q of quantitiesOf(v, units)) {
            if (!fitsIndex(q.system, q.code, q.unit, q.canonical?.code)) continue;
            const c = q.canonical;
            add('quantities', {
              param: p.code,
              system: q.system,
              code: q.code,
              unit: q.unit,
              low: q.low,
              high: q.high,
              canonicalCode: c?.code ?? null,
              canonicalLow: c?.low ?? null,
              canonicalHigh: c?.high ?? null,
            });
          }
          break;
        case 'composite':
          for (const row of compositeRowsOf(p, v, components, units, defaultOffset)) add('composites', row);
          break;
      }
    }
  }
  return index;
}

