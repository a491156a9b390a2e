import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { access, constants, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { getMetadataArgsStorage } from 'typeorm';
import { MIGRATIONS } from '../../migrations/index.js';
import { verifyAuditChains, type VerifyReport } from '../audit/audit-verifier.js';
import { ledgerRoot, type LedgerReport } from '../governance/ledger-verifier.js';
import { LedgerReadsRepository } from '../governance/ledger-reads.repository.js';
import { verifyLedger } from './offline-checks.js';
import { GENESIS } from '../audit/domain/audit-entry.js';
import { ChartWardenDatabase } from '../database/chartwarden-database.js';
import { DataSource } from 'typeorm';
import { NO_PROGRESS, type Progress } from '../common/progress.js';
import { CHARTWARDEN_ENTITIES } from '../schema.js';

const FORMAT = 'chartwarden-backup/1';

/** What a backup holds, written next to it as `<file>.manifest.json`. */
export interface BackupManifest {
  format: typeof FORMAT;
  createdAt: string;
  /** Migrations applied when the backup was taken: a restore builds this schema, loads, then upgrades. */
  migrations: string[];
  tables: { name: string; rows: number; sha256: string }[];
  auditChains: { chain: number; seq: number; head: string }[];
  /** The edit ledger's root (every document's last entry, digested): a rewritten history shows against it. */
  ledgerRoot: string;
  archive: { bytes: number; sha256: string };
}


/** A backup or a drill that cannot run on the files it was given: one line saying which file and why. */
export class BackupFileError extends Error {}

/** ChartWarden's own tables (every entity's, in load order), plus nothing of a host application's. */
export function backupTables(): string[] {
  const storage = getMetadataArgsStorage();
  return CHARTWARDEN_ENTITIES.map((e) => storage.tables.find((t) => t.target === e)?.name).filter((n): n is string => Boolean(n));
}

/**
 * Writes a consistent backup of ChartWarden's database: every table of ChartWarden's
 * (the embedded FHIR store, grants, the audit trail…) read in one REPEATABLE READ snapshot,
 * as PostgreSQL COPY text in a gzip archive of framed chunks, and a manifest with row
 * counts, each table's SHA-256, the audit chain heads and the archive's SHA-256.
 */
export async function backup(databaseUrl: string, out: string, progress: Progress = NO_PROGRESS): Promise<BackupManifest> {
  const directory = dirname(resolve(out));
  await access(directory, constants.W_OK | constants.X_OK).catch((e: NodeJS.ErrnoException) => {
    const reason = e.code === 'ENOENT' ? 'does not exist' : 'is not writable';
    throw new BackupFileError(`backup: cannot write ${out}: the directory ${directory} ${reason}`);
  });
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'chartwarden-backup' });
  await client.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const tables = backupTables();
    const counts = new Map<string, number>();
    for (const t of tables) counts.set(t, (await client.query<{ n: string }>(`SELECT count(*) AS n FROM "${t}"`)).rows[0].n as unknown as number);
    const migrations = (await client.query<{ name: string }>('SELECT name FROM chartwarden_migrations ORDER BY id')).rows.map((r) => r.name);
    const auditChains = (await client.query<{ chain: number; seq: string; head: Buffer }>('SELECT chain, seq, head FROM audit_chain ORDER BY chain')).rows.map((r) => ({
      chain: r.chain,
      seq: Number(r.seq),
      head: r.head.toString('hex'),
    }));
    const root = await ledgerRoot(LedgerReadsRepository.overClient(client));
    progress.start([...counts.values()].reduce((a, b) => a + Number(b), 0));
    const gzip = createGzip();
    const file = createWriteStream(out, { mode: 0o600 });
    const archiveHash = createHash('sha256');
    let bytes = 0;
    gzip.on('data', (chunk: Buffer) => {
      archiveHash.update(chunk);
      bytes += chunk.length;
    });
    const written = pipeline(gzip, file).catch((e: unknown) => {
      throw new BackupFileError(`backup: could not write ${out}: ${(e as Error).message}`);
    });
    written.catch(() => undefined); // awaited after the last table; until then a write error must not go unhandled
    const write = (data: Buffer | string) => new Promise<void>((resolve, reject) => (gzip.write(data, (e) => (e ? reject(e) : resolve()))));
    await write(`${FORMAT}\n`);
    const manifestTables: BackupManifest['tables'] = [];
    for (const table of tables) {
      const hash = createHash('sha256');
      const copy = client.query(copyStreams.to(`COPY "${table}" TO STDOUT`));
      let rows = 0;
      await pipeline(
        copy,
        new Writable({
          write(chunk: Buffer, _encoding, done) {
            hash.update(chunk);
            let lines = 0;
            for (const b of chunk) if (b === 10) lines++;
            rows += lines;
            progress.advance(lines);
            write(`C ${table} ${chunk.length}\n`).then(() => write(chunk)).then(() => done(), done);
          },
        }),
      );
      await write(`E ${table} ${rows}\n`);
      manifestTables.push({ name: table, rows, sha256: hash.digest('hex') });
    }
    gzip.end();
    await written;
    await client.query('COMMIT');
    progress.stop();
    const manifest: BackupManifest = {
      format: FORMAT,
      createdAt: new Date().toISOString(),
      migrations,
      tables: manifestTables,
      auditChains,
      ledgerRoot: root,
      archive: { bytes, sha256: archiveHash.digest('hex') },
    };
    for (const t of manifestTables) {
      if (t.rows !== Number(counts.get(t.name))) throw new Error(`backup of ${t.name}: ${t.rows} rows written, ${counts.get(t.name)} counted in the same snapshot`);
    }
    await writeFile(`${out}.manifest.json`, JSON.stringify(manifest, null, 2) + '\n', { mode: 0o600 });
    return manifest;
  } finally {
    await client.end();
  }
}

/** What a restore drill found. */
export interface DrillReport {
  ok: boolean;
  scratchDatabase: string;
  problems: string[];
  tables: { name: string; expected: number; restored: number }[];
  audit: VerifyReport;
  ledger: LedgerReport;
  upgradedWith: string[];
  ms: number;
}

/**
 * Proves a backup restores: checks the archive against its manifest, restores it into
 * a scratch database on the same server (the schema at the backup's migrations, the data,
 * then any newer migrations: an upgrade keeps old data usable), verifies every audit chain,
 * every edit-ledger chain, and the chain heads and row counts against the manifest, and drops
 * the scratch database.
 */
export async function restoreDrill(databaseUrl: string, from: string, progress: Progress = NO_PROGRESS): Promise<DrillReport> {
  const started = Date.now();
  const manifest = await readManifest(from);
  const problems: string[] = [];
  const archiveHash = createHash('sha256');
  await pipeline(createReadStream(from), new Writable({ write: (c: Buffer, _e, done) => (archiveHash.update(c), done()) }));
  if (archiveHash.digest('hex') !== manifest.archive.sha256) throw new Error(`${from} does not match its manifest's SHA-256: the archive is damaged or was changed`);

  const scratch = `chartwarden_drill_${Date.now()}_${randomBytes(3).toString('hex')}`;
  const scratchUrl = withDatabase(databaseUrl, scratch);
  const admin = new pg.Client({ connectionString: databaseUrl, application_name: 'chartwarden-restore-drill' });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${scratch}"`);
  try {
    const known = MIGRATIONS.map((m) => new m().name as string);
    const unknown = manifest.migrations.filter((m) => !known.includes(m));
    if (unknown.length) throw new Error(`the backup was taken by a newer ChartWarden (migrations ${unknown.join(', ')}): restore it with that version`);
    // The schema as it was when the backup was taken…
    const old = new DataSource({
      type: 'postgres',
      url: scratchUrl,
      migrations: MIGRATIONS.filter((m) => manifest.migrations.includes(new m().name as string)),
      migrationsTableName: 'chartwarden_migrations',
    });
    await old.initialize();
    await old.runMigrations({ transaction: 'all' });
    await old.destroy();
    // …then its data, each table's bytes checked against the manifest…
    const loaded = await load(scratchUrl, from, manifest, progress);
    for (const t of manifest.tables) {
      const got = loaded.get(t.name) ?? createHash('sha256').digest('hex');
      if (got !== t.sha256) problems.push(`${t.name}: its data in the archive does not match the manifest's SHA-256`);
    }
    // …then today's schema over it.
    const upgraded = await ChartWardenDatabase.connect(scratchUrl, 2);
    const upgradedWith = known.filter((m) => !manifest.migrations.includes(m));
    try {
      const tables: DrillReport['tables'] = [];
      for (const t of manifest.tables) {
        const [{ n }] = await upgraded.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${t.name}"`);
        tables.push({ name: t.name, expected: t.rows, restored: n });
        if (n !== t.rows) problems.push(`${t.name}: ${n} rows restored, the manifest says ${t.rows}`);
      }
      const heads = await upgraded.query<{ chain: number; seq: string; head: Buffer }>('SELECT chain, seq, head FROM audit_chain ORDER BY chain');
      for (const h of manifest.auditChains) {
        const got = heads.find((x) => x.chain === h.chain);
        if (!got || Number(got.seq) !== h.seq || got.head.toString('hex') !== h.head) problems.push(`audit chain ${h.chain}: head differs from the manifest's (entry ${h.seq})`);
      }
      const audit = await verifyAuditChains(scratchUrl);
      if (audit.broken) problems.push(`audit trail: ${audit.broken.detail}`);
      const ledger = await verifyLedger(scratchUrl);
      if (ledger.broken) problems.push(`edit ledger: ${ledger.broken.detail}`);
      if (manifest.ledgerRoot !== undefined && ledger.root !== manifest.ledgerRoot) problems.push(`edit ledger: its root differs from the manifest's (${manifest.ledgerRoot})`);
      return { ok: problems.length === 0, scratchDatabase: scratch, problems, tables, audit, ledger, upgradedWith, ms: Date.now() - started };
    } finally {
      await upgraded.onApplicationShutdown();
    }
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS "${scratch}" WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
}

/**
 * Loads the archive's tables in one transaction. Audit chain heads are not copied in: they
 * start at the genesis and are moved onto the restored entries, so the database's own
 * trigger checks that each head is an entry the chain holds.
 */
async function load(url: string, from: string, manifest: BackupManifest, progress: Progress): Promise<Map<string, string>> {
  const hashes = new Map<string, ReturnType<typeof createHash>>();
  const client = new pg.Client({ connectionString: url, application_name: 'chartwarden-restore-drill' });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query('CREATE TEMP TABLE restored_audit_chain (chain smallint, seq bigint, head bytea) ON COMMIT DROP');
    progress.start(manifest.tables.reduce((n, t) => n + t.rows, 0));
    let current: { table: string; stream: copyStreams.CopyStreamQuery; done: Promise<void> } | undefined;
    const open = (table: string) => {
      const target = table === 'audit_chain' ? 'restored_audit_chain' : `"${table}"`;
      if (table === 'chartwarden_migrations') throw new Error('unexpected table chartwarden_migrations in the archive');
      const stream = client.query(copyStreams.from(`COPY ${target} FROM STDIN`));
      const done = new Promise<void>((resolve, reject) => {
        stream.on('finish', () => resolve());
        stream.on('error', reject);
      });
      return { table, stream, done };
    };
    let header = true;
    let pending = Buffer.alloc(0);
    await pipeline(
      createReadStream(from),
      createGunzip(),
      new Writable({
        write(chunk: Buffer, _e, callback) {
          (async () => {
            pending = Buffer.concat([pending, chunk]);
            for (;;) {
              const nl = pending.indexOf(10);
              if (nl < 0) return;
              const line = pending.subarray(0, nl).toString('utf8');
              if (header) {
                if (line !== FORMAT) throw new Error(`${from} is not a ${FORMAT} archive`);
                header = false;
                pending = pending.subarray(nl + 1);
                continue;
              }
              const [kind, table, size] = line.split(' ');
              if (kind === 'C') {
                const length = Number(size);
                if (pending.length < nl + 1 + length) return;
                const data = pending.subarray(nl + 1, nl + 1 + length);
                if (!hashes.has(table)) hashes.set(table, createHash('sha256'));
                hashes.get(table)?.update(data);
                if (current?.table !== table) current = open(table);
                const stream = current.stream;
                if (!stream.write(data)) await new Promise((r) => stream.once('drain', r));
                let lines = 0;
                for (const b of data) if (b === 10) lines++;
                progress.advance(lines);
                pending = pending.subarray(nl + 1 + length);
              } else if (kind === 'E') {
                if (current?.table === table) {
                  current.stream.end();
                  await current.done;
                  current = undefined;
                }
                pending = pending.subarray(nl + 1);
              } else {
                throw new Error(`${from}: unexpected frame "${line.slice(0, 40)}"`);
              }
            }
          })().then(() => callback(), callback);
        },
      }),
    );
    await client.query('INSERT INTO audit_chain (chain, seq, head) SELECT chain, 0, $1 FROM restored_audit_chain', [GENESIS]);
    await client.query('UPDATE audit_chain c SET seq = r.seq, head = r.head FROM restored_audit_chain r WHERE c.chain = r.chain AND r.seq > 0');
    await client.query('COMMIT');
    progress.stop();
    return new Map([...hashes].map(([t, h]) => [t, h.digest('hex')]));
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    await client.end();
  }
}

/** The manifest written beside the archive, with one-line reasons when either file is missing or not ChartWarden's. */
async function readManifest(from: string): Promise<BackupManifest> {
  const archive = await stat(from).catch(() => undefined);
  if (!archive?.isFile()) throw new BackupFileError(`restore-drill: no backup archive at ${from}`);
  let text: string;
  try {
    text = await readFile(`${from}.manifest.json`, 'utf8');
  } catch {
    throw new BackupFileError(`restore-drill: ${from} has no manifest: ${from}.manifest.json is missing (chartwarden backup writes it beside the archive)`);
  }
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(text) as BackupManifest;
  } catch {
    throw new BackupFileError(`restore-drill: ${from}.manifest.json is not JSON: not a ChartWarden backup manifest`);
  }
  if (manifest?.format !== FORMAT) {
    throw new BackupFileError(`restore-drill: ${from}.manifest.json is not a ChartWarden backup manifest (format ${String(manifest?.format)})`);
  }
  return manifest;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
