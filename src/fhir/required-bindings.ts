import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tryGetDataType, type InternalSchemaElement, type InternalTypeSchema } from '@medplum/core';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { packageRoot } from '../common/package-root.js';

/**
 * The expansions of the R4 ValueSets bound with strength `required`, as
 * `scripts/build-required-bindings.mjs` writes them to `fhir-profiles/required-valuesets.json`:
 * ValueSet URL -> code system -> codes; and the ValueSets that could not be expanded, with why.
 */
export interface RequiredValueSets {
  valueSets: Record<string, Record<string, string[]>>;
  notEnforced: Record<string, string>;
}

/** How many allowed codes an issue lists before it refers to the ValueSet instead. */
export const ALLOWED_CODES_SHOWN = 20;

/** One ValueSet's expansion, in lookup form (Maps and Sets: the codes looked up are untrusted input). */
interface ValueSetCodes {
  url: string;
  systems: ReadonlyMap<string, ReadonlySet<string>>;
  /** Every code of every system: what a `code` element may hold (its system is implied). */
  codes: ReadonlySet<string>;
}

interface Field {
  type: string;
  primitive: boolean;
  isArray: boolean;
  binding?: ValueSetCodes;
}

/** A data type, resource or backbone element compiled for the walk: JSON key -> what it holds. */
interface CompiledType {
  fields: ReadonlyMap<string, Field>;
}

/** Keys a plain object inherits: `key in schema.elements` is true for them, so a lookup by name wrongly "knows" them. */
const isInheritedName = (key: string): boolean => key in Object.prototype || (key.startsWith('_') && key.slice(1) in Object.prototype);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isPrimitiveType = (code: string): boolean => !/^[A-Z]/.test(code);

let shipped: RequiredValueSets | undefined;

/**
 * Enforces every required terminology binding of FHIR R4 (R-17: a record is not stored
 * corrupted), and refuses what the structural validator lets through:
 * - a `code`, `Coding` or `CodeableConcept` element bound `required`, anywhere (backbone
 *   elements, data types, choice types, extensions' values, contained resources), must hold a
 *   concept of the ValueSet (https://hl7.org/fhir/R4/terminologies.html#required): a code of
 *   the expansion; a Coding whose system and code are in it; a CodeableConcept with at least
 *   one such coding. Other codings of a CodeableConcept are translations and may stay beside
 *   it, but text or foreign codings alone do not satisfy the binding, and a coding that claims
 *   one of the ValueSet's systems with a code outside it is wrong whatever else is present;
 * - elements named like members of `Object.prototype` (`__proto__`, `constructor`,
 *   `toString`, …), which a lookup by name on a plain object mistakes for known elements;
 * - `_name` primitive-extension keys beside elements that are not primitive, and `resourceType`
 *   inside an element that is not a resource;
 * - nested resources (`contained`, `Bundle.entry.resource`, …) whose `resourceType` is not a
 *   concrete R4 resource type.
 *
 * Each type is compiled once, on its first use; the expansions are read when the first bound element is compiled.
 * ValueSets the shipped definitions cannot expand (external code systems: BCP-13 MIME types,
 * ISO 4217 currencies, UCUM units; ValueSets not shipped) are not enforced.
 */
export class RequiredBindings {
  private readonly compiled = new Map<string, CompiledType>();
  private valueSets: Map<string, ValueSetCodes> | undefined;

  constructor(
    private readonly resourceTypes: ReadonlySet<string>,
    private readonly load: () => RequiredValueSets = readShippedValueSets,
  ) {}

  /** Every problem found in `resource`, as OperationOutcome issues (empty when none). */
  check(resource: Resource): OperationOutcomeIssue[] {
    const issues: OperationOutcomeIssue[] = [];
    this.checkResource(resource as unknown as Record<string, unknown>, resource.resourceType, issues);
    return issues;
  }

  private checkResource(value: Record<string, unknown>, path: string, issues: OperationOutcomeIssue[]): void {
    const type = value.resourceType;
    if (typeof type !== 'string' || !this.resourceTypes.has(type)) {
      issues.push(issue('structure', `${path}.resourceType`, `${JSON.stringify(type ?? null)} is not an R4 resource type`));
      return;
    }
    this.walk(value, this.compile(type), path, issues, true);
  }

  private walk(value: Record<string, unknown>, type: CompiledType, path: string, issues: OperationOutcomeIssue[], isResource = false): void {
    for (const key of Object.keys(value)) {
      if (key === 'resourceType' && isResource) continue;
      const field = type.fields.get(key);
      if (field) {
        this.visit(value[key], field, `${path}.${key}`, issues);
        continue;
      }
      const underlying = key.startsWith('_') ? type.fields.get(key.slice(1)) : undefined;
      if (underlying?.primitive) {
        // A primitive's id and extensions: `_given: [null, {…}]` lines up with `given`.
        this.visit(value[key], { type: 'Element', primitive: false, isArray: underlying.isArray }, `${path}.${key}`, issues, true);
      } else if (underlying || isInheritedName(key) || key === 'resourceType') {
        issues.push(issue('structure', `${path}.${key}`, `Invalid additional property "${key}"`));
      }
      // Any other unknown key is reported by the structural validator (which skips `resourceType` everywhere).
    }
  }

  private visit(value: unknown, field: Field, path: string, issues: OperationOutcomeIssue[], nullable = false): void {
    const items = field.isArray && Array.isArray(value) ? value : [value];
    items.forEach((item: unknown, i) => {
      const at = field.isArray && Array.isArray(value) ? `${path}[${i}]` : path;
      if (item === null && nullable) return;
      if (field.binding) this.checkBinding(item, field, field.binding, at, issues);
      if (field.primitive || !isObject(item)) return; // wrong shapes are the structural validator's
      if (field.type === 'Resource') this.checkResource(item, at, issues);
      else this.walk(item, this.compile(field.type), at, issues);
    });
  }

  private checkBinding(value: unknown, field: Field, vs: ValueSetCodes, path: string, issues: OperationOutcomeIssue[]): void {
    if (field.type === 'CodeableConcept') {
      if (!isObject(value)) return;
      const codings = Array.isArray(value.coding) ? value.coding : [];
      let matched = false;
      let claimed = false;
      codings.forEach((coding: unknown, i) => {
        if (!isObject(coding) || typeof coding.system !== 'string') return;
        const codes = vs.systems.get(coding.system);
        if (!codes) return; // another system: a translation, allowed beside a coding of the value set
        claimed = true;
        if (typeof coding.code === 'string' && codes.has(coding.code)) matched = true;
        else issues.push(codeIssue(`${path}.coding[${i}]`, `${JSON.stringify(coding.code ?? null)} is not a code of ${coding.system} in`, vs));
      });
      if (!matched && !claimed) issues.push(codeIssue(path, 'No coding is from', vs));
    } else if (field.type === 'Coding') {
      if (!isObject(value)) return;
      const codes = typeof value.system === 'string' ? vs.systems.get(value.system) : undefined;
      if (!codes || typeof value.code !== 'string' || !codes.has(value.code)) {
        const what = typeof value.system === 'string' ? `${value.system}|${String(value.code)}` : `${JSON.stringify(value.code ?? null)} without a system`;
        issues.push(codeIssue(path, `${what} is not in`, vs));
      }
    } else if (field.primitive && typeof value === 'string' && !vs.codes.has(value)) {
      issues.push(codeIssue(path, `${JSON.stringify(value)} is not in`, vs));
    }
  }

  private compile(typeName: string): CompiledType {
    const cached = this.compiled.get(typeName);
    if (cached) return cached;
    const schema: InternalTypeSchema | undefined = tryGetDataType(typeName);
    const fields = new Map<string, Field>();
    for (const [name, element] of Object.entries(schema?.elements ?? {})) {
      const choice = name.endsWith('[x]');
      for (const { code } of element.type) {
        const key = choice ? name.slice(0, -3) + code.charAt(0).toUpperCase() + code.slice(1) : name;
        // Element.id and Extension.url are typed by a FHIRPath system URL: primitives too.
        fields.set(key, { type: code, primitive: isPrimitiveType(code), isArray: element.isArray ?? false, binding: this.bindingOf(element) });
      }
    }
    const type = { fields };
    this.compiled.set(typeName, type);
    return type;
  }

  private bindingOf(element: InternalSchemaElement): ValueSetCodes | undefined {
    if (element.binding?.strength !== 'required' || !element.binding.valueSet) return undefined;
    this.valueSets ??= index(this.load());
    return this.valueSets.get(element.binding.valueSet.split('|')[0]);
  }
}

function index(data: RequiredValueSets): Map<string, ValueSetCodes> {
  const out = new Map<string, ValueSetCodes>();
  for (const [url, systems] of Object.entries(data.valueSets)) {
    const bySystem = new Map(Object.entries(systems).map(([system, codes]) => [system, new Set(codes)] as const));
    out.set(url, { url, systems: bySystem, codes: new Set(Object.values(systems).flat()) });
  }
  return out;
}

/** `fhir-profiles/required-valuesets.json`, read once per process (it is the same for every module). */
function readShippedValueSets(): RequiredValueSets {
  shipped ??= JSON.parse(readFileSync(join(packageRoot(), 'fhir-profiles', 'required-valuesets.json'), 'utf8')) as RequiredValueSets;
  return shipped;
}

function issue(code: 'structure' | 'code-invalid', path: string, text: string): OperationOutcomeIssue {
  return { severity: 'error', code, details: { text }, expression: [path] };
}

function codeIssue(path: string, problem: string, vs: ValueSetCodes): OperationOutcomeIssue {
  return issue('code-invalid', path, `${problem} the required value set ${vs.url}; allowed: ${allowedCodes(vs)}`);
}

/** The first codes of the expansion (with their system when the ValueSet spans several), then a count of the rest. */
export function allowedCodes(vs: { url: string; systems: ReadonlyMap<string, ReadonlySet<string>> }, shown = ALLOWED_CODES_SHOWN): string {
  const single = vs.systems.size === 1;
  const all = [...vs.systems].flatMap(([system, codes]) => [...codes].map((c) => (single ? c : `${system}|${c}`)));
  const head = all.slice(0, shown).join(', ');
  const system = single ? ` (system ${[...vs.systems.keys()][0]})` : '';
  return all.length > shown ? `${head}, … and ${all.length - shown} more${system} (see ${vs.url})` : `${head}${system}`;
}
