import { evalFhirPathTyped, toTypedValue, type TypedValue } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { dateRange, type DateRange } from './date-range.js';
import type { SearchParamDef } from './search-parameter.registry.js';

/** The index rows one resource version produces. */
export interface SearchIndex {
  tokens: { param: string; system: string; code: string }[];
  strings: { param: string; value: string; exact: string }[];
  references: { param: string; targetType: string; targetId: string }[];
  dates: ({ param: string } & DateRange)[];
}

/**
 * Evaluates each search parameter's FHIRPath expression on the resource and turns the
 * values into index rows (duplicates removed). Pure: the store writes the rows in the same
 * transaction as the version.
 */
export function extractSearchIndex(resource: Resource, params: readonly SearchParamDef[], defaultOffset?: string): SearchIndex {
  const index: SearchIndex = { tokens: [], strings: [], references: [], dates: [] };
  const input = [toTypedValue(resource)];
  const seen = new Set<string>();
  const add = <K extends keyof SearchIndex>(kind: K, row: SearchIndex[K][number]) => {
    const key = `${kind}\u0000${Object.values(row).join('\u0000')}`;
    if (seen.has(key)) return;
    seen.add(key);
    (index[kind] as SearchIndex[K][number][]).push(row);
  };
  for (const p of params) {
    let values: TypedValue[];
    try {
      values = evalFhirPathTyped(p.atom, input);
    } catch {
      continue; // an expression that cannot apply to this resource's shape yields no value
    }
    for (const v of values) {
      switch (p.type) {
        case 'token':
        case 'uri':
          for (const t of tokensOf(v)) add('tokens', { param: p.code, ...t });
          break;
        case 'string':
          for (const s of stringsOf(v)) add('strings', { param: p.code, value: normalizeString(s), exact: s });
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
      }
    }
  }
  return index;
}

/** Lower case, accents removed, trimmed: how string search compares (R4 search.html#string). */
export function normalizeString(s: string): string {
  return s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().trim();
}

function tokensOf(v: TypedValue): { system: string; code: string }[] {
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
      return o.value === undefined ? [] : [{ system: String(o.system ?? ''), code: String(o.value) }];
    case 'ContactPoint':
      return o.value === undefined ? [] : [{ system: String(o.system ?? ''), code: String(o.value) }];
    default:
      return [];
  }
}

function stringsOf(v: TypedValue): string[] {
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

function referenceOf(v: TypedValue): { targetType: string; targetId: string } | undefined {
  const ref = (v.value as { reference?: unknown } | undefined)?.reference;
  if (typeof ref !== 'string' || ref.startsWith('#') || ref.startsWith('urn:')) return undefined;
  const m = RELATIVE_REF.exec(ref);
  return m ? { targetType: m[1], targetId: m[2] } : undefined;
}

function dateRangeOf(v: TypedValue, defaultOffset?: string): DateRange | undefined {
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
