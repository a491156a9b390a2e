import pg from 'pg';
import { ClusterEvents, type ClusterTopic } from '../../src/cluster/cluster-events.js';
import { ChartWardenDatabase } from '../../src/database/chartwarden-database.js';
import { sql, urlOf } from '../support/database-admin.js';
import { CHARTWARDEN_ENTITIES } from '../../src/schema.js';
import { dropThrowawayDatabase } from '../support/throwaway-database.js';

/**
 * The cluster event bus (decision 0012) on real PostgreSQL, two instances on one database,
 * each connected as the application role the server runs as: an event reaches the other
 * instance within 100 ms, one sent inside a transaction only when it commits, and a lost
 * listening connection is restored and tells every subscriber that anything may have changed.
 * On a database of its own: the suite counts and terminates the listening connections, which
 * other suites' servers, running meanwhile on the shared test database, also hold.
 */
describe('Cluster events over LISTEN/NOTIFY (integration)', () => {
  const database = `cw_cluster_${Date.now()}_${process.pid}`;
  const url = urlOf(database);
  let dbA: ChartWardenDatabase;
  let dbB: ChartWardenDatabase;
  let a: ClusterEvents;
  let b: ClusterEvents;
  const seenByB: { topic: ClusterTopic; ids: readonly string[] | undefined; at: number }[] = [];
  const seenByA: { topic: ClusterTopic; ids: readonly string[] | undefined }[] = [];

  const waitFor = async (what: () => boolean, ms: number): Promise<boolean> => {
    const until = Date.now() + ms;
    while (!what() && Date.now() < until) await new Promise((r) => setTimeout(r, 2));
    return what();
  };

  beforeAll(async () => {
    await sql(urlOf(), `CREATE DATABASE "${database}"`);
    dbA = await ChartWardenDatabase.connect(url, 2, 0, { as: 'application' }, CHARTWARDEN_ENTITIES);
    dbB = await ChartWardenDatabase.connect(url, 2, 0, { as: 'application' }, CHARTWARDEN_ENTITIES);
    a = new ClusterEvents(dbA);
    b = new ClusterEvents(dbB);
    for (const topic of ['withheld', 'access', 'policy'] as const) {
      b.subscribe(topic, (ids) => seenByB.push({ topic, ids, at: Date.now() }));
      a.subscribe(topic, (ids) => seenByA.push({ topic, ids }));
    }
    await a.onModuleInit();
    await b.onModuleInit();
  });

  afterAll(async () => {
    await a?.onApplicationShutdown();
    await b?.onApplicationShutdown();
    await dbA?.onApplicationShutdown();
    await dbB?.onApplicationShutdown();
    await dropThrowawayDatabase(urlOf(), database);
  });

  beforeEach(() => {
    seenByA.length = 0;
    seenByB.length = 0;
  });

  it('listens as the application role, not the owner', async () => {
    expect(dbB.role).toMatch(/_app$/);
    expect(a.listening && b.listening).toBe(true);
  });

  it('an event reaches the other instance within 100 ms, with its ids; the sender does not handle its own', async () => {
    const sent = Date.now();
    await a.publish('access', ['dr-one', 'dr-two']);
    expect(await waitFor(() => seenByB.length > 0, 1000)).toBe(true);
    expect(seenByB).toEqual([{ topic: 'access', ids: ['dr-one', 'dr-two'], at: expect.any(Number) }]);
    expect(seenByB[0].at - sent).toBeLessThan(100);
    await new Promise((r) => setTimeout(r, 50));
    expect(seenByA).toEqual([]);
  });

  it('inside a transaction: nothing before the commit, nothing at all after a rollback', async () => {
    await expect(
      dbA.transaction(async (tx) => {
        await a.publish('withheld', [], tx);
        throw new Error('rolled back on purpose');
      }),
    ).rejects.toThrow('rolled back on purpose');
    await dbA.transaction(async (tx) => {
      await a.publish('policy', ['v-after-commit'], tx);
      // Sent but not committed: the other instance must not have it yet.
      await new Promise((r) => setTimeout(r, 100));
      expect(seenByB).toEqual([]);
    });
    expect(await waitFor(() => seenByB.length > 0, 1000)).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(seenByB.map((e) => [e.topic, e.ids])).toEqual([['policy', ['v-after-commit']]]);
  });

  it('a sender waits for the delivery: it resolves once the other instance handled the event, not before', async () => {
    let handledAt = 0;
    b.subscribe('access', (ids) => {
      if (ids?.[0] === 'dr-waited-for') handledAt = Date.now();
    });
    const announcement = await a.publish('access', ['dr-waited-for']);
    const delivery = await announcement.delivered(2000);
    const deliveredAt = Date.now();
    expect(delivery).toEqual({ peers: 1, acknowledged: 1 });
    expect(handledAt).toBeGreaterThan(0);
    expect(handledAt).toBeLessThanOrEqual(deliveredAt);
    expect(seenByA).toEqual([]);
  });

  it('inside a transaction: acknowledged after the commit; a peer that never answers holds the sender for the whole bound, no longer', async () => {
    // A listener under the instances' name that never acknowledges: a peer whose process hangs.
    const silent = new pg.Client({ connectionString: url, application_name: 'chartwarden-cluster' });
    await silent.connect();
    try {
      await silent.query('LISTEN chartwarden_cluster');
      const unacknowledgedBefore = a.stats.unacknowledged;
      const announcement = await dbA.transaction((tx) => a.publish('withheld', [], tx));
      const started = Date.now();
      const delivery = await announcement.delivered(300);
      const waited = Date.now() - started;
      expect(delivery).toEqual({ peers: 2, acknowledged: 1 });
      expect(waited).toBeGreaterThanOrEqual(290);
      expect(waited).toBeLessThan(2000);
      expect(a.stats.unacknowledged).toBe(unacknowledgedBefore + 1);
      expect(seenByB.map((e) => e.topic)).toEqual(['withheld']);
    } finally {
      await silent.end();
    }
  });

  it('a lost listening connection is restored with backoff; every topic is then refreshed, and events flow again', async () => {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      const listeners = await admin.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'chartwarden-cluster'`,
      );
      expect(listeners.rows).toHaveLength(2);
      // Terminate both; each instance must notice on its own.
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1', ['chartwarden-cluster']);
      expect(await waitFor(() => seenByB.filter((e) => e.ids === undefined).length === 3, 5000)).toBe(true);
      expect(seenByB.filter((e) => e.ids === undefined).map((e) => e.topic).sort()).toEqual(['access', 'policy', 'withheld']);
      expect(b.stats.reconnects).toBe(1);
      expect(await waitFor(() => a.listening && b.listening, 5000)).toBe(true);
      seenByB.length = 0;
      await a.publish('access', ['after-reconnect']);
      expect(await waitFor(() => seenByB.length > 0, 1000)).toBe(true);
      expect(seenByB.map((e) => [e.topic, e.ids])).toEqual([['access', ['after-reconnect']]]);
      const again = await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'chartwarden-cluster'`);
      expect(again.rows[0].n).toBe(2);
    } finally {
      await admin.end();
    }
  });
});
