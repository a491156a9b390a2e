import { FHIR_DEFAULTS } from '../../config/chartwarden.options.js';
import type { AccessFilter } from '../access-facts.js';
import { StoreError, StoreErrorCode } from '../store.errors.js';
import { indexedString } from './index-values.js';
import type { SearchParamDef, SearchParameterRegistry } from './search-parameter.registry.js';
import { invalid, parseComposite, parseDate, parseNumber, parseQuantity, parseReference, parseToken, searchUnitBudget, splitValues, unescapeValue, type CriterionValue } from './search-values.js';
import type { UnitBudget } from './ucum.js';

export type { CriterionValue, DatePrefix, NumberPrefix } from './search-values.js';

/**
 * The modifiers searches accept (R4 search.html#modifiers): `exact`/`contains` on strings,
 * `missing` on any parameter, `not`/`text` on tokens, `above`/`below` on uris. Any other is refused.
 */
export type SearchModifier = 'exact' | 'contains' | 'missing' | 'not' | 'text' | 'above' | 'below';

/** `name[:modifier]=v1,v2`; criteria of one request are AND-ed. */
export interface Criterion {
  /** `_id`, `_lastUpdated`, or an indexed parameter. */
  param: SearchParamDef | '_id' | '_lastUpdated';
  modifier?: SearchModifier;
  /** For `:missing`. */
  missing?: boolean;
  values: CriterionValue[];
}

/** `Type:param[:target]` for `_include` / `_revinclude`. */
export interface IncludeSpec {
  sourceType: string;
  param: string;
  targetType?: string;
}

/** A sort key: `_lastUpdated`, `_id`, or a date parameter. */
export interface SortRule {
  key: '_lastUpdated' | '_id' | SearchParamDef;
  descending: boolean;
}

/** How many matches a search counts exactly when `_total` is not `accurate` (`FhirOptions.countTotalUpTo`). */
export const DEFAULT_COUNT_UP_TO = 500;

/** A parsed, validated search, independent of how a store executes it. */
export interface SearchRequest {
  resourceType: string;
  criteria: Criterion[];
  count: number;
  offset: number;
  sort: SortRule[];
  /**
   * `_total` (decision 0018): `accurate` counts every match; `estimate`, the default, counts up
   * to `countUpTo` and leaves the total out beyond (the `next` link says there is more), so a
   * page costs what the page asks for; `none` never counts.
   */
  total: 'none' | 'estimate' | 'accurate';
  /** With `estimate`: the most matches counted exactly (default `DEFAULT_COUNT_UP_TO`). */
  countUpTo?: number;
  /** A total already counted for this search (carried by its paging links): the store does not count again. */
  knownTotal?: number;
  /** `_total-token` as given, unverified: the FHIR facade verifies it (then sets `knownTotal`) or ignores it; stores ignore it. */
  totalToken?: string;
  include: IncludeSpec[];
  revinclude: IncludeSpec[];
  /** `_summary=count`: only the total is wanted. */
  countOnly: boolean;
  /** `_summary` as asked (`true`, `text`, `data`, `count`, `false`); shaping the result is the caller's. */
  summary?: SummaryMode;
  /** `_elements`: the element names asked for; filtering the result is the caller's. */
  elements?: string[];
  /** The parameters honoured, as `[name, value]` pairs, for the `self` link. */
  used: [string, string][];
  /** Set by the access policy: only what the caller may see is matched, counted and paged. */
  access?: AccessFilter;
}

/** The values of `_summary` (R4 search.html#summary). */
export type SummaryMode = 'true' | 'text' | 'data' | 'count' | 'false';
const SUMMARY_MODES = new Set<string>(['true', 'text', 'data', 'count', 'false']);

/** An element name in `_elements` (`identifier`, `valueQuantity`). */
const ELEMENT_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/** What part of each resource a reader asks for: `_summary` and `_elements` of a read or a search. */
export interface ResultShape {
  summary?: SummaryMode;
  elements?: string[];
}

/**
 * `_summary` and `_elements` of a read's query (R4 search.html#summary, #elements). The one
 * parser of both, shared with searches, so a read and a search accept and refuse the same
 * values with the same 400 (`store.invalid-search`); only `_summary=count` is a search's alone.
 */
export function parseResultShape(query: ReadonlyArray<[string, string]>): ResultShape {
  const shape: ResultShape = {};
  for (const [rawName, value] of query) {
    const name = rawName.split(':')[0];
    if (name === '_summary' || name === '_elements') applyShapeParameter(shape, name, rawName, value);
  }
  return shape;
}

function applyShapeParameter(shape: ResultShape, name: '_summary' | '_elements', rawName: string, value: string): void {
  if (rawName !== name) throw invalid(rawName, `${name} takes no modifier`);
  if (name === '_summary') {
    if (!SUMMARY_MODES.has(value)) throw invalid(rawName, `_summary must be true, text, data, count or false, not "${value}"`);
    if (shape.summary !== undefined && shape.summary !== value) throw invalid(rawName, `_summary is given twice with different values`);
    shape.summary = value as SummaryMode;
    return;
  }
  const names = value.split(',').map((n) => n.trim()).filter((n) => n !== '');
  const bad = names.find((n) => !ELEMENT_NAME.test(n));
  if (bad !== undefined || names.length === 0) throw invalid(rawName, `_elements takes a comma-separated list of element names, not "${bad ?? value}"`);
  shape.elements = [...new Set([...(shape.elements ?? []), ...names])];
}

/** Paging, leniency and cost settings for parsing. */
export interface SearchParseOptions {
  defaultCount: number;
  maxCount: number;
  /** `Prefer: handling=lenient`: ignore unknown parameters instead of refusing them. */
  lenient: boolean;
  /** Zone for dates written without one. */
  defaultOffset?: string;
  /**
   * most comma-separated (OR) values one parameter occurrence may carry, `_sort` keys
   * included (default `FHIR_DEFAULTS.maxValuesPerParameter`); beyond, 400 `too-costly`.
   */
  maxValuesPerParameter?: number;
  /**
   * most parameters one search may carry, every occurrence counted whatever its name
   * (repeats, modifiers, `_include`, `_sort`, `_count`, ignored and unknown ones alike; default
   * `FHIR_DEFAULTS.maxSearchParameters`); beyond, 400 `too-costly`.
   */
  maxSearchParameters?: number;
}

/** Carries a `_total=accurate` count in paging links (issue #13, `fhir/paging-total.ts`): the server's own, as FHIR lets paging URLs be. */
export const TOTAL_TOKEN_PARAM = '_total-token';
/** The longest `_total-token` looked at (this server's are under 80 characters): a longer one is ignored unread. */
export const TOTAL_TOKEN_MAX_LENGTH = 128;
const TOTAL_TOKEN_TEXT = /^[A-Za-z0-9._-]+$/;

/** Parameters that shape the result rather than filter it, and ones that are accepted and ignored. */
const RESULT_PARAMS = new Set(['_count', '_offset', '_sort', '_total', TOTAL_TOKEN_PARAM, '_include', '_revinclude', '_summary', '_elements']);
const IGNORED_PARAMS = new Set(['_format', '_pretty']);

/** A parameter that shapes the answer (paging, sorting, totals, subsetting, format) rather than choosing records. */
export function shapesResult(name: string): boolean {
  return RESULT_PARAMS.has(name) || IGNORED_PARAMS.has(name);
}

/**
 * Turns a FHIR search query (`?name=value&...`) into a `SearchRequest`, refusing with a
 * precise error what the store cannot answer exactly — never silently answering a
 * different question (R4 search.html#errors; `Prefer: handling=lenient` relaxes only
 * unknown parameter names).
 */
export function parseSearchRequest(
  resourceType: string,
  query: ReadonlyArray<[string, string]>,
  registry: SearchParameterRegistry,
  options: SearchParseOptions,
): SearchRequest {
  checkSearchCost(query, options);
  const request: SearchRequest = {
    resourceType,
    criteria: [],
    count: options.defaultCount,
    offset: 0,
    sort: [],
    total: 'estimate',
    include: [],
    revinclude: [],
    countOnly: false,
    used: [],
  };
  const units = searchUnitBudget();
  let carriesTotal = false;
  for (const [rawName, rawValue] of query) {
    const [name, modifier, ...rest] = rawName.split(':');
    if (IGNORED_PARAMS.has(name)) continue;
    if (name === TOTAL_TOKEN_PARAM) {
      if (rawName !== name) throw invalid(rawName, `${name} takes no modifier`);
      if (carriesTotal) throw invalid(name, `${name} is given twice`);
      carriesTotal = true;
      // Kept only when it could be a token this server minted; never in `used`, so no link echoes it.
      if (rawValue.length <= TOTAL_TOKEN_MAX_LENGTH && TOTAL_TOKEN_TEXT.test(rawValue)) request.totalToken = rawValue;
      continue;
    }
    if (RESULT_PARAMS.has(name)) {
      applyResultParam(request, name, rawName, rawValue, registry, options);
      request.used.push([rawName, rawValue]);
      continue;
    }
    if (name.startsWith('_has') || rawName.includes('.')) {
      throw new StoreError(StoreErrorCode.InvalidSearch, `Chained and reverse-chained parameters (${rawName}) are not supported; search the target type and use _include / _revinclude.`, [rawName]);
    }
    const criterion = parseCriterion(resourceType, name, modifier, rest, rawValue, registry, options, units);
    if (!criterion) {
      if (options.lenient) continue;
      const reason = registry.unsupportedReason(resourceType, name);
      if (reason) throw new StoreError(StoreErrorCode.UnknownSearchParameter, `Search parameter ${name} of ${resourceType} is not supported: ${reason}.`, [rawName]);
      throw new StoreError(StoreErrorCode.UnknownSearchParameter, `Unknown search parameter "${name}" for ${resourceType}. Supported: ${supportedNames(resourceType, registry)}.`, [rawName]);
    }
    request.criteria.push(criterion);
    request.used.push([rawName, rawValue]);
  }
  // A count of every match, refused beside a search that asks for no such count.
  if (carriesTotal && request.total !== 'accurate') throw invalid(TOTAL_TOKEN_PARAM, `${TOTAL_TOKEN_PARAM} goes only with _total=accurate`);
  if (request.sort.length === 0) request.sort.push({ key: '_lastUpdated', descending: false });
  return request;
}

/**
 * R-51 (availability for everyone): a search's SQL grows with its parameters and their OR-ed
 * values (each parameter an EXISTS, each value a condition inside it; `_include` and `_sort`
 * keys add statements and subqueries), and a 9 KB query of a thousand repeats once held a
 * connection for over a minute. So the size of the question is bounded before anything is
 * parsed or run (400 `too-costly`, `fhir.too-costly`, naming the limit); the statement timeout
 * bounds what a question within these limits costs. Every occurrence counts, whatever its name:
 * a limit that some names escape is no limit. Exported for the other searches that build SQL
 * from query parameters (the AuditEvent search), so every search has the same limits.
 */
export function checkSearchCost(
  query: ReadonlyArray<[string, string]>,
  options: Pick<SearchParseOptions, 'maxValuesPerParameter' | 'maxSearchParameters'>,
): void {
  const maxParameters = options.maxSearchParameters ?? FHIR_DEFAULTS.maxSearchParameters;
  if (query.length > maxParameters) {
    throw new StoreError(
      StoreErrorCode.SearchTooCostly,
      `The search carries ${query.length} parameters; the server allows at most ${maxParameters} per search ` +
        `(maxSearchParameters, every occurrence counted). Split it into narrower searches.`,
    );
  }
  const maxValues = options.maxValuesPerParameter ?? FHIR_DEFAULTS.maxValuesPerParameter;
  for (const [rawName, value] of query) {
    const values = valueCount(value);
    if (values > maxValues) {
      // The name is the caller's text: echo a bounded part of it.
      const name = rawName.length > 64 ? `${rawName.slice(0, 64)}…` : rawName;
      throw new StoreError(
        StoreErrorCode.SearchTooCostly,
        `Search parameter ${name} carries ${values} comma-separated values; the server allows at most ${maxValues} per parameter ` +
          `(maxValuesPerParameter). Split it into several searches.`,
        [name],
      );
    }
  }
}

/** The values `splitValues` would yield, counted without building them. */
function valueCount(raw: string): number {
  let n = 0;
  let current = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c === ',') {
      if (current) n++;
      current = false;
    } else {
      current = true;
      if (c === '\\') i++;
    }
  }
  return current ? n + 1 : n;
}

function supportedNames(resourceType: string, registry: SearchParameterRegistry): string {
  return ['_id', '_lastUpdated', ...registry.forType(resourceType).map((p) => p.code).sort()].join(', ');
}

function applyResultParam(
  request: SearchRequest,
  name: string,
  rawName: string,
  value: string,
  registry: SearchParameterRegistry,
  options: SearchParseOptions,
): void {
  switch (name) {
    case '_count':
      request.count = Math.min(nonNegativeInt(rawName, value), options.maxCount);
      return;
    case '_offset':
      request.offset = nonNegativeInt(rawName, value);
      return;
    case '_total':
      if (value === 'none' || value === 'accurate' || value === 'estimate') request.total = value;
      else throw invalid(rawName, `_total must be none, estimate or accurate, not "${value}"`);
      return;
    case '_summary':
    case '_elements':
      applyShapeParameter(request, name, rawName, value);
      request.countOnly = request.summary === 'count';
      return;
    case '_sort':
      for (const part of value.split(',')) {
        const descending = part.startsWith('-');
        const key = descending ? part.slice(1) : part;
        if (key === '_lastUpdated' || key === '_id') request.sort.push({ key, descending });
        else {
          const def = registry.get(request.resourceType, key);
          if (!def || def.type !== 'date') throw invalid(rawName, `cannot sort ${request.resourceType} by "${key}" (supported: _lastUpdated, _id, and date parameters)`);
          request.sort.push({ key: def, descending });
        }
      }
      return;
    case '_include':
    case '_revinclude': {
      const [sourceType, param, targetType, ...extra] = value.split(':');
      if (rawName.includes(':iterate') || rawName.includes(':recurse')) throw invalid(rawName, `${rawName} is not supported`);
      if (!sourceType || !param || extra.length) throw invalid(rawName, `expected Type:param[:targetType], got "${value}"`);
      const def = registry.get(sourceType, param);
      if (!def || def.type !== 'reference') throw invalid(rawName, `${sourceType}:${param} is not a reference search parameter`);
      if (name === '_include' && sourceType !== request.resourceType) throw invalid(rawName, `_include must start with ${request.resourceType}`);
      (name === '_include' ? request.include : request.revinclude).push({ sourceType, param, targetType });
      return;
    }
  }
}

function parseCriterion(
  resourceType: string,
  name: string,
  modifier: string | undefined,
  rest: string[],
  rawValue: string,
  registry: SearchParameterRegistry,
  options: SearchParseOptions,
  units: UnitBudget,
): Criterion | undefined {
  const raw = `${name}${modifier ? ':' + modifier : ''}`;
  if (rest.length) throw invalid(raw, 'unexpected modifier');
  if (modifier === 'missing') {
    const param = name === '_id' || name === '_lastUpdated' ? undefined : registry.get(resourceType, name);
    if (!param) return undefined;
    if (rawValue !== 'true' && rawValue !== 'false') throw invalid(raw, ':missing takes true or false');
    return { param, modifier: 'missing', missing: rawValue === 'true', values: [] };
  }
  // Escaped as given: tokens, quantities and composites split at their own separators first.
  const escaped = splitValues(rawValue);
  if (escaped.length === 0) throw invalid(raw, 'empty value');
  const values = escaped.map(unescapeValue);
  if (name === '_id') {
    if (modifier) throw invalid(raw, `modifier :${modifier} is not supported on _id`);
    return { param: '_id', values: values.map((id) => ({ kind: 'id', id })) };
  }
  if (name === '_lastUpdated') {
    if (modifier) throw invalid(raw, `modifier :${modifier} is not supported on _lastUpdated`);
    return { param: '_lastUpdated', values: values.map((v) => parseDate(raw, v, options.defaultOffset)) };
  }
  const param = registry.get(resourceType, name);
  if (!param) return undefined;
  const refuse = (): never => {
    throw invalid(raw, `modifier :${modifier} is not supported on ${param.type} parameters`);
  };
  switch (param.type) {
    case 'string':
      if (modifier && modifier !== 'exact' && modifier !== 'contains') refuse();
      return {
        param,
        modifier: modifier as 'exact' | 'contains' | undefined,
        values: values.map((v) => ({ kind: 'string', value: modifier === 'exact' ? v : indexedString(v) })),
      };
    case 'token':
      if (modifier === 'text') return { param, modifier, values: values.map((v) => ({ kind: 'string', value: indexedString(v) })) };
      if (modifier && modifier !== 'not') refuse();
      return { param, modifier: modifier as 'not' | undefined, values: escaped.map(parseToken) };
    case 'uri':
      if (modifier && modifier !== 'above' && modifier !== 'below') refuse();
      return { param, modifier: modifier as 'above' | 'below' | undefined, values: values.map((v) => ({ kind: 'token', code: v })) };
    case 'reference': {
      let targetType: string | undefined;
      if (modifier) {
        if (!/^[A-Z][A-Za-z]+$/.test(modifier)) refuse();
        targetType = modifier;
      }
      return { param, values: values.map((v) => parseReference(raw, v, targetType, param)) };
    }
    case 'date':
      if (modifier) refuse();
      return { param, values: values.map((v) => parseDate(raw, v, options.defaultOffset)) };
    case 'number':
      if (modifier) refuse();
      return { param, values: values.map((v) => parseNumber(raw, v)) };
    case 'quantity':
      if (modifier) refuse();
      return { param, values: escaped.map((v) => parseQuantity(raw, v, units)) };
    case 'composite':
      if (modifier) refuse();
      return { param, values: escaped.map((v) => parseComposite(raw, v, param, units, options.defaultOffset)) };
  }
}

function nonNegativeInt(name: string, value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw invalid(name, `must be a non-negative integer, not "${value}"`);
  return Number(value);
}
