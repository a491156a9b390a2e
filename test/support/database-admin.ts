import type { Command } from 'commander';
import pg from 'pg';
import { buildCli } from '../../src/cli/cli.js';
import { testDatabaseUrl } from './test-app.js';

/** What one CLI run printed, and how it ended. */
export interface CliRun {
  stdout: string;
  stderr: string;
  error?: unknown;
}

/**
 * Runs `chartwarden <args>` in-process against `databaseUrl` (DATABASE_URL set for the run
 * only), with `env` (e.g. CHARTWARDEN_DATA_DIR) set for the run only too.
 */
export async function runCliOn(databaseUrl: string, args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const program = buildCli();
  let stderr = '';
  let stdout = '';
  const quiet = (command: Command) => {
    command.exitOverride().configureOutput({ writeOut: (s) => (stderr += s), writeErr: (s) => (stderr += s) });
    command.commands.forEach(quiet);
  };
  quiet(program);
  const previousUrl = process.env.DATABASE_URL;
  const realOut = process.stdout.write;
  const realErr = process.stderr.write;
  const capture = (append: (s: string) => void) =>
    ((chunk: string | Uint8Array) => {
      append(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return true;
    }) as typeof process.stdout.write;
  const previousEnv = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  process.env.DATABASE_URL = databaseUrl;
  Object.assign(process.env, env);
  process.stdout.write = capture((s) => (stdout += s));
  process.stderr.write = capture((s) => (stderr += s));
  try {
    await program.parseAsync(args, { from: 'user' });
    return { stdout, stderr };
  } catch (error) {
    return { stdout, stderr, error };
  } finally {
    process.stdout.write = realOut;
    process.stderr.write = realErr;
    if (previousUrl === undefined) delete process.env.DATABASE_URL;
    else process.env.DATABASE_URL = previousUrl;
    for (const [k, v] of Object.entries(previousEnv)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** The URL of `database` on the test server. */
export function urlOf(database?: string): string {
  const url = new URL(testDatabaseUrl());
  if (database) url.pathname = `/${database}`;
  return url.toString();
}

/** Runs `work` on one plain connection to `url` (a superuser's, as the test server's is). */
export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function sql<T extends pg.QueryResultRow = pg.QueryResultRow>(url: string, text: string, values?: unknown[]): Promise<T[]> {
  return withClient(url, async (c) => (await c.query<T>(text, values)).rows);
}

/** Runs statements as a superuser would to forge a record: with every ordinary trigger off. */
export async function asReplica(url: string, statements: [string, unknown[]?][]): Promise<void> {
  await withClient(url, async (c) => {
    await c.query('SET session_replication_role = replica');
    for (const [text, values] of statements) await c.query(text, values);
  });
}
