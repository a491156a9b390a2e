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

/**
 * Recomputes every audit chain and reports the first broken link of each: an entry
 * whose content no longer matches its hash (edited), one that does not point to its
 * predecessor's hash (edited and re-hashed, or inserted), a gap in the sequence (deleted),
 * or a head that is not the last entry (deleted at the end). The hash covers the content and
 * the searchable columns, so a column edited alone shows too. The hashes are recomputed by
 * PostgreSQL (`sha256`) next to the data, one chain per connection, chains in parallel.
 */
export async function verifyAuditChains(
  databaseUrl: string,
  options: { since?: Date; concurrency?: number; progress?: Progress } = {},
): Promise<VerifyReport> {
  const started = Date.now();
  const pool = new pg.Pool({ connectionString: databaseUrl, max: options.concurrency ?? 4, application_name: 'chartwarden-audit-verify', options: '-c jit=off' });
  // An idle connection closed by the server (a drill dropping its scratch database) is not a failure of the check.
  pool.on('error', () => undefined);
  try {
    const chains = (
      await pool.query<{ chain: number }>('SELECT chain FROM audit_chain UNION SELECT DISTINCT chain FROM audit_entry ORDER BY chain')
    ).rows.map((r) => r.chain);
    const progress = options.progress ?? NO_PROGRESS;
    progress.start(chains.length);
    const reports = await Promise.all(
      chains.map((chain) =>
        verifyChain(pool, chain, options.since).then((r) => {
          progress.advance(1);
          return r;
        }),
      ),
    ).finally(() => progress.stop());
    return { chains: reports, entries: reports.reduce((n, r) => n + r.entries, 0), broken: reports.find((r) => r.broken)?.broken, ms: Date.now() - started };
  } finally {
    await pool.end();
  }
}

async function verifyChain(pool: pg.Pool, chain: number, since: Date | undefined): Promise<ChainReport> {
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
async function classify(pool: pg.Pool, chain: number, seq: number, from: { seq: number; hash: Buffer }): Promise<ChainBreak> {
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
