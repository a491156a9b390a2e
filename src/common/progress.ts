/** Progress of a long step (backup, restore drill, verification), for the CLI's progress bar. */
export interface Progress {
  start(total: number): void;
  advance(by: number): void;
  stop(): void;
}

/** Progress reported to nobody: the default when no bar is shown. */
export const NO_PROGRESS: Progress = { start: () => undefined, advance: () => undefined, stop: () => undefined };
