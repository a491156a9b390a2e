import { randomUUID } from 'node:crypto';
import type { Observation, Patient, Resource } from '@medplum/fhirtypes';
import { Clock } from '../../src/common/clock.js';
import { ChartWardenDatabase } from '../../src/database/chartwarden-database.js';
import { CHARTWARDEN_ENTITIES } from '../../src/schema.js';
import { loadR4Definitions } from '../../src/store/fhir-definitions.js';
import type { FhirStore } from '../../src/store/fhir-store.port.js';
import { PatientCompartment } from '../../src/store/patient-compartment.js';
import { PostgresFhirStore } from '../../src/store/postgres/postgres-fhir.store.js';
import { openRemoteStore, type RemoteStore } from '../../src/store/remote/remote-store.factory.js';
import { parseSearchRequest } from '../../src/store/search/search-request.js';
import { SearchParameterRegistry } from '../../src/store/search/search-parameter.registry.js';
import { StoreAlarms, type StoreAlarm } from '../../src/store/store-alarms.js';
import { runCliOn, sql, urlOf } from '../support/database-admin.js';
import { startFhirPeer, type FhirPeer } from '../support/fhir-peer.js';
import { dropThrowawayDatabase } from '../support/throwaway-database.js';

/**
 * The remote store's sync from the upstream's system history (issue #17, decision 0017 F): writes
 * that bypassed ChartWarden are adopted, in order, with an alarm when they replace a version
 * ChartWarden held; ChartWarden's own writes are not mistaken for them; the cursor moves; and
 * `npx chartwarden sync status|run` tell and do the same. On a database of its own: the sync's
 * state is one row per database.
 */

/** The sync leaves versions younger than 30 s to the next run: this clock is a minute ahead. */
class AheadClock extends Clock {
  now(): Date {
    return new Date(Date.now() + 60_000);
  }
}

describe('the remote store\'s sync from the upstream history (issue #17)', () => {
  const database = `cw_sync_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const registry = SearchParameterRegistry.fromProfiles();
  let db: ChartWardenDatabase;
  let peer: FhirPeer;
  let remote: RemoteStore;
  let store: FhirStore;
  const alarms: StoreAlarm[] = [];

  /** A write made directly on the upstream, as another client of it would (bypassing ChartWarden). */
  const upstream = async <T extends Resource>(method: 'POST' | 'PUT' | 'DELETE', path: string, body?: T): Promise<T> => {
    const res = await fetch(`${peer.baseUrl}/${path}`, { method, headers: { 'content-type': 'application/fhir+json' }, body: body ? JSON.stringify(body) : undefined });
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  const remoteRows = (id: string) => sql<{ version_id: number; origin: string }>(urlOf(database), 'SELECT version_id, origin FROM remote_version WHERE id = $1 ORDER BY version_id', [id]);

  beforeAll(async () => {
    loadR4Definitions();
    await sql(urlOf(), `CREATE DATABASE "${database}"`);
    db = await ChartWardenDatabase.connect(urlOf(database), 4, 0, { as: 'owner' }, CHARTWARDEN_ENTITIES);
    peer = await startFhirPeer();
    const clock = new AheadClock();
    const watched = new StoreAlarms();
    watched.observe((a) => alarms.push(a));
    const local = new PostgresFhirStore(db, registry, PatientCompartment.fromProfiles(), clock);
    remote = await openRemoteStore({ kind: 'remote', url: peer.baseUrl }, local, db, clock, watched);
    store = remote.store;
  });

  afterAll(async () => {
    await peer?.close();
    await db?.onApplicationShutdown();
    await dropThrowawayDatabase(urlOf(), database);
  });

  it('R-12, R-17: adopts every version written past ChartWarden in order, alarms the ones that replace what it held, and skips its own writes', async () => {
    // ChartWarden's own write: it reaches the upstream's history too, and must not come back as an adoption.
    const own = (await store.create<Patient>({ resourceType: 'Patient', name: [{ family: 'Own' }] })).resource;
    // Another client of the upstream: a new patient, changed twice, and a change to ChartWarden's record.
    const outsideId = `outside-${randomUUID()}`;
    const outside = await upstream<Patient>('PUT', `Patient/${outsideId}`, { resourceType: 'Patient', id: outsideId, name: [{ family: 'Outside' }] });
    await upstream('PUT', `Patient/${outside.id}`, { ...outside, gender: 'female' });
    await upstream('PUT', `Patient/${outside.id}`, { ...outside, gender: 'male' });
    const observation = await upstream<Observation>('POST', 'Observation', { resourceType: 'Observation', status: 'final', code: { text: 'outside' }, subject: { reference: `Patient/${own.id}` } });
    await upstream('PUT', `Patient/${own.id}`, { ...own, meta: undefined, name: [{ family: 'Renamed upstream' }] });

    const run = await remote.sync?.runOnce();
    expect(run).toMatchObject({ skipped: false, complete: true, seen: 6, adopted: 5 });

    // The outside patient's three versions, in order, as ChartWarden's 1, 2, 3.
    const history = await store.history('Patient', outside.id as string, { count: 10, offset: 0 });
    expect(history.entries.map((e) => [e.resource.meta?.versionId, (e.resource as Patient).gender ?? null])).toEqual([
      ['3', 'male'],
      ['2', 'female'],
      ['1', null],
    ]);
    expect(await remoteRows(outside.id as string)).toEqual([1, 2, 3].map((v) => ({ version_id: v, origin: 'upstream' })));
    // ChartWarden's record: its own version 1, and the upstream's rename adopted as 2; searchable on the new facts without a read.
    expect(await remoteRows(own.id as string)).toEqual([
      { version_id: 1, origin: 'chartwarden' },
      { version_id: 2, origin: 'upstream' },
    ]);
    const found = await store.search(parseSearchRequest('Observation', [['patient', own.id as string]], registry, { defaultCount: 20, maxCount: 100, lenient: false }));
    expect(found.matches.map((m) => m.id)).toEqual([observation.id]);
    // One alarm: the rename of a record ChartWarden held. New records written upstream are synced, not alarmed.
    expect(alarms.map((a) => [a.kind, `${a.record.type}/${a.record.id}`])).toEqual([['changed-upstream', `Patient/${own.id}`]]);

    // The next run starts at the cursor: what it sees again it holds already.
    const again = await remote.sync?.runOnce();
    expect(again).toMatchObject({ skipped: false, adopted: 0 });
    expect(alarms).toHaveLength(1);
  });

  it('R-17: a delete on the upstream of a record ChartWarden holds is alarmed, and its versions stay in ChartWarden', async () => {
    const kept = (await store.create<Patient>({ resourceType: 'Patient', name: [{ family: 'Deleted upstream' }] })).resource;
    await upstream('DELETE', `Patient/${kept.id}`);
    await remote.sync?.runOnce();
    expect(alarms.filter((a) => a.kind === 'deleted-upstream').map((a) => a.record.id)).toEqual([kept.id]);
    expect((await store.records.readMany([{ type: 'Patient', id: kept.id as string }])).map((r) => r.versionId)).toEqual(['1']);
    // Read through the remote store, it is not found: the upstream no longer has it.
    await expect(store.read('Patient', kept.id as string)).rejects.toMatchObject({ code: 'store.not-found' });
  });

  it('`sync status` prints the state the runs left; `sync run` syncs once with the server\'s environment', async () => {
    const env = { CHARTWARDEN_UPSTREAM_FHIR_URL: peer.baseUrl };
    const before = await runCliOn(urlOf(database), ['sync', 'status'], env);
    expect(before.error).toBeUndefined();
    expect(before.stdout).toContain(`sync status: upstream ${peer.baseUrl}`);
    expect(before.stdout).toMatch(/last run: \d{4}-\d\d-\d\dT[\d:.]+Z \(ok\)/);
    expect(before.stdout).toMatch(/versions seen: \d+; adopted \(written past ChartWarden\): 5/);
    expect(before.stdout).toContain('latest adopted:');

    // `sync run` on a database of ChartWarden's that never synced (no cursor: the whole history), with
    // the wall clock: of the peer's versions, only one old enough (the memory store keeps a client's
    // lastUpdated on POST) is due; the others are younger than the settling time and left to a later run.
    const fresh = `${database}_cli`;
    await sql(urlOf(), `CREATE DATABASE "${fresh}"`);
    try {
      await (await ChartWardenDatabase.connect(urlOf(fresh), 1, 0, { as: 'owner' }, CHARTWARDEN_ENTITIES)).onApplicationShutdown();
      const late = await upstream<Patient>('POST', 'Patient', { resourceType: 'Patient', meta: { lastUpdated: new Date(Date.now() - 120_000).toISOString() }, name: [{ family: 'Late' }] });
      const run = await runCliOn(urlOf(fresh), ['sync', 'run'], env);
      expect(run.error).toBeUndefined();
      expect(run.stdout).toMatch(/^sync run: 1 upstream versions seen, 1 adopted; cursor /m);
      expect(await sql(urlOf(fresh), 'SELECT id, version_id, origin FROM remote_version')).toEqual([{ id: late.id, version_id: 1, origin: 'upstream' }]);
      const after = await runCliOn(urlOf(fresh), ['sync', 'status'], env);
      expect(after.stdout).toContain('versions seen: 1; adopted (written past ChartWarden): 1');
      expect(after.stdout).toContain(`Patient/${late.id} version 1`);
    } finally {
      await dropThrowawayDatabase(urlOf(), fresh);
    }

    const unconfigured = await runCliOn(urlOf(database), ['sync', 'run']);
    expect(String(unconfigured.error)).toContain('no upstream configured');
  });
});
