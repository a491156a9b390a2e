import { Logger, type OnModuleInit } from '@nestjs/common';
import type { ChartWardenDatabase, Queryable } from '../database/chartwarden-database.js';
import { canonicalContent, chainHash, chainOf, GENESIS, type AuditEntry } from './domain/audit-entry.js';

interface Pending {
  entries: AuditEntry[];
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * The append-only, hash-chained audit log on ChartWarden's PostgreSQL.
 *
 * `append` is group commit: entries of concurrent requests wait in a queue while one
 * transaction is in flight, then the next transaction takes all of them at once, so a
 * commit's fsync is shared by every request in it. A caller's promise resolves only once
 * its entries are committed: the response is sent after that, and a crash loses no entry
 * of a response that was sent.
 *
 * Chains (decision 0006): an entry joins chain `chainOf(requestId)`. A transaction locks the
 * heads of the chains it extends, in chain order (no deadlock), links its entries to them,
 * inserts them and moves the heads, so any number of instances can write one log.
 */
export class AuditLog implements OnModuleInit {
  private static readonly logger = new Logger('AuditLog');
  private queue: Pending[] = [];
  private flushing = false;
  /** Group-commit transactions and the entries they carried, since start (for the benchmark and monitoring). */
  readonly stats = { commits: 0, entries: 0 };

  constructor(
    private readonly db: ChartWardenDatabase,
    readonly chains: number,
    private readonly maxBatch: number,
  ) {}

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
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ entries, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  /** Records entries inside the caller's transaction: they commit (or roll back) with the caller's write. */
  async appendWithin(tx: Queryable, entries: AuditEntry[]): Promise<void> {
    if (entries.length) await this.link(tx, entries);
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length) {
        const batch: Pending[] = [];
        let size = 0;
        while (this.queue.length && (batch.length === 0 || size + this.queue[0].entries.length <= this.maxBatch)) {
          const next = this.queue.shift() as Pending;
          batch.push(next);
          size += next.entries.length;
        }
        try {
          await this.db.transaction((tx) => this.link(tx, batch.flatMap((p) => p.entries)));
          this.stats.commits++;
          this.stats.entries += size;
          for (const p of batch) p.resolve();
        } catch (e) {
          AuditLog.logger.error(`could not record ${size} audit entries: ${(e as Error).message}`);
          for (const p of batch) p.reject(e);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Links `entries` to their chains' heads and inserts them, in the transaction `tx`. */
  private async link(tx: Queryable, entries: AuditEntry[]): Promise<void> {
    const byChain = new Map<number, AuditEntry[]>();
    for (const e of entries) {
      const chain = chainOf(e.requestId, this.chains);
      const list = byChain.get(chain);
      if (list) list.push(e);
      else byChain.set(chain, [e]);
    }
    const chains = [...byChain.keys()].sort((a, b) => a - b);
    const heads = await tx.query<{ chain: number; seq: string; head: Buffer }>(
      'SELECT chain, seq, head FROM audit_chain WHERE chain = ANY($1::smallint[]) ORDER BY chain FOR UPDATE',
      [chains],
      { prepare: true },
    );
    if (heads.length !== chains.length) throw new Error(`audit chains ${chains.join(',')} are not all initialised`);
    const rows = { chain: [] as number[], seq: [] as string[], recorded: [] as string[], requestId: [] as string[], actor: [] as (string | null)[] };
    const more = { patient: [] as (string | null)[], action: [] as string[], subtype: [] as string[], outcome: [] as number[] };
    const rest = { entityType: [] as (string | null)[], entityId: [] as (string | null)[], content: [] as string[], prev: [] as Buffer[], hash: [] as Buffer[] };
    const newHeads = { chain: [] as number[], seq: [] as string[], head: [] as Buffer[] };
    for (const head of heads) {
      let seq = BigInt(head.seq);
      let hash = head.head;
      for (const e of byChain.get(head.chain) as AuditEntry[]) {
        const content = canonicalContent(e);
        const next = chainHash(hash, content);
        seq += 1n;
        rows.chain.push(head.chain);
        rows.seq.push(seq.toString());
        rows.recorded.push(e.recorded);
        rows.requestId.push(e.requestId);
        rows.actor.push(e.agent.id ?? null);
        more.patient.push(e.patient ?? null);
        more.action.push(e.action);
        more.subtype.push(e.subtype);
        more.outcome.push(e.outcome);
        rest.entityType.push(e.entity?.type ?? null);
        rest.entityId.push(e.entity?.id ?? null);
        rest.content.push(content);
        rest.prev.push(hash);
        rest.hash.push(next);
        hash = next;
      }
      newHeads.chain.push(head.chain);
      newHeads.seq.push(seq.toString());
      newHeads.head.push(hash);
    }
    await tx.query(
      `INSERT INTO audit_entry (chain, seq, recorded, request_id, actor, patient, action, subtype, outcome, entity_type, entity_id, content, prev_hash, hash)
       SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                            $9::smallint[], $10::text[], $11::text[], $12::text[], $13::bytea[], $14::bytea[])`,
      [rows.chain, rows.seq, rows.recorded, rows.requestId, rows.actor, more.patient, more.action, more.subtype, more.outcome, rest.entityType, rest.entityId, rest.content, rest.prev, rest.hash],
      { prepare: true },
    );
    await tx.query(
      `UPDATE audit_chain c SET seq = v.seq, head = v.head FROM unnest($1::smallint[], $2::bigint[], $3::bytea[]) AS v(chain, seq, head) WHERE c.chain = v.chain`,
      [newHeads.chain, newHeads.seq, newHeads.head],
      { prepare: true },
    );
  }
}
