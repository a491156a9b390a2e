import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CompartmentDefinition } from '@medplum/fhirtypes';
import { packageRoot } from '../../common/package-root.js';
import type { SearchParameterRegistry } from '../search/search-parameter.registry.js';

/**
 * The R4 Patient CompartmentDefinition (`fhir-profiles/compartmentdefinition-patient.json`):
 * which reference parameters put a resource in a patient's compartment. `$everything` and,
 * later, the access policy's "resource's patient" attribute both read it.
 * https://hl7.org/fhir/R4/compartmentdefinition-patient.html
 */
export class PatientCompartment {
  private readonly members: { type: string; params: string[] }[];

  constructor(definition: CompartmentDefinition) {
    this.members = (definition.resource ?? [])
      .filter((r) => r.param && r.param.length)
      .map((r) => ({ type: r.code as string, params: r.param as string[] }));
  }

  static fromProfiles(dir = join(packageRoot(), 'fhir-profiles')): PatientCompartment {
    return new PatientCompartment(JSON.parse(readFileSync(join(dir, 'compartmentdefinition-patient.json'), 'utf8')));
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
