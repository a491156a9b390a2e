import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { consoleDistDir } from '../../../src/console/console-files.js';
import { packageRoot } from '../../../src/common/package-root.js';

/** Newest modification time of the console's sources (console/**: the app, index.html, vite.config.ts). */
function newestSource(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((newest, entry) => {
    const full = join(dir, entry.name);
    const t = entry.isDirectory() ? newestSource(full) : statSync(full).mtimeMs;
    return Math.max(newest, t);
  }, 0);
}

/**
 * The browser tests run against the console as built: when dist/console is missing or older
 * than console/**, it is built here (`vite build`, ~3 s). Test files run in parallel, so the
 * build is taken under a lock directory (mkdir is atomic) and the check repeated inside it.
 */
export async function ensureConsoleBuilt(): Promise<void> {
  const root = packageRoot();
  const index = join(consoleDistDir(root), 'index.html');
  const stale = () => !existsSync(index) || statSync(index).mtimeMs < newestSource(join(root, 'console'));
  if (!stale()) return;
  const lock = join(root, 'dist', '.console-build.lock');
  mkdirSync(join(root, 'dist'), { recursive: true });
  for (let waited = 0; ; waited += 200) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (waited > 120_000) throw new Error(`${lock} held for 2 minutes: remove it if no build is running`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    if (stale()) execFileSync(join(root, 'node_modules', '.bin', 'vite'), ['build', '--config', 'console/vite.config.ts', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' });
  } finally {
    rmdirSync(lock);
  }
}
