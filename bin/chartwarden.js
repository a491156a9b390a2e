#!/usr/bin/env node
// The admin CLI (compiled by `npm run build`, which `npm install` runs through `prepare`).
try {
  await import('../dist/src/cli/main.js');
} catch (e) {
  const notBuilt = e?.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes('dist/src/cli/main.js');
  console.error(notBuilt ? 'chartwarden: the CLI is not built: run `npm run build` (or `npm install`) first' : `chartwarden: ${e?.message ?? e}`);
  process.exit(1);
}
