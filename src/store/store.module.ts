import { Module } from '@nestjs/common';
import { Clock } from '../common/clock.js';
import { ChartWardenDatabase } from '../database/chartwarden-database.js';
import { loadR4Definitions } from './fhir-definitions.js';
import { FhirStore } from './fhir-store.port.js';
import { PatientCompartment } from './postgres/patient-compartment.js';
import { PostgresFhirStore } from './postgres/postgres-fhir.store.js';
import { SearchParameterRegistry } from './search/search-parameter.registry.js';

/**
 * The FHIR store behind the port (`FhirStore`, `PatientRecordIndex` through `FhirStore.records`)
 * and the R4 definitions it indexes by. The only module that touches the store's tables.
 */
@Module({
  providers: [
    {
      provide: SearchParameterRegistry,
      useFactory: () => {
        loadR4Definitions();
        return SearchParameterRegistry.fromProfiles();
      },
    },
    { provide: PatientCompartment, useFactory: () => PatientCompartment.fromProfiles() },
    {
      provide: FhirStore,
      inject: [ChartWardenDatabase, SearchParameterRegistry, PatientCompartment, Clock],
      useFactory: (db: ChartWardenDatabase, registry: SearchParameterRegistry, compartment: PatientCompartment, clock: Clock) =>
        new PostgresFhirStore(db, registry, compartment, clock),
    },
  ],
  exports: [FhirStore, SearchParameterRegistry, PatientCompartment],
})
export class StoreModule {}
