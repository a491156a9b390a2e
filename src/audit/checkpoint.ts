import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { canonicalJson } from '../common/canonical-json.js';
import type { UnitOfWork } from '../database/unit-of-work.js';
import { CheckpointRepository } from './checkpoint.repository.js';
import type { LedgerHead, LedgerHeads } from './ledger-heads.port.js';

/**
 * The database a checkpoint is taken from or checked against: one snapshot of it (a fresh unit
 * of work, committed or rolled back after `work`), and the edit ledger's heads read through
 * governance's port. The server builds it over its pool, the CLI over its own connection.
 */
export interface CheckpointDatabase {
  /** Runs `work` in a fresh unit of work (nothing read in it yet). */
  unit<T>(work: (unit: UnitOfWork) => Promise<T>): Promise<T>;
  ledger: LedgerHeads;
}

const chainReads = new CheckpointRepository();

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
    documents: LedgerHead[];
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
  return Buffer.from(canonicalJson(rest), 'utf8');
}

/**
 * Reads the chain heads and every document's last ledger entry in one snapshot (REPEATABLE
 * READ, so a head and the ledger agree on one moment) and signs them with the data dir's key.
 */
export async function takeCheckpoint(database: CheckpointDatabase, dataDir: string, taken: Date): Promise<Checkpoint> {
  const key = await loadOrCreateCheckpointKey(dataDir);
  const { chains, ledger } = await database.unit(async (unit) => {
    await chainReads.snapshot(unit, true);
    return { chains: await chainReads.heads(unit), ledger: await database.ledger.current(unit) };
  });
  const unsigned: Omit<Checkpoint, 'signature'> = { format: FORMAT, taken: taken.toISOString(), chains, ledger: { root: ledger.root, documents: ledger.documents }, key: fingerprint(key) };
  return { ...unsigned, signature: sign(null, signedBytes(unsigned), key).toString('base64') };
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
export async function verifyCheckpoint(database: CheckpointDatabase, file: string, dataDir: string): Promise<CheckpointReport> {
  const checkpoint = await readCheckpoint(file);
  const report: CheckpointReport = { taken: String(checkpoint.taken), chains: checkpoint.chains?.length ?? 0, documents: checkpoint.ledger?.documents?.length ?? 0, problems: [] };
  const signatureProblem = await checkSignature(checkpoint, dataDir);
  if (signatureProblem) {
    report.problems.push({ problem: 'signature', detail: signatureProblem });
    return report;
  }
  report.problems.push(
    ...(await database.unit(async (unit) => {
      await chainReads.snapshot(unit, false);
      return [...(await compareChains(unit, checkpoint.chains)), ...(await compareLedger(unit, database.ledger, checkpoint.ledger.documents))];
    })),
  );
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

async function compareChains(unit: UnitOfWork, heads: Checkpoint['chains']): Promise<CheckpointProblem[]> {
  if (heads.length === 0) return [];
  const found = await chainReads.found(unit, heads);
  const problems: CheckpointProblem[] = [];
  for (const head of heads) {
    const got = found.find((f) => f.chain === head.chain && f.seq === head.seq);
    const last = got?.last;
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

async function compareLedger(unit: UnitOfWork, ledger: LedgerHeads, documents: Checkpoint['ledger']['documents']): Promise<CheckpointProblem[]> {
  const problems: CheckpointProblem[] = [];
  for (let i = 0; i < documents.length; i += BATCH) {
    const batch = documents.slice(i, i + BATCH);
    const byDoc = await ledger.hashesOf(unit, batch.map(([doc, version]) => [doc, version] as const));
    for (const [doc, version, hash] of batch) {
      const got = byDoc.get(`${doc} ${version}`);
      if (!got) problems.push({ problem: 'ledger-entry-missing', detail: `${doc}: the ledger entry of version ${version}, the checkpoint's last, is missing` });
      else if (got !== hash) problems.push({ problem: 'ledger-entry-altered', detail: `${doc}: the ledger entry of version ${version} is not the one the checkpoint signed (its hash differs)` });
    }
  }
  return problems;
}
