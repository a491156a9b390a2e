import type { Encounter, Patient, Resource } from '@medplum/fhirtypes';
import type { PatientRecordIndex } from '../store/patient-record-index.port.js';
import { beijingClock } from './beijing-time.js';
import { referenceKey } from './reference-key.js';
import { humanName } from './resource-text.js';
import type { ChartPatient } from './temperature-chart.js';

/**
 * What the workflows that hand out or seal copies (release, disputes) ask about a patient's
 * record: the name printed on a copy or a sealed inventory, and whether the encounters a scope
 * names are the patient's. Asked of the store's `PatientRecordIndex`, never of its tables
 * (docs/decisions/0013); pass `FhirStore.within(unit).records` to ask inside a unit of work.
 */

/** A patient's name as printed (the first name; Han names family first); empty when there is none. */
export function printedName(patient: Patient | undefined): string {
  const name = patient?.name?.[0];
  return name?.text ?? humanName(name) ?? '';
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

const GENDER: Readonly<Record<string, string>> = { male: '男', female: '女', other: '其他', unknown: '未知' };

/**
 * The patient block of a copy's charts: name, gender, id, and the day (Beijing time) the
 * earliest stay that `records` name began, read from the current Patient and Encounters.
 */
export async function chartPatient(index: PatientRecordIndex, id: string, records: readonly Resource[]): Promise<ChartPatient> {
  const encounterOf = (r: Resource) => {
    const key = referenceKey((r as { encounter?: { reference?: string } }).encounter?.reference);
    return key?.startsWith('Encounter/') ? key.slice('Encounter/'.length) : undefined;
  };
  const encounters = [...new Set(records.map(encounterOf).filter((e): e is string => !!e))];
  const found = await index.readMany([{ type: 'Patient', id }, ...encounters.map((e) => ({ type: 'Encounter', id: e }))]);
  const patient = found.find((f) => f.resource.resourceType === 'Patient')?.resource as Patient | undefined;
  const starts = found
    .filter((f) => f.resource.resourceType === 'Encounter')
    .map((f) => beijingClock((f.resource as Encounter).period?.start)?.date)
    .filter((d): d is string => !!d)
    .sort();
  return { name: printedName(patient), id, ...(patient?.gender ? { gender: GENDER[patient.gender] } : {}), ...(starts.length ? { admitted: starts[0] } : {}) };
}
