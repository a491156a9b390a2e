import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { canonicalize } from 'json-canonicalize';
import pg from 'pg';

/** Runs one parameterized statement and returns its rows (a pg client or a ChartWarden transaction). */
type Rows = <T = Record<string, unknown>>(sql: string, parameters?: unknown[]) => Promise<T[]>;

/** The key file checkpoints are signed with, in the data dir (created mode 600 on first use). */
export const CHECKPOINT_KEY_FILE = 'checkpoint-key.pem';

const FORMAT = 'chartwarden-checkpoint/1';

/**
 * A signed statement, kept outside the database, of how far the audit trail and the edit
 * ledger reached at one moment (R-21, R-17; decision 0011). Entries at or before a head can
 * later be proven unchanged and present: a cut tail (the last entries removed and the head
 * moved back, which the chains alone cannot show) no longer matches.
 */
export interface Checkpoint {
  format: typeof FORMAT;
  /** When it was taken (ISO 8601). */
  taken: string;
  /** Each audit chain that has entries: its last entry's seq and hash (hex). */
  chains: { chain: number; seq: number; hash: string }[];
  ledger: {
    /** The ledger root as `ledger verify` printed it at that moment (each document's last entry). */
    root: string;
    /** Each governed document's last ledger entry: `[Type/id, version, hash hex]`, sorted. */
    documents: [string, number, string][];
  };
  /** SHA-256 (hex, 16 chars) of the signing key's public half: names the data dir's key that signed. */
  key: string;
  /** Ed25519 signature (base64) over the RFC 8785 canonical JSON of every other field. */
  signature: string;
}

/** One thing found wrong when a database is compared with a checkpoint. */
export interface CheckpointProblem {
  /** `signature` problems make the file worthless; the others name what changed in the database. */
  problem: 'signature' | 'chain-cut' | 'entry-missing' | 'entry-altered' | 'ledger-entry-missing' | 'ledger-entry-altered';
  detail: string;
}

export interface CheckpointReport {
  taken: string;
  chains: number;
  documents: number;
  /** Empty: every head the checkpoint names is still there, unchanged. */
  problems: CheckpointProblem[];
}

/** The data dir's checkpoint key, created on first use (mode 600; `wx`, so a server and the CLI racing agree). */
export async function loadOrCreateCheckpointKey(dataDir: string): Promise<KeyObject> {
  const file = join(dataDir, CHECKPOINT_KEY_FILE);
  if (!existsSync(file)) {
    await mkdir(dataDir, { recursive: true });
    const { privateKey } = generateKeyPairSync('ed25519');
    await writeFile(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' }).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  }
  return createPrivateKey(await readFile(file, 'utf8'));
}

function fingerprint(key: KeyObject): string {
  const spki = (key.type === 'private' ? createPublicKey(key) : key).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('hex').slice(0, 16);
}

function signedBytes(c: Omit<Checkpoint, 'signature'> | Checkpoint): Buffer {
  const { signature: _signature, ...rest } = c as Checkpoint;
  return Buffer.from(canonicalize(rest), 'utf8');
}

/**
 * Reads the chain heads and every document's last ledger entry in one snapshot (REPEATABLE
 * READ, so a head and the ledger agree on one moment) and signs them with the data dir's key.
 * `rows` must be the first statement runner of a fresh transaction.
 */
export async function takeCheckpoint(rows: Rows, dataDir: string, taken: Date): Promise<Checkpoint> {
  const key = await loadOrCreateCheckpointKey(dataDir);
  await rows('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
  // A large ledger may take longer to list than a request's statement timeout allows.
  await rows('SET LOCAL statement_timeout = 0');
  const chains = (await rows<{ chain: number; seq: string; head: Buffer }>('SELECT chain, seq, head FROM audit_chain WHERE seq > 0 ORDER BY chain')).map((r) => ({
    chain: r.chain,
    seq: Number(r.seq),
    hash: r.head.toString('hex'),
  }));
  const documents = (
    await rows<{ doc: string; version_id: number; hash: Buffer }>(
      `SELECT DISTINCT ON (resource_type, resource_id) resource_type || '/' || resource_id AS doc, version_id, hash
         FROM edit_ledger ORDER BY resource_type, resource_id, version_id DESC`,
    )
  )
    .map((r): [string, number, string] => [r.doc, r.version_id, r.hash.toString('hex')])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const unsigned: Omit<Checkpoint, 'signature'> = { format: FORMAT, taken: taken.toISOString(), chains, ledger: { root: rootOf(documents), documents }, key: fingerprint(key) };
  return { ...unsigned, signature: sign(null, signedBytes(unsigned), key).toString('base64') };
}

/** The ledger root over `[doc, version, hash]` lines: the same digest as `ledgerRoot` in ledger-verifier.ts. */
function rootOf(documents: [string, number, string][]): string {
  const digest = createHash('sha256');
  for (const [doc, version, hash] of documents) digest.update(`${doc} ${version} ${hash}\n`);
  return digest.digest('hex');
}

/** Takes a checkpoint over a fresh connection to `databaseUrl` (the CLI). */
export async function takeCheckpointOf(databaseUrl: string, dataDir: string): Promise<Checkpoint> {
  return withClient(databaseUrl, async (client) => {
    await client.query('BEGIN');
    try {
      return await takeCheckpoint(async (sql, parameters) => (await client.query(sql, parameters)).rows, dataDir, new Date());
    } finally {
      await client.query('ROLLBACK');
    }
  });
}

/** Writes `checkpoint` to `file` atomically (a reader never sees half a file). */
export async function writeCheckpoint(file: string, checkpoint: Checkpoint): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const partial = `${file}.partial`;
  await writeFile(partial, JSON.stringify(checkpoint, null, 2) + '\n', { mode: 0o644 });
  await rename(partial, file);
}

/**
 * Checks `file` against the database: first its signature, with the data dir's key
 * (an edited file, or one signed by another data dir, proves nothing and fails at once);
 * then, for every chain, that the entry the checkpoint names as its head is still there with
 * the same hash (the chain is not shorter, its head entry was not removed or rewritten), and
 * for every document the checkpoint lists, that its ledger entry at that version is still
 * there with the same hash. With `audit verify` / `ledger verify` proving each chain links
 * back to its genesis, nothing at or before a checkpoint head can have changed or vanished.
 * Entries after the checkpoint are proven only by the chains themselves (and the next checkpoint).
 */
export async function verifyCheckpoint(databaseUrl: string, file: string, dataDir: string): Promise<CheckpointReport> {
  const checkpoint = await readCheckpoint(file);
  const report: CheckpointReport = { taken: String(checkpoint.taken), chains: checkpoint.chains?.length ?? 0, documents: checkpoint.ledger?.documents?.length ?? 0, problems: [] };
  const signatureProblem = await checkSignature(checkpoint, dataDir);
  if (signatureProblem) {
    report.problems.push({ problem: 'signature', detail: signatureProblem });
    return report;
  }
  await withClient(databaseUrl, async (client) => {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      const rows: Rows = async (sql, parameters) => (await client.query(sql, parameters)).rows;
      report.problems.push(...(await compareChains(rows, checkpoint.chains)), ...(await compareLedger(rows, checkpoint.ledger.documents)));
    } finally {
      await client.query('ROLLBACK');
    }
  });
  return report;
}

async function readCheckpoint(file: string): Promise<Checkpoint> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file} cannot be read as a checkpoint: ${(e as Error).message}`, { cause: e });
  }
  const c = parsed as Partial<Checkpoint>;
  if (c?.format !== FORMAT || !Array.isArray(c.chains) || !Array.isArray(c.ledger?.documents) || typeof c.signature !== 'string') {
    throw new Error(`${file} is not a ChartWarden checkpoint (${FORMAT})`);
  }
  return c as Checkpoint;
}

async function checkSignature(checkpoint: Checkpoint, dataDir: string): Promise<string | undefined> {
  const keyFile = join(dataDir, CHECKPOINT_KEY_FILE);
  if (!existsSync(keyFile)) return `there is no checkpoint key in ${dataDir} to check the signature with (CHARTWARDEN_DATA_DIR must be the data dir that signed it)`;
  const publicKey = createPublicKey(createPrivateKey(await readFile(keyFile, 'utf8')));
  if (checkpoint.key !== fingerprint(publicKey)) return `it was signed by another key (${String(checkpoint.key)}; this data dir's is ${fingerprint(publicKey)}): another data dir's, or its key field was edited`;
  const valid = verify(null, signedBytes(checkpoint), publicKey, Buffer.from(checkpoint.signature, 'base64'));
  return valid ? undefined : 'its signature does not match its content: the file was altered after it was signed';
}

async function compareChains(rows: Rows, heads: Checkpoint['chains']): Promise<CheckpointProblem[]> {
  if (heads.length === 0) return [];
  const found = await rows<{ chain: number; seq: string; hash: Buffer | null; last: string | null }>(
    `SELECT h.chain, h.seq, e.hash, c.seq AS last
       FROM unnest($1::smallint[], $2::bigint[]) AS h(chain, seq)
       LEFT JOIN audit_entry e ON e.chain = h.chain AND e.seq = h.seq
       LEFT JOIN audit_chain c ON c.chain = h.chain`,
    [heads.map((h) => h.chain), heads.map((h) => h.seq)],
  );
  const problems: CheckpointProblem[] = [];
  for (const head of heads) {
    const got = found.find((f) => f.chain === head.chain && Number(f.seq) === head.seq);
    const last = got?.last === null || got?.last === undefined ? undefined : Number(got.last);
    if (!got?.hash) {
      problems.push(
        last === undefined || last < head.seq
          ? { problem: 'chain-cut', detail: `chain ${head.chain}: it ends at entry ${last ?? 'none'}, but the checkpoint's head is entry ${head.seq} (its tail was cut)` }
          : { problem: 'entry-missing', detail: `chain ${head.chain}: entry ${head.seq}, the checkpoint's head, is missing` },
      );
    } else if (got.hash.toString('hex') !== head.hash) {
      problems.push({ problem: 'entry-altered', detail: `chain ${head.chain}: entry ${head.seq} is not the entry the checkpoint signed (its hash differs: the chain was rewritten)` });
    }
  }
  return problems;
}

const BATCH = 5000;

async function compareLedger(rows: Rows, documents: Checkpoint['ledger']['documents']): Promise<CheckpointProblem[]> {
  const problems: CheckpointProblem[] = [];
  for (let i = 0; i < documents.length; i += BATCH) {
    const batch = documents.slice(i, i + BATCH);
    const found = await rows<{ doc: string; version: number; hash: Buffer | null }>(
      `SELECT d.type || '/' || d.id AS doc, d.version, l.hash
         FROM unnest($1::text[], $2::text[], $3::int[]) AS d(type, id, version)
         LEFT JOIN edit_ledger l ON l.resource_type = d.type AND l.resource_id = d.id AND l.version_id = d.version`,
      [batch.map((d) => d[0].slice(0, d[0].indexOf('/'))), batch.map((d) => d[0].slice(d[0].indexOf('/') + 1)), batch.map((d) => d[1])],
    );
    const byDoc = new Map(found.map((f) => [`${f.doc} ${f.version}`, f.hash]));
    for (const [doc, version, hash] of batch) {
      const got = byDoc.get(`${doc} ${version}`);
      if (!got) problems.push({ problem: 'ledger-entry-missing', detail: `${doc}: the ledger entry of version ${version}, the checkpoint's last, is missing` });
      else if (got.toString('hex') !== hash) problems.push({ problem: 'ledger-entry-altered', detail: `${doc}: the ledger entry of version ${version} is not the one the checkpoint signed (its hash differs)` });
    }
  }
  return problems;
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'chartwarden-checkpoint', options: '-c jit=off' });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
