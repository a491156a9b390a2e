import { SqlParams } from '../../database/sql-params.js';
import { epochMs } from '../search/composite.js';
import type { NumberRange } from '../search/number-range.js';
import type { CriterionValue, NumberPrefix, SearchModifier } from '../search/search-request.js';

/*
 * The condition one search value puts on one index row `x` (R4 search.html): each kind of
 * value over the columns that hold it, so that a composite's components reuse the conditions
 * of their kinds on the composite row's columns.
 */

/** Where a row keeps each part of a value. */
interface Columns {
  system: string;
  code: string;
  /** A quantity's unit, matched like its code when the search gives no system. */
  unit?: string;
  low: string;
  high: string;
  canonicalCode: string;
  canonicalLow: string;
  canonicalHigh: string;
}

/** The columns of the kind tables (`fhir_search_token`, `_quantity`, `_number`…). */
const KIND: Columns = {
  system: 'x.system',
  code: 'x.code',
  unit: 'x.unit',
  low: 'x.low',
  high: 'x.high',
  canonicalCode: 'x.canonical_code',
  canonicalLow: 'x.canonical_low',
  canonicalHigh: 'x.canonical_high',
};

/** A composite row's second component (`fhir_search_composite`); the first is `KIND`'s system and code. */
const SECOND: Columns = { ...KIND, system: 'x.value_system', code: 'x.value_code', unit: undefined };

/** The condition of one value of a criterion on its index table's row `x`. */
export function valueSql(v: CriterionValue, modifier: SearchModifier | undefined, p: SqlParams): string {
  switch (v.kind) {
    case 'token':
      if (modifier === 'below') return uriBelowSql(v.code as string, p);
      if (modifier === 'above') return `x.code = ANY(${p.add(uriAncestors(v.code as string))}::text[])`;
      return tokenSql(v, KIND, p);
    case 'string':
      if (modifier === 'exact') return `x.exact = ${p.add(v.value)}`;
      if (modifier === 'contains') return `x.value LIKE ${p.add('%' + escapeLike(v.value) + '%')}`;
      return `x.value LIKE ${p.add(escapeLike(v.value) + '%')}`;
    case 'reference':
      return v.targetType
        ? `(x.target_type = ${p.add(v.targetType)} AND x.target_id = ${p.add(v.targetId)})`
        : `x.target_id = ${p.add(v.targetId)}`;
    case 'date':
      return dateSql(v, 'x.low', 'x.high', p);
    case 'number':
      return numberRangeSql(v.prefix, 'x.low', 'x.high', v.range, p);
    case 'quantity':
      return quantitySql(v, KIND, p);
    case 'composite':
      return compositeSql(v.parts, p);
    case 'id':
      return `x.resource_id = ${p.add(v.id)}`;
  }
}

function tokenSql(v: { system?: string; code?: string }, cols: Columns, p: SqlParams): string {
  const conds: string[] = [];
  if (v.system !== undefined) conds.push(`${cols.system} = ${p.add(v.system)}`);
  if (v.code !== undefined) conds.push(`${cols.code} = ${p.add(v.code)}`);
  return conds.length ? `(${conds.join(' AND ')})` : 'TRUE';
}

/**
 * A quantity: in canonical units when the searched unit is UCUM and converts (`mg/dL` finds
 * `g/L`), else on the unit as given (the code, or with no system the code or the unit).
 */
function quantitySql(v: Extract<CriterionValue, { kind: 'quantity' }>, cols: Columns, p: SqlParams): string {
  if (v.canonical) {
    return `(${cols.canonicalCode} = ${p.add(v.canonical.code)} AND ${numberRangeSql(v.prefix, cols.canonicalLow, cols.canonicalHigh, v.canonical, p)})`;
  }
  const conds: string[] = [];
  if (v.system !== undefined) conds.push(`${cols.system} = ${p.add(v.system)}`);
  if (v.code !== undefined) {
    const code = p.add(v.code);
    conds.push(v.system === undefined && cols.unit ? `(${cols.code} = ${code} OR ${cols.unit} = ${code})` : `${cols.code} = ${code}`);
  }
  conds.push(numberRangeSql(v.prefix, cols.low, cols.high, v.range, p));
  return `(${conds.join(' AND ')})`;
}

/** `first$second` on one composite row: the first component's token (or reference) and the second's value. */
function compositeSql(parts: CriterionValue[], p: SqlParams): string {
  const [first, second] = parts;
  const conds = [
    first.kind === 'reference'
      ? tokenSql({ system: first.targetType, code: first.targetId }, KIND, p)
      : tokenSql(first as { system?: string; code?: string }, KIND, p),
  ];
  switch (second.kind) {
    case 'token':
      conds.push(tokenSql(second, SECOND, p));
      break;
    case 'reference':
      conds.push(tokenSql({ system: second.targetType, code: second.targetId }, SECOND, p));
      break;
    case 'string':
      conds.push(`${SECOND.code} LIKE ${p.add(escapeLike(second.value) + '%')}`);
      break;
    case 'number':
      conds.push(numberRangeSql(second.prefix, SECOND.low, SECOND.high, second.range, p));
      break;
    case 'quantity':
      conds.push(quantitySql(second, SECOND, p));
      break;
    case 'date': {
      // Composite rows keep a date's range as epoch milliseconds (inclusive bounds, as dates).
      const ql = () => `${p.add(epochMs(second.range.low))}::numeric`;
      const qh = () => `${p.add(epochMs(second.range.high))}::numeric`;
      conds.push(closedRangeSql(second.prefix, SECOND.low, SECOND.high, ql, qh));
      break;
    }
  }
  return `(${conds.join(' AND ')})`;
}

/** R4 search.html#prefix over a stored date range [low, high] and a searched range (both inclusive). */
export function dateSql(v: CriterionValue, low: string, high: string, p: SqlParams): string {
  if (v.kind !== 'date') throw new Error('date expected');
  const range = v.range;
  return closedRangeSql(v.prefix, low, high, () => `${p.add(range.low)}::timestamptz`, () => `${p.add(range.high)}::timestamptz`);
}

/**
 * R4 search.html#prefix over inclusive ranges (dates: a stored range [low, high], a searched
 * [ql, qh], each bound when read): `eq` when the searched range contains the stored one, `gt` when the stored one
 * reaches past the searched one, and so on.
 */
function closedRangeSql(prefix: NumberPrefix, low: string, high: string, ql: () => string, qh: () => string): string {
  switch (prefix) {
    case 'eq':
      return `(${low} >= ${ql()} AND ${high} <= ${qh()})`;
    case 'ne':
      return `NOT (${low} >= ${ql()} AND ${high} <= ${qh()})`;
    case 'gt':
      return `${high} > ${qh()}`;
    case 'lt':
      return `${low} < ${ql()}`;
    case 'ge':
      return `${high} >= ${ql()}`;
    case 'le':
      return `${low} <= ${qh()}`;
    case 'sa':
      return `${low} > ${qh()}`;
    case 'eb':
      return `${high} < ${ql()}`;
    case 'ap':
      return `(${low} <= ${qh()} AND ${high} >= ${ql()})`;
  }
}

/**
 * The same prefixes over numbers and quantities. A stored value is the closed range [low, high]:
 * a point for a number (`numberRangeOf`: the stored precision is not kept), both ends of a
 * `Range`. The searched value stands for the half-open range of its precision [ql, qh) (`100`
 * is [99.5, 100.5)): `eq` when it contains the stored range, `gt` and `sa` when the stored value
 * reaches at or past qh, `lt` and `eb` below ql. For a point the prefixes split the number line
 * consistently: lt | eq | gt, with le = lt ∪ eq, ge = eq ∪ gt, ne = lt ∪ gt. So `37.0` finds a
 * stored 37, `36.95` does not, and `ge100` finds 100 (and 99.6) but not 99. `ap` overlaps the
 * searched ±10% (both ends included).
 */
function numberRangeSql(prefix: NumberPrefix, low: string, high: string, range: NumberRange, p: SqlParams): string {
  // Bound only when used: PostgreSQL cannot type a parameter the statement never reads.
  const ql = () => `${p.add(range.low)}::numeric`;
  const qh = () => `${p.add(range.high)}::numeric`;
  switch (prefix) {
    case 'eq':
      return `(${low} >= ${ql()} AND ${high} < ${qh()})`;
    case 'ne':
      return `NOT (${low} >= ${ql()} AND ${high} < ${qh()})`;
    case 'gt':
      return `${high} >= ${qh()}`;
    case 'lt':
      return `${low} < ${ql()}`;
    case 'ge':
      return `${high} >= ${ql()}`;
    case 'le':
      return `${low} < ${qh()}`;
    case 'sa':
      return `${low} >= ${qh()}`;
    case 'eb':
      return `${high} < ${ql()}`;
    case 'ap':
      return `(${low} <= ${qh()} AND ${high} >= ${ql()})`;
  }
}

/** `url:below=http://acme.org/fhir`: the uri itself and every uri under it, path segment by segment. */
function uriBelowSql(uri: string, p: SqlParams): string {
  const base = uri.replace(/\/+$/, '');
  return `(x.code = ${p.add(base)} OR x.code LIKE ${p.add(escapeLike(base) + '/%')})`;
}

/**
 * `url:above=http://acme.org/fhir/ValueSet/x`: the uri and each of its parents (`…/ValueSet`,
 * `…/fhir`, `http://acme.org`), with and without a trailing slash; never above the authority.
 */
export function uriAncestors(uri: string): string[] {
  const base = uri.replace(/\/+$/, '');
  const authority = /^[a-z][a-z0-9+.-]*:\/\/[^/]+/i.exec(base)?.[0].length ?? 0;
  const out: string[] = [];
  for (let end = base.length; end > authority; end = base.lastIndexOf('/', end - 1)) {
    const prefix = base.slice(0, end);
    out.push(prefix, `${prefix}/`);
  }
  if (authority > 0) out.push(base.slice(0, authority), `${base.slice(0, authority)}/`);
  return [...new Set(out)];
}

export function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => '\\' + c);
}
