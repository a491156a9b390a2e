import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CodeableConcept, CodeSystem, ConceptMap, Resource } from '@medplum/fhirtypes';
import { packageRoot } from '../../common/package-root.js';

const profiles = new Map<string, { codeSystem: CodeSystem; map: ConceptMap }>();

export const DOCUMENT_TYPE_SYSTEM = 'https://chartwarden.dev/fhir/CodeSystem/document-type';

/** A regulation document type (入院记录, 病程记录…) with what the rules need to know of it. */
export interface DocumentType {
  code: string;
  display: string;
  /** Chinese name, as the record room and clinicians call it. */
  zh?: string;
  /** objective documents may be copied for a requester; subjective ones may not. */
  objectivity: 'objective' | 'subjective';
  /** the clinical event a writing deadline runs from, when there is one. */
  trigger?: string;
}

/** A code a HIS uses for a document, and the document type it means. */
export interface DocumentCode {
  system: string;
  code: string;
  type: string;
}

/**
 * The document types of `fhir-profiles/chartwarden-document-types.json` and the codes that
 * name them: the types' own codes, the shipped LOINC map (`chartwarden-document-type-map.json`)
 * and a hospital's extra codes (policy `governance.documentTypeMap`).
 */
export class DocumentTypes {
  private readonly types = new Map<string, DocumentType>();
  private readonly codes = new Map<string, string>();

  constructor(codeSystem: CodeSystem, maps: ConceptMap[], extra: readonly DocumentCode[] = []) {
    for (const c of codeSystem.concept ?? []) {
      const prop = (name: string) => c.property?.find((p) => p.code === name)?.valueCode;
      this.types.set(c.code as string, {
        code: c.code as string,
        display: c.display ?? (c.code as string),
        zh: c.designation?.find((d) => d.language === 'zh-CN')?.value,
        objectivity: prop('objectivity') === 'subjective' ? 'subjective' : 'objective',
        ...(prop('trigger') ? { trigger: prop('trigger') } : {}),
      });
      this.codes.set(key(DOCUMENT_TYPE_SYSTEM, c.code as string), c.code as string);
    }
    for (const map of maps) {
      for (const group of map.group ?? []) {
        for (const element of group.element ?? []) {
          const target = element.target?.find((t) => t.equivalence !== 'unmatched' && t.equivalence !== 'disjoint')?.code;
          if (target) this.add({ system: group.source as string, code: element.code as string, type: target });
        }
      }
    }
    for (const code of extra) this.add(code);
  }

  static fromProfiles(extra: readonly DocumentCode[] = [], dir = join(packageRoot(), 'fhir-profiles')): DocumentTypes {
    // The shipped files are read once per process (the policy loader and the module both ask).
    let shipped = profiles.get(dir);
    if (!shipped) {
      const read = <T>(file: string) => JSON.parse(readFileSync(join(dir, file), 'utf8')) as T;
      shipped = { codeSystem: read<CodeSystem>('chartwarden-document-types.json'), map: read<ConceptMap>('chartwarden-document-type-map.json') };
      profiles.set(dir, shipped);
    }
    return new DocumentTypes(shipped.codeSystem, [shipped.map], extra);
  }

  get(code: string): DocumentType | undefined {
    return this.types.get(code);
  }

  all(): DocumentType[] {
    return [...this.types.values()];
  }

  /** The document type a coding names, if any. */
  typeOf(system: string | undefined, code: string | undefined): string | undefined {
    return system && code ? this.codes.get(key(system, code)) : undefined;
  }

  /**
   * Every document type a resource's codings name (`type`, then `category`), without repeats:
   * for a release, a document is copied only if none of them is subjective.
   */
  classifyAll(resource: Resource): DocumentType[] {
    const r = resource as unknown as { type?: CodeableConcept; category?: CodeableConcept | CodeableConcept[] };
    const concepts: (CodeableConcept | undefined)[] = [r.type, ...(Array.isArray(r.category) ? r.category : r.category ? [r.category] : [])];
    const found = new Map<string, DocumentType>();
    for (const coding of concepts.flatMap((c) => c?.coding ?? [])) {
      const code = this.typeOf(coding.system, coding.code);
      const type = code ? this.types.get(code) : undefined;
      if (type) found.set(type.code, type);
    }
    return [...found.values()];
  }

  /** A resource's document type: its `type` codings first, then its `category`; undefined when none is known. */
  classify(resource: Resource): DocumentType | undefined {
    const r = resource as unknown as { type?: CodeableConcept; category?: CodeableConcept | CodeableConcept[] };
    const concepts: (CodeableConcept | undefined)[] = [r.type, ...(Array.isArray(r.category) ? r.category : r.category ? [r.category] : [])];
    for (const concept of concepts) {
      for (const coding of concept?.coding ?? []) {
        const type = this.typeOf(coding.system, coding.code);
        if (type) return this.types.get(type);
      }
    }
    return undefined;
  }

  private add(code: DocumentCode): void {
    if (!this.types.has(code.type)) throw new Error(`document type map: ${code.system}|${code.code} names unknown document type "${code.type}"`);
    this.codes.set(key(code.system, code.code), code.type);
  }
}

function key(system: string, code: string): string {
  return `${system}|${code}`;
}
