import pg from 'pg';
import { GENESIS, type ChainBreak } from './domain/audit-entry.js';
import { hashedTextSql } from './audit-sql.js';
import { NO_PROGRESS, type Progress } from '../common/progress.js';

/** One chain as verified. */
export interface ChainReport {
  chain: number;
  /** Entries checked (from `since` on, when given). */
  entries: number;
  /** Last seq and hash (hex) recorded in the chain's head. */
  headSeq: number;
  head: string;
  broken?: ChainBreak;
}

export interface VerifyReport {
  chains: ChainReport[];
  entries: number;
  /** The first break found, in chain order (undefined: every chain is intact). */
  broken?: ChainBreak;
  ms: number;
}

/** What the chains are read through: a pool, or one connection (in whatever transaction its caller began on it). */
export type ChainReader = Pick<pg.Pool, 'query'> | Pick<pg.ClientBase, 'query'>;

/**
 * Recomputes every audit chain and reports the first broken link of each: an entry
 * whose content no longer matches its hash (edited), one that does not point to its
 * predecessor's hash (edited and re-hashed, or inserted), a gap in the sequence (deleted),
 * or a head that is not the last entry (deleted at the end). The hash covers the content and
 * the searchable columns, so a column edited alone shows too. The hashes are recomputed by
 * PostgreSQL (`sha256`) next to the data. `database`: a URL (a pool of `concurrency`
 * connections is opened and closed: one chain per connection, chains in parallel), or a
 * connection the caller opened (the server's integrity runs: one read-only snapshot, chains
 * one after another), left open.
 */
export async function verifyAuditChains(
  database: string | ChainReader,
  options: { since?: Date; concurrency?: number; progress?: Progress } = {},
): Promise<VerifyReport> {
  const started = Date.now();
  const own =
    typeof database === 'string'
      ? new pg.Pool({ connectionString: database, max: options.concurrency ?? 4, application_name: 'chartwarden-audit-verify', options: '-c jit=off' })
      : undefined;
  // An idle connection closed by the server (a drill dropping its scratch database) is not a failure of the check.
  own?.on('error', () => undefined);
  // Only `query` is used, which a client and a pool both have.
  const pool = (own ?? database) as Pick<pg.Pool, 'query'>;
  try {
    const chains = (
      await pool.query<{ chain: number }>('SELECT chain FROM audit_chain UNION SELECT DISTINCT chain FROM audit_entry ORDER BY chain')
    ).rows.map((r) => r.chain);
    const progress = options.progress ?? NO_PROGRESS;
    progress.start(chains.length);
    const verify = (chain: number) =>
      (own ? inSnapshot(own, (client) => verifyChain(client, chain, options.since)) : verifyChain(pool, chain, options.since)).then((r) => {
        progress.advance(1);
        return r;
      });
    // Our pool: chains in parallel. A caller's connection runs one query at a time: chains one after another.
    const reports = await (own
      ? Promise.all(chains.map(verify))
      : chains.reduce(async (done: Promise<ChainReport[]>, chain) => [...(await done), await verify(chain)], Promise.resolve([]))
    ).finally(() => progress.stop());
    return { chains: reports, entries: reports.reduce((n, r) => n + r.entries, 0), broken: reports.find((r) => r.broken)?.broken, ms: Date.now() - started };
  } finally {
    await own?.end();
  }
}

/**
 * `work` on one connection of `pool` inside one read-only REPEATABLE READ transaction: a chain's
 * head and its entries are read from the same snapshot, so an entry appended by a live server
 * between the two reads cannot make an intact chain look cut (a caller's own connection is
 * already in one snapshot: `IntegrityChecks`).
 */
async function inSnapshot<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}

async function verifyChain(pool: Pick<pg.Pool, 'query'>, chain: number, since: Date | undefined): Promise<ChainReport> {
  const [head] = (await pool.query<{ seq: string; head: Buffer }>('SELECT seq, head FROM audit_chain WHERE chain = $1', [chain])).rows;
  // Where to start: the genesis, or (with --since) the first entry recorded since then, trusting the link it carries.
  let from: { seq: number; hash: Buffer } = { seq: 0, hash: GENESIS };
  if (since) {
    const [first] = (
      await pool.query<{ seq: string; prev_hash: Buffer }>('SELECT seq, prev_hash FROM audit_entry WHERE chain = $1 AND recorded >= $2 ORDER BY seq LIMIT 1', [chain, since])
    ).rows;
    from = first ? { seq: Number(first.seq) - 1, hash: first.prev_hash } : { seq: Number(head?.seq ?? 0), hash: head?.head ?? GENESIS };
  }
  // One streaming pass: each link checked against its predecessor (window), counted, the first bad one kept.
  const [pass] = (
    await pool.query<{ entries: number; last_seq: string | null; bad_seq: string | null }>(
      `SELECT count(*)::int AS entries, max(seq) AS last_seq, min(seq) FILTER (WHERE NOT ok) AS bad_seq
         FROM (SELECT seq,
                      seq = coalesce(lag(seq) OVER w, $2::bigint) + 1
                      AND prev_hash = coalesce(lag(hash) OVER w, $3::bytea)
                      AND sha256(prev_hash || ${hashedTextSql('')}) = hash AS ok
                 FROM audit_entry WHERE chain = $1 AND seq > $2::bigint
               WINDOW w AS (ORDER BY seq)) links`,
      [chain, from.seq, from.hash],
    )
  ).rows;
  const report: ChainReport = { chain, entries: pass.entries, headSeq: Number(head?.seq ?? -1), head: head?.head.toString('hex') ?? '' };
  if (pass.bad_seq !== null) {
    report.broken = await classify(pool, chain, Number(pass.bad_seq), from);
    return report;
  }
  const result = {
    last_seq: pass.last_seq,
    last_hash:
      pass.last_seq === null
        ? null
        : ((await pool.query<{ hash: Buffer }>('SELECT hash FROM audit_entry WHERE chain = $1 AND seq = $2', [chain, pass.last_seq])).rows[0]?.hash ?? null),
  };
  const lastSeq = result.last_seq === null ? from.seq : Number(result.last_seq);
  const lastHash = result.last_hash ?? from.hash;
  if (!head) {
    report.broken = { chain, seq: lastSeq, problem: 'head-mismatch', detail: `chain ${chain}: its head row is missing` };
  } else if (Number(head.seq) !== lastSeq || !head.head.equals(lastHash)) {
    report.broken = {
      chain,
      seq: Math.min(Number(head.seq), lastSeq) + 1,
      problem: 'head-mismatch',
      detail: `chain ${chain}: the head says entry ${head.seq} is last, but the chain ends at entry ${lastSeq}` + (Number(head.seq) > lastSeq ? ` (${missing(lastSeq + 1, Number(head.seq))})` : ''),
    };
  }
  return report;
}

function missing(first: number, last: number): string {
  return first === last ? `entry ${first} is missing` : `entries ${first}…${last} are missing`;
}

/** What is wrong with the first bad link `seq`: a gap before it, a link to the wrong hash, or its own hash. */
async function classify(pool: Pick<pg.Pool, 'query'>, chain: number, seq: number, from: { seq: number; hash: Buffer }): Promise<ChainBreak> {
  const rows = (
    await pool.query<{ seq: string; prev_hash: Buffer; hash: Buffer }>(
      `SELECT seq, prev_hash, hash
         FROM audit_entry WHERE chain = $1 AND seq <= $2 AND seq > $3 ORDER BY seq DESC LIMIT 2`,
      [chain, seq, from.seq],
    )
  ).rows;
  const bad = rows[0];
  const before = rows[1] ? { seq: Number(rows[1].seq), hash: rows[1].hash } : from;
  if (seq !== before.seq + 1) {
    return {
      chain,
      seq: before.seq + 1,
      problem: 'entry-missing',
      detail: `chain ${chain}: ${missing(before.seq + 1, seq - 1)} (entry ${seq} follows entry ${before.seq})`,
    };
  }
  if (!bad.prev_hash.equals(before.hash)) {
    return { chain, seq, problem: 'link-broken', detail: `chain ${chain}: entry ${seq} does not point to the hash of entry ${before.seq}` };
  }
  return { chain, seq, problem: 'content-altered', detail: `chain ${chain}: entry ${seq} does not match its hash (its content or a searchable column was changed)` };
}
