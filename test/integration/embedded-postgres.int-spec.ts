import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedPostgresError, EmbeddedPostgresLauncher, type LauncherLog } from '../../src/database/embedded-postgres.launcher.js';
import { withClient } from '../support/database-admin.js';

/** Every start runs real PostgreSQL (1–3 s); a test may start it twice or three times. */
const SLOW = 45_000;

/** A `LauncherLog` that keeps what the launcher said. */
interface RecordingLog extends LauncherLog {
  logs: string[];
  warnings: string[];
}
const recordingLog = (): RecordingLog => {
  const logs: string[] = [];
  const warnings: string[] = [];
  return { logs, warnings, log: (m) => logs.push(m), warn: (m) => warnings.push(m) };
};

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** The postmaster's pid, from the first line of the cluster's `postmaster.pid`. */
const postmasterPid = async (clusterDir: string): Promise<number> => Number((await readFile(join(clusterDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);

/**
 * The embedded PostgreSQL launcher a newcomer's `npm start` relies on, against real
 * PostgreSQL 18 from the npm package. Data dirs are temp dirs; every cluster is stopped.
 */
describe('EmbeddedPostgresLauncher', () => {
  const tempDirs: string[] = [];
  const clusterDirs = new Set<string>();
  const running: EmbeddedPostgresLauncher[] = [];
  /** Postmasters this file left running on purpose (the "crashed server" case). */
  const orphans: number[] = [];

  /** A data dir others can traverse, so (even as root) the cluster lives in `<dataDir>/pg`. */
  const newDataDir = async (): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'chartwarden-embedded-'));
    await chmod(dir, 0o755);
    tempDirs.push(dir);
    return dir;
  };

  /** Starts a launcher; remembers it (to stop it) and its cluster dir (from its ready line, fallback included). */
  const start = async (dataDir: string, log: RecordingLog): Promise<{ launcher: EmbeddedPostgresLauncher; url: string; clusterDir: string }> => {
    const launcher = new EmbeddedPostgresLauncher({ dataDir, log });
    const url = await launcher.start();
    running.push(launcher);
    const ready = log.logs.filter((m) => m.startsWith('Embedded PostgreSQL ready')).at(-1) ?? '';
    const clusterDir = /\(data: (.+)\)$/.exec(ready)?.[1];
    if (!clusterDir) throw new Error(`no "ready" line naming the data dir in: ${JSON.stringify(log.logs)}`);
    clusterDirs.add(clusterDir);
    return { launcher, url, clusterDir };
  };
  /** Stops a launcher this file started and forgets it. */
  const stop = async (launcher: EmbeddedPostgresLauncher): Promise<void> => {
    running.splice(running.indexOf(launcher), 1);
    await launcher.stop();
  };

  afterEach(async () => {
    for (const launcher of running.splice(0)) await launcher.stop();
    for (const pid of orphans.splice(0)) {
      if (!isAlive(pid)) continue;
      process.kill(pid, 'SIGINT');
      for (let i = 0; i < 200 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
    }
  }, SLOW);

  afterAll(async () => {
    for (const dir of [...tempDirs, ...clusterDirs]) await rm(dir, { recursive: true, force: true });
  });

  it(
    'R-50: a restart on the same data dir keeps the data written before it',
    async () => {
      const dataDir = await newDataDir();
      const firstLog = recordingLog();
      const first = await start(dataDir, firstLog);
      expect(first.clusterDir).toBe(join(dataDir, 'pg'));
      expect(firstLog.logs.some((m) => m.startsWith('Initialising embedded PostgreSQL'))).toBe(true);
      await withClient(first.url, async (c) => {
        await c.query('CREATE TABLE kept (note text NOT NULL)');
        await c.query(`INSERT INTO kept (note) VALUES ('written before the restart')`);
      });
      await stop(first.launcher);
      await expect(withClient(first.url, (c) => c.query('SELECT 1'))).rejects.toThrow();

      const secondLog = recordingLog();
      const second = await start(dataDir, secondLog);
      expect(second.clusterDir).toBe(first.clusterDir);
      expect(secondLog.logs.some((m) => m.startsWith('Initialising'))).toBe(false);
      const rows = await withClient(second.url, async (c) => (await c.query<{ note: string }>('SELECT note FROM kept')).rows);
      expect(rows).toEqual([{ note: 'written before the restart' }]);
    },
    SLOW,
  );

  it(
    'a stale postmaster.pid (its pid no longer running) is removed with a warning, and the start succeeds',
    async () => {
      const dataDir = await newDataDir();
      const first = await start(dataDir, recordingLog());
      await stop(first.launcher);
      const pidFile = join(first.clusterDir, 'postmaster.pid');
      expect(existsSync(pidFile)).toBe(false);

      // A pid certainly not running: a child that has already exited and been reaped.
      const deadPid = spawnSync(process.execPath, ['-e', '']).pid as number;
      expect(isAlive(deadPid)).toBe(false);
      await writeFile(pidFile, `${deadPid}\n${first.clusterDir}\n1764400000\n5432\n/tmp\n127.0.0.1\n  5432001     0\nready   \n`);

      const log = recordingLog();
      const second = await start(dataDir, log);
      expect(log.warnings).toEqual([expect.stringMatching(new RegExp(`stale .*postmaster\\.pid.*pid ${deadPid} is not running`))]);
      expect(log.warnings[0]).toContain(pidFile);
      expect(await withClient(second.url, async (c) => (await c.query<{ one: number }>('SELECT 1 AS one')).rows)).toEqual([{ one: 1 }]);
      const newPid = await postmasterPid(second.clusterDir);
      expect(newPid).not.toBe(deadPid);
      expect(isAlive(newPid)).toBe(true);
    },
    SLOW,
  );

  it(
    'a PostgreSQL left running by a crashed server is stopped with a warning, and the new start keeps its data',
    async () => {
      const dataDir = await newDataDir();
      // The "crashed" server: its launcher is dropped without stop(), its postmaster keeps running.
      const crashed = await start(dataDir, recordingLog());
      running.splice(running.indexOf(crashed.launcher), 1);
      crashed.launcher.expectStop(); // a crashed server no longer watches its PostgreSQL (nor restarts it)
      const orphanPid = await postmasterPid(crashed.clusterDir);
      orphans.push(orphanPid);
      expect(isAlive(orphanPid)).toBe(true);
      await withClient(crashed.url, (c) => c.query(`CREATE TABLE survived AS SELECT 'before the crash'::text AS note`));

      const log = recordingLog();
      const restarted = await start(dataDir, log);
      expect(log.warnings).toEqual([expect.stringContaining(`Found PostgreSQL (pid ${orphanPid}) still running on ${crashed.clusterDir}`)]);
      expect(isAlive(orphanPid)).toBe(false);
      const newPid = await postmasterPid(restarted.clusterDir);
      expect(newPid).not.toBe(orphanPid);
      expect(await withClient(restarted.url, async (c) => (await c.query<{ note: string }>('SELECT note FROM survived')).rows)).toEqual([{ note: 'before the crash' }]);
    },
    SLOW,
  );

  it('a data dir that cannot be created is refused with a message naming the path and CHARTWARDEN_DATA_DIR', async () => {
    const parent = await newDataDir();
    const file = join(parent, 'a-regular-file');
    await writeFile(file, 'not a directory');
    const dataDir = join(file, 'data');
    const log = recordingLog();

    const started = new EmbeddedPostgresLauncher({ dataDir, log }).start();
    await expect(started).rejects.toBeInstanceOf(EmbeddedPostgresError);
    const message = await started.then(
      () => '',
      (e: Error) => e.message,
    );
    expect(message).toContain(dataDir);
    expect(message).toContain('CHARTWARDEN_DATA_DIR');
    expect(message).not.toContain('undefined');
    expect(log.logs.filter((m) => m.startsWith('Embedded PostgreSQL ready') || m.startsWith('Initialising'))).toEqual([]);
    expect(await readFile(file, 'utf8')).toBe('not a directory');
  });
});
