import { SystemClock } from '../../src/common/clock.js';
import { ChartWardenDatabase } from '../../src/database/chartwarden-database.js';
import { loadR4Definitions } from '../../src/store/fhir-definitions.js';
import { PatientCompartment } from '../../src/store/patient-compartment.js';
import { PostgresFhirStore } from '../../src/store/postgres/postgres-fhir.store.js';
import { openRemoteStore } from '../../src/store/remote/remote-store.factory.js';
import { SearchParameterRegistry } from '../../src/store/search/search-parameter.registry.js';
import { StoreAlarms } from '../../src/store/store-alarms.js';
import { startFhirPeer } from '../support/fhir-peer.js';
import { testDatabaseUrl } from '../support/test-app.js';
import { fhirStoreContract } from './fhir-store.contract.js';

/**
 * The remote store (issue #17) held to the same contract as the embedded one, in front of a real,
 * independent FHIR server: Medplum's FHIR router over HTTP (`test/support/fhir-peer.ts`).
 */
fhirStoreContract('RemoteFhirStore (Medplum FHIR router over HTTP)', async () => {
  loadR4Definitions();
  const db = await ChartWardenDatabase.connect(testDatabaseUrl(), 10);
  const peer = await startFhirPeer();
  const clock = new SystemClock();
  const local = new PostgresFhirStore(db, SearchParameterRegistry.fromProfiles(), PatientCompartment.fromProfiles(), clock);
  const { store } = await openRemoteStore({ kind: 'remote', url: peer.baseUrl }, local, db, clock, new StoreAlarms());
  return {
    store,
    close: async () => {
      await peer.close();
      await db.onApplicationShutdown();
    },
  };
});
