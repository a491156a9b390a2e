import { SystemClock } from '../common/clock.js';
import { settingsFromEnv } from '../config/env.config.js';
import { ChartWardenDatabase } from '../database/chartwarden-database.js';
import { queryableOf, withOfflineClient } from '../database/offline-connection.js';
import { CHARTWARDEN_ENTITIES } from '../schema.js';
import { loadR4Definitions } from '../store/fhir-definitions.js';
import { PatientCompartment } from '../store/patient-compartment.js';
import { PostgresFhirStore } from '../store/postgres/postgres-fhir.store.js';
import { RemoteVersions } from '../store/remote/remote-versions.js';
import { openRemoteStore } from '../store/remote/remote-store.factory.js';
import { SearchParameterRegistry } from '../store/search/search-parameter.registry.js';
import { StoreAlarms } from '../store/store-alarms.js';

/** Adopted versions `sync status` lists. */
const LISTED = 10;

/**
 * What `npx chartwarden sync status|run` do (registered by `sync-commands.ts`, which loads this
 * module only when one of them runs: it brings the store, and every other command would pay for it).
 */

/** `sync status`: reads ChartWarden's database only. */
export async function syncStatus(databaseUrl: () => Promise<string>, failure: (message: string) => Error): Promise<void> {
  const store = settingsFromEnv().options.store;
  const upstream = store?.kind === 'remote' ? store.url : undefined;
  const { state, adopted } = await withOfflineClient(await databaseUrl(), 'chartwarden-sync-status', async (client) => {
    const versions = new RemoteVersions(queryableOf(client));
    return { state: await versions.syncState(), adopted: await versions.adopted(LISTED) };
  });
  const lines = [
    `sync status: ${upstream ? `upstream ${upstream}` : 'no upstream configured (CHARTWARDEN_UPSTREAM_FHIR_URL is unset): ChartWarden runs on its embedded store'}`,
    `  last run: ${state.lastRunAt?.toISOString() ?? 'never'}${state.lastOutcome ? ` (${state.lastOutcome})` : ''}`,
    `  cursor: ${state.cursor?.toISOString() ?? 'none (the next run reads the whole history)'}`,
    `  versions seen: ${state.versionsSeen}; adopted (written past ChartWarden): ${state.versionsAdopted}`,
    ...(adopted.length ? [`  latest adopted:`, ...adopted.map((a) => `    ${a.type}/${a.id} version ${a.version} (upstream ${a.upstream}) at ${a.recordedAt.toISOString()}`)] : []),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (state.lastOutcome?.startsWith('failed')) throw failure(`sync status: the last run failed: ${state.lastOutcome.slice('failed: '.length)}`);
}

/** `sync run`: one sync now, as the server's schedule runs it (skipped while another is in progress). */
export async function syncRun(databaseUrl: () => Promise<string>, failure: (message: string) => Error): Promise<void> {
  const store = settingsFromEnv().options.store;
  if (store?.kind !== 'remote') throw failure('sync run: no upstream configured: set CHARTWARDEN_UPSTREAM_FHIR_URL (and its credentials) as for the server');
  loadR4Definitions();
  const db = await ChartWardenDatabase.connect(await databaseUrl(), 2, 0, { as: 'owner' }, CHARTWARDEN_ENTITIES);
  try {
    const clock = new SystemClock();
    const local = new PostgresFhirStore(db, SearchParameterRegistry.fromProfiles(), PatientCompartment.fromProfiles(), clock);
    const remote = await openRemoteStore(store, local, db, clock, new StoreAlarms());
    if (!remote.sync) throw failure(`sync run: the upstream ${store.url} keeps no system history (its CapabilityStatement lists no history-system): nothing to sync from`);
    const run = await remote.sync.runOnce();
    if (run.skipped) {
      process.stdout.write('sync run: skipped: another sync (the server\'s) is in progress\n');
      return;
    }
    process.stdout.write(
      `sync run: ${run.seen} upstream versions seen, ${run.adopted} adopted${run.complete ? '' : ' (incomplete: run again)'}; cursor ${run.cursor?.toISOString() ?? 'none'}\n`,
    );
  } finally {
    await db.onApplicationShutdown();
  }
}
