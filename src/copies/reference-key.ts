import type { Reference } from '@medplum/fhirtypes';
import { parseReference } from '../common/fhir-reference.js';

/**
 * `Type/id` of a FHIR reference however the HIS wrote it, read as the search index reads it
 * (`parseReference`: relative, absolute or versioned), or undefined for one that names no
 * stored record (`urn:uuid:…`, `#contained`): how a copy finds, among the versions it holds,
 * the result a report names, the order an administration carried out, a record's stay.
 */
export function referenceKey(reference: string | undefined): string | undefined {
  const named = parseReference(reference);
  return named && `${named.type}/${named.id}`;
}

/** The id of the Encounter `reference` names (in any form `referenceKey` reads), or undefined when it names no Encounter. */
export function encounterIdOf(reference: string | undefined): string | undefined {
  const named = parseReference(reference);
  return named?.type === 'Encounter' ? named.id : undefined;
}

/** A reference as a sheet prints it: its display, else the reference as written. */
export function referenceText(reference: Reference | undefined): string | undefined {
  return reference?.display ?? reference?.reference;
}
