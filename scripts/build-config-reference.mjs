#!/usr/bin/env node
/**
 * Regenerates docs/configuration.md from the schemas that validate ChartWarden's configuration
 * (src/config/env.config.ts, src/policy/domain/policy-document.ts), through the built renderer
 * dist/src/cli/config-reference.js. Build first; commit the output.
 *
 *   npm run build && node scripts/build-config-reference.mjs          # write docs/configuration.md
 *   npm run build && node scripts/build-config-reference.mjs --check  # exit 1 if it is stale
 *
 * test/integration/config-reference.int-spec.ts runs the same renderer from the sources and fails
 * when the committed file differs, or when a variable or setting has no description.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, 'docs/configuration.md');
const sources = [
  'src/cli/config-reference.ts',
  'src/config/env.config.ts',
  'src/config/chartwarden.options.ts',
  'src/policy/domain/policy-document.ts',
  'src/policy/domain/actions.ts',
  'src/policy/domain/copy-checklists.ts',
];

// A renderer older than the schemas would silently write yesterday's reference.
const stale = sources.filter((src) => {
  const built = join(root, 'dist', src.replace(/\.ts$/, '.js'));
  return !existsSync(built) || statSync(built).mtimeMs < statSync(join(root, src)).mtimeMs;
});
if (stale.length > 0) {
  console.error(`dist/ is older than ${stale.join(', ')}: run \`npm run build\` first.`);
  process.exit(1);
}

const { configurationReference, undocumentedSettings } = await import(pathToFileURL(join(root, 'dist/src/cli/config-reference.js')).href);
const missing = undocumentedSettings();
if (missing.length > 0) {
  console.error(`Every variable and setting needs a description in its schema (.describe() or .meta()). Missing:\n  ${missing.join('\n  ')}`);
  process.exit(1);
}
const text = configurationReference();
if (process.argv.includes('--check')) {
  const current = existsSync(target) ? readFileSync(target, 'utf8') : '';
  if (current !== text) {
    console.error('docs/configuration.md is stale: run `npm run build && node scripts/build-config-reference.mjs`.');
    process.exit(1);
  }
  console.log('docs/configuration.md is up to date.');
} else {
  writeFileSync(target, text);
  console.log(`wrote ${target}`);
}
