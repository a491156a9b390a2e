import { closeSync, openSync, readFileSync, unlinkSync } from 'node:fs';
import { access, constants, link, mkdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

/** The lock file in a data dir: held (exclusively) by the server using the data dir. */
export const SERVER_LOCK_FILE = 'server.lock';

/** Who holds a data dir's lock: enough to tell that exact process from a later one reusing its pid. */
export interface LockOwner {
  pid: number;
  /** The process's start time in clock ticks since boot (`/proc/<pid>/stat` field 22); absent without /proc. */
  startTime?: string;
  /** `/proc/sys/kernel/random/boot_id`: a lock written before a reboot is stale whatever its pid. */
  bootId?: string;
  /** When the server took the lock (ISO 8601). */
  startedAt: string;
  /** `embedded`: the server runs PostgreSQL in the data dir; `external`: it uses DATABASE_URL. */
  mode: 'embedded' | 'external';
}

/** The data dir is held by a live server: the caller must not touch it (its embedded PostgreSQL above all). */
export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly owner: LockOwner,
  ) {
    super(
      `the data dir ${dataDir} is in use by the ChartWarden server running as pid ${owner.pid} (started ${owner.startedAt}); ` +
        'stop that server first, or set CHARTWARDEN_DATA_DIR to another directory',
    );
  }
}

/** The data dir cannot be created or written: a message naming the path, at once. */
export class DataDirUnusableError extends Error {}

/**
 * The lock a running server holds on its data dir (issue #14), so a second start on the same
 * dir neither stops the first one's embedded PostgreSQL nor reuses its files. Node has no
 * OS-level file lock, so the lock is a file created atomically (`link(2)` of a fully written
 * temporary file: it appears complete or not at all) naming the holder's pid, start time and
 * boot id. A lock whose holder is gone (killed, crashed, before a reboot, a reused pid) is
 * stale and taken over, under a short-lived `mkdir` mutex so two starters never both take it.
 */
export class DataDirLock {
  private released = false;
  private readonly onExit = () => this.releaseSync();

  private constructor(
    readonly dataDir: string,
    readonly owner: LockOwner,
  ) {
    // A server that exits without stopping (process.exit on a fatal error) leaves no lock behind.
    process.once('exit', this.onExit);
  }

  /**
   * Creates the data dir if needed and takes its lock. Throws `DataDirInUseError` when a live
   * server holds it and `DataDirUnusableError` when the dir cannot be created or written.
   */
  static async acquire(dataDir: string, mode: LockOwner['mode']): Promise<DataDirLock> {
    const dir = resolve(dataDir);
    await ensureWritableDir(dir);
    const path = join(dir, SERVER_LOCK_FILE);
    const owner: LockOwner = { pid: process.pid, ...identityOf(process.pid), startedAt: new Date().toISOString(), mode };
    const temporary = `${path}.${process.pid}.${Date.now()}`;
    await writeFile(temporary, JSON.stringify(owner) + '\n', { mode: 0o644 });
    try {
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          await link(temporary, path);
          return new DataDirLock(dir, owner);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw unusable(dir, e);
        }
        const holder = await liveOwner(path);
        if (holder) throw new DataDirInUseError(dir, holder);
        await removeStale(path);
      }
      throw new DataDirUnusableError(`could not take the lock ${path}: it keeps changing (several servers starting at once?)`);
    } finally {
      await unlink(temporary).catch(() => undefined);
    }
  }

  /** The live server holding `dataDir`'s lock, if any (the CLI finds the running server this way). */
  static async runningServer(dataDir: string): Promise<LockOwner | undefined> {
    return liveOwner(join(resolve(dataDir), SERVER_LOCK_FILE));
  }

  /** Releases the lock if it is still ours (a takeover after our death would have replaced it). */
  async release(): Promise<void> {
    this.releaseSync();
  }

  private releaseSync(): void {
    if (this.released) return;
    this.released = true;
    process.removeListener('exit', this.onExit);
    const path = join(this.dataDir, SERVER_LOCK_FILE);
    try {
      const current = JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
      if (current.pid === this.owner.pid && current.startTime === this.owner.startTime) unlinkSync(path);
    } catch {
      // Already gone, or unreadable: nothing of ours to remove.
    }
  }
}

/**
 * Creates `dir` (and its parents) and checks that it can be written, failing at once with one
 * line. Node 20's `mkdir({ recursive: true })` loops forever on some unwritable paths (under
 * `/proc`, seen in issue #14 as a 30 s hang), so each level is created on its own.
 */
export async function ensureWritableDir(dir: string): Promise<void> {
  const missing: string[] = [];
  let current = resolve(dir);
  for (;;) {
    const s = await stat(current).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(unusable(dir, e))));
    if (s) {
      if (!s.isDirectory()) {
        throw new DataDirUnusableError(`the data dir ${dir} cannot be created: ${current} is not a directory. Set CHARTWARDEN_DATA_DIR to a writable path.`);
      }
      break;
    }
    missing.unshift(current);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const level of missing) {
    await mkdir(level).catch((e: NodeJS.ErrnoException) => (e.code === 'EEXIST' ? undefined : Promise.reject(unusable(dir, e))));
  }
  await access(dir, constants.W_OK | constants.R_OK | constants.X_OK).catch((e: unknown) => Promise.reject(unusable(dir, e)));
  // access() trusts the mode bits; a read-only mount or a pseudo file system refuses only a real write.
  const probe = join(dir, `.write-test-${process.pid}`);
  try {
    closeSync(openSync(probe, 'w'));
    unlinkSync(probe);
  } catch (e) {
    throw unusable(dir, e);
  }
}

function unusable(dir: string, e: unknown): DataDirUnusableError {
  const code = (e as NodeJS.ErrnoException).code;
  const reasons: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EROFS: 'read-only file system',
    ENOENT: 'a directory cannot be made there',
  };
  const reason = (code && reasons[code]) ?? code ?? (e as Error).message;
  return new DataDirUnusableError(`the data dir ${dir} cannot be created or written (${reason}). Set CHARTWARDEN_DATA_DIR to a writable path.`);
}

/** The lock's holder if that very process still runs; undefined for no lock or a stale one. */
async function liveOwner(path: string): Promise<LockOwner | undefined> {
  let owner: LockOwner;
  try {
    owner = JSON.parse(await readFile(path, 'utf8')) as LockOwner;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    // Written by link(2) only once complete, so an unreadable lock is damaged: stale.
    return undefined;
  }
  if (!Number.isInteger(owner.pid) || owner.pid <= 0 || !isAlive(owner.pid)) return undefined;
  const now = identityOf(owner.pid);
  if (owner.bootId && now.bootId && owner.bootId !== now.bootId) return undefined;
  // The same pid started at another time is another process (a container restarts as pid 1 every time).
  if (owner.startTime && now.startTime && owner.startTime !== now.startTime) return undefined;
  return owner;
}

/** Removes a stale lock under a mutex (a directory: mkdir is atomic), re-checking it inside. */
async function removeStale(path: string): Promise<void> {
  const mutex = `${path}.takeover`;
  try {
    await mkdir(mutex);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    // Another starter is taking over; a mutex older than 10 s was left by one that died doing it.
    const age = Date.now() - ((await stat(mutex).catch(() => undefined))?.mtimeMs ?? Date.now());
    if (age > 10_000) await rm(mutex, { recursive: true, force: true });
    else await new Promise((r) => setTimeout(r, 100));
    return;
  }
  try {
    if (!(await liveOwner(path))) await unlink(path).catch(() => undefined);
  } finally {
    await rm(mutex, { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid's start time and the boot id, from /proc; empty where there is no /proc (not Linux). */
function identityOf(pid: number): Pick<LockOwner, 'startTime' | 'bootId'> {
  const identity: Pick<LockOwner, 'startTime' | 'bootId'> = {};
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    identity.startTime = fields[19];
  } catch {
    // No /proc, or the process is gone.
  }
  try {
    identity.bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    // No /proc.
  }
  return identity;
}
