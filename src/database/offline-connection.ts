import pg from 'pg';
import type { Queryable } from './chartwarden-database.js';

/**
 * Runs `work` on a connection of its own to `url`, closed after it: what an offline command
 * (a CLI verifier, a report) reads through, outside the server's pool. JIT is off as on the
 * pool (short statements); a server closing the idle connection (a drill dropping its scratch
 * database) is not the command's failure.
 */
export async function withOfflineClient<T>(url: string, applicationName: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: applicationName, options: '-c jit=off' });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A plain `pg` client or pool as a `Queryable`, in whatever transaction the caller opened on it: what repositories take. */
export function queryableOf(client: Pick<pg.ClientBase, 'query'> | pg.Pool): Queryable {
  return { query: async <T>(sql: string, parameters?: unknown[]) => (await client.query(sql, parameters)).rows as T[] };
}
