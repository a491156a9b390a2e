import type { Bundle, BundleEntry, Encounter, Observation, Patient } from '@medplum/fhirtypes';

/** The FHIR resources the benchmark seeds, creates and updates: small, valid R4. */

export function patient(n: number): Patient {
  const tag = String(n).padStart(4, '0');
  return {
    resourceType: 'Patient',
    identifier: [{ system: 'urn:chartwarden:bench:mrn', value: `MRN-${tag}` }],
    active: true,
    name: [{ family: 'Bench', given: [`Patient${tag}`] }],
    gender: n % 2 === 0 ? 'female' : 'male',
    birthDate: `19${String(50 + (n % 50)).padStart(2, '0')}-0${1 + (n % 9)}-1${n % 10}`,
  };
}

/** `Patient` with its id, changed by `revision` so that every PUT writes a new version. */
export function updatedPatient(n: number, id: string, revision: number): Patient {
  return { ...patient(n), id, telecom: [{ system: 'phone', value: `+86-10-${String(revision).padStart(8, '0')}`, use: 'home' }] };
}

export function heartRate(patientId: string, n: number): Observation {
  const minute = String(n % 60).padStart(2, '0');
  return {
    resourceType: 'Observation',
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: `2024-03-05T10:${minute}:00Z`,
    valueQuantity: { value: 60 + (n % 40), unit: 'beats/minute', system: 'http://unitsofmeasure.org', code: '/min' },
  };
}

/**
 * An admission of `patientId` in `department`, with `practitioner` as participant when given:
 * what puts a clinician on the patient's care relationship.
 */
export function admission(patientId: string, department: string, practitioner?: string): Encounter {
  return {
    resourceType: 'Encounter',
    status: 'in-progress',
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
    subject: { reference: `Patient/${patientId}` },
    serviceProvider: { reference: `Organization/${department}` },
    ...(practitioner ? { participant: [{ individual: { reference: practitioner } }] } : {}),
  };
}

/** A transaction Bundle POSTing `resources` (each with a `urn:uuid` fullUrl). */
export function transaction(resources: (Patient | Observation | Encounter)[]): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: resources.map(
      (resource, i): BundleEntry => ({
        fullUrl: `urn:uuid:00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
        resource,
        request: { method: 'POST', url: resource.resourceType },
      }),
    ),
  };
}
