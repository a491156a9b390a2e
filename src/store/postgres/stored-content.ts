import type { Resource } from '@medplum/fhirtypes';
import { numberLexemes, resourceText, storedText, withStoredText, type NumberLexemes } from '../../common/fhir-json-text.js';

/**
 * A version as read: its text when it has one (written since docs/decisions/0014), its jsonb
 * `content` otherwise. Select it with `storedColumns`, build it with `storedResource`.
 */
export interface StoredRow {
  content_text: string | null;
  content: Resource | null;
}

/**
 * The columns of a `StoredRow` for table alias `a`: the text, and the jsonb only for versions
 * without one (so a row crosses to Node once, not twice).
 */
export function storedColumns(a: string): string {
  return `${a}.content_text, CASE WHEN ${a}.content_text IS NULL THEN ${a}.content END AS content`;
}

/** `storedColumns` for statements over one table (no alias). */
export const STORED_COLUMNS = 'content_text, CASE WHEN content_text IS NULL THEN content END AS content';

/**
 * The resource of a stored row, carrying its stored text (`withStoredText`) so the response
 * writer sends that text as it is: the sender's key order and number lexemes (issue #16).
 * A version written before the text was kept is served from its jsonb, `resourceType` first.
 */
export function storedResource(row: StoredRow): Resource {
  if (typeof row.content_text === 'string') return withStoredText(JSON.parse(row.content_text) as Resource, row.content_text);
  return present(row.content as Resource);
}

/**
 * Equal apart from the server-owned meta fields: such an update adds no version. Values are
 * compared with each number in its written form (FHIR: `1.50` is not `1.5`,
 * datatypes.html#decimal): a resend that only orders keys differently adds no version and the
 * stored text stays as first sent; one that changes a decimal's precision is a change. The
 * stored side's lexemes are those of its text (`storedText`; none for a version kept without
 * one), the incoming side's are `numbers` (the write's own, `UpdateOptions.numbers`). The write
 * guards judge `unchanged` by this same function (`lockScope`), so no text changes unseen by them.
 */
export function sameContent(stored: Resource, incoming: Resource, numbers?: NumberLexemes): boolean {
  const strip = (r: Resource) => {
    const { meta, ...rest } = r;
    const { versionId: _v, lastUpdated: _l, ...metaRest } = meta ?? {};
    return canonical({ ...rest, meta: Object.keys(metaRest).length ? metaRest : undefined });
  };
  if (strip(stored) !== strip(incoming)) return false;
  // Equal values: the same numbers at the same pointers, so the lexemes each side writes decide.
  const text = storedText(stored);
  const written = (lexemes: NumberLexemes | undefined) => canonical(Object.fromEntries(lexemes ?? []));
  return written(text === undefined ? undefined : numberLexemes(text)) === written(numbers?.size ? numberLexemes(resourceText(incoming, numbers)) : undefined);
}

/** JSON with object keys sorted and undefined dropped, so equal resources serialise equally. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** JSONB stores keys in its own order; serve `resourceType`, `id`, `meta` first as FHIR JSON customarily does. */
export function present(content: Resource): Resource {
  const { resourceType, id, meta, ...rest } = content;
  return { resourceType, id, meta, ...rest } as Resource;
}
