import { sqlOf, type UnitOfWork } from '../database/unit-of-work.js';

/** A chain's head as a checkpoint signs it. */
export interface ChainHead {
  chain: number;
  seq: number;
  /** The head entry's hash, hex. */
  hash: string;
}

/** What the database holds now for a head a checkpoint named: its entry's hash (null: gone) and the chain's current last seq. */
export interface HeadFound {
  chain: number;
  seq: number;
  hash: Buffer | null;
  last: number | undefined;
}

/**
 * The audit chains' reads a checkpoint takes and checks (R-21; `checkpoint.ts`): the heads now,
 * and what stands where a checkpoint's heads stood. Always in the checkpoint's unit of work,
 * a read-only snapshot it opens with `snapshot`.
 */
export class CheckpointRepository {
  /**
   * Makes `unit` (fresh: nothing read in it yet) one read-only REPEATABLE READ snapshot, so the
   * chain heads and the ledger agree on one moment. `untimed`: no statement timeout (a large
   * ledger may take longer to list than a request's timeout allows).
   */
  async snapshot(unit: UnitOfWork, untimed: boolean): Promise<void> {
    await sqlOf(unit).query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    if (untimed) await sqlOf(unit).query('SET LOCAL statement_timeout = 0');
  }

  /** Each chain that has entries: its head, in chain order. */
  async heads(unit: UnitOfWork): Promise<ChainHead[]> {
    const rows = await sqlOf(unit).query<{ chain: number; seq: string; head: Buffer }>('SELECT chain, seq, head FROM audit_chain WHERE seq > 0 ORDER BY chain');
    return rows.map((r) => ({ chain: r.chain, seq: Number(r.seq), hash: r.head.toString('hex') }));
  }

  /** For each of these heads: the entry at its seq (its hash, if still there) and the chain's head seq now. */
  async found(unit: UnitOfWork, heads: readonly ChainHead[]): Promise<HeadFound[]> {
    const rows = await sqlOf(unit).query<{ chain: number; seq: string; hash: Buffer | null; last: string | null }>(
      `SELECT h.chain, h.seq, e.hash, c.seq AS last
         FROM unnest($1::smallint[], $2::bigint[]) AS h(chain, seq)
         LEFT JOIN audit_entry e ON e.chain = h.chain AND e.seq = h.seq
         LEFT JOIN audit_chain c ON c.chain = h.chain`,
      [heads.map((h) => h.chain), heads.map((h) => h.seq)],
    );
    return rows.map((r) => ({ chain: r.chain, seq: Number(r.seq), hash: r.hash, last: r.last === null || r.last === undefined ? undefined : Number(r.last) }));
  }
}
