import type { Resource } from '@medplum/fhirtypes';

/** The patient id a resource's `subject` names (`Patient/<id>`), if it names one. */
export function subjectPatient(resource: Resource): string | undefined {
  const ref = (resource as { subject?: { reference?: string } }).subject?.reference;
  return ref?.startsWith('Patient/') ? ref.slice('Patient/'.length) : undefined;
}
