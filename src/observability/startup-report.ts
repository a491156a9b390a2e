import type { INestApplication } from '@nestjs/common';
import type { Logger as Pino } from 'pino';
import { LoadedPolicy } from '../policy/loaded-policy.js';

/** What the standalone server knows once it listens. */
export interface StartupFacts {
  port: number;
  /** The database the server uses (embedded PostgreSQL's URL when `embeddedDataDir` is set). */
  databaseUrl: string;
  /** Set when ChartWarden started embedded PostgreSQL in this data dir. */
  embeddedDataDir?: string;
  /** `Date.now()` when the process began starting. */
  startedAt: number;
}

/**
 * The start-up report (issue #14): one line per fact — the store, the policy in force, where
 * the FHIR endpoint listens, how long start-up took. Never a password.
 */
export function reportStartup(logger: Pino, app: INestApplication, facts: StartupFacts): void {
  const log = logger.child({ context: 'ChartWarden' });
  const dataDir = facts.embeddedDataDir;
  if (dataDir) log.info({ store: 'embedded-postgresql', dataDir }, `Store: embedded PostgreSQL in ${dataDir}`);
  else log.info({ store: 'postgresql', database: maskedDatabaseUrl(facts.databaseUrl) }, `Store: PostgreSQL ${maskedDatabaseUrl(facts.databaseUrl)}`);
  const version = app.get(LoadedPolicy).version;
  log.info({ policyVersion: version }, `Policy: version ${version}`);
  const url = `http://localhost:${facts.port}/fhir`;
  log.info({ port: facts.port, url }, `FHIR R4 endpoint: ${url} (probes: /health/live, /health/ready)`);
  const ms = Date.now() - facts.startedAt;
  log.info({ startupMs: ms }, `Started in ${ms} ms`);
}

/** `postgres://user:***@host:port/db`: the host, port, database and user of a connection string, the password masked. */
export function maskedDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    u.search = '';
    return u.toString();
  } catch {
    return '(unparseable DATABASE_URL)';
  }
}
