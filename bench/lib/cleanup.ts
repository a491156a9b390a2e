/**
 * Everything the benchmark starts (child processes, databases, temp dirs) registers how to
 * undo it here. `runAll` undoes it in reverse order, each step bounded in time, and runs
 * however the run ends: normally, on an error, or on Ctrl-C / SIGTERM.
 */
type Task = () => Promise<void> | void;

interface Entry {
  name: string;
  task: Task;
  done: boolean;
}

export class Cleanup {
  private readonly entries: Entry[] = [];
  private readonly syncEntries = new Set<() => void>();
  private running?: Promise<void>;
  /** Set once a signal asked the run to stop: errors after that are consequences, not findings. */
  interrupted = false;

  /**
   * Registers `task`; the returned function runs it now (once) and forgets it, for resources
   * released before the end of the run.
   */
  add(name: string, task: Task): () => Promise<void> {
    const entry: Entry = { name, task, done: false };
    this.entries.push(entry);
    return async () => {
      const i = this.entries.indexOf(entry);
      if (i >= 0) this.entries.splice(i, 1);
      await this.runOne(entry);
    };
  }

  /**
   * A last-resort synchronous step for `process.on('exit')` (SIGKILL a child, rmSync a dir),
   * in case the process ends before `runAll` finishes. Returns a function that unregisters it.
   */
  addSync(step: () => void): () => void {
    this.syncEntries.add(step);
    return () => this.syncEntries.delete(step);
  }

  /** Undoes everything still registered, last registered first. Safe to call twice. */
  runAll(): Promise<void> {
    this.running ??= (async () => {
      for (let entry = this.entries.pop(); entry; entry = this.entries.pop()) await this.runOne(entry);
    })();
    return this.running;
  }

  /** The synchronous fallback steps, last registered first; called from `process.on('exit')`. */
  runSyncFallback(): void {
    for (const step of [...this.syncEntries].reverse()) {
      try {
        step();
      } catch {
        // best effort: the process is exiting
      }
    }
    this.syncEntries.clear();
  }

  private async runOne(entry: Entry): Promise<void> {
    if (entry.done) return;
    entry.done = true;
    try {
      await withTimeout(Promise.resolve().then(entry.task), 20_000, `cleanup step "${entry.name}"`);
    } catch (e) {
      console.warn(`[bench] cleanup: ${entry.name} failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

/** Rejects when `promise` has not settled within `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * On SIGINT/SIGTERM: clean up, then exit 130/143. A second signal while cleaning up
 * skips to the synchronous fallback (SIGKILL children, remove dirs) and exits at once.
 * `process.on('exit')` always runs the synchronous fallback.
 */
export function installSignalHandlers(cleanup: Cleanup): void {
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) {
      console.warn(`[bench] ${signal} again: killing children and exiting without waiting`);
      cleanup.runSyncFallback();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    interrupted = true;
    cleanup.interrupted = true;
    console.warn(`\n[bench] ${signal} received: stopping children, dropping the bench database, removing temp dirs…`);
    void cleanup.runAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', () => cleanup.runSyncFallback());
}
