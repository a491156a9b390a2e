import type { Encounter, Patient, Resource } from '@medplum/fhirtypes';
import type { PatientRecordIndex } from '../store/patient-record-index.port.js';
import { beijingClock } from './beijing-time.js';
import { encounterIdOf } from './reference-key.js';
import { humanName } from './resource-text.js';
import type { ChartPatient } from './chart-sheets.js';

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
/** The identifier type of a medical-record number (HL7 v2 table 0203). Numbers a hospital types otherwise are issue #18's (policy-configured MRN systems). */
const MR_TYPE = { system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' };

/**
 * The patient block of a copy's charts: name, gender, the medical-record number, and the
 * patient's own stays that `records` name, each with the day (Beijing time) it began, read
 * from the current Patient and Encounters. A stay of another patient's that a record names
 * is no stay of this chart's: nothing is read from it.
 */
export async function chartPatient(index: PatientRecordIndex, id: string, records: readonly Resource[]): Promise<ChartPatient> {
  const encounterOf = (r: Resource) => encounterIdOf((r as { encounter?: { reference?: string } }).encounter?.reference);
  const named = [...new Set(records.map(encounterOf).filter((e): e is string => !!e))];
  const foreign = new Set(await encountersNotOf(index, id, named));
  const own = named.filter((e) => !foreign.has(e));
  const found = await index.readMany([{ type: 'Patient', id }, ...own.map((e) => ({ type: 'Encounter', id: e }))]);
  const patient = found.find((f) => f.resource.resourceType === 'Patient')?.resource as Patient | undefined;
  const began = new Map(found.filter((f) => f.resource.resourceType === 'Encounter').map((f) => [f.resource.id, dayOf((f.resource as Encounter).period?.start)]));
  return {
    name: printedName(patient),
    ...(patient?.gender ? { gender: GENDER[patient.gender] } : {}),
    number: recordNumber(patient, id),
    stays: new Map(own.map((e) => [e, began.get(e)])),
  };
}

/** The medical-record number (病案号: an identifier of type MR) printed on the charts, else the record's id, labelled as such. */
export function recordNumber(patient: Patient | undefined, id: string): ChartPatient['number'] {
  const mr = (patient?.identifier ?? []).find((i) => i.value && (i.type?.coding ?? []).some((c) => c.system === MR_TYPE.system && c.code === MR_TYPE.code));
  return mr?.value ? { label: '病案号', value: mr.value } : { label: '患者ID', value: id };
}

/** The Beijing day of an instant, or a date sent without a time as it is. */
function dayOf(value: string | undefined): string | undefined {
  return beijingClock(value)?.date ?? (/^\d{4}-\d{2}-\d{2}$/.test(value ?? '') ? value : undefined);
}
