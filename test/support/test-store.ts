import type { Resource } from '@medplum/fhirtypes';
import { SystemClock } from '../../src/common/clock.js';
import { ChartWardenDatabase } from '../../src/database/chartwarden-database.js';
import { loadR4Definitions } from '../../src/store/fhir-definitions.js';
import { PatientCompartment } from '../../src/store/patient-compartment.js';
import { PostgresFhirStore } from '../../src/store/postgres/postgres-fhir.store.js';
import { SearchParameterRegistry } from '../../src/store/search/search-parameter.registry.js';
import { parseSearchRequest } from '../../src/store/search/search-request.js';
import { testDatabaseUrl } from './test-app.js';

/** The embedded store on the run's test database, as the module builds it, for tests of the store's own behaviour. */
export interface TestStore {
  db: ChartWardenDatabase;
  store: PostgresFhirStore;
  /** The ids a search finds (a query string as a client writes it, up to 1,000), sorted. */
  ids(type: string, query: string): Promise<string[]>;
  /** Creates `resource` and returns it as stored. */
  create<T extends Resource>(resource: T): Promise<T & { id: string }>;
  close(): Promise<void>;
}

export async function openTestStore(): Promise<TestStore> {
  loadR4Definitions();
  const registry = SearchParameterRegistry.fromProfiles();
  const db = await ChartWardenDatabase.connect(testDatabaseUrl(), 4);
  const store = new PostgresFhirStore(db, registry, PatientCompartment.fromProfiles(), new SystemClock());
  return {
    db,
    store,
    async ids(type, query) {
      const request = parseSearchRequest(type, [...new URLSearchParams(query).entries()], registry, { defaultCount: 100, maxCount: 1000, lenient: false });
      return (await store.search(request)).matches.map((r) => r.id as string).sort();
    },
    async create<T extends Resource>(resource: T) {
      return (await store.create(resource)).resource as T & { id: string };
    },
    close: () => db.onApplicationShutdown(),
  };
}
