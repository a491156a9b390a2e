import { toTypedValue, type FhirPathAtom, type TypedValue } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { compositeRowsOf, type ComponentCache, type CompositeRow } from './composite.js';
import type { DateRange } from './date-range.js';
import { INDEX_LIMITS, indexTooLarge } from './index-limits.js';
import {
  dateRangeOf,
  displaysOf,
  evaluate,
  fitsIndex,
  indexedString,
  numberRangeOf,
  quantitiesOf,
  referenceOf,
  stringsOf,
  tokensOf,
  type QuantityMemo,
} from './index-values.js';
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
 * values into index rows, no two with the same key in their table (`add`). Pure: the store
 * writes the rows in the same transaction as the version.
 */
export function extractSearchIndex(resource: Resource, params: readonly SearchParamDef[], defaultOffset?: string): SearchIndex {
  const index: SearchIndex = { tokens: [], strings: [], references: [], dates: [], numbers: [], quantities: [], composites: [] };
  const input = [toTypedValue(resource)];
  const seen = new Set<string>();
  const components: ComponentCache = new Map();
  const memo = new Map<FhirPathAtom, TypedValue[]>();
  const quantities: QuantityMemo = new Map();
  let current = '';
  const units = new UnitBudget(INDEX_LIMITS.unitsPerResource, (max) => indexTooLarge(current, `the resource carries more than ${max} distinct UCUM units`));
  // Rows are told apart as their table's primary key tells them (version-writes.ts inserts a
  // new record's rows without `ON CONFLICT`): by all their values, which for a quantity and a
  // composite the key determines (canonical values follow from the unit and value, a tuple is a
  // digest of the rest), and for a string by its indexed value without `exact`: of two texts
  // normalised or cut alike ("Café" and "cafe"), the first is kept, as the table kept it.
  // Each key is the kind and the row's values joined by NUL, a null as '' (spelt out per kind: joining `Object.values` cost more).
  const add = <K extends keyof SearchIndex>(kind: K, row: SearchIndex[K][number], key: string) => {
    if (seen.has(key)) return;
    if (seen.size >= INDEX_LIMITS.rowsPerResource) {
      throw indexTooLarge(row.param, `the resource gives more than ${INDEX_LIMITS.rowsPerResource} index rows`);
    }
    seen.add(key);
    (index[kind] as SearchIndex[K][number][]).push(row);
  };
  // Codes too long for an index row are left out (`fitsIndex`); strings are cut (`indexedString`).
  const token = (param: string, t: { system: string; code: string }) => {
    if (fitsIndex(t.system, t.code)) add('tokens', { param, ...t }, `tokens\u0000${param}\u0000${t.system}\u0000${t.code}`);
  };
  const text = (param: string, s: string) => {
    const value = indexedString(s);
    add('strings', { param, value, exact: s }, `strings\u0000${param}\u0000${value}`);
  };
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
          if (ref) add('references', { param: p.code, ...ref }, `references\u0000${p.code}\u0000${ref.targetType}\u0000${ref.targetId}`);
          break;
        }
        case 'date': {
          const range = dateRangeOf(v, defaultOffset);
          if (range) add('dates', { param: p.code, ...range }, `dates\u0000${p.code}\u0000${range.low}\u0000${range.high}`);
          break;
        }
        case 'number': {
          const range = numberRangeOf(v);
          if (range) add('numbers', { param: p.code, ...range }, `numbers\u0000${p.code}\u0000${range.low}\u0000${range.high}`);
          break;
        }
        case 'quantity':
          for (const q of quantitiesOf(v, units, quantities)) {
            if (!fitsIndex(q.system, q.code, q.unit, q.canonical?.code)) continue;
            const c = q.canonical;
            const row = {
              param: p.code,
              system: q.system,
              code: q.code,
              unit: q.unit,
              low: q.low,
              high: q.high,
              canonicalCode: c?.code ?? null,
              canonicalLow: c?.low ?? null,
              canonicalHigh: c?.high ?? null,
            };
            const canonicalKey = c ? `${c.code}\u0000${c.low}\u0000${c.high}` : '\u0000\u0000';
            add('quantities', row, `quantities\u0000${p.code}\u0000${q.system}\u0000${q.code}\u0000${q.unit}\u0000${q.low}\u0000${q.high}\u0000${canonicalKey}`);
          }
          break;
        case 'composite':
          for (const row of compositeRowsOf(p, v, components, units, defaultOffset, quantities)) add('composites', row, compositeKey(row));
          break;
      }
    }
  }
  return index;
}

/** A composite row's key in `add`: its values joined by NUL, a null as ''. */
function compositeKey(r: CompositeRow): string {
  const second = `${r.valueSystem ?? ''}\u0000${r.valueCode ?? ''}\u0000${r.low ?? ''}\u0000${r.high ?? ''}`;
  const canonical = `${r.canonicalCode ?? ''}\u0000${r.canonicalLow ?? ''}\u0000${r.canonicalHigh ?? ''}`;
  return `composites\u0000${r.param}\u0000${r.tuple}\u0000${r.system}\u0000${r.code}\u0000${second}\u0000${canonical}`;
}

/**
 * One write's search index, extracted once (issue #13). A write needs the index of its incoming
 * version three times: for its access facts, for its scope and locks, and as the rows written
 * with it, each time on another object (the request's resource, the guards' frozen copy, the
 * version the store stamped). `remember` keeps the first extraction; `recall` hands it to the
 * others only when they carry the same content. The key is the content's JSON less the members
 * the store stamps (`id`, `meta.versionId`, `meta.lastUpdated`): a resource changed in between
 * (by a service, a Bundle's reference rewrite, anyone holding it) misses and is extracted
 * again, so a version is never written with another content's rows. Leaving the stamped
 * members out is sound only when no parameter of the type reads them (`readsStamp`): such a
 * type is never remembered. The memo holds a few recent contents (`MEMO_BOUNDS`), enough for
 * the writes in flight; whoever holds an index it hands out owns the arrays, the rows are frozen.
 */
export class SearchIndexMemo {
  private readonly kept = new Map<string, SearchIndex>();
  private keptChars = 0;
  private readonly byType = new Map<string, { params: readonly SearchParamDef[]; stampFree: boolean }>();

  constructor(private readonly paramsOf: (type: string) => readonly SearchParamDef[]) {}

  /** The type's parameters (as `paramsOf` gives them, asked once per type). */
  params(type: string): readonly SearchParamDef[] {
    return this.typeOf(type).params;
  }

  /** Extracts the index of `resource` and keeps it for the same content's `recall`. */
  remember(resource: Resource): SearchIndex {
    const type = this.typeOf(resource.resourceType);
    const index = extractSearchIndex(resource, type.params);
    const key = type.stampFree ? contentKey(resource) : undefined;
    if (key !== undefined && key.length <= MEMO_BOUNDS.chars / 8) this.keep(key, frozenRows(index));
    return copyOf(index);
  }

  /** The index kept for the content of `resource`, if any. */
  recall(resource: Resource): SearchIndex | undefined {
    if (!this.typeOf(resource.resourceType).stampFree) return undefined;
    const key = contentKey(resource);
    const index = key === undefined ? undefined : this.kept.get(key);
    return index && copyOf(index);
  }

  /** The index of `resource`: the one kept for its content, else extracted now (and not kept). */
  indexOf(resource: Resource): SearchIndex {
    return this.recall(resource) ?? extractSearchIndex(resource, this.params(resource.resourceType));
  }

  private keep(key: string, index: SearchIndex): void {
    const before = this.kept.get(key);
    if (before) {
      this.kept.delete(key);
      this.keptChars -= key.length;
    }
    this.kept.set(key, index);
    this.keptChars += key.length;
    for (const [oldest] of this.kept) {
      if (this.kept.size <= MEMO_BOUNDS.entries && this.keptChars <= MEMO_BOUNDS.chars) break;
      this.kept.delete(oldest);
      this.keptChars -= oldest.length;
    }
  }

  private typeOf(type: string): { params: readonly SearchParamDef[]; stampFree: boolean } {
    let entry = this.byType.get(type);
    if (!entry) {
      const params = this.paramsOf(type);
      this.byType.set(type, (entry = { params, stampFree: !params.some(readsStamp) }));
    }
    return entry;
  }
}

/**
 * What `SearchIndexMemo` keeps: 256 contents and at most 4 Mi characters of keys (a content
 * longer than an eighth of that is not kept). A write needs its own for a few milliseconds,
 * while the other writes in flight remember theirs, and so do reads judging old versions by
 * their own facts (a history page: one per version): a write whose content was pushed out is
 * extracted again, as before.
 */
export const MEMO_BOUNDS = { entries: 256, chars: 4 * 1024 * 1024 } as const;

/**
 * Whether a parameter may read a member the store stamps (`id`, `meta.versionId`,
 * `meta.lastUpdated`), judged on its expressions' text, erring towards yes: any `id`,
 * `versionId` or `lastUpdated`; `meta` but for its `profile`, `security`, `source` and `tag`;
 * the functions and variables that reach beyond a path (`descendants()`, `children()`,
 * `repeat()`, `%resource`, `$this`…); an expression that is the resource itself or a function
 * of it (`Observation.where(…)`), whose value a row would take whole. No R4 parameter does.
 */
export function readsStamp(param: SearchParamDef): boolean {
  if (STAMPED.test(param.expression)) return true;
  if (param.type !== 'composite' && param.expression.split('|').some((alt) => WHOLE.test(alt.trim()))) return true;
  // A composite's components are read on the elements its expression gives (the resource itself for Observation's).
  return (param.components ?? []).some((c) => STAMPED.test(c.expression) || FUNCTION_FIRST.test(c.expression));
}

const STAMPED = /\b(?:id|versionId|lastUpdated)\b|\bmeta\b(?!\.(?:profile|security|source|tag)\b)|\b(?:descendants|children|repeat|trace)\s*\(|[%$]/;
/** The resource itself (`Observation`), or a function of it (`Observation.where(…)`). */
const WHOLE = /^\(*\s*[A-Za-z]+\s*\)*$|^\(*\s*[A-Za-z]+\.[A-Za-z]+\s*\(/;
const FUNCTION_FIRST = /^\s*[A-Za-z]+\s*\(/;

/**
 * The content of `resource` less the members the store stamps, as one string; undefined for a
 * `meta` that is not an object (not FHIR: not worth keeping). `meta` is set apart after a NUL,
 * which JSON text never holds raw; one left empty by the stamped members counts as none.
 */
function contentKey(resource: Resource): string | undefined {
  const { id: _id, meta, ...content } = resource;
  if (meta === undefined) return JSON.stringify(content);
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) return undefined;
  const { versionId: _versionId, lastUpdated: _lastUpdated, ...kept } = meta;
  return Object.keys(kept).length === 0 ? JSON.stringify(content) : `${JSON.stringify(content)}\u0000${JSON.stringify(kept)}`;
}

function frozenRows(index: SearchIndex): SearchIndex {
  for (const rows of Object.values(index) as object[][]) for (const row of rows) Object.freeze(row);
  return index;
}

function copyOf(index: SearchIndex): SearchIndex {
  return {
    tokens: [...index.tokens],
    strings: [...index.strings],
    references: [...index.references],
    dates: [...index.dates],
    numbers: [...index.numbers],
    quantities: [...index.quantities],
    composites: [...index.composites],
  };
}
