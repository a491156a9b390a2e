import { SystemClock } from '../../src/common/clock.js';
import { ChartWardenDatabase } from '../../src/database/chartwarden-database.js';
import { loadR4Definitions } from '../../src/store/fhir-definitions.js';
import { PatientCompartment } from '../../src/store/patient-compartment.js';
import { PostgresFhirStore } from '../../src/store/postgres/postgres-fhir.store.js';
import { SearchParameterRegistry } from '../../src/store/search/search-parameter.registry.js';
import { testDatabaseUrl } from '../support/test-app.js';
import { fhirStoreContract } from './fhir-store.contract.js';

fhirStoreContract('PostgresFhirStore (embedded)', async () => {
  loadR4Definitions();
  const db = await ChartWardenDatabase.connect(testDatabaseUrl(), 10);
  const store = new PostgresFhirStore(db, SearchParameterRegistry.fromProfiles(), PatientCompartment.fromProfiles(), new SystemClock());
  return { store, close: () => db.onApplicationShutdown() };
});
