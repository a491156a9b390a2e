import { Logger } from '@nestjs/common';
import type { Clock } from '../../common/clock.js';
import { REMOTE_DEFAULTS, type RemoteStoreOptions } from '../../config/chartwarden.options.js';
import type { Queryable } from '../../database/chartwarden-database.js';
import type { FhirStore } from '../fhir-store.port.js';
import type { StoreAlarms } from '../store-alarms.js';
import { StoreError } from '../store.errors.js';
import { RemoteFhirStore } from './remote-fhir.store.js';
import { UpstreamFreshness } from './upstream-freshness.js';
import { UpstreamFhirServer, type UpstreamCapabilities } from './upstream-server.js';
import { UpstreamSync, type SyncDatabase } from './upstream-sync.js';
import { UpstreamWrites } from './upstream-writes.js';

/** The remote store, what the upstream said it can do, and the sync (absent when the upstream keeps no system history). */
export interface RemoteStore {
  store: RemoteFhirStore;
  capabilities: UpstreamCapabilities;
  sync?: UpstreamSync;
}

/** Thrown at start-up when the upstream cannot serve as ChartWarden's store: the message says what it lacks. */
export class UpstreamUnfitError extends Error {}

const logger = new Logger('RemoteStore');

/**
 * Opens the remote store: reads the upstream's CapabilityStatement first and says clearly what
 * it lacks. Refused: an upstream that does not answer one, or that does not take client-assigned
 * ids (ChartWarden chooses every id, decision 0017). Without transactions, writes of several
 * records at once (transaction Bundles, a signature with its Provenance) are refused; without
 * system history, writes that bypass ChartWarden are seen only when a record is read or found.
 */
export async function openRemoteStore(options: RemoteStoreOptions, local: FhirStore, db: SyncDatabase & Queryable, clock: Clock, alarms: StoreAlarms): Promise<RemoteStore> {
  const url = options.url.replace(/\/+$/, '');
  const upstream = new UpstreamFhirServer(url, options.auth ?? { kind: 'none' }, options.timeoutMs ?? REMOTE_DEFAULTS.timeoutMs);
  let capabilities: UpstreamCapabilities;
  try {
    capabilities = await upstream.capabilities();
  } catch (e) {
    throw new UpstreamUnfitError(`the upstream FHIR server ${url} cannot be used: ${e instanceof StoreError ? e.message : (e as Error).message}`);
  }
  if (!capabilities.updateCreate) {
    throw new UpstreamUnfitError(
      `the upstream FHIR server ${url} does not take client-assigned ids (its CapabilityStatement has no updateCreate: true): ChartWarden chooses the id of every record it creates, and writes it with PUT`,
    );
  }
  const lacks = [
    capabilities.transactions ? undefined : 'transactions (transaction Bundles and writes of several records at once will be refused)',
    capabilities.systemHistory ? undefined : 'system history (writes that bypass ChartWarden are seen only when a record is read or found; no sync)',
  ].filter((l): l is string => l !== undefined);
  logger.log(`FHIR store: the upstream server ${url}${capabilities.software ? ` (${capabilities.software})` : ''}${lacks.length ? `; it lacks ${lacks.join('; ')}` : ''}`);
  const freshness = new UpstreamFreshness(upstream, alarms, clock);
  const store = new RemoteFhirStore(local, { freshness, db, writes: new UpstreamWrites(upstream, capabilities, clock), alarms });
  const sync = capabilities.systemHistory ? new UpstreamSync(upstream, freshness, local, db, alarms, clock) : undefined;
  return { store, capabilities, sync };
}
