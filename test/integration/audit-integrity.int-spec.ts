import 'reflect-metadata';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle, Patient } from '@medplum/fhirtypes';
import pg from 'pg';
import { AuditLog } from '../../src/audit/audit-log.js';
import { verifyAuditChains } from '../../src/audit/audit-verifier.js';
import { canonicalContent, chainHash, chainOf, GENESIS, hashedText, type AuditEntry, type ChainBreak } from '../../src/audit/domain/audit-entry.js';
import { CliFailure } from '../../src/cli/cli.js';
import { AUDIT_DEFAULTS } from '../../src/config/chartwarden.options.js';
import { backup, backupTables, restoreDrill, type BackupManifest } from '../../src/cli/backup.js';
import { ChartWardenDatabase } from '../../src/database/chartwarden-database.js';
import { httpRequest } from '../support/http.js';
import { startTestServer } from '../support/test-app.js';
import { asReplica, runCliOn, sql, urlOf } from '../support/database-admin.js';
import { dropThrowawayDatabase } from '../support/throwaway-database.js';

/**
 * The audit trail's integrity on databases made for this file alone (rows are tampered with
 * here, so never on the run's shared database):
 * - R-21 tamper evidence: the database refuses changes to the trail, and what a superuser
 *   does with the triggers off is found by `verifyAuditChains` / `chartwarden audit verify`,
 *   naming the chain and entry;
 * - R-51 an append resolves (a response is sent) only once its entries are committed, group
 *   commit keeps every chain contiguous under concurrency, and an entry written inside a
 *   failed transaction is not stored;
 * - R-50 a backup's manifest matches the database, and a restore drill proves it restores.
 *
 * A seed database is populated once through the running server (real HTTP requests) and by
 * thousands of direct appends from concurrent callers on two AuditLog instances; every other
 * database here is a copy of it (`CREATE DATABASE … TEMPLATE`), one per tamper case.
 */

const CHAINS = AUDIT_DEFAULTS.chains;
const RUN = randomBytes(4).toString('hex');
const ID_SYSTEM = `urn:chartwarden-it:audit-integrity:${RUN}`;
const APPEND_ONLY = 'the audit trail is append-only (R-21)';
const ZERO_HEAD = `\\x${'00'.repeat(32)}`;

/** A synthetic read entry, as the recorder would write it for `GET /fhir/Patient/<id>`. */
function synthetic(tag: string, i: number, recorded = new Date().toISOString()): AuditEntry {
  return {
    recorded,
    requestId: `${tag}-${RUN}-${i}`,
    action: 'R',
    subtype: 'read',
    outcome: 0,
    status: 200,
    agent: { id: `dr-${i % 7}`, practitioner: `Practitioner/dr-${i % 7}`, roles: ['attending'], department: 'cardio', ip: '10.0.0.7' },
    entity: { type: 'Patient', id: `syn-${i}`, version: '1' },
    patient: `syn-${i}`,
    rule: 'R-03',
    method: 'GET',
    path: `/fhir/Patient/syn-${i}`,
  };
}

const batchOf = (tag: string, from: number, count: number, recorded?: string) => Array.from({ length: count }, (_, k) => synthetic(tag, from + k, recorded));

/** `chartwarden <args>` in-process against `databaseUrl`. */
const runCli = runCliOn;

interface EntryRow {
  chain: number;
  seq: number;
  content: string;
  prev_hash: Buffer;
  hash: Buffer;
}

async function entryAt(url: string, chain: number, seq: number): Promise<EntryRow> {
  const [row] = await sql<Omit<EntryRow, 'seq'> & { seq: string }>(url, 'SELECT chain, seq, content, prev_hash, hash FROM audit_entry WHERE chain = $1 AND seq = $2', [chain, seq]);
  if (!row) throw new Error(`no audit entry ${chain}/${seq}`);
  return { ...row, seq: Number(row.seq) };
}

async function heads(url: string): Promise<{ chain: number; seq: number; head: string }[]> {
  return (await sql<{ chain: number; seq: string; head: Buffer }>(url, 'SELECT chain, seq, head FROM audit_chain ORDER BY chain')).map((h) => ({
    chain: h.chain,
    seq: Number(h.seq),
    head: h.head.toString('hex'),
  }));
}

/** Per chain: entries, lowest and highest seq, and the head's seq. */
async function chainShapes(url: string): Promise<{ chain: number; n: number; min: number; max: number; head: number }[]> {
  return (
    await sql<{ chain: number; n: number; min: string; max: string; head: string }>(
      url,
      `SELECT c.chain, count(e.seq)::int AS n, coalesce(min(e.seq), 0) AS min, coalesce(max(e.seq), 0) AS max, c.seq AS head
         FROM audit_chain c LEFT JOIN audit_entry e ON e.chain = c.chain GROUP BY c.chain, c.seq ORDER BY c.chain`,
    )
  ).map((r) => ({ chain: r.chain, n: r.n, min: Number(r.min), max: Number(r.max), head: Number(r.head) }));
}

/** Everything the trail holds, as one digest: any change to an entry or head changes it. */
async function trailDigest(url: string): Promise<{ entries: number; digest: string; heads: string }> {
  const [row] = await sql<{ entries: number; digest: string; heads: string }>(
    url,
    `SELECT (SELECT count(*)::int FROM audit_entry) AS entries,
            (SELECT encode(sha256(convert_to(coalesce(string_agg(chain || '/' || seq || '/' || recorded || '/' || content || '/' || encode(prev_hash, 'hex') || '/' || encode(hash, 'hex'), E'\\n' ORDER BY chain, seq), ''), 'UTF8')), 'hex') FROM audit_entry) AS digest,
            (SELECT string_agg(chain || '/' || seq || '/' || encode(head, 'hex'), ',' ORDER BY chain) FROM audit_chain) AS heads`,
  );
  return row;
}

/** Row counts of ChartWarden's tables, as `SELECT count(*)` sees them. */
async function tableCounts(url: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const t of backupTables()) counts[t] = (await sql<{ n: number }>(url, `SELECT count(*)::int AS n FROM "${t}"`))[0].n;
  return counts;
}

async function databaseExists(name: string): Promise<boolean> {
  return (await sql(urlOf(), 'SELECT 1 FROM pg_database WHERE datname = $1', [name])).length > 0;
}

const sha256File = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');

describe('Audit trail integrity: R-21 tamper evidence, R-51 durable group commit, R-50 backup and restore drill', () => {
  const created: string[] = [];
  const tempDirs: string[] = [];
  let seed = '';
  let work = '';

  /** Where the seed's notable entries are, and how its chains look. */
  const facts = {
    /** The admin's refused read (403) and the anonymous read (401): chain and seq of their entries. */
    forbidden: { chain: -1, seq: -1, requestId: '' },
    unauthenticated: { chain: -1, seq: -1, requestId: '' },
    /** Per HTTP request: its X-Request-Id, status, and how many of its entries another connection saw right after the response. */
    requests: [] as { what: string; requestId: string; status: number; visibleAtResponse: number }[],
    searchRequestId: '',
    patients: [] as string[],
    syntheticEntries: 0,
    /** Group commits the two concurrent seeding AuditLogs made. */
    seedCommits: 0,
    seedCalls: 0,
  };

  const newDatabase = async (template?: string): Promise<string> => {
    const name = `cw_audit_${Date.now()}_${randomBytes(3).toString('hex')}`;
    await sql(urlOf(), `CREATE DATABASE "${name}"${template ? ` TEMPLATE "${template}"` : ''}`);
    created.push(name);
    return name;
  };
  /** A fresh copy of the populated seed database (nothing is connected to the seed after beforeAll). */
  const populatedCopy = async (): Promise<string> => urlOf(await newDatabase(seed));
  const tempDir = async (): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'chartwarden-audit-'));
    tempDirs.push(dir);
    return dir;
  };

  beforeAll(async () => {
    seed = await newDatabase();
    const seedUrl = urlOf(seed);

    // Real traffic through the server: creates (journaled in their write transactions), reads, a search, a 403 and a 401.
    const server = await startTestServer({ databaseUrl: seedUrl });
    const probe = new pg.Client({ connectionString: seedUrl });
    await probe.connect();
    try {
      const his = await server.token({ sub: 'his-audit', roles: ['his-system'] });
      const admin = await server.token({ sub: 'admin-audit', roles: ['admin'] });
      const track = async <T>(what: string, url: string, method: string, token?: string, body?: unknown) => {
        const res = await httpRequest<T>(url, method, { token, body });
        const requestId = res.headers.get('x-request-id') ?? '';
        const visible = (await probe.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_entry WHERE request_id = $1', [requestId])).rows[0].n;
        facts.requests.push({ what, requestId, status: res.status, visibleAtResponse: visible });
        return { ...res, requestId };
      };
      for (let i = 0; i < 8; i++) {
        const patient: Patient = { resourceType: 'Patient', identifier: [{ system: ID_SYSTEM, value: `p${i}` }], name: [{ family: `Integrity${RUN}`, given: [`P${i}`] }], gender: i % 2 ? 'male' : 'female' };
        const res = await track<Patient>(`create Patient ${i}`, `${server.fhirBase}/Patient`, 'POST', his, patient);
        if (res.status !== 201) throw new Error(`creating a Patient failed: ${res.status} ${res.text}`);
        facts.patients.push(res.body.id as string);
      }
      for (const id of facts.patients) await track(`read Patient/${id}`, `${server.fhirBase}/Patient/${id}`, 'GET', his);
      const search = await track<Bundle>('search Patient', `${server.fhirBase}/Patient?identifier=${encodeURIComponent(`${ID_SYSTEM}|`)}&_count=50`, 'GET', his);
      facts.searchRequestId = search.requestId;
      facts.forbidden.requestId = (await track('admin reads a Patient', `${server.fhirBase}/Patient/${facts.patients[0]}`, 'GET', admin)).requestId;
      facts.unauthenticated.requestId = (await track('read without a token', `${server.fhirBase}/Patient/${facts.patients[1]}`, 'GET')).requestId;
    } finally {
      await probe.end();
      await server.close();
    }

    // Thousands of entries from many concurrent callers, on two AuditLog instances writing the same log
    // (as two server instances would), with small batches so that many group commits interleave.
    const dbs = [await ChartWardenDatabase.connect(seedUrl, 4), await ChartWardenDatabase.connect(seedUrl, 4)];
    try {
      const logs = dbs.map((db) => new AuditLog(db, CHAINS, 150));
      await Promise.all(logs.map((l) => l.onModuleInit()));
      const calls: Promise<void>[] = [];
      for (let i = 0; i < 150; i++) calls.push(logs[i % 2].append(batchOf('seed', i * 20, 20)));
      await Promise.all(calls);
      facts.syntheticEntries = 150 * 20;
      facts.seedCalls = calls.length;
      facts.seedCommits = logs.reduce((n, l) => n + l.stats.commits, 0);
      expect(logs.reduce((n, l) => n + l.stats.entries, 0)).toBe(facts.syntheticEntries);
    } finally {
      for (const db of dbs) await db.onApplicationShutdown();
    }

    const locate = async (requestId: string) => {
      const rows = await sql<{ chain: number; seq: string }>(seedUrl, 'SELECT chain, seq FROM audit_entry WHERE request_id = $1', [requestId]);
      if (rows.length !== 1) throw new Error(`expected one entry for request ${requestId}, found ${rows.length}`);
      return { chain: rows[0].chain, seq: Number(rows[0].seq) };
    };
    Object.assign(facts.forbidden, await locate(facts.forbidden.requestId));
    Object.assign(facts.unauthenticated, await locate(facts.unauthenticated.requestId));
    work = await populatedCopy();
  }, 60_000);

  afterAll(async () => {
    // Copies before the seed: they hold the grants of the seed's role, which goes with the seed.
    for (const name of [...created].reverse()) await dropThrowawayDatabase(urlOf(), name);
    for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
  });

  describe('the populated trail', () => {
    it('R-20 / R-51: every HTTP request left its entries, committed before its response was sent (seen by another connection at once)', async () => {
      expect(facts.requests).toHaveLength(8 + 8 + 1 + 2);
      for (const r of facts.requests) {
        expect({ what: r.what, requestId: r.requestId }).toEqual({ what: r.what, requestId: expect.stringMatching(/.+/) });
        expect({ what: r.what, visible: r.visibleAtResponse > 0 }).toEqual({ what: r.what, visible: true });
      }
      expect(facts.requests.map((r) => r.status)).toEqual([...Array(8).fill(201), ...Array(8).fill(200), 200, 403, 401]);
      // The search recorded one entry per patient it returned (BALP).
      expect(facts.requests.find((r) => r.requestId === facts.searchRequestId)?.visibleAtResponse).toBe(8);

      const [forbidden] = await sql<{ content: string; actor: string | null; outcome: number }>(work, 'SELECT content, actor, outcome FROM audit_entry WHERE request_id = $1', [facts.forbidden.requestId]);
      expect(forbidden).toMatchObject({ actor: 'admin-audit', outcome: 4 });
      expect(JSON.parse(forbidden.content)).toMatchObject({ status: 403, subtype: 'read', agent: { id: 'admin-audit', roles: ['admin'] } });
      const [anonymous] = await sql<{ content: string; actor: string | null; outcome: number }>(work, 'SELECT content, actor, outcome FROM audit_entry WHERE request_id = $1', [facts.unauthenticated.requestId]);
      expect(anonymous).toMatchObject({ actor: null, outcome: 4 });
      expect(JSON.parse(anonymous.content)).toMatchObject({ status: 401 });
      expect(JSON.parse(anonymous.content).agent.id).toBeUndefined();
    });

    it('R-51: concurrent appends were group-committed (fewer commits than calls) and every chain is contiguous 1..n with its head on the last entry', async () => {
      expect(facts.seedCommits).toBeGreaterThan(0);
      expect(facts.seedCommits).toBeLessThan(facts.seedCalls);
      const shapes = await chainShapes(work);
      expect(shapes.map((s) => s.chain)).toEqual(Array.from({ length: CHAINS }, (_, i) => i));
      for (const s of shapes) expect(s).toEqual({ chain: s.chain, n: s.n, min: 1, max: s.n, head: s.n });
      // Nothing but the requests' entries and the synthetic ones.
      const total = shapes.reduce((n, s) => n + s.n, 0);
      expect(total).toBe(facts.syntheticEntries + facts.requests.reduce((n, r) => n + r.visibleAtResponse, 0));
      // Every chain holds entries (the request ids spread over all of them), so each tamper case below has neighbours.
      for (const s of shapes) expect(s.n).toBeGreaterThan(50);
      // Each entry sits in the chain its request id maps to.
      const sample = await sql<{ chain: number; request_id: string }>(work, 'SELECT chain, request_id FROM audit_entry ORDER BY random() LIMIT 200');
      for (const e of sample) expect({ id: e.request_id, chain: e.chain }).toEqual({ id: e.request_id, chain: chainOf(e.request_id, CHAINS) });
    });

    it('R-21: verifyAuditChains on untouched data reports every chain intact, with the heads the database holds', async () => {
      const report = await verifyAuditChains(work);
      expect(report.broken).toBeUndefined();
      expect(report.chains.filter((c) => c.broken)).toEqual([]);
      expect(report.entries).toBe((await trailDigest(work)).entries);
      expect(report.chains.map((c) => ({ chain: c.chain, seq: c.headSeq, head: c.head }))).toEqual(await heads(work));
      expect(report.chains.map((c) => c.entries)).toEqual((await chainShapes(work)).map((s) => s.n));
    });

    it('R-21: `chartwarden audit verify` prints "intact" and each chain head exactly as the database holds it (to anchor them externally)', async () => {
      const run = await runCli(work, ['audit', 'verify']);
      expect(run.error).toBeUndefined();
      const { entries } = await trailDigest(work);
      expect(run.stdout).toMatch(new RegExp(`^audit verify: ${CHAINS} chains, ${entries} entries intact \\(`));
      const printed = [...run.stdout.matchAll(/^ {2}chain (\d+): head (\d+) ([0-9a-f]{64})$/gm)].map((m) => ({ chain: Number(m[1]), seq: Number(m[2]), head: m[3] }));
      expect(printed).toEqual(await heads(work));
    });
  });

  describe('R-51: appending', () => {
    it.each([1, 4])('R-51: %i lane(s): 50 concurrent append calls of 20 entries each add exactly 1000 entries; each call resolves only once its entries are committed; chains stay intact', async (lanes) => {
      const url = work;
      const db = await ChartWardenDatabase.connect(url, 4);
      // Another connection (a pool: the checks run concurrently) looking for each call's entries as soon as it resolves.
      const observer = new pg.Pool({ connectionString: url, max: 4 });
      try {
        const log = new AuditLog(db, CHAINS, AUDIT_DEFAULTS.maxBatch, lanes);
        await log.onModuleInit();
        const before = await trailDigest(url);
        const tag = `gc${lanes}x${RUN}`;
        const visibleOnResolve: number[] = [];
        await Promise.all(
          Array.from({ length: 50 }, (_, call) =>
            log.append(batchOf(tag, call * 20, 20)).then(async () => {
              const ids = Array.from({ length: 20 }, (_, k) => `${tag}-${RUN}-${call * 20 + k}`);
              visibleOnResolve.push((await observer.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_entry WHERE request_id = ANY($1)', [ids])).rows[0].n);
            }),
          ),
        );
        expect(visibleOnResolve).toEqual(Array(50).fill(20));
        expect(log.stats.entries).toBe(1000);
        expect(log.stats.commits).toBeGreaterThan(0);
        expect(log.stats.commits).toBeLessThan(50);
        expect((await trailDigest(url)).entries).toBe(before.entries + 1000);
        const report = await verifyAuditChains(url);
        expect(report.broken).toBeUndefined();
        expect(report.entries).toBe(before.entries + 1000);
        for (const s of await chainShapes(url)) expect(s).toEqual({ chain: s.chain, n: s.n, min: 1, max: s.n, head: s.n });
        // In each chain the new entries follow one another in the order of the calls that queued them.
        const order = await sql<{ chain: number; request_id: string }>(url, `SELECT chain, request_id FROM audit_entry WHERE request_id LIKE $1 ORDER BY chain, seq`, [`${tag}-%`]);
        const byChain = new Map<number, number[]>();
        for (const o of order) byChain.set(o.chain, [...(byChain.get(o.chain) ?? []), Number(o.request_id.split('-').pop())]);
        for (const seqs of byChain.values()) expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      } finally {
        await observer.end();
        await db.onApplicationShutdown();
      }
    });

    it('R-51: entries appended inside a transaction that fails are not stored and no head moves; inside one that commits they are, intact', async () => {
      const url = work;
      const db = await ChartWardenDatabase.connect(url, 2);
      try {
        const log = new AuditLog(db, CHAINS, AUDIT_DEFAULTS.maxBatch);
        const before = await trailDigest(url);
        await expect(
          db.transaction(async (tx) => {
            await log.appendWithin(tx, batchOf(`rolled-back${RUN}`, 0, 30));
            throw new Error('the write failed after its audit entries');
          }),
        ).rejects.toThrow('the write failed after its audit entries');
        expect(await trailDigest(url)).toEqual(before);

        await db.transaction((tx) => log.appendWithin(tx, batchOf(`committed${RUN}`, 0, 30)));
        expect((await trailDigest(url)).entries).toBe(before.entries + 30);
        expect((await verifyAuditChains(url)).broken).toBeUndefined();
      } finally {
        await db.onApplicationShutdown();
      }
    });

    it('R-21: `audit verify` on a live server finds an intact trail intact: a chain is read in one snapshot, so entries appended meanwhile never look like a cut tail', async () => {
      const url = work;
      const db = await ChartWardenDatabase.connect(url, 4);
      let stop = false;
      let appended = 0;
      try {
        const log = new AuditLog(db, CHAINS, AUDIT_DEFAULTS.maxBatch);
        const load = (async () => {
          for (let call = 0; !stop; call++) {
            await Promise.all(Array.from({ length: 4 }, (_, k) => log.append(batchOf(`live${RUN}`, (call * 4 + k) * 5, 5))));
            appended += 20;
          }
        })();
        try {
          // Before the snapshot, most runs under this load reported `head-mismatch` on an intact trail.
          for (let i = 0; i < 4; i++) expect((await verifyAuditChains(url)).broken).toBeUndefined();
        } finally {
          stop = true;
          await load;
        }
        expect(appended).toBeGreaterThan(0);
        expect((await verifyAuditChains(url)).broken).toBeUndefined();
      } finally {
        await db.onApplicationShutdown();
      }
    });

    it('R-51: a group commit naming a chain without a head stores nothing at all, not even the entries of chains that have one', async () => {
      const url = work;
      const db = await ChartWardenDatabase.connect(url, 2);
      try {
        // More chains than the database holds heads for: some entries land in a chain with no head.
        const wide = new AuditLog(db, CHAINS + 8, AUDIT_DEFAULTS.maxBatch);
        const entries = batchOf(`headless${RUN}`, 0, 40);
        const chains = new Set(entries.map((e) => chainOf(e.requestId, CHAINS + 8)));
        expect([...chains].some((c) => c >= CHAINS) && [...chains].some((c) => c < CHAINS)).toBe(true);
        const before = await trailDigest(url);
        await expect(db.transaction((tx) => wide.appendWithin(tx, entries))).rejects.toThrow(/are not all initialised .*nothing was recorded/);
        expect(await trailDigest(url)).toEqual(before);
      } finally {
        await db.onApplicationShutdown();
      }
    });
  });

  describe('R-21: the database refuses changes to the trail, even to a superuser', () => {
    const refused = (fragment: string) => ({ code: '42501', message: expect.stringContaining(fragment) as unknown });

    it('R-21: the connection used is a superuser (a refusal is the trigger, not a missing privilege)', async () => {
      const [me] = await sql<{ rolsuper: boolean }>(work, 'SELECT rolsuper FROM pg_roles WHERE rolname = current_user');
      expect(me.rolsuper).toBe(true);
    });

    it.each([
      ['UPDATE', `UPDATE audit_entry SET content = replace(content, '"status":403', '"status":200'), outcome = 0 WHERE outcome = 4`],
      ['UPDATE', `UPDATE audit_entry SET hash = prev_hash WHERE seq = 1`],
      ['DELETE', `DELETE FROM audit_entry WHERE actor = 'admin-audit'`],
      ['DELETE', `DELETE FROM audit_entry`],
      ['TRUNCATE', `TRUNCATE audit_entry`],
    ])('R-21: %s on audit_entry (%s) is refused with 42501 and nothing changes', async (op, statement) => {
      const before = await trailDigest(work);
      await expect(sql(work, statement)).rejects.toMatchObject(refused(`${op} on audit_entry is refused: ${APPEND_ONLY}`));
      expect(await trailDigest(work)).toEqual(before);
    });

    it.each([
      ['DELETE', 'DELETE FROM audit_chain WHERE chain = 0', APPEND_ONLY],
      ['TRUNCATE', 'TRUNCATE audit_chain', APPEND_ONLY],
      ['TRUNCATE (cascading from both tables)', 'TRUNCATE audit_chain, audit_entry', APPEND_ONLY],
      ['moving a head back (seq - 1)', 'UPDATE audit_chain SET seq = seq - 1', 'may only move forward onto an entry it holds (R-21)'],
      ['moving a head back to its entry before, hash and all', 'UPDATE audit_chain c SET seq = c.seq - 1, head = e.hash FROM audit_entry e WHERE e.chain = c.chain AND e.seq = c.seq - 1', 'may only move forward onto an entry it holds (R-21)'],
      ['resetting a head to zero', `UPDATE audit_chain SET head = '${ZERO_HEAD}'::bytea WHERE chain = 0`, 'may only move forward onto an entry it holds (R-21)'],
      ['moving a head forward onto no entry', 'UPDATE audit_chain SET seq = seq + 1 WHERE chain = 0', 'may only move forward onto an entry it holds (R-21)'],
      ['starting a new chain that is not empty', `INSERT INTO audit_chain (chain, seq, head) VALUES (${CHAINS + 5}, 3, '${ZERO_HEAD}'::bytea)`, 'a new audit chain starts empty (R-21)'],
    ])('R-21: on audit_chain, %s is refused with 42501 and nothing changes', async (_what, statement, message) => {
      const before = await trailDigest(work);
      await expect(sql(work, statement)).rejects.toMatchObject(refused(message));
      expect(await trailDigest(work)).toEqual(before);
    });
  });

  describe('R-21: tampering by a superuser with the triggers off is found, naming the chain and entry', () => {
    interface Case {
      name: string;
      /** Tampers with the copy at `url`; returns the break `verify` must report. */
      tamper(url: string): Promise<ChainBreak>;
      /** How the CLI's message names the place: the chain and its entry, or (no head at all) the chain alone. */
      names?: (b: ChainBreak) => RegExp;
    }
    const chainAndEntry = (b: ChainBreak) => new RegExp(`chain ${b.chain}: .*entr(y|ies) ${b.seq}\\b`);
    const lastOf = async (url: string, chain: number) => (await heads(url)).find((h) => h.chain === chain)?.seq as number;

    /** The admin's refused read, rewritten to look like a successful read by someone else. */
    const forged = (content: string): string => {
      const entry = JSON.parse(content) as AuditEntry;
      return canonicalContent({ ...entry, status: 200, outcome: 0, agent: { ...entry.agent, id: 'his-audit', roles: ['his-system'] } });
    };

    const cases: Case[] = [
      {
        name: '(a) an entry\'s content edited (the 403 made to look like a 200) → content-altered at that entry',
        tamper: async (url) => {
          const { chain, seq } = facts.forbidden;
          const row = await entryAt(url, chain, seq);
          await asReplica(url, [['UPDATE audit_entry SET content = $3, outcome = 0, actor = $4 WHERE chain = $1 AND seq = $2', [chain, seq, forged(row.content), 'his-audit']]]);
          return { chain, seq, problem: 'content-altered', detail: `chain ${chain}: entry ${seq} does not match its hash (its content or a searchable column was changed)` };
        },
      },
      {
        name: '(a′) only the searchable columns of the refused read edited (it would vanish from the patient\'s access report) → content-altered at that entry (the hash covers the columns)',
        tamper: async (url) => {
          const { chain, seq } = facts.forbidden;
          await asReplica(url, [["UPDATE audit_entry SET patient = 'nobody', actor = 'his-audit', outcome = 0, entity_id = 'x' WHERE chain = $1 AND seq = $2", [chain, seq]]]);
          return {
            chain,
            seq,
            problem: 'content-altered',
            detail: `chain ${chain}: entry ${seq} does not match its hash (its content or a searchable column was changed)`,
          };
        },
      },
      {
        name: '(a″) only the recorded time of an entry backdated → content-altered at that entry (the hash covers the columns)',
        tamper: async (url) => {
          const { chain, seq } = facts.forbidden;
          await asReplica(url, [["UPDATE audit_entry SET recorded = '2020-01-01T00:00:00Z' WHERE chain = $1 AND seq = $2", [chain, seq]]]);
          return {
            chain,
            seq,
            problem: 'content-altered',
            detail: `chain ${chain}: entry ${seq} does not match its hash (its content or a searchable column was changed)`,
          };
        },
      },
      {
        name: '(b) an entry\'s content edited and its hash recomputed → link-broken at the next entry',
        tamper: async (url) => {
          const { chain, seq } = facts.forbidden;
          const row = await entryAt(url, chain, seq);
          const content = forged(row.content);
          const hash = chainHash(row.prev_hash, hashedText(JSON.parse(content) as AuditEntry));
          // A careful forger keeps the searchable columns in line with the content.
          await asReplica(url, [['UPDATE audit_entry SET content = $3, outcome = 0, actor = $5, hash = $4 WHERE chain = $1 AND seq = $2', [chain, seq, content, hash, 'his-audit']]]);
          // The forged entry is self-consistent: only its successor gives it away.
          const again = await entryAt(url, chain, seq);
          expect(chainHash(again.prev_hash, hashedText(JSON.parse(again.content) as AuditEntry)).equals(again.hash)).toBe(true);
          return { chain, seq: seq + 1, problem: 'link-broken', detail: `chain ${chain}: entry ${seq + 1} does not point to the hash of entry ${seq}` };
        },
      },
      {
        name: '(c) one entry in the middle of a chain deleted → entry-missing naming that entry',
        tamper: async (url) => {
          const chain = 7;
          const seq = Math.floor((await lastOf(url, chain)) / 2);
          await asReplica(url, [['DELETE FROM audit_entry WHERE chain = $1 AND seq = $2', [chain, seq]]]);
          return { chain, seq, problem: 'entry-missing', detail: `chain ${chain}: entry ${seq} is missing (entry ${seq + 1} follows entry ${seq - 1})` };
        },
      },
      {
        name: '(c) the entry of the refused anonymous read (401) deleted → entry-missing naming it',
        tamper: async (url) => {
          const { chain, seq } = facts.unauthenticated;
          await asReplica(url, [['DELETE FROM audit_entry WHERE chain = $1 AND seq = $2', [chain, seq]]]);
          return { chain, seq, problem: 'entry-missing', detail: `chain ${chain}: entry ${seq} is missing (entry ${seq + 1} follows entry ${seq - 1})` };
        },
      },
      {
        name: '(c′) several consecutive entries deleted → entry-missing naming the first',
        tamper: async (url) => {
          const chain = 3;
          await asReplica(url, [['DELETE FROM audit_entry WHERE chain = $1 AND seq BETWEEN 10 AND 12', [chain]]]);
          return { chain, seq: 10, problem: 'entry-missing', detail: `chain ${chain}: entries 10…12 are missing (entry 13 follows entry 9)` };
        },
      },
      {
        name: '(d) the last entry of a chain deleted, its head left alone → head-mismatch',
        tamper: async (url) => {
          const chain = 5;
          const last = await lastOf(url, chain);
          await asReplica(url, [['DELETE FROM audit_entry WHERE chain = $1 AND seq = $2', [chain, last]]]);
          return { chain, seq: last, problem: 'head-mismatch', detail: `chain ${chain}: the head says entry ${last} is last, but the chain ends at entry ${last - 1} (entry ${last} is missing)` };
        },
      },
      {
        name: '(d′) an entry forged onto the end of a chain, head left alone → head-mismatch',
        tamper: async (url) => {
          const chain = 6;
          const last = await lastOf(url, chain);
          const tail = await entryAt(url, chain, last);
          const entry = synthetic('forged', 1);
          const content = canonicalContent(entry);
          await asReplica(url, [
            [
              `INSERT INTO audit_entry (chain, seq, recorded, request_id, actor, patient, action, subtype, outcome, entity_type, entity_id, content, prev_hash, hash)
               VALUES ($1, $2, $6, $7, $8, $9, 'R', 'read', 0, 'Patient', $9, $3, $4, $5)`,
              [chain, last + 1, content, tail.hash, chainHash(tail.hash, hashedText(entry)), entry.recorded, entry.requestId, entry.agent.id, entry.patient],
            ],
          ]);
          return { chain, seq: last + 1, problem: 'head-mismatch', detail: `chain ${chain}: the head says entry ${last} is last, but the chain ends at entry ${last + 1}` };
        },
      },
      {
        name: '(d″) a well-linked entry inserted (no trigger needs to be off) into a chain that has no head → head-mismatch',
        tamper: async (url) => {
          const chain = CHAINS + 3;
          const entry = synthetic('orphan', 1);
          const content = canonicalContent(entry);
          await sql(
            url,
            `INSERT INTO audit_entry (chain, seq, recorded, request_id, actor, patient, action, subtype, outcome, entity_type, entity_id, content, prev_hash, hash)
             VALUES ($1, 1, $5, $6, $7, $8, 'R', 'read', 0, 'Patient', $8, $2, $3, $4)`,
            [chain, content, GENESIS, chainHash(GENESIS, hashedText(entry)), entry.recorded, entry.requestId, entry.agent.id, entry.patient],
          );
          return { chain, seq: 1, problem: 'head-mismatch', detail: `chain ${chain}: its head row is missing` };
        },
        names: (b) => new RegExp(`chain ${b.chain}: its head row is missing`),
      },
    ];

    it.each(cases.map((c) => [c.name, c] as const))('R-21: %s; `audit verify` fails naming chain and entry', async (_name, c) => {
      const url = await populatedCopy();
      const expected = await c.tamper(url);

      const report = await verifyAuditChains(url);
      expect(report.broken).toEqual(expected);
      // Only the tampered chain is reported broken.
      expect(report.chains.filter((x) => x.broken).map((x) => x.broken)).toEqual([expected]);

      const run = await runCli(url, ['audit', 'verify']);
      expect(run.error).toBeInstanceOf(CliFailure);
      const message = (run.error as Error).message;
      expect(message).toBe(`audit verify: BROKEN — ${expected.detail} (${expected.problem})`);
      expect(message).toMatch((c.names ?? chainAndEntry)(expected));
      expect(run.stdout).not.toContain('intact');
    });

    it('R-21: two chains tampered → each chain reports its own break and the first (in chain order) is the verdict', async () => {
      const url = await populatedCopy();
      const last = await lastOf(url, 9);
      await asReplica(url, [
        ['DELETE FROM audit_entry WHERE chain = 9 AND seq = $1', [last]],
        [`UPDATE audit_entry SET content = content || ' ' WHERE chain = 2 AND seq = 7`],
      ]);
      const report = await verifyAuditChains(url);
      expect(report.broken).toMatchObject({ chain: 2, seq: 7, problem: 'content-altered' });
      expect(report.chains.filter((x) => x.broken).map((x) => [x.chain, x.broken?.seq, x.broken?.problem])).toEqual([
        [2, 7, 'content-altered'],
        [9, last, 'head-mismatch'],
      ]);
      const run = await runCli(url, ['audit', 'verify']);
      expect(run.error).toBeInstanceOf(CliFailure);
      expect((run.error as Error).message).toContain('chain 2: entry 7');
      expect(run.stderr).toContain(`also broken: chain 9: the head says entry ${last} is last`);
    });

    it('R-21 / R-50: (e) the last entry deleted AND the head moved back passes verify (the chain alone cannot tell); the heads printed by `audit verify` and kept in an earlier backup\'s manifest expose it, and that backup restores the entry', async () => {
      const url = await populatedCopy();
      const dir = await tempDir();
      const chain = 11;
      const anchored = await backup(url, join(dir, 'before.cwbak'));
      const last = await lastOf(url, chain);
      const previous = await entryAt(url, chain, last - 1);
      const original = (await heads(url)).find((h) => h.chain === chain);
      expect(anchored.auditChains.find((h) => h.chain === chain)).toEqual(original);

      await asReplica(url, [
        ['DELETE FROM audit_entry WHERE chain = $1 AND seq = $2', [chain, last]],
        ['UPDATE audit_chain SET seq = $2, head = $3 WHERE chain = $1', [chain, last - 1, previous.hash]],
      ]);

      // Undetectable from the database alone: the truncated chain is a valid, shorter chain.
      const report = await verifyAuditChains(url);
      expect(report.broken).toBeUndefined();
      const run = await runCli(url, ['audit', 'verify']);
      expect(run.error).toBeUndefined();
      expect(run.stdout).toContain('intact');
      // But the head it prints (what an operator anchors outside the database) is the database's, and is behind the anchored one.
      const printed = new RegExp(`^ {2}chain ${chain}: head (\\d+) ([0-9a-f]{64})$`, 'm').exec(run.stdout);
      expect(printed?.slice(1)).toEqual([String(last - 1), previous.hash.toString('hex')]);
      expect((await heads(url)).find((h) => h.chain === chain)).toEqual({ chain, seq: last - 1, head: previous.hash.toString('hex') });
      expect(printed?.[2]).not.toBe(original?.head);

      // A new backup's manifest disagrees with the earlier one on exactly that chain's head and one audit row.
      const now = await backup(url, join(dir, 'after.cwbak'));
      const changedHeads = now.auditChains.filter((h) => JSON.stringify(h) !== JSON.stringify(anchored.auditChains.find((a) => a.chain === h.chain)));
      expect(changedHeads).toEqual([{ chain, seq: last - 1, head: previous.hash.toString('hex') }]);
      const rows = (m: BackupManifest, t: string) => m.tables.find((x) => x.name === t)?.rows;
      expect(rows(now, 'audit_entry')).toBe((rows(anchored, 'audit_entry') as number) - 1);

      // The earlier backup still restores the full chain, deleted entry included.
      const drill = await restoreDrill(url, join(dir, 'before.cwbak'));
      expect(drill.problems).toEqual([]);
      expect(drill.ok).toBe(true);
      expect(drill.audit.chains.find((c) => c.chain === chain)).toMatchObject({ headSeq: last, head: original?.head });
    });
  });

  describe('R-21: verify --since', () => {
    let url = '';
    const OLD = '2020-01-01T00:00:00.000Z';
    const SINCE = '2025-01-01';
    const chain = 1;
    /** seq of an old entry and of a new one in `chain`. */
    let oldSeq = 0;
    let newSeq = 0;

    beforeAll(async () => {
      url = urlOf(await newDatabase());
      const db = await ChartWardenDatabase.connect(url, 2);
      try {
        const log = new AuditLog(db, 4, AUDIT_DEFAULTS.maxBatch);
        await log.onModuleInit();
        await log.append(batchOf('old', 0, 60, OLD));
        await log.append(batchOf('new', 0, 60));
      } finally {
        await db.onApplicationShutdown();
      }
      const rows = await sql<{ seq: string; recorded: Date }>(url, 'SELECT seq, recorded FROM audit_entry WHERE chain = $1 ORDER BY seq', [chain]);
      const old = rows.filter((r) => r.recorded.getTime() < Date.parse(SINCE));
      const recent = rows.filter((r) => r.recorded.getTime() >= Date.parse(SINCE));
      // The chain holds old entries first, then new ones.
      expect(old.length).toBeGreaterThan(3);
      expect(recent.length).toBeGreaterThan(3);
      expect(Number(old[old.length - 1].seq)).toBeLessThan(Number(recent[0].seq));
      oldSeq = Number(old[1].seq);
      newSeq = Number(recent[2].seq);
    });

    it('R-21: an old entry altered fails a full verify, but not a verify --since a later date; newer entries are still all checked', async () => {
      await asReplica(url, [[`UPDATE audit_entry SET content = replace(content, '"outcome":0', '"outcome":8') WHERE chain = $1 AND seq = $2`, [chain, oldSeq]]]);

      const full = await verifyAuditChains(url);
      expect(full.broken).toMatchObject({ chain, seq: oldSeq, problem: 'content-altered' });
      const since = await verifyAuditChains(url, { since: new Date(SINCE) });
      expect(since.broken).toBeUndefined();
      expect(since.entries).toBe(60);
      expect(full.entries).toBe(120);

      const cliFull = await runCli(url, ['audit', 'verify']);
      expect(cliFull.error).toBeInstanceOf(CliFailure);
      expect((cliFull.error as Error).message).toContain(`chain ${chain}: entry ${oldSeq} does not match its hash (its content or a searchable column was changed)`);
      const cliSince = await runCli(url, ['audit', 'verify', '--since', SINCE]);
      expect(cliSince.error).toBeUndefined();
      expect(cliSince.stdout).toMatch(/^audit verify: 4 chains, 60 entries intact/);
    });

    it('R-21: with --since, an entry recorded after that date that is altered is still found', async () => {
      await asReplica(url, [[`UPDATE audit_entry SET content = replace(content, '"outcome":0', '"outcome":4') WHERE chain = $1 AND seq = $2`, [chain, newSeq]]]);
      const since = await verifyAuditChains(url, { since: new Date(SINCE) });
      expect(since.broken).toEqual({ chain, seq: newSeq, problem: 'content-altered', detail: `chain ${chain}: entry ${newSeq} does not match its hash (its content or a searchable column was changed)` });
      const run = await runCli(url, ['audit', 'verify', '--since', SINCE]);
      expect(run.error).toBeInstanceOf(CliFailure);
      expect((run.error as Error).message).toContain(`chain ${chain}: entry ${newSeq}`);
    });
  });

  describe('R-50: backup and restore drill', () => {
    let dir = '';
    let archive = '';
    let manifest: BackupManifest;

    beforeAll(async () => {
      dir = await tempDir();
      archive = join(dir, 'chartwarden.cwbak');
      manifest = await backup(work, archive);
    });

    it('R-50: the manifest\'s row counts are the tables\' counts, its chain heads are audit_chain, and it is written next to the archive', async () => {
      const counts = await tableCounts(work);
      expect(manifest.tables.map((t) => t.name)).toEqual(backupTables());
      expect(Object.fromEntries(manifest.tables.map((t) => [t.name, t.rows]))).toEqual(counts);
      expect(counts.audit_entry).toBeGreaterThan(4000);
      expect(counts.fhir_resource).toBe(8);
      expect(manifest.auditChains).toEqual(await heads(work));
      expect(manifest.migrations).toEqual((await sql<{ name: string }>(work, 'SELECT name FROM chartwarden_migrations ORDER BY id')).map((r) => r.name));
      expect(manifest.format).toBe('chartwarden-backup/1');

      expect(existsSync(`${archive}.manifest.json`)).toBe(true);
      expect(JSON.parse(await readFile(`${archive}.manifest.json`, 'utf8'))).toEqual(manifest);
      expect(manifest.archive).toEqual({ bytes: (await stat(archive)).size, sha256: await sha256File(archive) });
      expect((await stat(archive)).mode & 0o777).toBe(0o600);
    });

    it('R-50: restoreDrill restores every table in full, the audit trail verifies intact, and the scratch database is dropped', async () => {
      const drill = await restoreDrill(work, archive);
      expect(drill.problems).toEqual([]);
      expect(drill.ok).toBe(true);
      expect(drill.tables).toEqual(manifest.tables.map((t) => ({ name: t.name, expected: t.rows, restored: t.rows })));
      expect(drill.audit.broken).toBeUndefined();
      expect(drill.audit.entries).toBe(manifest.tables.find((t) => t.name === 'audit_entry')?.rows);
      expect(drill.audit.chains.map((c) => ({ chain: c.chain, seq: c.headSeq, head: c.head }))).toEqual(manifest.auditChains);
      expect(drill.upgradedWith).toEqual([]);
      expect(drill.scratchDatabase).toMatch(/^chartwarden_drill_/);
      expect(await databaseExists(drill.scratchDatabase)).toBe(false);
    });

    it('R-50: `chartwarden backup --out` then `restore-drill --from` succeed and print OK', async () => {
      const out = join(dir, 'cli.cwbak');
      const made = await runCli(work, ['backup', '--out', out]);
      expect(made.error).toBeUndefined();
      const written = JSON.parse(await readFile(`${out}.manifest.json`, 'utf8')) as BackupManifest;
      expect(made.stdout).toContain(`backup: ${out} (${written.archive.bytes} bytes`);
      expect(made.stdout).toContain(`sha256 ${written.archive.sha256}`);
      expect(made.stdout).toContain(`manifest: ${out}.manifest.json`);
      expect(Object.fromEntries(written.tables.map((t) => [t.name, t.rows]))).toEqual(await tableCounts(work));

      const drill = await runCli(work, ['restore-drill', '--from', out]);
      expect(drill.error).toBeUndefined();
      expect(drill.stdout).toMatch(/restore-drill: OK in \d+ ms \(scratch database (chartwarden_drill_\w+) dropped\)/);
      expect(drill.stdout).toContain(`  audit_entry: ${written.tables.find((t) => t.name === 'audit_entry')?.rows}/${written.tables.find((t) => t.name === 'audit_entry')?.rows} rows`);
      expect(drill.stdout).toMatch(/audit trail: \d+ chains, \d+ entries intact/);
      const scratch = /scratch database (chartwarden_drill_\w+) dropped/.exec(drill.stdout)?.[1] as string;
      expect(await databaseExists(scratch)).toBe(false);
    });

    it('R-50: an archive with one byte flipped is refused before anything is restored (SHA-256 mismatch)', async () => {
      const damaged = join(dir, 'damaged.cwbak');
      const bytes = await readFile(archive);
      bytes[Math.floor(bytes.length / 2)] ^= 0x01;
      await writeFile(damaged, bytes);
      await copyFile(`${archive}.manifest.json`, `${damaged}.manifest.json`);
      const drillsBefore = await sql(urlOf(), `SELECT datname FROM pg_database WHERE datname LIKE 'chartwarden\\_drill\\_%'`);

      await expect(restoreDrill(work, damaged)).rejects.toThrow(/SHA-256/);
      const run = await runCli(work, ['restore-drill', '--from', damaged]);
      expect((run.error as Error).message).toMatch(/does not match its manifest's SHA-256/);
      expect(await sql(urlOf(), `SELECT datname FROM pg_database WHERE datname LIKE 'chartwarden\\_drill\\_%'`)).toEqual(drillsBefore);
    });

    it('R-50: a manifest edited to claim another row count makes the drill fail naming that table; the CLI exits with CliFailure', async () => {
      const edited = join(dir, 'edited.cwbak');
      await copyFile(archive, edited);
      const claimed: BackupManifest = { ...manifest, tables: manifest.tables.map((t) => (t.name === 'fhir_resource' ? { ...t, rows: t.rows + 1 } : t)) };
      await writeFile(`${edited}.manifest.json`, JSON.stringify(claimed, null, 2));
      const actual = manifest.tables.find((t) => t.name === 'fhir_resource')?.rows as number;

      const drill = await restoreDrill(work, edited);
      expect(drill.ok).toBe(false);
      expect(drill.problems).toEqual([`fhir_resource: ${actual} rows restored, the manifest says ${actual + 1}`]);
      expect(drill.tables.find((t) => t.name === 'fhir_resource')).toEqual({ name: 'fhir_resource', expected: actual + 1, restored: actual });
      expect(await databaseExists(drill.scratchDatabase)).toBe(false);

      const run = await runCli(work, ['restore-drill', '--from', edited]);
      expect(run.error).toBeInstanceOf(CliFailure);
      expect((run.error as Error).message).toMatch(/^restore-drill: FAILED \(1 problems; scratch database chartwarden_drill_\w+ dropped\)$/);
      expect(run.stderr).toContain(`restore-drill: fhir_resource: ${actual} rows restored, the manifest says ${actual + 1}`);
    });

    it('R-50 / R-21: a backup taken after tampering restores, but its drill reports the broken chain', async () => {
      const url = await populatedCopy();
      const { chain, seq } = facts.forbidden;
      await asReplica(url, [[`UPDATE audit_entry SET content = replace(content, '"status":403', '"status":200') WHERE chain = $1 AND seq = $2`, [chain, seq]]]);
      const file = join(dir, 'tampered.cwbak');
      await backup(url, file);
      const drill = await restoreDrill(url, file);
      expect(drill.ok).toBe(false);
      expect(drill.problems).toEqual([`audit trail: chain ${chain}: entry ${seq} does not match its hash (its content or a searchable column was changed)`]);
      expect(drill.audit.broken).toMatchObject({ chain, seq, problem: 'content-altered' });
    });
  });

  it('R-21: a fresh chain starts at GENESIS (the zero hash, seq 0) and an empty trail verifies intact', async () => {
    const url = urlOf(await newDatabase());
    const db = await ChartWardenDatabase.connect(url, 1);
    try {
      await new AuditLog(db, 3, 10).onModuleInit();
    } finally {
      await db.onApplicationShutdown();
    }
    expect(await heads(url)).toEqual([0, 1, 2].map((chain) => ({ chain, seq: 0, head: GENESIS.toString('hex') })));
    expect((await verifyAuditChains(url)).broken).toBeUndefined();
  });
});
