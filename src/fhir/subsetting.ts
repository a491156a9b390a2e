import { tryGetDataType } from '@medplum/core';
import type { Coding, Resource } from '@medplum/fhirtypes';
import { numberLexemes, resourceText, storedText, withStoredText } from '../common/fhir-json-text.js';
import { loadR4Definitions } from '../store/fhir-definitions.js';
import type { SearchResult } from '../store/fhir-store.port.js';
import { parseResultShape, type ResultShape } from '../store/search/search-request.js';
import { StoreError, StoreErrorCode } from '../store/store.errors.js';

/*
 * `_elements` and `_summary` (R4 search.html#elements, #summary): a reader asks for part of each
 * resource. Applied to what the caller was already allowed to see, after the access decision
 * and its audit entry: a subset reveals nothing the whole would not, and the audit names the
 * versions as for a whole read. The part is marked `SUBSETTED` so nobody takes it for the record.
 */

/** What part of each resource a reader asked for; `summary` `false` and `count` (the search's own) subset nothing. */
export type Subsetting = Readonly<ResultShape>;

/** The tag a partial resource carries (R4 search.html#summary: a client must not update from it). */
export const SUBSETTED: Coding = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED', display: 'subsetted' };

/**
 * Kept in every part: what identifies the resource and its version, and what changes the
 * meaning of the rest (`implicitRules`, `modifierExtension`: R4 marks them isModifier but not
 * isSummary, and a part without them could read as the opposite of the record).
 */
const ALWAYS = ['id', 'meta', 'implicitRules', 'modifierExtension'];

interface TypeElements {
  /** Top-level elements marked `isSummary` in the R4 StructureDefinition (choices by their name without `[x]`). */
  summary: ReadonlySet<string>;
  /** Top-level elements with `min` ≥ 1: a part always keeps them (it would not be valid without). */
  mandatory: ReadonlySet<string>;
  /** Names of the top-level choice elements (`value` of `value[x]`), to name `valueQuantity`. */
  choices: readonly string[];
}

const byType = new Map<string, TypeElements | undefined>();

/**
 * `_elements` and `_summary` of a read's query; undefined when neither asks for a part. Parsed as
 * a search parses them (`parseResultShape`), so both refuse the same values with the same 400;
 * `_summary=count` is a search's only.
 */
export function subsettingOf(pairs: readonly [string, string][]): Subsetting | undefined {
  const asked = parseResultShape(pairs);
  if (asked.summary === 'count') {
    throw new StoreError(StoreErrorCode.InvalidSearch, '_summary=count is not supported on a read (true, text, data or false).', ['_summary']);
  }
  return subsets(asked) ? asked : undefined;
}

/** Whether `s` asks for less than the whole resource. */
export function subsets(s: Subsetting): boolean {
  return (s.elements?.length ?? 0) > 0 || s.summary === 'true' || s.summary === 'text' || s.summary === 'data';
}

/**
 * The part of `resource` that `s` asks for, tagged `SUBSETTED`; `resource` itself when `s` asks
 * for the whole. `_elements` names top-level elements (`value` takes `valueQuantity`; a
 * primitive's `_birthDate` goes with `birthDate`) and wins over `_summary`. The part is a new
 * object: it carries a text of its own, with the numbers' lexemes of the stored text it came from.
 */
export function subset<T extends Resource>(resource: T, s: Subsetting): T {
  if (!subsets(s)) return resource;
  const type = elementsOf(resource.resourceType);
  const keep = keeper(type, s);
  const part: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(resource)) {
    if (key === 'resourceType' || keep(key, elementName(key, type))) part[key] = value;
  }
  part.meta = tagged(resource.meta);
  const from = storedText(resource);
  return withStoredText(part as T, resourceText(part, from === undefined ? undefined : numberLexemes(from)));
}

/** A search's matches and included resources, each subsetted (`_include`d ones too). */
export function subsetResult(result: SearchResult, s: Subsetting): SearchResult {
  if (!subsets(s)) return result;
  return { ...result, matches: result.matches.map((r) => subset(r, s)), included: result.included.map((r) => subset(r, s)) };
}

/** A read's stored version as asked: its part's own text in place of the stored text (`subsettingOf`'s undefined: as stored). */
export function subsetStored<T extends { json: string }>(stored: T, s: Subsetting | undefined): T {
  if (!s || !subsets(s)) return stored;
  const part = subset(withStoredText(JSON.parse(stored.json) as Resource, stored.json), s);
  return { ...stored, json: storedText(part) as string };
}

/** Which top-level keys a part keeps, by key and element name. */
function keeper(type: TypeElements | undefined, s: Subsetting): (key: string, name: string) => boolean {
  const mandatory = type?.mandatory ?? new Set<string>();
  const always = (name: string) => ALWAYS.includes(name) || mandatory.has(name);
  if (s.elements?.length) {
    const asked = new Set(s.elements);
    return (key, name) => always(name) || asked.has(name) || asked.has(key.replace(/^_/, ''));
  }
  if (s.summary === 'text') return (_key, name) => always(name) || name === 'text';
  if (s.summary === 'data') return (_key, name) => name !== 'text';
  const summary = type?.summary ?? new Set<string>();
  return (_key, name) => always(name) || summary.has(name);
}

/** The element a top-level key is (or extends): `_birthDate` → `birthDate`, `valueQuantity` → `value`. */
function elementName(key: string, type: TypeElements | undefined): string {
  const name = key.startsWith('_') ? key.slice(1) : key;
  for (const choice of type?.choices ?? []) {
    if (name.length > choice.length && name.startsWith(choice) && /[A-Z]/.test(name[choice.length])) return choice;
  }
  return name;
}

/** `meta` with the `SUBSETTED` tag added (once). */
function tagged(meta: Resource['meta']): NonNullable<Resource['meta']> {
  const tags = meta?.tag ?? [];
  if (tags.some((t) => t.system === SUBSETTED.system && t.code === SUBSETTED.code)) return { ...meta };
  return { ...meta, tag: [...tags, SUBSETTED] };
}

/** A type's top-level summary, mandatory and choice elements, from the R4 StructureDefinitions (read once per type). */
function elementsOf(resourceType: string): TypeElements | undefined {
  if (byType.has(resourceType)) return byType.get(resourceType);
  loadR4Definitions();
  const schema = tryGetDataType(resourceType);
  let found: TypeElements | undefined;
  if (schema) {
    const choices: string[] = [];
    const mandatory = new Set<string>();
    for (const [path, element] of Object.entries(schema.elements)) {
      const name = path.endsWith('[x]') ? path.slice(0, -3) : path;
      if (path.endsWith('[x]')) choices.push(name);
      if (!name.includes('.') && element.min > 0) mandatory.add(name);
    }
    found = { summary: new Set(schema.summaryProperties ?? []), mandatory, choices };
  }
  byType.set(resourceType, found);
  return found;
}
