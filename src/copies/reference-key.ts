import type { Reference, Resource } from '@medplum/fhirtypes';
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

/**
 * The encounters a record is filed under, as its ids: `encounter` (most clinical records),
 * `context` when it names an Encounter (ChargeItem, MedicationAdministration) and
 * `context.encounter` (DocumentReference); an Encounter is its own. Sorted, once each.
 */
export function recordEncounters(resource: Resource): string[] {
  if (resource.resourceType === 'Encounter') return resource.id ? [resource.id] : [];
  const r = resource as { encounter?: Reference; context?: Reference | { encounter?: Reference[] } };
  const context = r.context && 'encounter' in r.context ? (r.context.encounter ?? []) : r.context ? [r.context as Reference] : [];
  const ids = [r.encounter, ...context].map((x) => encounterIdOf(x?.reference)).filter((e): e is string => !!e);
  return [...new Set(ids)].sort();
}

/** The patient a record is of, as an id: the Patient itself, or the Patient its `subject` or `patient` names; undefined otherwise. */
export function recordPatient(resource: Resource): string | undefined {
  if (resource.resourceType === 'Patient') return resource.id;
  const r = resource as { subject?: Reference; patient?: Reference };
  for (const ref of [r.subject, r.patient]) {
    const named = parseReference(ref?.reference);
    if (named?.type === 'Patient') return named.id;
  }
  return undefined;
}
