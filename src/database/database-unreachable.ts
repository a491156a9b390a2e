import pg from 'pg';

/** The database could not be reached or refused the login: one line naming where it was looked for. */
export class DatabaseUnreachableError extends Error {}

/** SQLSTATEs and socket errors that mean "no usable connection", as opposed to a statement's failure. */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNRESET',
  '28P01', // password authentication failed
  '28000', // no pg_hba.conf entry / role may not log in
  '3D000', // the database does not exist
  '57P03', // the server is starting up or shutting down
]);

/** `url` with its password replaced by `***`, fit for a log line or an error message. */
export function maskedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(an unparseable URL)';
  }
}

/** True when `e` says the database could not be reached or would not let us in. */
export function isConnectionError(e: unknown): boolean {
  const code = (e as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true;
  if (e instanceof AggregateError) return e.errors.some(isConnectionError);
  return /timeout expired|Connection terminated/.test((e as Error | undefined)?.message ?? '');
}

/** The error's message; a refused `localhost` (IPv6 and IPv4 tried) is an AggregateError with an empty one. */
export function reasonOf(e: unknown): string {
  if (e instanceof AggregateError && !e.message) return e.errors.map(reasonOf).join('; ');
  return e instanceof Error ? e.message : String(e);
}

/**
 * `DatabaseUnreachableError` naming `source` (e.g. `DATABASE_URL`) and the masked URL, when
 * `e` is a connection failure; `e` itself otherwise.
 */
export function explainConnectionError(e: unknown, url: string, source: string): unknown {
  if (!isConnectionError(e)) return e;
  return new DatabaseUnreachableError(`cannot connect to the database at ${source} (${maskedUrl(url)}): ${reasonOf(e)}`, { cause: e });
}

/**
 * Connects once and runs `SELECT 1`, so a server with no database fails at start with one
 * line naming `source`, instead of a driver stack from deep inside the application's start.
 */
export async function probeDatabase(url: string, source: string, timeoutMs = 10_000): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs, application_name: 'chartwarden-probe' });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (e) {
    throw explainConnectionError(e, url, source);
  } finally {
    await client.end().catch(() => undefined);
  }
}
