import { randomUUID } from 'node:crypto';
import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type pg from 'pg';
import { ChartWardenDatabase, type Queryable } from '../database/chartwarden-database.js';

/** The one PostgreSQL channel every ChartWarden instance on a database listens on. */
export const CLUSTER_CHANNEL = 'chartwarden_cluster';

/**
 * What changed, as far as another instance's caches care:
 * - `withheld`: the sealed public-incident inventories;
 * - `access`: grants or break-the-glass of the actors named;
 * - `policy`: the policy in force (its new version is the one id).
 */
export type ClusterTopic = 'withheld' | 'access' | 'policy';

const TOPICS: readonly ClusterTopic[] = ['withheld', 'access', 'policy'];

/**
 * Called with the ids an event names (cache keys: actor ids, a policy version), or with
 * `undefined` when anything of the topic may have changed: after the listening connection
 * was lost and restored (notifications sent meanwhile are gone), or for an event too large
 * to name its ids.
 */
export type ClusterHandler = (ids: readonly string[] | undefined) => void;

/**
 * A published change, as its sender waits for it: `delivered` resolves once every other
 * instance listening on the database when it is asked has handled the event (each answers
 * with an acknowledgement), or once `boundMs` passed — the TTL of the cache concerned, after
 * which no cache filled before the change is still used anywhere.
 */
export interface Announcement {
  delivered(boundMs: number): Promise<Delivery>;
}

/** How a wait for the other instances ended. */
export interface Delivery {
  /** Other instances listening on the database when the wait began. */
  peers: number;
  /** Of them, those that acknowledged the event before the bound. */
  acknowledged: number;
}

/** The one application name every instance's listening connection carries (counted as the peers an event must reach). */
const LISTENER_NAME = 'chartwarden-cluster';
/** Acknowledgements kept for events whose sender has not begun waiting yet (bounded: older ones are dropped). */
const MAX_PENDING_EVENTS = 256;

/** NOTIFY payloads are limited to 8000 bytes: an event naming more ids than fit names none (receivers drop the whole topic). */
const MAX_PAYLOAD = 7000;
/** First and longest wait before listening again after the connection was lost. */
const BACKOFF_MS = { first: 100, max: 5000 } as const;
/** A listening connection that does not answer a `SELECT 1` this often is replaced (a silently dead TCP peer). */
const HEARTBEAT_MS = 5000;

/**
 * The cluster's cache invalidations (decision 0012): every instance on one PostgreSQL
 * LISTENs on one channel over a connection of its own (not from the request pool), and an
 * instance that changes something other instances cache NOTIFYs — inside the transaction of
 * the change when there is one, so the event is delivered exactly when the change commits,
 * and never for a change that rolled back. Payloads are a topic and cache keys (actor ids,
 * a policy version), never record content.
 *
 * When the connection drops it is re-established with backoff, and every subscriber is told
 * that anything may have changed: notifications are not queued for a listener that is gone.
 * Meanwhile each cache still expires on its own short TTL, so a lost connection delays
 * agreement, never stops it.
 *
 * NOTIFY is delivered after the commit, asynchronously: another instance may answer a request
 * before its listener has the event. A change that must be in force everywhere once its
 * answer leaves (a seal, a grant) waits for it (`Announcement.delivered`): every receiver
 * acknowledges each event once its handlers ran, and the sender answers when every listening
 * peer did, or when the cache's TTL has passed.
 */
@Injectable()
export class ClusterEvents implements OnModuleInit, OnApplicationShutdown {
  private static readonly logger = new Logger('ClusterEvents');
  /** This instance, in every event it sends: its own events are not handled twice. */
  readonly instance = randomUUID();
  private readonly handlers = new Map<ClusterTopic, ClusterHandler[]>();
  private client?: pg.Client;
  /** The backend of this instance's listening connection (not a peer). */
  private listenerPid = 0;
  private stopped = false;
  private backoff: number = BACKOFF_MS.first;
  private retry?: NodeJS.Timeout;
  private heartbeat?: NodeJS.Timeout;
  /** Set when a connection was lost or could not be made: events may have been missed since. */
  private missed = false;
  /** Events received and sent since start (for monitoring and tests). */
  readonly stats = { received: 0, sent: 0, reconnects: 0, unacknowledged: 0 };
  /** This instance's events sent so far: the sequence in their ids. */
  private sequence = 0;
  /** Acknowledgements of this instance's events (event id → the instances that acknowledged). */
  private readonly acks = new Map<string, Set<string>>();
  /** Waits for acknowledgements: event id → what to call when one arrives. */
  private readonly waiting = new Map<string, () => void>();

  constructor(private readonly db: ChartWardenDatabase) {}

  /** Whether the instance is listening now (a health check may report it). */
  get listening(): boolean {
    return this.client !== undefined;
  }

  /** Listens before the application serves anything, so no event of a change it may cache is missed. */
  async onModuleInit(): Promise<void> {
    await this.listen();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    clearInterval(this.heartbeat);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  /** Calls `handler` for every event of `topic` another instance sends, and after every reconnection. */
  subscribe(topic: ClusterTopic, handler: ClusterHandler): void {
    this.handlers.set(topic, [...(this.handlers.get(topic) ?? []), handler]);
  }

  /**
   * Tells the other instances that `topic` changed for `ids`. With `tx`, the notification is
   * part of that transaction: delivered when it commits, dropped if it rolls back (and a
   * failure fails the transaction). Without, it is sent at once; a failure is logged, not
   * thrown: the change itself is already committed, and the other instances' caches expire
   * on their TTL (a wait for its delivery then lasts the whole bound).
   *
   * Wait for the returned announcement after the change committed, before answering.
   */
  async publish(topic: ClusterTopic, ids: readonly string[] = [], tx?: Queryable): Promise<Announcement> {
    const id = `${this.instance}:${++this.sequence}`;
    let payload = JSON.stringify({ t: topic, o: this.instance, e: id, i: ids });
    if (Buffer.byteLength(payload) > MAX_PAYLOAD) payload = JSON.stringify({ t: topic, o: this.instance, e: id });
    const send = (tx ?? this.db).query('SELECT pg_notify($1, $2)', [CLUSTER_CHANNEL, payload]);
    if (tx) await send;
    else {
      const sent = await send.then(
        () => true,
        (e: unknown) => void ClusterEvents.logger.warn(`could not tell the other instances that ${topic} changed: ${(e as Error).message}`),
      );
      if (!sent) return { delivered: (boundMs) => this.expire(topic, boundMs) };
    }
    this.stats.sent++;
    return { delivered: (boundMs) => this.delivered(topic, id, boundMs) };
  }

  /** Waits until every peer listening now acknowledged event `id`, or `boundMs`. */
  private async delivered(topic: ClusterTopic, id: string, boundMs: number): Promise<Delivery> {
    const until = Date.now() + boundMs;
    let peers: number;
    try {
      peers = await this.countPeers();
    } catch (e) {
      ClusterEvents.logger.warn(`could not count the other instances: ${(e as Error).message}`);
      return this.expire(topic, until - Date.now());
    }
    const acknowledged = () => this.acks.get(id)?.size ?? 0;
    while (acknowledged() < peers && Date.now() < until) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, until - Date.now());
        this.waiting.set(id, () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    this.waiting.delete(id);
    const delivery = { peers, acknowledged: Math.min(acknowledged(), peers) };
    this.acks.delete(id);
    if (delivery.acknowledged < peers) {
      this.stats.unacknowledged++;
      ClusterEvents.logger.warn(`${peers - delivery.acknowledged} of ${peers} other instances did not acknowledge a ${topic} event within ${boundMs} ms: their caches have expired meanwhile`);
    }
    return delivery;
  }

  /** No event reached anyone: the change is in force everywhere once the caches concerned expired. */
  private async expire(topic: ClusterTopic, boundMs: number): Promise<Delivery> {
    this.stats.unacknowledged++;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, boundMs)));
    return { peers: 0, acknowledged: 0 };
  }

  /** The other instances listening on this database: their listening connections, less this instance's own. */
  private async countPeers(): Promise<number> {
    const own = this.client ? this.listenerPid : 0;
    const rows = await this.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1 AND pid <> $2',
      [LISTENER_NAME, own],
    );
    return rows[0]?.n ?? 0;
  }

  private async listen(): Promise<void> {
    if (this.stopped) return;
    const client = this.db.dedicatedClient(LISTENER_NAME);
    let gone = false;
    let listenerPid: number;
    const lost = (why: string) => {
      if (gone) return;
      gone = true;
      this.missed = true;
      if (this.client === client) this.client = undefined;
      clearInterval(this.heartbeat);
      void client.end().catch(() => undefined);
      if (this.stopped) return;
      ClusterEvents.logger.warn(`the cluster event connection was lost (${why}); listening again in ${this.backoff} ms`);
      this.schedule();
    };
    client.on('error', (e) => lost(e.message));
    client.on('end', () => lost('connection closed'));
    client.on('notification', (m) => {
      if (m.channel === CLUSTER_CHANNEL) this.receive(m.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CLUSTER_CHANNEL}`);
      listenerPid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    } catch (e) {
      lost((e as Error).message);
      return;
    }
    if (this.stopped || gone) {
      if (!gone) await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.listenerPid = listenerPid;
    this.backoff = BACKOFF_MS.first;
    let answered = true;
    this.heartbeat = setInterval(() => {
      // The previous heartbeat is still unanswered after a whole interval: the peer is gone without a word.
      if (!answered) return lost(`no answer to a heartbeat within ${HEARTBEAT_MS} ms`);
      answered = false;
      client.query('SELECT 1').then(
        () => void (answered = true),
        (e: unknown) => lost(`heartbeat: ${(e as Error).message}`),
      );
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
    if (this.missed) {
      this.missed = false;
      this.stats.reconnects++;
      ClusterEvents.logger.log('listening for cluster events again: every cached grant, withholding and policy is refreshed');
      for (const topic of TOPICS) this.dispatch(topic, undefined);
    }
  }

  private schedule(): void {
    clearTimeout(this.retry);
    this.retry = setTimeout(() => void this.listen(), this.backoff);
    this.retry.unref();
    this.backoff = Math.min(this.backoff * 2, BACKOFF_MS.max);
  }

  private receive(payload: string | undefined): void {
    let event: { t?: unknown; o?: unknown; e?: unknown; i?: unknown };
    try {
      event = JSON.parse(payload ?? '') as typeof event;
    } catch {
      ClusterEvents.logger.warn('ignored a cluster event that is not JSON');
      return;
    }
    if (event.t === 'ack') return this.acknowledged(event.e, event.o);
    const topic = TOPICS.find((t) => t === event.t);
    if (!topic) return;
    if (event.o === this.instance) return;
    this.stats.received++;
    const ids = Array.isArray(event.i) && event.i.every((x) => typeof x === 'string') ? (event.i as string[]) : undefined;
    this.dispatch(topic, ids);
    // Handled: the sender may answer now (acknowledged on the listening connection, in the order received).
    if (typeof event.e === 'string') this.acknowledge(event.e);
  }

  private acknowledge(eventId: string): void {
    const payload = JSON.stringify({ t: 'ack', o: this.instance, e: eventId });
    this.client?.query('SELECT pg_notify($1, $2)', [CLUSTER_CHANNEL, payload]).catch((e: unknown) => {
      ClusterEvents.logger.warn(`could not acknowledge a cluster event: ${(e as Error).message}`);
    });
  }

  /** An acknowledgement: kept when it is of this instance's own event, and its waiter told. */
  private acknowledged(eventId: unknown, from: unknown): void {
    if (typeof eventId !== 'string' || typeof from !== 'string' || !eventId.startsWith(`${this.instance}:`)) return;
    let by = this.acks.get(eventId);
    if (!by) {
      if (this.acks.size >= MAX_PENDING_EVENTS) this.acks.delete(this.acks.keys().next().value as string);
      by = new Set();
      this.acks.set(eventId, by);
    }
    by.add(from);
    this.waiting.get(eventId)?.();
  }

  private dispatch(topic: ClusterTopic, ids: readonly string[] | undefined): void {
    for (const handler of this.handlers.get(topic) ?? []) {
      try {
        handler(ids);
      } catch (e) {
        ClusterEvents.logger.error(`a ${topic} cluster event handler failed: ${(e as Error).message}`);
      }
    }
  }
}
