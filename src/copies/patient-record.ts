import type { Patient } from '@medplum/fhirtypes';
import type { PatientRecordIndex } from '../store/patient-record-index.port.js';
import { personName } from './paper.js';

/**
 * What the workflows that hand out or seal copies (release, disputes) ask about a patient's
 * record: the name printed on a copy or a sealed inventory, and whether the encounters a scope
 * names are the patient's. Asked of the store's `PatientRecordIndex`, never of its tables
 * (docs/decisions/0013); pass `FhirStore.within(unit).records` to ask inside a unit of work.
 * The whole patient block of a paper (病案号, 性别, 年龄, 科室…) is `patient-block.ts`'s.
 */

/** A patient's name as printed (the official name, else the first in use; Han names family first); empty when there is none. */
export function printedName(patient: Patient | undefined): string {
  return personName(patient?.name) ?? '';
}

/** The patient's name as printed on a copy, from the current version; empty when the patient is not known or has no name. */
export async function patientName(records: PatientRecordIndex, id: string): Promise<string> {
  const [found] = await records.readMany([{ type: 'Patient', id }]);
  return printedName(found?.resource as Patient | undefined);
}

/** Of `encounters`, those that are not the patient's (by their subject), in the order given: empty when all are. */
export async function encountersNotOf(records: PatientRecordIndex, patient: string, encounters: readonly string[]): Promise<string[]> {
  if (encounters.length === 0) return [];
  const own = new Set(await records.encountersOfPatient(patient));
  return encounters.filter((e) => !own.has(e));
}
