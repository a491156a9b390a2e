import 'reflect-metadata';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Composition, Patient, Resource } from '@medplum/fhirtypes';
import { AuditCheckpointScheduler } from '../../src/audit/checkpoint-scheduler.js';
import { CHECKPOINT_KEY_FILE, type Checkpoint } from '../../src/audit/checkpoint.js';
import { CliFailure } from '../../src/cli/cli.js';
import { settingsFromEnv } from '../../src/config/env.config.js';
import { verifyAuditChains } from '../../src/audit/audit-verifier.js';
import { verifyLedger } from '../../src/cli/offline-checks.js';
import { asReplica, runCliOn, sql, urlOf } from '../support/database-admin.js';
import { httpRequest } from '../support/http.js';
import { startTestServer } from '../support/test-app.js';
import { dropThrowawayDatabase } from '../support/throwaway-database.js';

const LOINC = 'http://loinc.org';

/**
 * R-21 (and R-17 for the ledger): signed checkpoints kept outside the database. The chains
 * alone cannot show a cut tail — delete a chain's last entries and move its head back, as a
 * superuser can, and every remaining link still verifies — but a checkpoint taken before
 * names the head entry that vanished. The seed database is filled through the server (which
 * also writes a scheduled checkpoint at start), checkpointed with the CLI, then grown; each
 * tamper case works on its own copy.
 */
describe('R-21: audit checkpoints outside the database', () => {
  const run = randomBytes(4).toString('hex');
  const created: string[] = [];
  const tempDirs: string[] = [];
  let seed = '';
  let dataDir = '';
  let checkpointFile = '';
  let scheduledFile = '';
  /** The root `ledger verify` printed right after the checkpoint was taken (nothing written in between). */
  let ledgerRootAtCheckpoint = '';

  const tempDir = async (): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'chartwarden-checkpoint-'));
    tempDirs.push(dir);
    return dir;
  };
  const newDatabase = async (template?: string): Promise<string> => {
    const name = `cw_ckpt_${run}_${created.length}`;
    await sql(urlOf(), `CREATE DATABASE "${name}"${template ? ` TEMPLATE "${template}"` : ''}`);
    created.push(name);
    return name;
  };
  const copyOfSeed = async (): Promise<string> => urlOf(await newDatabase(seed));
  const cli = (url: string, args: string[], dir = dataDir) => runCliOn(url, args, { CHARTWARDEN_DATA_DIR: dir });
  const readCheckpoint = async (file: string) => JSON.parse(await readFile(file, 'utf8')) as Checkpoint;

  beforeAll(async () => {
    seed = await newDatabase();
    dataDir = await tempDir();
    const checkpointDir = join(await tempDir(), 'checkpoints');
    const server = await startTestServer({ databaseUrl: urlOf(seed), dataDir, checkpoint: { dir: checkpointDir, intervalMinutes: 60 } });
    try {
      const his = await server.token({ sub: `his-${run}` });
      const call = async <T extends Resource>(method: string, path: string, body?: unknown): Promise<T & { id: string }> => {
        const res = await httpRequest<T & { id: string }>(`${server.fhirBase}/${path}`, method, { token: his, body });
        if (res.status !== 200 && res.status !== 201) throw new Error(`${method} ${path} failed: ${res.status} ${res.text}`);
        return res.body;
      };
      const traffic = async (n: number) => {
        for (let i = 0; i < n; i++) {
          const patient = await call<Patient>('POST', 'Patient', { resourceType: 'Patient', name: [{ family: `Ckpt${run}`, given: [`P${i}`] }] } satisfies Patient);
          await call('GET', `Patient/${patient.id}`);
          const note = await call<Composition>('POST', 'Composition', {
            resourceType: 'Composition',
            status: 'preliminary',
            type: { coding: [{ system: LOINC, code: '11506-3' }] },
            subject: { reference: `Patient/${patient.id}` },
            date: '2026-11-29T10:00:00+08:00',
            author: [{ reference: 'Practitioner/dr-li' }],
            title: `病程记录 ${i}`,
          } satisfies Composition);
          const { meta: _meta, ...rest } = note;
          await call('PUT', `Composition/${note.id}`, { ...rest, title: `病程记录 ${i}（补记）` });
        }
      };
      // The scheduled checkpoint written when the application started.
      scheduledFile = (await server.app.get(AuditCheckpointScheduler).latest()) ?? '';
      await traffic(6);
      const taken = await cli(urlOf(seed), ['audit', 'checkpoint', '--out', join(dataDir, 'cp.json')]);
      if (taken.error) throw taken.error;
      checkpointFile = join(dataDir, 'cp.json');
      const ledger = await cli(urlOf(seed), ['ledger', 'verify']);
      if (ledger.error) throw ledger.error;
      ledgerRootAtCheckpoint = /ledger root: ([0-9a-f]{64})/.exec(ledger.stdout)?.[1] ?? '';
      // Growth after the checkpoint is no tampering.
      await traffic(3);
    } finally {
      await server.close();
    }
  });

  afterAll(async () => {
    // Copies before the seed: they hold the grants of the seed's role, which goes with the seed.
    for (const name of [...created].reverse()) await dropThrowawayDatabase(urlOf(), name);
    for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
  });

  it('R-21: the checkpoint names every chain head and the ledger root `ledger verify` printed; its key is private to the data dir', async () => {
    const checkpoint = await readCheckpoint(checkpointFile);
    expect(checkpoint.format).toBe('chartwarden-checkpoint/1');
    expect(checkpoint.chains.length).toBeGreaterThan(0);
    expect(checkpoint.ledger.documents).toHaveLength(6);
    expect(checkpoint.ledger.documents.every(([doc, version]) => doc.startsWith('Composition/') && version === 2)).toBe(true);
    expect(checkpoint.signature).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect((await stat(join(dataDir, CHECKPOINT_KEY_FILE))).mode & 0o777).toBe(0o600);
    // At the time it was taken, the root is what `ledger verify` printed; the seed grew after it, so today's differs.
    expect(checkpoint.ledger.root).toBe(ledgerRootAtCheckpoint);
    const ledgerNow = await verifyLedger(await copyOfSeed());
    expect(ledgerNow.broken).toBeUndefined();
    expect(ledgerNow.root).not.toBe(checkpoint.ledger.root);
    expect(checkpoint.ledger.root).toBe(
      createHash('sha256')
        .update(checkpoint.ledger.documents.map(([d, v, h]) => `${d} ${v} ${h}\n`).join(''))
        .digest('hex'),
    );
  });

  it('R-21: an untouched database that grew since passes `audit verify --checkpoint`, as does the checkpoint the server wrote at start', async () => {
    const url = await copyOfSeed();
    const verified = await cli(url, ['audit', 'verify', '--checkpoint', checkpointFile]);
    expect(verified.error).toBeUndefined();
    expect(verified.stdout).toMatch(/^audit verify: \d+ chains, \d+ entries intact/);
    expect(verified.stdout).toMatch(new RegExp(`checkpoint ${checkpointFile} of \\S+: \\d+ chain heads and 6 documents' ledger entries unchanged`));

    expect(scheduledFile).toMatch(/checkpoints\/checkpoint-.*\.json$/);
    expect(existsSync(scheduledFile)).toBe(true);
    const scheduled = await cli(url, ['audit', 'verify', '--checkpoint', scheduledFile]);
    expect(scheduled.error).toBeUndefined();
    expect(scheduled.stdout).toMatch(/checkpoint .* unchanged/);
  });

  it('R-21: a cut tail (the head entry deleted and the head moved back) passes `audit verify` alone but fails against the checkpoint, naming the chain', async () => {
    const url = await copyOfSeed();
    const checkpoint = await readCheckpoint(checkpointFile);
    const head = checkpoint.chains.reduce((a, b) => (b.seq > a.seq ? b : a));
    const [before] = await sql<{ hash: Buffer }>(url, 'SELECT hash FROM audit_entry WHERE chain = $1 AND seq = $2', [head.chain, head.seq - 1]);
    await asReplica(url, [
      ['DELETE FROM audit_entry WHERE chain = $1 AND seq >= $2', [head.chain, head.seq]],
      ['UPDATE audit_chain SET seq = $2, head = $3 WHERE chain = $1', [head.chain, head.seq - 1, before.hash]],
    ]);

    // The limit the checkpoint exists for: every remaining link is intact.
    const alone = await cli(url, ['audit', 'verify']);
    expect(alone.error).toBeUndefined();
    expect(alone.stdout).toMatch(/entries intact/);

    const against = await cli(url, ['audit', 'verify', '--checkpoint', checkpointFile]);
    expect(against.error).toBeInstanceOf(CliFailure);
    expect((against.error as Error).message).toBe(
      `audit verify: BROKEN against checkpoint ${checkpointFile} of ${checkpoint.taken} — chain ${head.chain}: it ends at entry ${head.seq - 1}, ` +
        `but the checkpoint's head is entry ${head.seq} (its tail was cut) (chain-cut)`,
    );
    expect(against.stdout).toBe('');
  });

  it('R-21: the head entry rewritten and re-hashed (the chain consistent again) fails against the checkpoint as altered', async () => {
    const url = await copyOfSeed();
    const checkpoint = await readCheckpoint(checkpointFile);
    const head = checkpoint.chains.reduce((a, b) => (b.seq > a.seq ? b : a));
    const { hashedTextSql } = await import('../../src/audit/audit-sql.js');
    await asReplica(url, [
      ['DELETE FROM audit_entry WHERE chain = $1 AND seq > $2', [head.chain, head.seq]],
      [`UPDATE audit_entry SET actor = 'mallory' WHERE chain = $1 AND seq = $2`, [head.chain, head.seq]],
      [`UPDATE audit_entry r SET hash = sha256(r.prev_hash || ${hashedTextSql('r.')}) WHERE chain = $1 AND seq = $2`, [head.chain, head.seq]],
      ['UPDATE audit_chain c SET seq = $2, head = (SELECT hash FROM audit_entry WHERE chain = $1 AND seq = $2) WHERE chain = $1', [head.chain, head.seq]],
    ]);
    const alone = await cli(url, ['audit', 'verify']);
    expect(alone.error).toBeUndefined();

    const against = await cli(url, ['audit', 'verify', '--checkpoint', checkpointFile]);
    expect(against.error).toBeInstanceOf(CliFailure);
    expect((against.error as Error).message).toMatch(
      new RegExp(`BROKEN against checkpoint .* — chain ${head.chain}: entry ${head.seq} is not the entry the checkpoint signed \\(its hash differs: the chain was rewritten\\) \\(entry-altered\\)$`),
    );
  });

  it('R-17: a document\'s last ledger entry rewritten and re-hashed (`ledger verify` passes) fails against the checkpoint, naming the document', async () => {
    const url = await copyOfSeed();
    const checkpoint = await readCheckpoint(checkpointFile);
    const [doc, version] = checkpoint.ledger.documents[0];
    const id = doc.split('/')[1];
    const [row] = await sql<{ entry: string; editor: string; prev_hash: Buffer }>(
      url,
      `SELECT entry, editor, prev_hash FROM edit_ledger WHERE resource_type = 'Composition' AND resource_id = $1 AND version_id = $2`,
      [id, version],
    );
    const forged = row.entry.replace(`"editor":${JSON.stringify(row.editor)}`, '"editor":"mallory"');
    expect(forged).not.toBe(row.entry);
    const hash = createHash('sha256').update(row.prev_hash).update(forged, 'utf8').digest();
    await asReplica(url, [
      [`UPDATE edit_ledger SET entry = $3, editor = 'mallory', hash = $4 WHERE resource_type = 'Composition' AND resource_id = $1 AND version_id = $2`, [id, version, forged, hash]],
    ]);
    expect((await verifyLedger(url)).broken).toBeUndefined();

    const against = await cli(url, ['audit', 'verify', '--checkpoint', checkpointFile]);
    expect(against.error).toBeInstanceOf(CliFailure);
    expect((against.error as Error).message).toMatch(
      new RegExp(`BROKEN against checkpoint .* — ${doc}: the ledger entry of version ${version} is not the one the checkpoint signed \\(its hash differs\\) \\(ledger-entry-altered\\)$`),
    );
  });

  it('R-21: a checkpoint file whose seq was edited (to hide a cut) fails on its signature, before anything else', async () => {
    const url = await copyOfSeed();
    const checkpoint = await readCheckpoint(checkpointFile);
    checkpoint.chains[0].seq -= 1;
    const forgedFile = join(await tempDir(), 'forged.json');
    await writeFile(forgedFile, JSON.stringify(checkpoint));

    const against = await cli(url, ['audit', 'verify', '--checkpoint', forgedFile]);
    expect(against.error).toBeInstanceOf(CliFailure);
    expect((against.error as Error).message).toBe(
      `audit verify: checkpoint ${forgedFile} REJECTED — its signature does not match its content: the file was altered after it was signed`,
    );
    expect(against.stdout).toBe('');
  });

  it('R-21: a checkpoint checked with another data dir\'s key fails, naming the key', async () => {
    const url = await copyOfSeed();
    const otherDir = await tempDir();
    const other = await cli(url, ['audit', 'checkpoint', '--out', join(otherDir, 'other.json')], otherDir);
    expect(other.error).toBeUndefined();

    const against = await cli(url, ['audit', 'verify', '--checkpoint', checkpointFile], otherDir);
    expect(against.error).toBeInstanceOf(CliFailure);
    expect((against.error as Error).message).toMatch(/REJECTED — it was signed by another key \([0-9a-f]{16}; this data dir's is [0-9a-f]{16}\)/);
  });

  it('R-21: audit verify and ledger verify report their progress (the CLI draws it as a bar): every chain, every ledger entry, then stop', async () => {
    const url = await copyOfSeed();
    const record = () => {
      const calls: string[] = [];
      let total = 0;
      let done = 0;
      return {
        calls,
        totals: () => ({ total, done }),
        progress: { start: (n: number) => ((total = n), calls.push('start')), advance: (n: number) => void (done += n), stop: () => void calls.push('stop') },
      };
    };
    const chains = record();
    const audit = await verifyAuditChains(url, { progress: chains.progress });
    expect(chains.calls).toEqual(['start', 'stop']);
    expect(chains.totals()).toEqual({ total: audit.chains.length, done: audit.chains.length });
    const entries = record();
    const ledger = await verifyLedger(url, { progress: entries.progress });
    expect(entries.calls).toEqual(['start', 'stop']);
    expect(entries.totals()).toEqual({ total: ledger.entries, done: ledger.entries });
    expect(ledger.entries).toBeGreaterThan(0);
  });

  it('R-21: CHARTWARDEN_CHECKPOINT_DIR turns the schedule on (every 60 minutes unless CHARTWARDEN_CHECKPOINT_INTERVAL_MINUTES says)', () => {
    expect(settingsFromEnv({ CHARTWARDEN_CHECKPOINT_DIR: '/var/lib/cw-checkpoints' }).options.checkpoint).toEqual({ dir: '/var/lib/cw-checkpoints', intervalMinutes: undefined });
    expect(settingsFromEnv({ CHARTWARDEN_CHECKPOINT_DIR: '/x', CHARTWARDEN_CHECKPOINT_INTERVAL_MINUTES: '15' }).options.checkpoint).toEqual({ dir: '/x', intervalMinutes: 15 });
    expect(settingsFromEnv({}).options.checkpoint).toBeUndefined();
  });
});
