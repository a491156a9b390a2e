import { join } from 'node:path';
import { Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { Clock } from '../common/clock.js';
import { DEFAULT_CHECKPOINT_INTERVAL_MINUTES, type CheckpointOptions } from '../config/chartwarden.options.js';
import type { ChartWardenDatabase } from '../database/chartwarden-database.js';
import { UnitOfWork } from '../database/unit-of-work.js';
import { takeCheckpoint, writeCheckpoint, type CheckpointDatabase } from './checkpoint.js';
import type { LedgerHeads } from './ledger-heads.port.js';

/**
 * Writes a signed checkpoint (R-21; `checkpoint.ts`) to `CHARTWARDEN_CHECKPOINT_DIR` when
 * the application has started, then every `intervalMinutes` (default 60), as
 * `checkpoint-<instant>.json`. Point the directory at storage the database's administrators
 * cannot rewrite (another host, WORM storage): a checkpoint kept beside the database proves
 * nothing against whoever can edit both. Does nothing when no directory is configured.
 */
export class AuditCheckpointScheduler implements OnApplicationBootstrap, OnModuleDestroy {
  private static readonly logger = new Logger('AuditCheckpoint');
  private timer?: NodeJS.Timeout;
  private running: Promise<string | undefined> = Promise.resolve(undefined);
  private readonly database: CheckpointDatabase;

  /** `ledger`: the edit ledger's heads, through the port governance implements (bound by the root module). */
  constructor(
    db: ChartWardenDatabase,
    ledger: LedgerHeads,
    private readonly clock: Clock,
    private readonly dataDir: string,
    private readonly options: CheckpointOptions | undefined,
  ) {
    this.database = { unit: (work) => UnitOfWork.run(db, work), ledger };
  }

  onApplicationBootstrap(): void {
    if (!this.options) return;
    const minutes = this.options.intervalMinutes ?? DEFAULT_CHECKPOINT_INTERVAL_MINUTES;
    this.timer = setInterval(() => void this.writeNow(), minutes * 60_000);
    this.timer.unref();
    void this.writeNow();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /**
   * Writes one checkpoint now (after any in progress) and resolves with its path; undefined
   * when no directory is configured or the write failed (logged: a missed checkpoint must not stop the server).
   */
  writeNow(): Promise<string | undefined> {
    const options = this.options;
    if (!options) return Promise.resolve(undefined);
    this.running = this.running.then(async () => {
      try {
        const taken = this.clock.now();
        const checkpoint = await takeCheckpoint(this.database, this.dataDir, taken);
        const file = join(options.dir, `checkpoint-${checkpoint.taken.replace(/:/g, '-')}.json`);
        await writeCheckpoint(file, checkpoint);
        return file;
      } catch (e) {
        AuditCheckpointScheduler.logger.error(`could not write a checkpoint to ${options.dir}: ${(e as Error).message}`);
        return undefined;
      }
    });
    return this.running;
  }

  /** The path of the last checkpoint written (or being written), once it is on disk. */
  latest(): Promise<string | undefined> {
    return this.running;
  }
}
