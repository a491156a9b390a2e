import { useQuery } from '@tanstack/react-query';
import { useApi } from '../api/ApiProvider';
import { resourcesOf, type Bundle } from '../api/fhir';

interface Organization {
  resourceType: 'Organization';
  id: string;
  name?: string;
}

/**
 * A name for each department (the Organization id a token's `department` names), read in one
 * FHIR search as the signed-in person (`Organization?_id=a,b`); what the policy does not show,
 * or what does not exist, stays as its id (as `usePeopleNames` does for people).
 */
export function useDepartmentNames(ids: readonly string[]): (id: string) => string {
  const api = useApi();
  const unique = [...new Set(ids.filter((id) => /^[A-Za-z0-9\-.]{1,64}$/.test(id)))].sort();
  const found = useQuery({
    queryKey: ['names', 'Organization', unique],
    enabled: unique.length > 0,
    staleTime: 60_000,
    queryFn: async () => {
      const bundle = await api.fhir<Bundle<Organization>>(`Organization?_id=${unique.map(encodeURIComponent).join(',')}&_count=50`);
      return new Map(resourcesOf(bundle, 'Organization').map((o) => [o.id, o.name ?? o.id]));
    },
  });
  return (id) => found.data?.get(id) ?? id;
}
