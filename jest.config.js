/**
 * Projects: `unit` (pure logic beside the code, no database), `architecture` (static and
 * reflective checks over src/: layers, the store boundary, sizes, route permissions; no
 * database), `console` (the console's pure browser code, in Node), and `integration` / `e2e` /
 * `contract` / `browser` which share one real PostgreSQL provided by the global setup
 * (DATABASE_URL's server with a fresh database per run, or embedded PostgreSQL). `browser`
 * drives Debian's Chromium (/usr/bin/chromium) through playwright-core.
 */
import { availableParallelism } from 'node:os';

/** The e2e suites also run on Express (`e2e-express`). */
const EXPRESS_SUITES = [
  'http-surface',
  'fhir-rest',
  'patch',
  'conditional-update',
  'validate-operation',
  'hardening-input',
  'hardening-identity',
  'hardening-validation',
  'hardening-versions',
  'hardening-release',
  'audit-trail',
  'audit-console-api',
  'observability',
  'copy-requests',
  'copy-papers',
  'console-serving',
  'openapi-errors',
  'integrity-runs',
];

const common = {
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true }] },
  testEnvironment: 'node',
};

export default {
  globalSetup: './test/setup/global-setup.js',
  globalTeardown: './test/setup/global-teardown.js',
  testTimeout: 30000,
  // Never in band: one process running every suite keeps each suite's ES modules (the VM-modules
  // loader does not free them) and ran out of its 4 GB heap after ~100 suites, slowing to a crawl
  // on the way. Test files run in at least two worker processes, each replaced once it holds more
  // than 1 GB between files, also on a two-core machine (where Jest would otherwise use one).
  maxWorkers: Math.max(2, availableParallelism() - 1),
  workerIdleMemoryLimit: '1GB',
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/src/**/*.spec.ts'] },
    { ...common, displayName: 'architecture', testMatch: ['<rootDir>/test/architecture/**/*.arch-spec.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.int-spec.ts', '<rootDir>/test/contract/**/*.contract-spec.ts'],
    },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'] },
    // The same module on Express (decision 0021): the suites that pin what the HTTP seam carries (bodies
    // and their refusals, headers, CORS, files, the access log, the audit of refusals); `e2e` runs all on Fastify.
    {
      ...common,
      displayName: 'e2e-express',
      setupFiles: ['<rootDir>/test/setup/express-platform.js'],
      testMatch: EXPRESS_SUITES.map((name) => `<rootDir>/test/e2e/${name}.e2e-spec.ts`),
    },
    // The staff console in Debian's Chromium (playwright-core) against a real server; builds dist/console when stale.
    { ...common, displayName: 'browser', testMatch: ['<rootDir>/test/browser/**/*.browser-spec.ts'] },
    // The console's pure browser code (PKCE…), run in Node.
    { ...common, displayName: 'console', testMatch: ['<rootDir>/console/src/**/*.spec.ts'] },
  ],
};
