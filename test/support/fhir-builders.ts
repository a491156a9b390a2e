import type { Bundle, Encounter, Observation, Organization, Patient, Resource } from '@medplum/fhirtypes';
import type { ApiCall } from './http.js';

/**
 * The clinical resources the access and hardening suites seed (a patient, an inpatient encounter
 * in a department with its care team, observations), and the keys they compare responses by.
 * Each suite keeps its own identifier and code systems, so no suite sees another's data.
 */

/** The class of an inpatient encounter (HL7 v3 ActCode `IMP`). */
export const INPATIENT = { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' };

/**
 * An in-progress inpatient stay of `patient` in department `dept` (its service provider), with
 * `practitioners` on its care team; `extra` adds or replaces fields (a period, a reason).
 */
export function inpatientStay(patient: string, dept: string, practitioners: string[], extra: Partial<Encounter> = {}): Encounter {
  return {
    resourceType: 'Encounter',
    status: 'in-progress',
    class: INPATIENT,
    subject: { reference: `Patient/${patient}` },
    serviceProvider: { reference: `Organization/${dept}` },
    participant: practitioners.map((reference) => ({ individual: { reference } })),
    ...extra,
  };
}

/** `Type/id` of a resource. */
export const keyOf = (r: Resource | undefined) => `${r?.resourceType}/${r?.id}`;

/** Every `Type/id` anywhere in a Bundle, including Bundles nested in batch-response entries. */
export function allKeys(b: Bundle | undefined): string[] {
  const out: string[] = [];
  for (const e of b?.entry ?? []) {
    if (!e.resource) continue;
    if (e.resource.resourceType === 'Bundle') out.push(...allKeys(e.resource as Bundle));
    else out.push(keyOf(e.resource));
  }
  return out;
}

/** A suite's systems: its identifiers, its observation codes, and the family name its patients share. */
export interface SeedSystems {
  identifier: string;
  code: string;
  family: string;
}

/** What an observation says: whose, in which encounter (if any), its code, identifier value and note text. */
export interface ObservationFacts {
  patient: string;
  encounter?: string;
  code: string;
  identifier: string;
  note: string;
}

/** Builders of the seed's resources under one suite's systems. */
export function clinicalBuilders(systems: SeedSystems) {
  const identifier = (value: string) => [{ system: systems.identifier, value }];
  return {
    identifier,
    /** Patient `label`, with `marker` in its name text (a leak of it is caught wherever it hides). */
    patient: (label: string, marker: string): Patient => ({
      resourceType: 'Patient',
      identifier: identifier(`patient-${label}`),
      name: [{ family: `${systems.family}${label}`, given: ['Test'], text: `${marker} patient ${label}` }],
    }),
    /** An in-progress inpatient stay in department `dept` with `practitioner` on its care team; `marker` (if any) in its reason. */
    encounter: (patient: string, dept: string, practitioner: string, marker?: string): Encounter =>
      inpatientStay(patient, dept, [practitioner], marker === undefined ? {} : { reasonCode: [{ text: `${marker} admission` }] }),
    /** A final heart rate of 72/min; `extra` replaces or adds fields. */
    observation: (facts: ObservationFacts, extra: Partial<Observation> = {}): Observation => ({
      resourceType: 'Observation',
      status: 'final',
      identifier: identifier(facts.identifier),
      code: { coding: [{ system: systems.code, code: facts.code }] },
      subject: { reference: `Patient/${facts.patient}` },
      ...(facts.encounter ? { encounter: { reference: `Encounter/${facts.encounter}` } } : {}),
      valueQuantity: { value: 72, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
      note: [{ text: facts.note }],
      ...extra,
    }),
  };
}

/**
 * PUTs each department as an Organization (id and name), as the HIS `token`. Suites seed the same
 * departments at the same moment: a lost race is retried once.
 */
export async function putDepartments(fhir: ApiCall, token: string, departments: [id: string, name: string][]): Promise<void> {
  for (const [id, name] of departments) {
    const org: Organization = { resourceType: 'Organization', id, name };
    let res = await fhir(token, 'PUT', `Organization/${id}`, org);
    if (res.status >= 300) res = await fhir(token, 'PUT', `Organization/${id}`, org);
    expect([200, 201]).toContain(res.status);
  }
}
