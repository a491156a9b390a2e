import type { Resource } from '@medplum/fhirtypes';
import type { NumberLexemes } from '../../common/fhir-json-text.js';
import type { Clock } from '../../common/clock.js';
import type { Queryable } from '../../database/chartwarden-database.js';
import { StoreError, StoreErrorCode } from '../store.errors.js';
import { RemoteVersions, type VersionMapping } from './remote-versions.js';
import type { UpstreamCapabilities, UpstreamFhirServer, UpstreamWrite } from './upstream-server.js';

/** A version ChartWarden wrote in a transaction, waiting to go upstream at its commit. */
interface PendingWrite {
  resource: Resource & { id: string };
  version: number;
  numbers?: NumberLexemes;
}

/**
 * The writes of ChartWarden's open transactions, by transaction, sent upstream just before each
 * commits (decision 0017): one `PUT` for one record, one upstream transaction for several, so the
 * upstream takes all of a unit's writes or none. If the upstream refuses, ChartWarden's
 * transaction (the versions, the ledger, the audit) rolls back with it. If ChartWarden's commit
 * fails after the upstream accepted, the versions exist upstream only: the next read or sync
 * adopts them as written past ChartWarden, and alarms.
 */
export class UpstreamWrites {
  private readonly pending = new WeakMap<Queryable, PendingWrite[]>();

  constructor(
    private readonly upstream: UpstreamFhirServer,
    private readonly capabilities: UpstreamCapabilities,
    private readonly clock: Clock,
  ) {}

  /** Queues a version written in `tx`; `schedule` is called on the transaction's first write. */
  add(tx: Queryable, write: PendingWrite, schedule: () => void): void {
    let writes = this.pending.get(tx);
    if (!writes) {
      this.pending.set(tx, (writes = []));
      schedule();
    }
    writes.push(write);
  }

  /** Whether `tx` wrote the record (`Type/id`) and has not sent it yet. */
  has(tx: Queryable, key: string): boolean {
    return this.pending.get(tx)?.some((w) => `${w.resource.resourceType}/${w.resource.id}` === key) ?? false;
  }

  /** Sends `tx`'s writes upstream and maps the versions; a no-op when it has none (or they were sent). */
  async flush(tx: Queryable): Promise<void> {
    const writes = this.pending.get(tx);
    this.pending.delete(tx);
    if (!writes || writes.length === 0) return;
    // A record written twice in the transaction goes upstream once, as its last version.
    const last = new Map<string, PendingWrite>();
    for (const w of writes) last.set(`${w.resource.resourceType}/${w.resource.id}`, w);
    const records = [...last.values()];
    if (records.length > 1 && !this.capabilities.transactions) {
      throw new StoreError(
        StoreErrorCode.UpstreamNotSupported,
        `this write changes ${records.length} records at once, and the upstream FHIR server ${this.upstream.baseUrl} does not support transactions (its CapabilityStatement lists no "transaction" interaction): ChartWarden refuses it rather than applying it part by part`,
      );
    }
    const versions = new RemoteVersions(tx);
    await versions.lockRecords(records.map((w) => ({ type: w.resource.resourceType, id: w.resource.id })));
    const previous = await versions.latest(records.map((w) => ({ type: w.resource.resourceType, id: w.resource.id })));
    const sent: UpstreamWrite[] = records.map((w) => ({
      resource: w.resource,
      numbers: w.numbers,
      ifMatch: previous.get(`${w.resource.resourceType}/${w.resource.id}`)?.upstream,
    }));
    const answered = sent.length === 1 ? [await this.upstream.put(sent[0])] : await this.upstream.transaction(sent);
    // A version the transaction replaced before its commit never reached the upstream: only the last is mapped.
    const mappings: VersionMapping[] = records.map((w, n) => ({
      type: w.resource.resourceType,
      id: w.resource.id,
      version: w.version,
      upstream: answered[n].versionId,
      upstreamLastUpdated: answered[n].lastUpdated,
      origin: 'chartwarden',
    }));
    await versions.record(mappings, this.clock.now());
  }
}
