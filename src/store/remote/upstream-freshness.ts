import type { Resource } from '@medplum/fhirtypes';
import type { Clock } from '../../common/clock.js';
import type { Queryable } from '../../database/chartwarden-database.js';
import { sqlOf } from '../../database/unit-of-work.js';
import type { FhirStore } from '../fhir-store.port.js';
import type { RecordRef } from '../patient-record-index.port.js';
import type { StoreAlarms } from '../store-alarms.js';
import { RemoteVersions, type MappedVersion } from './remote-versions.js';
import type { UpstreamFhirServer } from './upstream-server.js';

/** What the upstream holds of records ChartWarden was asked about, once ChartWarden's copy is brought up to it. */
export interface Refreshed {
  /** Records the upstream no longer has (deleted past ChartWarden): never answered. */
  gone: Set<string>;
  /** How many records had a version ChartWarden did not hold (now adopted). */
  adopted: number;
  /** Of `gone`, the records ChartWarden holds (wrote or adopted): deleted on the upstream past it. */
  deleted: Set<string>;
}

const keyOf = (r: RecordRef): string => `${r.type}/${r.id}`;

/**
 * Brings ChartWarden's copy of records up to the upstream's current versions before anything
 * is judged or answered (decision 0017): the upstream is asked for their current versions (one
 * read, or one `_id` search per type), and a version ChartWarden does not hold (written past
 * it) is adopted: stored as ChartWarden's next version with its index, mapped to the upstream's
 * id as `origin: upstream`, and alarmed. Access is then decided on the facts of what the
 * upstream holds now, never on what it held when ChartWarden last wrote.
 */
export class UpstreamFreshness {
  constructor(
    private readonly upstream: UpstreamFhirServer,
    private readonly alarms: StoreAlarms,
    private readonly clock: Clock,
  ) {}

  /** One record, by a read. `lookup`: where ChartWarden's versions are read first (see `reconcile`). */
  async one(store: FhirStore, ref: RecordRef, lookup?: Queryable): Promise<Refreshed> {
    const current = await this.upstream.read(ref.type, ref.id);
    return this.reconcile(store, [ref], current ? [current] : [], lookup);
  }

  /** Many records, by one search per type. */
  async many(store: FhirStore, refs: readonly RecordRef[], lookup?: Queryable): Promise<Refreshed> {
    const byType = new Map<string, string[]>();
    for (const r of refs) byType.set(r.type, [...(byType.get(r.type) ?? []), r.id]);
    const fetched: Resource[] = [];
    for (const [type, ids] of byType) fetched.push(...(await this.upstream.readMany(type, [...new Set(ids)])));
    return this.reconcile(store, refs, fetched, lookup);
  }

  /**
   * Adopts every fetched version ChartWarden does not hold, in one transaction of ChartWarden's
   * database (joined when `store` is in one), and names the records the upstream lacks. `store` is
   * the local (embedded) store: an adopted version is ChartWarden's copy of what the upstream holds, never sent back to it.
   */
  async reconcile(store: FhirStore, asked: readonly RecordRef[], fetched: readonly Resource[], lookup?: Queryable): Promise<Refreshed> {
    const present = new Set(fetched.map((r) => `${r.resourceType}/${r.id}`));
    const gone = new Set(asked.map(keyOf).filter((k) => !present.has(k)));
    const refs = [...asked, ...fetched.map((r) => ({ type: r.resourceType, id: r.id as string }))];
    // The usual case, every upstream version one ChartWarden holds, answered by one statement: no transaction to open.
    if (lookup && gone.size === 0) {
      const known = await new RemoteVersions(lookup).latest(refs);
      if (fetched.every((r) => r.meta?.versionId !== undefined && known.get(`${r.resourceType}/${r.id}`)?.upstream === r.meta.versionId)) {
        return { gone, adopted: 0, deleted: new Set() };
      }
    }
    return store.transaction(async (tx, unit) => {
      const versions = new RemoteVersions(sqlOf(unit));
      const known = await versions.latest(refs);
      const deleted = new Set([...gone].filter((key) => known.has(key)));
      for (const key of deleted) {
        const [type, id] = key.split('/');
        this.alarms.raise({ kind: 'deleted-upstream', record: { type, id }, detail: 'the upstream FHIR server no longer has it; ChartWarden keeps its versions and answers it as not found' });
      }
      let adopted = 0;
      for (const resource of fetched) if (await this.adopt(tx, versions, resource, known.get(`${resource.resourceType}/${resource.id}`))) adopted++;
      return { gone, adopted, deleted };
    });
  }

  /** Stores an upstream version ChartWarden does not hold; false when it holds it already. */
  async adopt(tx: FhirStore, versions: RemoteVersions, resource: Resource, known: MappedVersion | undefined): Promise<boolean> {
    const ref = { type: resource.resourceType, id: resource.id as string };
    const upstream = resource.meta?.versionId;
    if (upstream === undefined) {
      // Without a version id nothing tells one upstream version from the next: judged on what ChartWarden holds.
      this.alarms.raise({ kind: 'changed-upstream', record: ref, detail: 'the upstream served it without meta.versionId; ChartWarden cannot tell whether it changed' });
      return false;
    }
    if (known?.upstream === upstream) return false;
    // ChartWarden's own write may have sent this version upstream and be committing its mapping: wait for it, then look.
    await versions.lockRecords([ref]);
    if (await versions.knows(ref, upstream)) return false;
    const outcome = await tx.update({ ...resource, id: ref.id });
    const version = Number(outcome.resource.meta?.versionId);
    await versions.record([{ ...ref, upstream, upstreamLastUpdated: resource.meta?.lastUpdated, version, origin: 'upstream' }], this.clock.now());
    if (known) {
      this.alarms.raise({
        kind: 'changed-upstream',
        record: ref,
        detail: `written on the upstream FHIR server past ChartWarden (upstream version ${upstream}); adopted as version ${version}${outcome.unchanged ? ' (same content)' : ''}`,
      });
    }
    return true;
  }
}
