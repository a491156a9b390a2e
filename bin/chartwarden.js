#!/usr/bin/env node
// The admin CLI (compiled by `npm run build`, which `npm install` runs through `prepare`).
await import('../dist/src/cli/main.js');
