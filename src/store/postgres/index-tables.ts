import type { SearchIndex } from '../search/search-index.extractor.js';

/*
 * The search index tables, one per kind of `SearchIndex` row: which table, which columns in
 * the order their unnest arrays are bound, and which of them identify a row. The write
 * statements (`version-writes.ts`) insert and replace every kind listed here.
 */

export interface IndexTable {
  table: string;
  /** Columns after (resource_type, resource_id), in bind order. */
  cols: readonly string[];
  /** The `SearchIndex` row field for each column. */
  fields: readonly string[];
  /** SQL array element type for each column. */
  types: readonly string[];
  /** How many leading columns identify a row (the rest follow from them). */
  keyCount: number;
  /** The rows carry the resource's owner (`owner`, decision 0018), kept equal to `fhir_resource.owner` by every write. */
  owned?: boolean;
}

export const INDEX_TABLES: { readonly [K in keyof SearchIndex]: IndexTable } = {
  tokens: { table: 'fhir_search_token', cols: ['param', 'system', 'code'], fields: ['param', 'system', 'code'], types: ['text', 'text', 'text'], keyCount: 3, owned: true },
  strings: { table: 'fhir_search_string', cols: ['param', 'value', 'exact'], fields: ['param', 'value', 'exact'], types: ['text', 'text', 'text'], keyCount: 2 },
  references: {
    table: 'fhir_search_reference',
    cols: ['param', 'target_type', 'target_id'],
    fields: ['param', 'targetType', 'targetId'],
    types: ['text', 'text', 'text'],
    keyCount: 3,
  },
  dates: { table: 'fhir_search_date', cols: ['param', 'low', 'high'], fields: ['param', 'low', 'high'], types: ['text', 'timestamptz', 'timestamptz'], keyCount: 3, owned: true },
  numbers: { table: 'fhir_search_number', cols: ['param', 'low', 'high'], fields: ['param', 'low', 'high'], types: ['text', 'numeric', 'numeric'], keyCount: 3 },
  quantities: {
    table: 'fhir_search_quantity',
    cols: ['param', 'system', 'code', 'unit', 'low', 'high', 'canonical_code', 'canonical_low', 'canonical_high'],
    fields: ['param', 'system', 'code', 'unit', 'low', 'high', 'canonicalCode', 'canonicalLow', 'canonicalHigh'],
    types: ['text', 'text', 'text', 'text', 'numeric', 'numeric', 'text', 'numeric', 'numeric'],
    keyCount: 6,
  },
  composites: {
    table: 'fhir_search_composite',
    cols: ['param', 'tuple', 'system', 'code', 'value_system', 'value_code', 'low', 'high', 'canonical_code', 'canonical_low', 'canonical_high'],
    fields: ['param', 'tuple', 'system', 'code', 'valueSystem', 'valueCode', 'low', 'high', 'canonicalCode', 'canonicalLow', 'canonicalHigh'],
    types: ['text', 'text', 'text', 'text', 'text', 'text', 'numeric', 'numeric', 'text', 'numeric', 'numeric'],
    keyCount: 2,
  },
};

/** The rows of one kind as one array per column, for `unnest`. */
export function columnArrays(index: SearchIndex, kind: keyof SearchIndex): unknown[][] {
  const rows = index[kind] as unknown as Record<string, unknown>[];
  return INDEX_TABLES[kind].fields.map((f) => rows.map((r) => r[f]));
}
