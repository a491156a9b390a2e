import { Logger, type OnModuleInit } from '@nestjs/common';
import { runStatement, type ChartWardenDatabase, type FinalStatement, type Queryable } from '../database/chartwarden-database.js';
import { canonicalContent, chainOf, GENESIS, type AuditEntry } from './domain/audit-entry.js';
import { hashedTextSql } from './audit-sql.js';
import { clipText } from '../common/clip.js';

/** What one group commit did, told to the observer (metrics): how long it took, how many entries, whether it committed. */
export interface AuditCommitOutcome {
  durationMs: number;
  entries: number;
  ok: boolean;
}

interface Pending {
  entries: AuditEntry[];
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** Separates the entries' contents in the one text parameter that carries them (ASCII group separator). */
const GS = '\x1d';

/**
 * The append-only, hash-chained audit log on ChartWarden's PostgreSQL.
 *
 * `append` is group commit: entries of concurrent requests wait in a queue while one
 * statement is in flight, then the next takes all of them at once, so a commit's fsync is
 * shared by every request in it. Chains may be split over lanes (`audit.lanes`), each lane
 * owning the chains `chain % lanes` with its own queue and one statement in flight: more
 * lanes overlap commits (lower latency on an idle database), fewer make larger batches (less
 * database CPU per entry: one lane measured 0.17 ms against 0.36 ms with four under a
 * CPU-bound read load, see BENCHMARKS.md). A caller's promise resolves only once its
 * entries are committed: the response is sent after that, and a crash loses no entry of a
 * response that was sent.
 *
 * Chains (decision 0006): an entry joins chain `chainOf(requestId)`. A statement locks the
 * heads of the chains it extends, in chain order (no deadlock), links its entries to them,
 * inserts them and moves the heads, so any number of instances can write one log.
 */
export class AuditLog implements OnModuleInit {
  private static readonly logger = new Logger('AuditLog');
  private readonly lanes: { queue: Pending[]; flushing: boolean }[];
  /** Group commits and the entries they carried, since start (for the benchmark and monitoring). */
  readonly stats = { commits: 0, entries: 0 };
  /** When the last commit attempt committed or failed (epoch ms; 0: none yet), for the readiness probe. */
  readonly health = { lastSuccessAt: 0, lastFailureAt: 0 };
  private observer?: (outcome: AuditCommitOutcome) => void;

  constructor(
    private readonly db: ChartWardenDatabase,
    readonly chains: number,
    private readonly maxBatch: number,
    lanes = 1,
  ) {
    this.lanes = Array.from({ length: Math.max(1, Math.min(lanes, chains)) }, () => ({ queue: [], flushing: false }));
  }

  /** Creates the chains' heads that do not exist yet (a larger `chains` setting adds chains; none is ever removed). */
  async onModuleInit(): Promise<void> {
    await this.db.query(
      `INSERT INTO audit_chain (chain, seq, head) SELECT g, 0, $2 FROM generate_series(0, $1::int - 1) g ON CONFLICT (chain) DO NOTHING`,
      [this.chains, GENESIS],
    );
  }

  /** Records entries durably, batched with other requests' entries; resolves once committed. */
  append(entries: AuditEntry[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    const byLane = new Map<number, AuditEntry[]>();
    for (const e of entries) {
      const lane = chainOf(e.requestId, this.chains) % this.lanes.length;
      const list = byLane.get(lane);
      if (list) list.push(e);
      else byLane.set(lane, [e]);
    }
    // One request's entries share one chain, hence one lane; entries of several requests may span lanes.
    return Promise.all(
      [...byLane].map(
        ([lane, list]) =>
          new Promise<void>((resolve, reject) => {
            this.lanes[lane].queue.push({ entries: list, resolve, reject });
            if (!this.lanes[lane].flushing) void this.flush(this.lanes[lane]);
          }),
      ),
    ).then(() => undefined);
  }

  /** Entries waiting for a group commit, over all lanes (read-only, for monitoring). */
  get queueDepth(): number {
    let n = 0;
    for (const lane of this.lanes) for (const p of lane.queue) n += p.entries.length;
    return n;
  }

  /** Calls `observer` after every group commit attempt (one observer: the metrics). It must not throw. */
  observe(observer: (outcome: AuditCommitOutcome) => void): void {
    this.observer = observer;
  }

  /** `unhealthy`: the failure says the writer cannot commit (not that one request's entries were refused for their data). */
  private committed(started: number, entries: number, ok: boolean, unhealthy = !ok): void {
    const now = Date.now();
    if (ok) this.health.lastSuccessAt = now;
    else if (unhealthy) this.health.lastFailureAt = now;
    this.observer?.({ durationMs: performance.now() - started, entries, ok });
  }

  /** Records entries inside the caller's transaction at once: they commit (or roll back) with the caller's write. */
  async appendWithin(tx: Queryable, entries: AuditEntry[]): Promise<void> {
    if (entries.length) await this.link(tx, entries);
  }

  private async flush(lane: { queue: Pending[]; flushing: boolean }): Promise<void> {
    lane.flushing = true;
    try {
      while (lane.queue.length) {
        const batch: Pending[] = [];
        let size = 0;
        while (lane.queue.length && (batch.length === 0 || size + lane.queue[0].entries.length <= this.maxBatch)) {
          const next = lane.queue.shift() as Pending;
          batch.push(next);
          size += next.entries.length;
        }
        const started = performance.now();
        try {
          // One statement: its own transaction, committed (and flushed) before the callers hear back.
          await this.link(this.db, batch.flatMap((p) => p.entries));
          this.stats.commits++;
          this.stats.entries += size;
          this.committed(started, size, true);
          for (const p of batch) p.resolve();
        } catch (e) {
          if (batch.length > 1 && refusedForItsData(e)) await this.isolate(batch, e);
          else {
            this.committed(started, size, false, !refusedForItsData(e));
            AuditLog.logger.error(`could not record ${size} audit entries: ${(e as Error).message}`);
            for (const p of batch) p.reject(e);
          }
        }
      }
    } finally {
      lane.flushing = false;
    }
  }

  /**
   * A group commit the database refused for the data of some entry: nothing of
   * it was written (one statement). Each caller's entries are then committed on their own,
   * so only the caller whose entries cannot be stored fails and the others are recorded.
   */
  private async isolate(batch: Pending[], cause: unknown): Promise<void> {
    AuditLog.logger.warn(`a group commit of ${batch.length} requests was refused (${(cause as Error).message}); recording each request alone`);
    for (const p of batch) {
      const started = performance.now();
      try {
        await this.link(this.db, p.entries);
        this.stats.commits++;
        this.stats.entries += p.entries.length;
        this.committed(started, p.entries.length, true);
        p.resolve();
      } catch (e) {
        this.committed(started, p.entries.length, false, !refusedForItsData(e));
        AuditLog.logger.error(`could not record ${p.entries.length} audit entries of request ${p.entries[0]?.requestId}: ${(e as Error).message}`);
        p.reject(e);
      }
    }
  }

  /**
   * Links `entries` to their chains' heads and inserts them, in ONE statement (its own
   * transaction, or the caller's): lock the heads in chain order, chain the entries in
   * PostgreSQL (`sha256(prev ‖ content)`, the same function `audit verify` recomputes),
   * insert them, move the heads. One round trip per group commit.
   */
  private async link(tx: Queryable, given: AuditEntry[]): Promise<void> {
    const append = this.appendStatement(given);
    if (append) await runStatement(tx, append);
  }

  /**
   * The one statement that records `given` (see `link`), for a transaction that sends it with
   * its COMMIT (`Queryable.commitWith`): a write's entries, whose chain heads are then locked
   * for no longer than the commit itself. Undefined when there is nothing to record.
   */
  appendStatement(given: readonly AuditEntry[]): FinalStatement | undefined {
    if (given.length === 0) return undefined;
    const entries = given.map(storableEntry);
    const cols = { chain: [] as number[], recorded: [] as string[], requestId: [] as string[], actor: [] as (string | null)[], patient: [] as (string | null)[] };
    const more = { action: [] as string[], subtype: [] as string[], outcome: [] as number[], entityType: [] as (string | null)[], entityId: [] as (string | null)[], content: [] as string[] };
    for (const e of entries) {
      cols.chain.push(chainOf(e.requestId, this.chains));
      cols.recorded.push(e.recorded);
      cols.requestId.push(e.requestId);
      cols.actor.push(e.agent.id ?? null);
      cols.patient.push(e.patient ?? null);
      more.action.push(e.action);
      more.subtype.push(e.subtype);
      more.outcome.push(e.outcome);
      more.entityType.push(e.entity?.type ?? null);
      more.entityId.push(e.entity?.id ?? null);
      more.content.push(canonicalContent(e));
    }
    // Contents travel as one text split in SQL: canonical JSON never holds a raw control character
    // (RFC 8785 escapes them), and escaping each as an array element cost more than the rest together.
    const parameters = [cols.chain, cols.recorded, cols.requestId, cols.actor, cols.patient, more.action, more.subtype, more.outcome, more.entityType, more.entityId, more.content.join(GS), entries.length];
    const failed = (e: unknown) => {
      if ((e as { code?: string }).code !== '22012') return e;
      const chains = [...new Set(cols.chain)].join(',');
      return new Error(`audit chains ${chains} are not all initialised (a head row is missing); nothing was recorded`, { cause: e });
    };
    return { sql: APPEND_SQL, parameters, prepare: true, failed };
  }
}

/**
 * A database error caused by what an entry holds (class 22 data exception: a character the
 * encoding refuses, a value too long, a missing chain head reported as division by zero;
 * 23 integrity; 54 program limit), not by the database being unavailable or overloaded:
 * retrying each request's entries alone then isolates the bad one. Other errors (connection
 * lost, statement timeout) would fail each retry too, so the batch fails as one.
 */
function refusedForItsData(e: unknown): boolean {
  const code = (e as { code?: unknown }).code ?? ((e as { cause?: { code?: unknown } }).cause?.code);
  return typeof code === 'string' && /^(22|23|54)[0-9A-Z]{3}$/.test(code);
}

/** A NUL (PostgreSQL text cannot hold it) or a lone UTF-16 surrogate (it has no UTF-8 form: the driver would store U+FFFD). */
const UNSTORABLE = /[\0\ud800-\udfff]/;
const UNSTORABLE_ALL = /\0|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Sizes of the row's text columns (the migration's varchar lengths): a longer value is clipped, content and column alike. */
const COLUMN_SIZES = { requestId: 128, actor: 128, patient: 64, subtype: 64, entityType: 64, entityId: 64 } as const;

/**
 * The entry as PostgreSQL can store it, whatever reached the writer (R-20: a request that
 * carried a NUL is recorded too): every NUL and lone surrogate in any string is written as
 * its JSON escape (`\u0000`, the 6 characters), and the searchable columns are clipped to
 * their sizes after that. The stored content and columns then say the same thing, and the
 * hash (computed in SQL over the stored row) covers exactly what is stored. An entry with
 * nothing to escape (nearly all) is returned as it is, after one regex test per string.
 */
export function storableEntry(entry: AuditEntry): AuditEntry {
  if (!needsEscaping(entry)) return entry;
  const escaped = escapeStrings(entry) as AuditEntry;
  const clip = (v: string | undefined, max: number) => (v === undefined ? v : clipText(v, max));
  escaped.requestId = clip(escaped.requestId, COLUMN_SIZES.requestId) as string;
  escaped.subtype = clip(escaped.subtype, COLUMN_SIZES.subtype) as string;
  if (escaped.agent.id !== undefined) escaped.agent.id = clip(escaped.agent.id, COLUMN_SIZES.actor);
  if (escaped.patient !== undefined) escaped.patient = clip(escaped.patient, COLUMN_SIZES.patient);
  if (escaped.entity) {
    escaped.entity.type = clip(escaped.entity.type, COLUMN_SIZES.entityType) as string;
    if (escaped.entity.id !== undefined) escaped.entity.id = clip(escaped.entity.id, COLUMN_SIZES.entityId);
  }
  return escaped;
}

function needsEscaping(value: unknown): boolean {
  if (typeof value === 'string') return UNSTORABLE.test(value);
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return value.some(needsEscaping);
  // Keys, then values, without an array of pairs per object: every entry of every request passes here.
  for (const key of Object.keys(value)) if (UNSTORABLE.test(key) || needsEscaping((value as Record<string, unknown>)[key])) return true;
  return false;
}

/** A deep copy with every unstorable character escaped (entries are small and flat: recursion is bounded by their shape). */
function escapeStrings(value: unknown): unknown {
  if (typeof value === 'string') return escapeText(value);
  if (Array.isArray(value)) return value.map(escapeStrings);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [escapeText(k), escapeStrings(v)]));
  return value;
}

function escapeText(text: string): string {
  return text.replace(UNSTORABLE_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * One group commit. `heads` locks the chain heads involved (in chain order: no deadlock) and,
 * in READ COMMITTED, reads their latest committed values; `linked` walks each chain's new
 * entries in order, hashing each onto the previous; the entries are inserted and each head
 * moved to its chain's last entry (the head trigger checks that entry exists with that hash).
 *
 * `LIMIT $12`, the number of entries, cuts nothing: it tells the plan PostgreSQL keeps for the
 * prepared statement how many rows `input` gives. Without it a kept (generic) plan costs the
 * bound arrays at 10 rows and a plan made for one entry at 1, so PostgreSQL never kept one and
 * planned this statement again on every commit, 0.3–1.4 ms of its CPU each time: every create
 * (its entry commits with it) and every group commit of reads paid it (issue #13). With the
 * limit both are costed at about one row, and the plan is kept after the fifth execution.
 */
const APPEND_SQL = `
WITH RECURSIVE
  input AS (
    SELECT t.chain, t.recorded, t.request_id, t.actor, t.patient, t.action::char(1) AS action, t.subtype, t.outcome, t.entity_type, t.entity_id, t.content, t.ord,
           row_number() OVER (PARTITION BY t.chain ORDER BY t.ord) AS k
      FROM unnest($1::smallint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::smallint[], $9::text[], $10::text[],
                  string_to_array($11::text, E'\\x1d'))
           WITH ORDINALITY AS t(chain, recorded, request_id, actor, patient, action, subtype, outcome, entity_type, entity_id, content, ord)
     LIMIT $12::int),
  heads AS (
    SELECT chain, seq, head FROM audit_chain WHERE chain IN (SELECT DISTINCT chain FROM input) ORDER BY chain FOR UPDATE),
  linked(chain, k, seq, prev_hash, hash) AS (
    SELECT h.chain, 0::bigint, h.seq, NULL::bytea, h.head FROM heads h
    UNION ALL
    SELECT l.chain, l.k + 1, l.seq + 1, l.hash, sha256(l.hash || ${hashedTextSql('i.')})
      FROM linked l JOIN input i ON i.chain = l.chain AND i.k = l.k + 1),
  inserted AS (
    INSERT INTO audit_entry (chain, seq, recorded, request_id, actor, patient, action, subtype, outcome, entity_type, entity_id, content, prev_hash, hash)
    SELECT i.chain, l.seq, i.recorded, i.request_id, i.actor, i.patient, i.action, i.subtype, i.outcome, i.entity_type, i.entity_id, i.content, l.prev_hash, l.hash
      FROM linked l JOIN input i ON i.chain = l.chain AND i.k = l.k
     WHERE l.k > 0
    RETURNING chain, seq, hash),
  last AS (SELECT DISTINCT ON (chain) chain, seq, hash FROM inserted ORDER BY chain, seq DESC),
  -- Every chain named must have a head, or the whole statement fails (division by zero): no entry is half-written.
  complete AS (SELECT 1 / (CASE WHEN (SELECT count(DISTINCT chain) FROM input) = (SELECT count(*) FROM heads) THEN 1 ELSE 0 END) AS ok)
UPDATE audit_chain c SET seq = last.seq, head = last.hash FROM last, complete WHERE c.chain = last.chain AND complete.ok = 1
RETURNING c.chain`;
