/** The little of FHIR R4 the console reads (patients and their visits), as plain types. */

export interface HumanName {
  text?: string;
  family?: string;
  given?: string[];
}

export interface Patient {
  resourceType: 'Patient';
  id: string;
  name?: HumanName[];
  gender?: string;
  birthDate?: string;
  deceasedBoolean?: boolean;
  deceasedDateTime?: string;
  identifier?: { use?: string; system?: string; value?: string; type?: { coding?: { system?: string; code?: string }[] } }[];
}

export interface Encounter {
  resourceType: 'Encounter';
  id: string;
  status?: string;
  class?: { code?: string; display?: string };
  period?: { start?: string; end?: string };
  serviceProvider?: { reference?: string; display?: string };
}

export interface Bundle<T> {
  resourceType: 'Bundle';
  total?: number;
  entry?: { resource?: T }[];
}

/** The resources of a search Bundle (OperationOutcome entries left out). */
export function resourcesOf<T extends { resourceType: string }>(bundle: Bundle<T>, type: T['resourceType']): T[] {
  return (bundle.entry ?? []).map((e) => e.resource).filter((r): r is T => r?.resourceType === type);
}

/** A name as the hospital writes it: `text`, else family name then given names (Han order, no space). */
export function nameOf(patient: Pick<Patient, 'name'> | undefined): string | undefined {
  const name = patient?.name?.[0];
  if (!name) return undefined;
  return name.text ?? [name.family, ...(name.given ?? [])].filter(Boolean).join('');
}
