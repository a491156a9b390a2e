import type { Resource } from '@medplum/fhirtypes';

// The document status vocabulary is the policy's (release and disputes read it too): re-exported for governance's own files.
export { CLOSED_STATUSES, documentStatus, isSigned, SIGNED_STATUSES } from '../../policy/domain/document-status.js';

/** The patient id a resource's `subject` names (`Patient/<id>`), if it names one. */
export function subjectPatient(resource: Resource): string | undefined {
  const ref = (resource as { subject?: { reference?: string } }).subject?.reference;
  return ref?.startsWith('Patient/') ? ref.slice('Patient/'.length) : undefined;
}
