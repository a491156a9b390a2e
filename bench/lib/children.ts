import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import type { Cleanup } from './cleanup.js';

/** A child ended by a signal the benchmark did not send: something else on the machine killed it. */
export class ExternalSignalError extends Error {}

/** One line a child printed, with the time (performance.now()) it arrived. */
export interface LogLine {
  at: number;
  text: string;
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
}

/** A Node.js child process started by the benchmark, with its output kept in memory. */
export class NodeChild {
  readonly spawnedAt: number;
  readonly exited: Promise<ChildExit>;
  private readonly lines: LogLine[] = [];
  private exit?: ChildExit;
  /** Set when the benchmark itself sent the stop signal. */
  private stopRequested = false;

  private constructor(
    readonly name: string,
    readonly proc: ChildProcess,
    spawnedAt: number,
  ) {
    this.spawnedAt = spawnedAt;
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        this.exit = { code, signal, at: performance.now() };
        resolve(this.exit);
      });
      proc.once('error', (e) => {
        this.record(`[spawn error] ${e.message}`);
        this.exit = { code: null, signal: null, at: performance.now() };
        resolve(this.exit);
      });
    });
    for (const stream of [proc.stdout, proc.stderr]) {
      if (stream) createInterface({ input: stream }).on('line', (text) => this.record(text));
    }
  }

  /**
   * Spawns `node [nodeArgs] script` with exactly `env` (plus PATH/HOME/locale from ours), its
   * output captured; registers a cleanup step that stops it.
   */
  static spawn(cleanup: Cleanup, name: string, script: string, env: Record<string, string>, nodeArgs: string[] = []): NodeChild {
    const spawnedAt = performance.now();
    const proc = spawn(process.execPath, [...nodeArgs, script], {
      env: { ...baseEnv(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const child = new NodeChild(name, proc, spawnedAt);
    const unregisterSync = cleanup.addSync(() => {
      if (child.running) proc.kill('SIGKILL');
    });
    cleanup.add(`stop ${name}`, async () => {
      if (child.running) await child.stop(8000);
      unregisterSync();
    });
    return child;
  }

  get running(): boolean {
    return this.exit === undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** CPU time the process has used so far (Linux /proc only; undefined elsewhere). */
  cpuTimeMs(): CpuTime | undefined {
    return this.proc.pid ? processCpuMs(this.proc.pid) : undefined;
  }

  /** Why the process ended, for error messages; points out a signal the benchmark did not send. */
  describeExit(exit: ChildExit): string {
    const how = `${this.name} (pid ${this.pid}) exited (code ${exit.code}, signal ${exit.signal})`;
    if (this.killedByOthers(exit)) {
      return `${how}: the benchmark did not send that signal — another process on this machine did (a \`pkill -f dist/src/main.js\`?)`;
    }
    return how;
  }

  /** True when a signal the benchmark did not send ended the process. */
  killedByOthers(exit: ChildExit): boolean {
    return exit.signal !== null && !this.stopRequested;
  }

  /** Throws (with the output tail) unless the process is still running. */
  async assertRunning(): Promise<void> {
    if (this.running) return;
    const exit = await this.exited;
    const message = `${this.describeExit(exit)}${this.tail()}`;
    throw this.killedByOthers(exit) ? new ExternalSignalError(message) : new Error(message);
  }

  /** The first output line matching `re`, with its arrival time. */
  firstLine(re: RegExp): LogLine | undefined {
    return this.lines.find((l) => re.test(l.text));
  }

  /** The last `n` output lines, indented, for error messages. */
  tail(n = 25): string {
    const lines = this.lines.slice(-n).map((l) => `    ${l.text}`);
    return lines.length ? `\n  last output of ${this.name}:\n${lines.join('\n')}` : `\n  (${this.name} printed nothing)`;
  }

  /**
   * SIGTERM, then wait up to `graceMs` for the exit; SIGKILL after that. Returns how long the
   * exit took and whether it had to be forced.
   */
  async stop(graceMs: number): Promise<{ ms: number; forced: boolean; exit: ChildExit }> {
    const start = performance.now();
    if (!this.running) {
      const exit = await this.exited;
      return { ms: 0, forced: false, exit };
    }
    this.stopRequested = true;
    this.proc.kill('SIGTERM');
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
    const first = await Promise.race([this.exited, timer]);
    if (first !== 'timeout') return { ms: first.at - start, forced: false, exit: first };
    this.proc.kill('SIGKILL');
    const exit = await this.exited;
    return { ms: exit.at - start, forced: true, exit };
  }

  private record(text: string): void {
    this.lines.push({ at: performance.now(), text });
    if (this.lines.length > 2000) this.lines.splice(100, 1); // keep the start-up lines, drop the middle
  }
}

export interface CpuTime {
  user: number;
  sys: number;
}

/** CPU time process `pid` has used so far, from /proc (Linux only; undefined elsewhere or when gone). */
export function processCpuMs(pid: number): CpuTime | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: (Number(fields[11]) * 1000) / clockTicks(), sys: (Number(fields[12]) * 1000) / clockTicks() };
  } catch {
    return undefined;
  }
}

/**
 * CPU time of the whole machine so far, all cores, from /proc/stat (Linux only): `busy` is
 * time charged to processes (user, nice, system) plus steal; `irq` is interrupt and softirq
 * time, mostly the loopback network of the run itself, charged to no process.
 */
export function machineCpuMs(): { busy: number; irq: number; total: number } | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
    const toMs = (t: number) => (t * 1000) / clockTicks();
    const busy = user + nice + system + (steal || 0);
    return { busy: toMs(busy), irq: toMs(irq + softirq), total: toMs(busy + irq + softirq + idle + iowait) };
  } catch {
    return undefined;
  }
}

let ticks: number | undefined;
function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/** The variables a child needs from our environment; nothing else leaks in (no DATABASE_URL, no CHARTWARDEN_*). */
function baseEnv(): Record<string, string> {
  const keep = ['PATH', 'HOME', 'USER', 'LANG', 'LC_ALL', 'TMPDIR', 'TZ', 'SYSTEMROOT'];
  const out: Record<string, string> = {};
  for (const k of keep) {
    const v = process.env[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/**
 * Polls `url` until it answers `expectStatus` (or the child exits, or `timeoutMs` passes).
 * Returns the performance.now() of the first good answer.
 */
export async function waitForHttp(url: string, child: NodeChild, timeoutMs: number, intervalMs = 20, headers: Record<string, string> = {}): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  let lastError = 'no answer yet';
  while (performance.now() < deadline) {
    if (!child.running) {
      const exit = await child.exited;
      const message = `${child.describeExit(exit)} before ${url} answered${child.tail()}`;
      throw child.killedByOthers(exit) ? new ExternalSignalError(message) : new Error(message);
    }
    try {
      const res = await fetch(url, { headers, signal: AbortSignal.timeout(3000) });
      await res.arrayBuffer();
      if (res.ok) return performance.now();
      lastError = `HTTP ${res.status}`;
    } catch (e) {
      lastError = e instanceof Error ? ((e.cause as Error | undefined)?.message ?? e.message) : String(e);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms (last: ${lastError})${child.tail()}`);
}

/**
 * Waits until `child` prints a line matching `re` (or exits, or `timeoutMs` passes): how a child
 * listening on a port it chose says where it is. Returns the line.
 */
export async function waitForLine(child: NodeChild, re: RegExp, timeoutMs: number): Promise<LogLine> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const line = child.firstLine(re);
    if (line) return line;
    if (!child.running) {
      const exit = await child.exited;
      const message = `${child.describeExit(exit)} before printing ${re}${child.tail()}`;
      throw child.killedByOthers(exit) ? new ExternalSignalError(message) : new Error(message);
    }
    if (performance.now() > deadline) throw new Error(`${child.name} did not print ${re} within ${timeoutMs} ms${child.tail()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A fresh temp dir, mode 755 (embedded PostgreSQL runs as `postgres` when we are root and
 * must be able to enter it), removed at cleanup.
 */
export async function tempDir(cleanup: Cleanup, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await chmod(dir, 0o755);
  const unregisterSync = cleanup.addSync(() => rmSync(dir, { recursive: true, force: true }));
  cleanup.add(`remove ${dir}`, async () => {
    await rm(dir, { recursive: true, force: true });
    unregisterSync();
  });
  return dir;
}

/** Asks the OS for a free TCP port on loopback (the one helper the server's launcher uses too). */
export { freePort } from '../../src/database/embedded-postgres.launcher.js';
