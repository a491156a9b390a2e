import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseFhirPath, type FhirPathAtom } from '@medplum/core';
import type { Bundle, SearchParameter } from '@medplum/fhirtypes';
import { packageRoot } from '../../common/package-root.js';

/** Parameter types the embedded store indexes and searches (every R4 type but `special`). */
export type IndexedParamType = 'token' | 'reference' | 'date' | 'string' | 'uri' | 'number' | 'quantity' | 'composite';

/** The types a composite's components may have: its first a token or reference, the other any simple type. */
export type ComponentParamType = Exclude<IndexedParamType, 'composite'>;

/** One component of a composite parameter (https://hl7.org/fhir/R4/search.html#composite). */
export interface CompositeComponentDef {
  type: ComponentParamType;
  /** Relative to the composite's expression: evaluated on each element it yields. */
  expression: string;
  atoms: readonly FhirPathAtom[];
}

/** One SearchParameter as it applies to one resource type. */
export interface SearchParamDef {
  code: string;
  type: IndexedParamType;
  /** The part of the definition's expression that concerns this resource type. */
  expression: string;
  /**
   * The expression's `|` alternatives, parsed once: evaluated one by one rather than as a union,
   * whose duplicate removal compares every value deeply (the rows are deduplicated anyway).
   */
  atoms: readonly FhirPathAtom[];
  /** Allowed target types, for reference parameters. */
  targets: readonly string[];
  url: string;
  /** For composite parameters: the components, in the order a search value gives them (`a$b`). */
  components?: readonly CompositeComponentDef[];
}

/**
 * The search parameters ChartWarden supports, read from the SearchParameter definitions in
 * `fhir-profiles/search-parameters.json` (R4 definitions; regenerate with
 * `scripts/build-search-parameters.mjs`). Drives both indexing at write time and query
 * parsing, so the two can never disagree. https://hl7.org/fhir/R4/searchparameter.html
 */
export class SearchParameterRegistry {
  private readonly byType = new Map<string, Map<string, SearchParamDef>>();
  /** Parameters whose base is `Resource` (`_security`, `_tag`, …): they apply to every type. */
  private readonly common = new Map<string, { sp: SearchParameter; byType: Map<string, SearchParamDef> }>();
  /** Parsed `|` alternatives by text: parameters that share one (combo- and component- ones) share its atom. */
  private readonly atoms = new Map<string, FhirPathAtom>();
  /** Defined parameters this store does not search, by type then code, with the reason a search naming one is refused. */
  private readonly unsupported = new Map<string, Map<string, string>>();

  constructor(definitions: readonly SearchParameter[]) {
    const typeOfUrl = new Map(definitions.map((sp) => [sp.url as string, sp.type as string]));
    for (const sp of definitions) {
      if (!sp.expression) continue;
      const components = sp.type === 'composite' ? componentsOf(sp, typeOfUrl, (e) => this.alternatives(e)) : undefined;
      const refusal = !isIndexed(sp.type)
        ? `${sp.type} parameters are not supported`
        : sp.type === 'composite' && !components
          ? 'composites of more than two components are not supported'
          : undefined;
      if (refusal) {
        for (const base of sp.base ?? []) {
          const byCode = this.unsupported.get(base) ?? new Map<string, string>();
          byCode.set(sp.code as string, refusal);
          this.unsupported.set(base, byCode);
        }
        continue;
      }
      if ((sp.base as string[] | undefined)?.includes('Resource')) {
        this.common.set(sp.code as string, { sp, byType: new Map() });
        continue;
      }
      for (const base of sp.base ?? []) {
        const expression = expressionFor(base, sp.expression);
        if (!expression) continue;
        const params = this.byType.get(base) ?? new Map<string, SearchParamDef>();
        params.set(sp.code as string, {
          code: sp.code as string,
          type: sp.type as IndexedParamType,
          expression,
          atoms: this.alternatives(expression),
          targets: (sp.target ?? []) as string[],
          url: sp.url as string,
          components,
        });
        this.byType.set(base, params);
      }
    }
  }

  /** Loads the definitions shipped in `fhir-profiles/`. */
  static fromProfiles(dir = join(packageRoot(), 'fhir-profiles')): SearchParameterRegistry {
    const bundle = JSON.parse(readFileSync(join(dir, 'search-parameters.json'), 'utf8')) as Bundle<SearchParameter>;
    return new SearchParameterRegistry((bundle.entry ?? []).map((e) => e.resource as SearchParameter));
  }

  get(resourceType: string, code: string): SearchParamDef | undefined {
    return this.byType.get(resourceType)?.get(code) ?? this.commonFor(resourceType, code);
  }

  /**
   * Why a parameter R4 defines for the type is not searchable here (`near`: special), or
   * undefined: a search naming it is refused as unsupported, not as unknown.
   */
  unsupportedReason(resourceType: string, code: string): string | undefined {
    return this.unsupported.get(resourceType)?.get(code);
  }

  /**
   * The parameters indexed for a type: its own, and those of every resource (`_security`, `_tag`, …).
   * Exactly what a search of the type accepts (with `_id` and `_lastUpdated`): the
   * CapabilityStatement lists these, with their types.
   */
  forType(resourceType: string): readonly SearchParamDef[] {
    const own = [...(this.byType.get(resourceType)?.values() ?? [])];
    const common = [...this.common.keys()].map((code) => this.commonFor(resourceType, code) as SearchParamDef);
    return [...own, ...common];
  }

  /** A `Resource.x` parameter, rewritten for one type (`Observation.meta.security`) and cached. */
  private commonFor(resourceType: string, code: string): SearchParamDef | undefined {
    const entry = this.common.get(code);
    if (!entry) return undefined;
    let def = entry.byType.get(resourceType);
    if (!def) {
      const expression = (entry.sp.expression as string).replace(/^Resource\./, `${resourceType}.`);
      def = {
        code,
        type: entry.sp.type as IndexedParamType,
        expression,
        atoms: this.alternatives(expression),
        targets: [],
        url: entry.sp.url as string,
      };
      entry.byType.set(resourceType, def);
    }
    return def;
  }

  /**
   * An expression's top-level `|` alternatives, each parsed once for the whole registry: the
   * extractor evaluates an alternative once per resource however many parameters share it.
   */
  private alternatives(expression: string): FhirPathAtom[] {
    return splitTopLevel(expression).map((part) => {
      const text = part.trim();
      let atom = this.atoms.get(text);
      if (!atom) this.atoms.set(text, (atom = parseFhirPath(text)));
      return atom;
    });
  }

  /** Resource types with at least one indexed parameter. */
  indexedTypes(): string[] {
    return [...this.byType.keys()].sort();
  }
}

const INDEXED = new Set<string>(['token', 'reference', 'date', 'string', 'uri', 'number', 'quantity', 'composite']);

function isIndexed(type: string | undefined): type is IndexedParamType {
  return type !== undefined && INDEXED.has(type);
}

/**
 * A composite's components with their types (from the definitions they name), or undefined
 * when this store cannot index it: it keeps a first component that is a token or reference and
 * one more of any simple type, from the same element (`fhir_search_composite`). R4's only
 * longer composites are MolecularSequence's coordinate searches.
 */
function componentsOf(
  sp: SearchParameter,
  typeOfUrl: ReadonlyMap<string, string>,
  alternatives: (expression: string) => FhirPathAtom[],
): CompositeComponentDef[] | undefined {
  const components = (sp.component ?? []).map((c) => ({ type: typeOfUrl.get(c.definition as string), expression: c.expression as string }));
  if (components.length !== 2) return undefined;
  const [first, second] = components;
  if ((first.type !== 'token' && first.type !== 'reference') || !isIndexed(second.type) || second.type === 'composite') return undefined;
  return components.map((c) => ({ type: c.type as ComponentParamType, expression: c.expression, atoms: alternatives(c.expression) }));
}

/**
 * R4 definitions shared by several types join one path per type with `|`
 * (`AllergyIntolerance.patient | CarePlan.subject.where(...) | ...`); keep this type's parts.
 */
function expressionFor(resourceType: string, expression: string): string | undefined {
  const parts = splitTopLevel(expression).filter((p) => {
    const s = p.trim().replace(/^\(+/, '');
    return s.startsWith(`${resourceType}.`) || s === resourceType;
  });
  return parts.length ? parts.map((p) => p.trim()).join(' | ') : undefined;
}

/** Splits on `|` outside parentheses and string literals. */
function splitTopLevel(expression: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < expression.length; i++) {
    const c = expression[i];
    if (c === "'") quoted = !quoted;
    else if (!quoted && c === '(') depth++;
    else if (!quoted && c === ')') depth--;
    else if (!quoted && depth === 0 && c === '|') {
      parts.push(expression.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(expression.slice(start));
  return parts;
}
