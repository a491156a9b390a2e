import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CompartmentDefinition } from '@medplum/fhirtypes';
import { byCodeUnit } from '../common/code-unit-order.js';
import { packageRoot } from '../common/package-root.js';
import type { SearchParameterRegistry } from './search/search-parameter.registry.js';

/** The index row naming the patient whose record a resource is (decision 0016): one per resource, or none. */
export const OWNER_PARAM = '_patient';

/**
 * Link parameters that name the patient whose record a resource is, tried first in this
 * order; the compartment's other parameters follow in its own order (a Communication's
 * `subject` before its `sender`, an Invoice's `patient` before its `recipient`).
 */
const OWNER_FIRST = ['patient', 'subject', 'beneficiary', 'individual'];

/** Types in the compartment filed under no patient: a Group lists many patients and belongs to none of their records. */
const OWNERLESS = new Set(['Group']);

/** A reference index row: which parameter, pointing at which resource. */
export interface LinkRow {
  param: string;
  targetType: string;
  targetId: string;
}

/**
 * The R4 Patient CompartmentDefinition (`fhir-profiles/compartmentdefinition-patient.json`):
 * which types belong to a patient's record and through which reference parameters. The
 * policy's `patient-record` group, the access facts' patient, `$everything` and a seal's
 * whole-record scope all read it. https://hl7.org/fhir/R4/compartmentdefinition-patient.html
 */
export class PatientCompartment {
  private readonly members: { type: string; params: string[] }[];
  private readonly byType: Map<string, readonly string[]>;

  constructor(definition: CompartmentDefinition) {
    this.members = (definition.resource ?? [])
      .filter((r) => r.param && r.param.length)
      .map((r) => ({ type: r.code as string, params: r.param as string[] }));
    this.byType = new Map(
      this.members.map((m) => [m.type, [...OWNER_FIRST.filter((p) => m.params.includes(p)), ...m.params.filter((p) => !OWNER_FIRST.includes(p))]]),
    );
  }

  static fromProfiles(dir = join(packageRoot(), 'fhir-profiles')): PatientCompartment {
    return new PatientCompartment(JSON.parse(readFileSync(join(dir, 'compartmentdefinition-patient.json'), 'utf8')));
  }

  /** The types with a link to a patient (the compartment's members with parameters), sorted. */
  memberTypes(): string[] {
    return this.members.map((m) => m.type).sort();
  }

  /** The type's link parameters, the owner's first (`OWNER_FIRST`); empty for a type outside the compartment. */
  linkParams(type: string): readonly string[] {
    return this.byType.get(type) ?? [];
  }

  /** The types whose resources are filed under a patient by `ownerOf` (the members less `OWNERLESS`). */
  ownedTypes(): string[] {
    return this.memberTypes().filter((t) => !OWNERLESS.has(t));
  }

  /**
   * The patient whose record the resource is, from its reference index rows: the first link
   * parameter (in `linkParams` order) naming a Patient, and of several Patients it names the
   * first by code unit, as PostgreSQL's "C" collation orders them. A Patient is its own.
   */
  ownerOf(type: string, id: string | undefined, references: readonly LinkRow[]): string | undefined {
    if (type === 'Patient') return id;
    if (OWNERLESS.has(type)) return undefined;
    for (const param of this.linkParams(type)) {
      const ids = references.filter((r) => r.param === param && r.targetType === 'Patient').map((r) => r.targetId);
      if (ids.length) return ids.sort(byCodeUnit)[0];
    }
    return undefined;
  }

  /** Every Patient the resource links through the compartment's parameters (a hold on any of them holds the write). */
  patientsOf(type: string, id: string | undefined, references: readonly LinkRow[]): string[] {
    if (type === 'Patient') return id === undefined ? [] : [id];
    const params = new Set(this.linkParams(type));
    return [...new Set(references.filter((r) => params.has(r.param) && r.targetType === 'Patient').map((r) => r.targetId))];
  }

  /** (type, param) pairs, as parallel arrays, that this store indexes as reference parameters. */
  memberParams(registry: SearchParameterRegistry): { types: string[]; params: string[] } {
    const types: string[] = [];
    const params: string[] = [];
    for (const m of this.members) {
      for (const code of m.params) {
        if (registry.get(m.type, code)?.type === 'reference') {
          types.push(m.type);
          params.push(code);
        }
      }
    }
    return { types, params };
  }
}
