import { Module } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { ChartWardenOptions } from '../config/chartwarden.options.js';
import { CHARTWARDEN_OPTIONS } from '../config/module-options.js';
import { Clock } from '../common/clock.js';
import { ChartWardenDatabase } from '../database/chartwarden-database.js';
import { loadR4Definitions } from './fhir-definitions.js';
import { FhirStore } from './fhir-store.port.js';
import { PatientCompartment } from './patient-compartment.js';
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
      inject: [CHARTWARDEN_OPTIONS, ChartWardenDatabase, SearchParameterRegistry, PatientCompartment, Clock, ModuleRef],
      // The embedded store by default; a host's own adapter (`store: { kind: 'custom', store }`): a class built by Nest's injector, or an instance.
      useFactory: async (o: ChartWardenOptions, db: ChartWardenDatabase, registry: SearchParameterRegistry, compartment: PatientCompartment, clock: Clock, ref: ModuleRef) => {
        const chosen = o.store ?? { kind: 'embedded' };
        if (chosen.kind === 'embedded') return new PostgresFhirStore(db, registry, compartment, clock);
        return chosen.store instanceof FhirStore ? chosen.store : ref.create(chosen.store);
      },
    },
  ],
  exports: [FhirStore, SearchParameterRegistry, PatientCompartment],
})
export class StoreModule {}
