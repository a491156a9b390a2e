import { numberLexemes, storedText, type NumberLexemes } from '../common/fhir-json-text.js';

/**
 * A record's numbers as its sender wrote them (docs/decisions/0014): a result sent as `4.50`
 * is printed `4.50`, not JavaScript's `4.5`, since the trailing zero is the laboratory's
 * precision. The lexemes come from the version's stored text (`storedText`), found once per
 * record; a record read without its text prints the number as JavaScript writes it.
 */
const LEXEMES = new WeakMap<object, NumberLexemes | undefined>();

/** The number `value` at `pointer` (RFC 6901, from the record's root: `/valueQuantity/value`) as written; undefined stays undefined. */
export function writtenNumber(record: object, pointer: string, value: number | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!LEXEMES.has(record)) {
    const text = storedText(record);
    LEXEMES.set(record, text === undefined ? undefined : numberLexemes(text));
  }
  const lexeme = LEXEMES.get(record)?.get(pointer);
  return lexeme !== undefined && Object.is(Number(lexeme), value) ? lexeme : String(value);
}
