import { Inject, Injectable, Module, Optional, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { REMOTE_DEFAULTS, type ChartWardenOptions } from '../config/chartwarden.options.js';
import { CHARTWARDEN_OPTIONS } from '../config/module-options.js';
import { Clock } from '../common/clock.js';
import { ChartWardenDatabase } from '../database/chartwarden-database.js';
import { loadR4Definitions } from './fhir-definitions.js';
import { FhirStore } from './fhir-store.port.js';
import { PatientCompartment } from './patient-compartment.js';
import { PostgresFhirStore } from './postgres/postgres-fhir.store.js';
import { openRemoteStore, type RemoteStore } from './remote/remote-store.factory.js';
import { SearchParameterRegistry } from './search/search-parameter.registry.js';
import { StoreAlarms } from './store-alarms.js';

/** The remote store when `store.kind` is `remote` (else null), opened once: the store and its sync share it. */
const REMOTE_STORE = Symbol('REMOTE_STORE');

/** Runs the remote store's sync on its interval while the application runs (nothing for the embedded store). */
@Injectable()
class RemoteSyncSchedule implements OnApplicationBootstrap, OnModuleDestroy {
  private running?: { stop(): void };

  constructor(
    @Inject(CHARTWARDEN_OPTIONS) private readonly options: ChartWardenOptions,
    @Optional() @Inject(REMOTE_STORE) private readonly remote: RemoteStore | null,
  ) {}

  onApplicationBootstrap(): void {
    const store = this.options.store;
    const seconds = store?.kind === 'remote' ? (store.syncIntervalSeconds ?? REMOTE_DEFAULTS.syncIntervalSeconds) : 0;
    if (this.remote?.sync && seconds > 0) this.running = this.remote.sync.every(seconds);
  }

  onModuleDestroy(): void {
    this.running?.stop();
  }
}

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
    // One per application: another ChartWarden in the same process counts its own alarms.
    { provide: StoreAlarms, useFactory: () => new StoreAlarms() },
    {
      provide: REMOTE_STORE,
      inject: [CHARTWARDEN_OPTIONS, ChartWardenDatabase, SearchParameterRegistry, PatientCompartment, Clock, StoreAlarms],
      useFactory: async (o: ChartWardenOptions, db: ChartWardenDatabase, registry: SearchParameterRegistry, compartment: PatientCompartment, clock: Clock, alarms: StoreAlarms) => {
        if (o.store?.kind !== 'remote') return null;
        try {
          return await openRemoteStore(o.store, new PostgresFhirStore(db, registry, compartment, clock), db, clock, alarms);
        } catch (e) {
          // Nest shuts down nothing of a module that failed to build: the pool opened for it would keep the process alive.
          await db.onApplicationShutdown();
          throw e;
        }
      },
    },
    {
      provide: FhirStore,
      inject: [CHARTWARDEN_OPTIONS, ChartWardenDatabase, SearchParameterRegistry, PatientCompartment, Clock, ModuleRef, REMOTE_STORE],
      // The embedded store by default; the remote store in front of a FHIR server (issue #17); a host's own adapter (`store: { kind: 'custom', store }`): a class built by Nest's injector, or an instance.
      useFactory: async (o: ChartWardenOptions, db: ChartWardenDatabase, registry: SearchParameterRegistry, compartment: PatientCompartment, clock: Clock, ref: ModuleRef, remote: RemoteStore | null) => {
        const chosen = o.store ?? { kind: 'embedded' };
        if (chosen.kind === 'embedded') return new PostgresFhirStore(db, registry, compartment, clock);
        if (chosen.kind === 'remote') return (remote as RemoteStore).store;
        return chosen.store instanceof FhirStore ? chosen.store : ref.create(chosen.store);
      },
    },
    RemoteSyncSchedule,
  ],
  exports: [FhirStore, SearchParameterRegistry, PatientCompartment, StoreAlarms, REMOTE_STORE],
})
export class StoreModule {}

export { REMOTE_STORE };
