#!/usr/bin/env node
// Regenerates the console's screenshots in docs/console/*.png (shown in the README): builds the
// console, then runs the browser tests (test/browser, Debian's Chromium through playwright-core)
// with CHARTWARDEN_SCREENSHOTS=docs/console, so each main screen is saved as the tests reach it.
// Needs what the browser tests need: /usr/bin/chromium and fonts-noto-cjk, and PostgreSQL
// (DATABASE_URL, or embedded PostgreSQL started by the tests' global setup).
//   node scripts/console-screenshots.mjs    (npm run console:screenshots)
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const run = (command, args, env = {}) => {
  const { status } = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  if (status !== 0) process.exit(status ?? 1);
};

run(bin('vite'), ['build', '--config', 'console/vite.config.ts', '--logLevel', 'warn']);
run(bin('jest'), ['--selectProjects', 'browser'], {
  CHARTWARDEN_SCREENSHOTS: 'docs/console',
  NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --experimental-vm-modules`.trim(),
});
console.log(`Screenshots written to ${join(root, 'docs', 'console')}`);
