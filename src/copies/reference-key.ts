import type { Reference } from '@medplum/fhirtypes';

/**
 * `Type/id` of a FHIR reference however the HIS wrote it — relative (`Observation/1`), absolute
 * (`http://his/fhir/Observation/1`) or versioned (`…/_history/2`) — or undefined for one that
 * names no stored record (`urn:uuid:…`, `#contained`): how a copy finds, among the versions it
 * holds, the result a report names, the order an administration carried out, a record's stay.
 */
export function referenceKey(reference: string | undefined): string | undefined {
  return /(?:^|\/)([A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(reference ?? '')?.[1];
}

/** A reference as a sheet prints it: its display, else the reference as written. */
export function referenceText(reference: Reference | undefined): string | undefined {
  return reference?.display ?? reference?.reference;
}
