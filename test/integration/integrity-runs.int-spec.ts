import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { Composition, Patient } from '@medplum/fhirtypes';
import pg from 'pg';
import { verifyAuditChains } from '../../src/audit/audit-verifier.js';
import { IntegrityRunRepository } from '../../src/audit/integrity-run.repository.js';
import { beginRun, cliStarter, recordRun } from '../../src/audit/integrity-runs.js';
import { IntegrityRunError } from '../../src/audit/integrity.errors.js';
import { backup, restoreDrill } from '../../src/cli/backup.js';
import { CliFailure } from '../../src/cli/cli.js';
import { verifyLedger } from '../../src/cli/offline-checks.js';
import { httpRequest } from '../support/http.js';
import { startTestServer } from '../support/test-app.js';
import { asReplica, runCliOn, sql, urlOf } from '../support/database-admin.js';
import { dropThrowawayDatabase } from '../support/throwaway-database.js';

/**
 * Integrity runs recorded from the CLI (issue #18): `recordRun` around `audit verify` and
 * `ledger verify` records each run before its check starts and finishes it with what the check
 * found (R-21, R-12), failed when the check could not complete; one run of a kind at a time,
 * whichever process starts it; a run whose process died is closed by the next; runs survive a
 * backup and its restore drill (R-50). On databases made for this file alone (rows are tampered
 * with here): a seed populated through the running server, copied for each case.
 */

const RUN = randomBytes(4).toString('hex');
const LOINC = 'http://loinc.org';

interface RunRow {
  id: string;
  kind: string;
  started_via: string;
  started_by: string;
  practitioner: string | null;
  request_id: string | null;
  scope: string | null;
  started_at: Date;
  finished_at: Date | null;
  outcome: string | null;
  duration_ms: number | null;
  units_checked: number | null;
  entries_checked: string | null;
  breaks: number | null;
  first_break: Record<string, unknown> | null;
  failure: string | null;
}

const runs = (url: string) => sql<RunRow>(url, 'SELECT * FROM audit_integrity_run ORDER BY started_at, finished_at');

describe('Integrity runs from the CLI (issue #18): R-21, R-12 recorded, one at a time, R-50 kept in backups', () => {
  const created: string[] = [];
  const tempDirs: string[] = [];
  let seed = '';
  let document = '';
  const me = `${userInfo().username}@${hostname()}`;

  const newDatabase = async (template?: string): Promise<string> => {
    const name = `cw_integrity_${Date.now()}_${randomBytes(3).toString('hex')}`;
    await sql(urlOf(), `CREATE DATABASE "${name}"${template ? ` TEMPLATE "${template}"` : ''}`);
    created.push(name);
    return name;
  };
  /** A fresh copy of the populated seed. */
  const copy = async (): Promise<string> => urlOf(await newDatabase(seed));

  beforeAll(async () => {
    seed = await newDatabase();
    const server = await startTestServer({ databaseUrl: urlOf(seed) });
    try {
      const his = await server.token({ sub: `integrity-his-${RUN}`, roles: ['his-system'] });
      const post = async <T>(type: string, body: unknown) => (await httpRequest<T & { id: string }>(`${server.fhirBase}/${type}`, 'POST', { token: his, body })).body;
      const patient = await post<Patient>('Patient', { resourceType: 'Patient', name: [{ text: '赵六' }] });
      const note: Composition = {
        resourceType: 'Composition',
        status: 'preliminary',
        type: { coding: [{ system: LOINC, code: '11506-3' }] },
        subject: { reference: `Patient/${patient.id}` },
        date: '2026-12-01T10:00:00+08:00',
        author: [{ reference: 'Practitioner/dr-li' }],
        title: '日常病程记录',
      };
      const a = await post<Composition>('Composition', note);
      await post<Composition>('Composition', { ...note, title: '会诊记录' });
      expect((await httpRequest(`${server.fhirBase}/Composition/${a.id}`, 'PUT', { token: his, body: { ...note, id: a.id, title: '日常病程记录（补记）' } })).status).toBe(200);
      document = `Composition/${a.id}`;
    } finally {
      await server.close();
    }
  }, 60_000);

  afterAll(async () => {
    // Copies before the seed: they hold the grants of the seed's role, which goes with the seed.
    for (const name of [...created].reverse()) await dropThrowawayDatabase(urlOf(), name);
    for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
  });

  it('R-21: recordRun records the run unfinished before the check starts, then finishes it intact with the check\'s counts', async () => {
    const url = await copy();
    let during: RunRow[] = [];
    const report = await recordRun(url, 'audit', cliStarter(), async () => {
      during = await runs(url);
      return verifyAuditChains(url);
    });
    expect(during).toHaveLength(1);
    expect(during[0]).toMatchObject({ kind: 'audit', started_via: 'cli', started_by: me, practitioner: null, request_id: null, scope: null, finished_at: null, outcome: null });
    const [row] = await runs(url);
    expect(row).toMatchObject({ id: during[0].id, outcome: 'intact', units_checked: report.chains.length, entries_checked: String(report.entries), breaks: null, first_break: null, failure: null });
    expect(report.entries).toBe((await sql<{ n: number }>(url, 'SELECT count(*)::int AS n FROM audit_entry'))[0].n);
    expect((row.finished_at as Date).getTime()).toBeGreaterThanOrEqual(row.started_at.getTime());
    expect(row.duration_ms).toBe((row.finished_at as Date).getTime() - row.started_at.getTime());
  });

  it('R-12 / R-21: `chartwarden ledger verify` and `audit verify` print as before and are recorded, a narrowed run with its scope', async () => {
    const url = await copy();
    const ledger = await runCliOn(url, ['ledger', 'verify']);
    expect(ledger.error).toBeUndefined();
    expect(ledger.stdout).toContain('ledger verify: 2 documents, 3 versions intact');
    const one = await runCliOn(url, ['ledger', 'verify', '--document', document]);
    expect(one.stdout).toContain('ledger verify: 1 documents, 2 versions intact');
    const audit = await runCliOn(url, ['audit', 'verify', '--since', '2020-01-01']);
    expect(audit.stdout).toMatch(/audit verify: \d+ chains, \d+ entries intact/);
    const [chains, entries] = /(\d+) chains, (\d+) entries/.exec(audit.stdout)?.slice(1).map(Number) ?? [];
    expect((await runs(url)).map((r) => [r.kind, r.started_via, r.started_by, r.scope, r.outcome, r.units_checked, Number(r.entries_checked)])).toEqual([
      ['ledger', 'cli', me, null, 'intact', 2, 3],
      ['ledger', 'cli', me, document, 'intact', 1, 2],
      ['audit', 'cli', me, 'since 2020-01-01T00:00:00.000Z', 'intact', chains, entries],
    ]);
  });

  it('R-21: a tampered entry: `audit verify` fails naming the break, and the run is recorded broken with that first break', async () => {
    const url = await copy();
    const [target] = await sql<{ chain: number; seq: string }>(url, "SELECT chain, seq FROM audit_entry WHERE subtype = 'update' LIMIT 1");
    await asReplica(url, [["UPDATE audit_entry SET outcome = 4 WHERE chain = $1 AND seq = $2", [target.chain, target.seq]]]);
    const cli = await runCliOn(url, ['audit', 'verify']);
    expect(cli.error).toBeInstanceOf(CliFailure);
    const detail = `chain ${target.chain}: entry ${target.seq} does not match its hash (its content or a searchable column was changed)`;
    expect((cli.error as Error).message).toBe(`audit verify: BROKEN — ${detail} (content-altered)`);
    const [row] = await runs(url);
    expect(row).toMatchObject({ outcome: 'broken', breaks: 1, first_break: { chain: target.chain, seq: Number(target.seq), problem: 'content-altered', detail }, failure: null });
  });

  it('R-12: a ledger entry edited: the ledger run is broken with the document and version', async () => {
    const url = await copy();
    const [type, id] = document.split('/');
    await asReplica(url, [["UPDATE edit_ledger SET entry = replace(entry, 'dr-li', 'dr-x') WHERE resource_type = $1 AND resource_id = $2 AND version_id = 1", [type, id]]]);
    const report = await recordRun(url, 'ledger', cliStarter(), () => verifyLedger(url));
    expect(report.broken).toMatchObject({ document, version: 1 });
    const [row] = await runs(url);
    expect(row).toMatchObject({ outcome: 'broken', units_checked: 2, breaks: report.breaks.length, first_break: { ...report.broken } });
  });

  it('a check that cannot complete is recorded failed with its message, no counts, and its error thrown on', async () => {
    const url = await copy();
    const broke = new Error('connection to the database was lost');
    await expect(recordRun(url, 'ledger', cliStarter(), () => Promise.reject(broke))).rejects.toBe(broke);
    const [row] = await runs(url);
    expect(row).toMatchObject({ outcome: 'failed', failure: 'connection to the database was lost', units_checked: null, entries_checked: null, first_break: null });
  });

  it('one run of a kind at a time, whichever process: a second recordRun is refused while the first runs; the other kind is not', async () => {
    const url = await copy();
    let refused: unknown;
    let other: unknown;
    await recordRun(url, 'audit', cliStarter(), async () => {
      refused = await recordRun(url, 'audit', cliStarter(), () => verifyAuditChains(url)).catch((e: unknown) => e);
      other = await recordRun(url, 'ledger', cliStarter(), () => verifyLedger(url));
      return verifyAuditChains(url);
    });
    expect(refused).toBeInstanceOf(IntegrityRunError);
    expect(refused).toMatchObject({ code: 'integrity.running', message: expect.stringMatching(/^Another audit verify run is in progress \(run [0-9a-f-]{36}, started .* by .* from the cli\)/) });
    expect((other as { documents: number }).documents).toBe(2);
    expect((await runs(url)).map((r) => [r.kind, r.outcome])).toEqual([
      ['audit', 'intact'],
      ['ledger', 'intact'],
    ]);
    // The CLI says so in one line.
    const held = new pg.Client({ connectionString: url });
    await held.connect();
    try {
      await beginRun(IntegrityRunRepository.overClient(held), 'ledger', { via: 'cli', id: 'ops@elsewhere' }, undefined, new Date(), 'Asia/Shanghai');
      const cli = await runCliOn(url, ['ledger', 'verify']);
      expect(cli.error).toBeInstanceOf(CliFailure);
      expect((cli.error as Error).message).toMatch(/^ledger verify: Another ledger verify run is in progress \(run .* by ops@elsewhere from the cli\): one run of a kind at a time/);
    } finally {
      await held.end();
    }
  });

  it('a run whose process died (its session gone) is closed as failed (abandoned) by the next run of its kind', async () => {
    const url = await copy();
    const dead = new pg.Client({ connectionString: url });
    await dead.connect();
    const begun = await beginRun(IntegrityRunRepository.overClient(dead), 'audit', { via: 'cli', id: 'ops@crashed' }, undefined, new Date(), 'Asia/Shanghai');
    await dead.end();
    // The server ends the session (and its lock) a moment after the client has gone.
    const probe = new IntegrityRunRepository({ query: (text, values) => sql(url, text, values) as never });
    for (let i = 0; i < 100 && (await probe.lockHeld('audit')); i++) await new Promise((r) => setTimeout(r, 20));
    await recordRun(url, 'audit', cliStarter(), () => verifyAuditChains(url));
    const rows = await runs(url);
    expect(rows.map((r) => [r.id === begun.id ? 'dead' : 'next', r.outcome])).toEqual([
      ['dead', 'failed'],
      ['next', 'intact'],
    ]);
    expect(rows[0].failure).toMatch(/^abandoned: the process running it stopped/);
  });

  it('R-21: the database keeps runs as evidence: a finished run is not changed again, no run is deleted, even by the owner', async () => {
    const url = await copy();
    await recordRun(url, 'audit', cliStarter(), () => verifyAuditChains(url));
    const [row] = await runs(url);
    const refused = /finished once, with its outcome, and then kept as it is \(R-21\)/;
    await expect(sql(url, "UPDATE audit_integrity_run SET outcome = 'failed', failure = 'x', units_checked = NULL WHERE id = $1", [row.id])).rejects.toThrow(refused);
    await expect(sql(url, "UPDATE audit_integrity_run SET finished_at = now() + interval '1 day' WHERE id = $1", [row.id])).rejects.toThrow(refused);
    await expect(sql(url, 'DELETE FROM audit_integrity_run WHERE id = $1', [row.id])).rejects.toThrow(refused);
    await expect(sql(url, 'TRUNCATE audit_integrity_run')).rejects.toThrow(/append-only \(R-21\)/);
    // Finishing is checked too: an intact run names no break, a broken one names its first, and what it started as stays.
    const open = new pg.Client({ connectionString: url });
    await open.connect();
    try {
      const repo = IntegrityRunRepository.overClient(open);
      const begun = await beginRun(repo, 'ledger', cliStarter(), undefined, new Date(), 'Asia/Shanghai');
      await expect(sql(url, "UPDATE audit_integrity_run SET finished_at = now(), outcome = 'intact', units_checked = 1, entries_checked = 1, first_break = '{}' WHERE id = $1", [begun.id])).rejects.toThrow(refused);
      await expect(sql(url, "UPDATE audit_integrity_run SET finished_at = now(), outcome = 'broken', units_checked = 1, entries_checked = 1, breaks = 1 WHERE id = $1", [begun.id])).rejects.toThrow(refused);
      await expect(sql(url, "UPDATE audit_integrity_run SET finished_at = now(), outcome = 'failed', failure = 'x', started_by = 'mallory' WHERE id = $1", [begun.id])).rejects.toThrow(refused);
      expect(await repo.finish(begun.id, new Date(), 5, { outcome: 'intact', units: 1, entries: 1 })).toBe(true);
      expect(await repo.finish(begun.id, new Date(), 5, { outcome: 'failed', failure: 'again' })).toBe(false);
    } finally {
      await open.end();
    }
    expect((await runs(url)).map((r) => [r.id === row.id, r.outcome])).toEqual([
      [true, 'intact'],
      [false, 'intact'],
    ]);
  });

  it('R-50: runs are in the backup, and the restore drill restores and verifies them', async () => {
    const url = await copy();
    await recordRun(url, 'audit', cliStarter(), () => verifyAuditChains(url));
    await recordRun(url, 'ledger', cliStarter(), () => verifyLedger(url));
    const dir = await mkdtemp(join(tmpdir(), 'chartwarden-integrity-'));
    tempDirs.push(dir);
    const archive = join(dir, 'backup.cwb');
    const manifest = await backup(url, archive);
    expect(manifest.tables.find((t) => t.name === 'audit_integrity_run')?.rows).toBe(2);
    const drill = await restoreDrill(url, archive);
    expect(drill.problems).toEqual([]);
    expect(drill.ok).toBe(true);
    expect(drill.tables.find((t) => t.name === 'audit_integrity_run')).toEqual({ name: 'audit_integrity_run', expected: 2, restored: 2 });
  });
});
