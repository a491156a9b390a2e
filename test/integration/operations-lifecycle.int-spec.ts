import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { packageRoot } from '../../src/common/package-root.js';
import { SERVER_LOCK_FILE, type LockOwner } from '../../src/database/data-dir-lock.js';
import { EmbeddedPostgresLauncher, freePort } from '../../src/database/embedded-postgres.launcher.js';
import { devToken, testDatabaseUrl } from '../support/test-app.js';
import { dropThrowawayDatabase } from '../support/throwaway-database.js';

/**
 * Operations as an operator runs them (issue #14), on real spawned processes: the built
 * server (`node dist/src/main.js`) and the README's `npm start`, each on embedded PostgreSQL
 * in a data dir of its own. Needs a build (`npm run build`), as CI does before the tests.
 *
 * - a second start on a live server's data dir refuses (exit 3, one line) and leaves the
 *   first server and its database alone;
 * - SIGTERM to `npm start` leaves no node and no PostgreSQL behind within 5 s;
 * - after `kill -9` of the server the next start stops the orphaned PostgreSQL and serves
 *   the same data;
 * - PostgreSQL killed under a running server is restarted and the server serves again.
 */

const ROOT = packageRoot();
const MAIN = join(ROOT, 'dist', 'src', 'main.js');
const READY_TIMEOUT_MS = 30_000;
const SIGTERM_BUDGET_MS = 5_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One spawned server (or `npm start`) and what it printed. */
interface Spawned {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The environment of a server on `dataDir`: embedded PostgreSQL (no DATABASE_URL), JSON logs. */
function serverEnv(dataDir: string, port: number, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), CHARTWARDEN_DATA_DIR: dataDir, LOG_FORMAT: 'json', ...extra };
  for (const name of ['DATABASE_URL', 'NODE_OPTIONS', 'CHARTWARDEN_POLICY', 'npm_lifecycle_event']) if (!(name in extra)) delete env[name];
  return env;
}

function spawnServer(command: 'node' | 'npm start', dataDir: string, port: number, extra: Record<string, string> = {}): Spawned {
  const child =
    command === 'node'
      ? spawn(process.execPath, [MAIN], { cwd: ROOT, env: serverEnv(dataDir, port, extra), stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('npm', ['start'], { cwd: ROOT, env: serverEnv(dataDir, port, extra), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString('utf8')));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return { child, output: () => output, exited };
}

/** Resolves once GET /fhir/metadata answers 200; fails if the server exits first or takes too long. */
async function untilServing(server: Spawned, port: number): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null || server.child.signalCode !== null) throw new Error(`the server exited before serving:\n${server.output()}`);
    const status = await fetch(`http://127.0.0.1:${port}/fhir/metadata`).then((r) => r.status, () => 0);
    if (status === 200) return;
    await sleep(100);
  }
  throw new Error(`the server did not serve within ${READY_TIMEOUT_MS} ms:\n${server.output()}`);
}

/** Waits for the process to exit, at most `ms`; then SIGKILLs it (so a test always ends). */
async function exitWithin(server: Spawned, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null } | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  const result = await Promise.race([server.exited, timedOut]);
  clearTimeout(timer);
  if (!result) server.child.kill('SIGKILL');
  return result;
}

/** The pid in `<dataDir>/pg/postmaster.pid` (the running PostgreSQL of that cluster). */
function postmasterPid(dataDir: string): number {
  return Number(readFileSync(join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
}

/**
 * Whether the process still runs. A zombie (exited, not yet reaped by its parent: for npm,
 * this test's own event loop) has stopped running, though signal 0 still reaches it.
 */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Every process (but this one) that belongs to `dataDir`: whose command line names it
 * (PostgreSQL: `postgres -D <dataDir>/pg`), whose environment sets it (npm, node), or whose
 * parent is one of those (PostgreSQL's own server processes retitle themselves).
 */
function processesOf(dataDir: string): { pid: number; command: string }[] {
  const all = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => pid !== process.pid);
  const found = new Map<number, string>();
  const seen = new Map<number, { parent: number; cmdline: string }>();
  for (const pid of all) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      seen.set(pid, { parent: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]), cmdline });
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      if (cmdline.includes(dataDir) || environ.includes(`CHARTWARDEN_DATA_DIR=${dataDir}`)) found.set(pid, cmdline);
    } catch {
      // Gone while we looked, or not ours to read.
    }
  }
  for (const [pid, { parent, cmdline }] of seen) if (!found.has(pid) && found.has(parent)) found.set(pid, cmdline);
  return [...found].map(([pid, command]) => ({ pid, command }));
}

/**
 * A Patient created through the server as the HIS; returns its id. Status 0: no HTTP answer
 * (a kept-alive connection the server closed after an error answer, raced by the next request).
 */
async function createPatient(port: number, token: string, family: string): Promise<{ status: number; id?: string }> {
  const response = await fetch(`http://127.0.0.1:${port}/fhir/Patient`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/fhir+json' },
    body: JSON.stringify({ resourceType: 'Patient', name: [{ family }], gender: 'unknown' }),
  }).catch(() => undefined);
  if (!response) return { status: 0 };
  const body = (await response.json().catch(() => ({}))) as { id?: string };
  return { status: response.status, id: body.id };
}

async function readPatient(port: number, token: string, id: string): Promise<{ status: number; family?: string }> {
  const response = await fetch(`http://127.0.0.1:${port}/fhir/Patient/${id}`, { headers: { Authorization: `Bearer ${token}` } });
  const body = (await response.json().catch(() => ({}))) as { name?: { family?: string }[] };
  return { status: response.status, family: body.name?.[0]?.family };
}

/** Audit entries recorded for `Patient/<id>`, read from the embedded cluster of the server on `dataDir`. */
async function auditEntriesFor(dataDir: string, id: string): Promise<string[]> {
  const url = await EmbeddedPostgresLauncher.runningUrl(dataDir);
  if (!url) throw new Error(`no running embedded PostgreSQL on ${dataDir}`);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const sql = `SELECT action FROM audit_entry WHERE entity_type = 'Patient' AND entity_id = $1 ORDER BY recorded`;
    const { rows } = await client.query<{ action: string }>(sql, [id]);
    return rows.map((r) => r.action);
  } finally {
    await client.end();
  }
}

/**
 * A TCP relay to the test PostgreSQL that can be cut (every connection dropped, new ones
 * refused) and restored on the same port: the database "down and back" without stopping a
 * server other tests share.
 */
class CuttableRelay {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  constructor(
    private readonly target: { host: string; port: number },
    readonly port: number,
  ) {}

  async up(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => this.sockets.delete(s));
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(this.port, '127.0.0.1', () => resolve()));
    this.server = server;
  }

  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

const hisToken = (dataDir: string) => devToken(dataDir, { sub: 'ops-his' });

describe('Operations: start, stop and recover as an operator would (issue #14, R-20, R-51)', () => {
  const dataDirs: string[] = [];
  const spawned: Spawned[] = [];

  const newDataDir = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chartwarden-ops-'));
    await chmod(dir, 0o755); // PostgreSQL runs as "postgres" when we are root
    dataDirs.push(dir);
    return dir;
  };
  const start = (command: 'node' | 'npm start', dataDir: string, port: number, extra?: Record<string, string>) => {
    const server = spawnServer(command, dataDir, port, extra);
    spawned.push(server);
    return server;
  };

  afterAll(async () => {
    for (const s of spawned) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGTERM');
    await Promise.all(spawned.map((s) => exitWithin(s, 10_000)));
    for (const dir of dataDirs) {
      for (const p of processesOf(dir)) process.kill(p.pid, 'SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('R-20: a second start on a live server\'s data dir exits 3 naming the dir and the pid, and the first keeps serving reads and writes', async () => {
    const dataDir = await newDataDir();
    const port = await freePort();
    const first = start('node', dataDir, port);
    await untilServing(first, port);
    const token = await hisToken(dataDir);
    const before = await createPatient(port, token, 'Before');
    expect(before.status).toBe(201);
    const postgres = postmasterPid(dataDir);
    const owner = JSON.parse(await readFile(join(dataDir, SERVER_LOCK_FILE), 'utf8')) as LockOwner;
    expect(owner).toMatchObject({ pid: first.child.pid, mode: 'embedded' });

    // A bad policy on the second start must not matter: the lock is checked before anything else.
    const badPolicy = join(dataDir, 'bad.policy.yaml');
    await writeFile(badPolicy, 'roles: 3\n');
    const expected = `ChartWarden could not start: the data dir ${dataDir} is in use by the ChartWarden server running as pid ${first.child.pid}`;
    // The three second starts at once (each checks the lock on its own; one after another they took 20-40 s of CI).
    const seconds = await Promise.all(
      ([['node', { CHARTWARDEN_POLICY: badPolicy }], ['node', {}], ['npm start', {}]] as const).map(async ([command, extra]) => {
        const second = start(command, dataDir, await freePort(), extra);
        return { second, ended: await exitWithin(second, 30_000) };
      }),
    );
    for (const { second, ended } of seconds) {
      expect(ended?.code).toBe(3);
      const lines = second.output().split('\n').filter((l) => l.startsWith('ChartWarden'));
      expect(lines).toHaveLength(1);
      expect(lines[0].startsWith(expected)).toBe(true);
      expect(lines[0].slice(expected.length)).toMatch(/^ \(started [^)]+\); stop that server first, or set CHARTWARDEN_DATA_DIR to another directory$/);
      expect(second.output()).not.toMatch(/still running|stopping it|Initialising|Policy .* is invalid/);
    }

    // The first server's PostgreSQL is the same process, and the server still reads, writes and audits.
    expect(postmasterPid(dataDir)).toBe(postgres);
    expect(isAlive(postgres)).toBe(true);
    const after = await createPatient(port, token, 'After');
    expect(after.status).toBe(201);
    await expect(readPatient(port, token, before.id as string)).resolves.toEqual({ status: 200, family: 'Before' });
    expect(await auditEntriesFor(dataDir, after.id as string)).toContain('C');
    expect(await auditEntriesFor(dataDir, before.id as string)).toEqual(expect.arrayContaining(['C', 'R']));
    expect(first.output()).not.toMatch(/exited unexpectedly/);
    // The lock is still the first server's.
    expect(JSON.parse(await readFile(join(dataDir, SERVER_LOCK_FILE), 'utf8'))).toEqual(owner);
  }, 90_000);

  it('SIGTERM to `npm start` (the README\'s command) leaves no node and no PostgreSQL of the data dir within 5 s; the next start keeps the data', async () => {
    const dataDir = await newDataDir();
    const port = await freePort();
    const npm = start('npm start', dataDir, port);
    await untilServing(npm, port);
    const token = await hisToken(dataDir);
    const created = await createPatient(port, token, 'Persisted');
    expect(created.status).toBe(201);
    const running = processesOf(dataDir);
    const server = (JSON.parse(await readFile(join(dataDir, SERVER_LOCK_FILE), 'utf8')) as LockOwner).pid;
    const postgres = postmasterPid(dataDir);
    expect(running.map((p) => p.pid)).toEqual(expect.arrayContaining([npm.child.pid, server, postgres]));
    expect(server).not.toBe(npm.child.pid);

    const sent = Date.now();
    process.kill(npm.child.pid as number, 'SIGTERM'); // npm only, as `kill -TERM <pid of npm start>` does
    let left = processesOf(dataDir);
    while (left.length && Date.now() - sent < SIGTERM_BUDGET_MS) {
      await sleep(50);
      left = processesOf(dataDir);
    }
    const took = Date.now() - sent;
    expect(left).toEqual([]);
    expect(took).toBeLessThan(SIGTERM_BUDGET_MS);
    for (const p of running) expect(isAlive(p.pid)).toBe(false);
    expect(await exitWithin(npm, 1_000)).toEqual({ code: 0, signal: null });
    expect(npm.output()).toMatch(/SIGTERM received: stopping/);
    expect(npm.output()).toMatch(/Stopped cleanly/);
    expect(existsSync(join(dataDir, SERVER_LOCK_FILE))).toBe(false);
    expect(existsSync(join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);

    const again = start('npm start', dataDir, port);
    await untilServing(again, port);
    await expect(readPatient(port, token, created.id as string)).resolves.toEqual({ status: 200, family: 'Persisted' });
    expect(again.output()).not.toMatch(/still running|stale/);
    process.kill(again.child.pid as number, 'SIGTERM');
    expect(await exitWithin(again, 10_000)).toBeDefined();
  }, 90_000);

  it('R-51: after kill -9 of the server, the next start stops the orphaned PostgreSQL, takes the stale lock and serves the same data', async () => {
    const dataDir = await newDataDir();
    const port = await freePort();
    const crashed = start('node', dataDir, port);
    await untilServing(crashed, port);
    const token = await hisToken(dataDir);
    const created = await createPatient(port, token, 'Survivor');
    expect(created.status).toBe(201);
    const orphan = postmasterPid(dataDir);

    crashed.child.kill('SIGKILL');
    await crashed.exited;
    // PostgreSQL outlives its parent, and the lock names a dead process.
    expect(isAlive(orphan)).toBe(true);
    expect((JSON.parse(await readFile(join(dataDir, SERVER_LOCK_FILE), 'utf8')) as LockOwner).pid).toBe(crashed.child.pid);

    const next = start('node', dataDir, port);
    await untilServing(next, port);
    expect(next.output()).toMatch(new RegExp(`Found PostgreSQL \\(pid ${orphan}\\) still running on .* from an earlier crash; stopping it`));
    expect(isAlive(orphan)).toBe(false);
    expect(postmasterPid(dataDir)).not.toBe(orphan);
    expect((JSON.parse(await readFile(join(dataDir, SERVER_LOCK_FILE), 'utf8')) as LockOwner).pid).toBe(next.child.pid);
    await expect(readPatient(port, token, created.id as string)).resolves.toEqual({ status: 200, family: 'Survivor' });
  }, 90_000);

  it('R-20, R-51: an external DATABASE_URL down and back: writes fail while it is away, then the server and its audit writer serve again', async () => {
    const base = new URL(testDatabaseUrl());
    const database = `${base.pathname.slice(1)}_opsext`;
    const admin = async (sql: string) => {
      const client = new pg.Client({ connectionString: base.toString() });
      await client.connect();
      try {
        await client.query(sql);
      } finally {
        await client.end();
      }
    };
    await admin(`CREATE DATABASE "${database}"`);
    const relay = new CuttableRelay({ host: base.hostname, port: Number(base.port || 5432) }, await freePort());
    await relay.up();
    try {
      const viaRelay = new URL(base);
      viaRelay.host = `127.0.0.1:${relay.port}`;
      viaRelay.pathname = `/${database}`;
      const dataDir = await newDataDir();
      const port = await freePort();
      const server = start('node', dataDir, port, { DATABASE_URL: viaRelay.toString() });
      await untilServing(server, port);
      const token = await hisToken(dataDir);
      const before = await createPatient(port, token, 'Before');
      expect(before.status).toBe(201);

      await relay.down();
      const refused = await createPatient(port, token, 'Refused');
      expect(refused.status).toBeGreaterThanOrEqual(500);
      const unreadable = await fetch(`http://127.0.0.1:${port}/fhir/Patient/${before.id}`, { headers: { Authorization: `Bearer ${token}` } });
      expect(unreadable.status).toBeGreaterThanOrEqual(500);
      await sleep(1000);
      await relay.up();

      const back = Date.now();
      let after: { status: number; id?: string } = { status: 0 };
      while (Date.now() - back < 15_000) {
        after = await createPatient(port, token, 'After');
        if (after.status === 201) break;
        await sleep(200);
      }
      expect(after.status).toBe(201);
      await expect(readPatient(port, token, before.id as string)).resolves.toEqual({ status: 200, family: 'Before' });
      // The audit writer recorded the read after the outage (group commit, R-20): not stuck in 503.
      const client = new pg.Client({ connectionString: new URL(`/${database}`, base).toString() });
      await client.connect();
      try {
        const { rows } = await client.query<{ action: string }>(
          `SELECT action FROM audit_entry WHERE entity_type = 'Patient' AND entity_id = $1 ORDER BY recorded`,
          [before.id],
        );
        expect(rows.map((r) => r.action)).toEqual(['C', 'R']);
      } finally {
        await client.end();
      }
      expect(server.child.exitCode).toBeNull();
      server.child.kill('SIGTERM');
      expect(await exitWithin(server, 10_000)).toEqual({ code: 0, signal: null });
    } finally {
      await relay.down();
      await dropThrowawayDatabase(base.toString(), database);
    }
  }, 90_000);

  it('R-51: PostgreSQL killed under a running server is restarted on the same port, and the server reads, writes and audits again', async () => {
    const dataDir = await newDataDir();
    const port = await freePort();
    const server = start('node', dataDir, port);
    await untilServing(server, port);
    const token = await hisToken(dataDir);
    const created = await createPatient(port, token, 'Before');
    expect(created.status).toBe(201);
    const url = await EmbeddedPostgresLauncher.runningUrl(dataDir);
    const killed = postmasterPid(dataDir);

    // Writes in flight while PostgreSQL dies: their transactions hold connections that break under them.
    const inFlight = Array.from({ length: 16 }, (_, i) => createPatient(port, token, `InFlight${i}`));
    process.kill(killed, 'SIGKILL');
    const lostAt = Date.now();
    for (const r of await Promise.all(inFlight)) expect([0, 201].includes(r.status) || r.status >= 500).toBe(true);
    let after = { status: 0 } as { status: number; id?: string };
    while (Date.now() - lostAt < 20_000) {
      after = await createPatient(port, token, 'After');
      if (after.status === 201) break;
      // While the database is away, a write is refused (never answered as if recorded).
      if (after.status !== 0) expect(after.status).toBeGreaterThanOrEqual(500);
      await sleep(100);
    }
    expect({ status: after.status, exitCode: server.child.exitCode }).toEqual({ status: 201, exitCode: null });
    expect(server.output()).not.toMatch(/Unhandled 'error' event/);
    expect(server.output()).toMatch(new RegExp(`Embedded PostgreSQL \\(pid ${killed}\\) exited unexpectedly \\(SIGKILL\\); restarting it`));
    expect(server.output()).toMatch(/Embedded PostgreSQL is back on 127\.0\.0\.1:\d+ after \d+ ms; serving again/);
    expect(postmasterPid(dataDir)).not.toBe(killed);
    expect(await EmbeddedPostgresLauncher.runningUrl(dataDir)).toBe(url);
    await expect(readPatient(port, token, created.id as string)).resolves.toEqual({ status: 200, family: 'Before' });
    expect(await auditEntriesFor(dataDir, after.id as string)).toContain('C');
    expect(server.child.exitCode).toBeNull();
  }, 90_000);
});
