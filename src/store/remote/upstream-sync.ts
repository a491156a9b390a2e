import { Logger } from '@nestjs/common';
import type { Resource } from '@medplum/fhirtypes';
import type { Clock } from '../../common/clock.js';
import type { Queryable } from '../../database/chartwarden-database.js';
import { UnitOfWork } from '../../database/unit-of-work.js';
import type { FhirStore } from '../fhir-store.port.js';
import type { StoreAlarms } from '../store-alarms.js';
import { RemoteVersions, type SyncState } from './remote-versions.js';
import type { UpstreamFreshness } from './upstream-freshness.js';
import type { UpstreamFhirServer } from './upstream-server.js';

/** A database the sync runs its transaction in. */
export interface SyncDatabase {
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
}

/** What one run did. `skipped`: another instance was syncing, or synced meanwhile. */
export interface SyncRun {
  skipped: boolean;
  seen: number;
  adopted: number;
  complete: boolean;
  cursor?: Date;
}

/** Versions per history page asked of the upstream, and the most one run reads. */
const PAGE_SIZE = 200;
const RUN_LIMIT = 50_000;
/**
 * Versions younger than this are left to the next run: a write ChartWarden sends upstream is
 * mapped when ChartWarden's transaction commits, a moment after the upstream has it, and the
 * sync must not mistake it for a write that bypassed ChartWarden.
 */
const SETTLE_MS = 30_000;
const LOCK_KEY = 'chartwarden:remote-sync';
const logger = new Logger('RemoteSync');

/**
 * The sync from the upstream's system history (decision 0017): versions written past ChartWarden
 * (by another client of the upstream) are adopted, oldest first, with their index and an alarm
 * when they replace a version ChartWarden held, so searches see them without waiting for a read.
 * One instance of a cluster runs it at a time (an advisory lock); the cursor is the upstream's
 * `lastUpdated` of the newest version adopted or seen, kept in `remote_sync`.
 */
export class UpstreamSync {
  constructor(
    private readonly upstream: UpstreamFhirServer,
    private readonly freshness: UpstreamFreshness,
    private readonly local: FhirStore,
    private readonly db: SyncDatabase,
    private readonly alarms: StoreAlarms,
    private readonly clock: Clock,
  ) {}

  async runOnce(): Promise<SyncRun> {
    const at = this.clock.now();
    try {
      // The history is read before the transaction opens: paging through it may take a while, and no
      // connection should sit idle in a transaction meanwhile.
      const from = (await this.db.transaction((tx) => new RemoteVersions(tx).syncState())).cursor;
      const { changes, complete } = await this.upstream.history(from?.toISOString(), PAGE_SIZE, RUN_LIMIT);
      return await this.db.transaction(async (tx) => {
        const skipped = { skipped: true, seen: 0, adopted: 0, complete: true };
        const [{ locked }] = await tx.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock(hashtext($1)) AS locked', [LOCK_KEY]);
        if (!locked) return skipped;
        const versions = new RemoteVersions(tx);
        const state = await versions.syncState();
        // Another instance's run moved the cursor since it was read: that run stands, and this one's history may be behind it.
        if (state.cursor?.getTime() !== from?.getTime()) return skipped;
        const settled = at.getTime() - SETTLE_MS;
        const due = changes
          .filter((c) => c.lastUpdated === undefined || Date.parse(c.lastUpdated) <= settled)
          .sort((a, b) => Date.parse(a.lastUpdated ?? '') - Date.parse(b.lastUpdated ?? ''));
        const store = this.local.within(UnitOfWork.over(tx));
        const known = await versions.latest(due.map((c) => ({ type: c.type, id: c.id })));
        for (const c of due.filter((d) => d.method === 'DELETE' && known.has(`${d.type}/${d.id}`))) {
          this.alarms.raise({ kind: 'deleted-upstream', record: { type: c.type, id: c.id }, detail: 'deleted on the upstream FHIR server (its history says so); ChartWarden keeps its versions' });
        }
        const resources = due.map((c) => c.resource).filter((r): r is Resource => r !== undefined);
        const { adopted } = resources.length > 0 ? await this.freshness.reconcile(store, [], resources) : { adopted: 0 };
        const newest = due.reduce<number>((max, c) => Math.max(max, Date.parse(c.lastUpdated ?? '') || 0), 0);
        // An incomplete read (more than one run's worth) keeps the cursor: the next run starts where this one did.
        const cursor = complete && newest > 0 ? new Date(newest) : undefined;
        await versions.syncRan({ at, outcome: complete ? 'ok' : `incomplete: more than ${RUN_LIMIT} versions since the cursor`, cursor, seen: due.length, adopted });
        return { skipped: false, seen: due.length, adopted, complete, cursor: cursor ?? state.cursor };
      });
    } catch (e) {
      const reason = (e as Error).message;
      await this.db.transaction((tx) => new RemoteVersions(tx).syncRan({ at, outcome: `failed: ${reason}`, seen: 0, adopted: 0 })).catch(() => undefined);
      throw e;
    }
  }

  /** Runs every `seconds` until `stop` is called; a failed run is logged and retried at the next tick. */
  every(seconds: number): { stop(): void } {
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      this.runOnce()
        .then((run) => {
          if (run.adopted > 0) logger.log(`adopted ${run.adopted} of ${run.seen} upstream versions written past ChartWarden`);
        })
        .catch((e: unknown) => logger.warn(`sync from ${this.upstream.baseUrl} failed: ${(e as Error).message}`))
        .finally(() => (running = false));
    }, seconds * 1000);
    timer.unref();
    return { stop: () => clearInterval(timer) };
  }
}

/** Where the sync stands, for `npx chartwarden sync status`, read on any connection to ChartWarden's database. */
export function syncStatus(q: Queryable): Promise<SyncState> {
  return new RemoteVersions(q).syncState();
}
