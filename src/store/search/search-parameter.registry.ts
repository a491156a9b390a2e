import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseFhirPath, type FhirPathAtom } from '@medplum/core';
import type { Bundle, SearchParameter } from '@medplum/fhirtypes';
import { packageRoot } from '../../common/package-root.js';

/** Parameter types the embedded store indexes and searches. */
export type IndexedParamType = 'token' | 'reference' | 'date' | 'string' | 'uri';

/** One SearchParameter as it applies to one resource type. */
export interface SearchParamDef {
  code: string;
  type: IndexedParamType;
  /** The part of the definition's expression that concerns this resource type. */
  expression: string;
  atom: FhirPathAtom;
  /** Allowed target types, for reference parameters. */
  targets: readonly string[];
  url: string;
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

  constructor(definitions: readonly SearchParameter[]) {
    for (const sp of definitions) {
      if (!sp.expression || !isIndexed(sp.type)) continue;
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
          type: sp.type,
          expression,
          atom: parseFhirPath(expression),
          targets: (sp.target ?? []) as string[],
          url: sp.url as string,
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

  /** The parameters indexed for a type: its own, and those of every resource (`_security`, `_tag`, …). */
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
        atom: parseFhirPath(expression),
        targets: [],
        url: entry.sp.url as string,
      };
      entry.byType.set(resourceType, def);
    }
    return def;
  }

  /** Resource types with at least one indexed parameter. */
  indexedTypes(): string[] {
    return [...this.byType.keys()].sort();
  }
}

function isIndexed(type: string | undefined): type is IndexedParamType {
  return type === 'token' || type === 'reference' || type === 'date' || type === 'string' || type === 'uri';
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
