import type { NumberLexemes } from '../common/fhir-json-text.js';

/** Entry `index`'s resource lexemes, as `lexemesUnder(numbers, '/entry/<index>/resource')` gives them. */
export type EntryLexemes = (index: number) => NumberLexemes | undefined;

/** An entry resource's lexeme's pointer: its entry's index, and where the pointer under the resource starts. */
const ENTRY_RESOURCE = /^\/entry\/(0|[1-9]\d*)\/resource(?=\/|$)/;

/**
 * The Bundle's lexemes by entry, parted once (`lexemesUnder` for each entry reads them all: a
 * Bundle of 500 vital signs written `37.0` read 250,000 pointers). Each entry's map holds its
 * pointers in the Bundle's order, less the prefix, as `lexemesUnder` gives them.
 */
export function entryLexemes(numbers: NumberLexemes | undefined): EntryLexemes {
  if (!numbers) return () => undefined;
  const byEntry = new Map<number, Map<string, string>>();
  for (const [at, lexeme] of numbers) {
    const m = ENTRY_RESOURCE.exec(at);
    if (!m) continue;
    const index = Number(m[1]);
    let found = byEntry.get(index);
    if (!found) byEntry.set(index, (found = new Map()));
    found.set(at.slice(m[0].length), lexeme);
  }
  return (index) => byEntry.get(index);
}
