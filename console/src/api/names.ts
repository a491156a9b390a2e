import { useQuery } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { useConfig } from '../app/config';
import { useApi } from './ApiProvider';
import type { ApiClient } from './client';
import { nameOf, resourcesOf, type Bundle, type HumanName, type Patient } from './fhir';
import { recordNumberOf } from './record-number';

/**
 * Names for the ids a page lists (patients; staff, whose token subject is their Practitioner's
 * id), each kind read in one FHIR search as the signed-in person (`Patient?_id=a,b,…`). What
 * the policy does not show, or what does not exist, stays as its id: a page never guesses.
 */
async function readAll<T extends { resourceType: string; id: string }>(api: ApiClient, type: T['resourceType'], ids: string[]): Promise<Map<string, T>> {
  const found = new Map<string, T>();
  for (let i = 0; i < ids.length; i += 50) {
    const bundle = await api.fhir<Bundle<T>>(`${type}?_id=${ids.slice(i, i + 50).map(encodeURIComponent).join(',')}&_count=50`);
    for (const r of resourcesOf(bundle, type)) found.set(r.id, r);
  }
  return found;
}

function useResources<T extends { resourceType: string; id: string }>(type: T['resourceType'], ids: readonly string[]) {
  const api = useApi();
  const unique = [...new Set(ids.filter((id) => /^[A-Za-z0-9\-.]{1,64}$/.test(id)))].sort();
  return useQuery({ queryKey: ['names', type, unique], enabled: unique.length > 0, queryFn: () => readAll<T>(api, type, unique), staleTime: 60_000 });
}

export interface PatientSummary {
  resourceType: 'Patient';
  id: string;
  name?: HumanName[];
  gender?: string;
  birthDate?: string;
  identifier?: Patient['identifier'];
}

/** The patients of `ids`, by id. */
export function usePatients(ids: readonly string[]) {
  return useResources<PatientSummary>('Patient', ids);
}

/** A name for each person id (`clerk-liu` → 刘芳), or the id itself. */
export function usePeopleNames(ids: readonly string[]): (id: string) => string {
  const people = useResources<{ resourceType: 'Practitioner'; id: string; name?: HumanName[] }>('Practitioner', ids);
  return (id) => nameOf(people.data?.get(id)) ?? id;
}

/** How a page shows which patient: `病案号 MR-42`, from the policy's systems the console is served; undefined without one. */
export function useRecordNumber(): (patient: Pick<Patient, 'identifier'> | undefined) => string | undefined {
  const { t } = useTranslation();
  const systems = useConfig().patients?.medicalRecordNumberSystems ?? [];
  return (patient) => {
    const value = recordNumberOf(patient, systems);
    return value === undefined ? undefined : t('intake.recordNumber', { value });
  };
}

export { nameOf };
