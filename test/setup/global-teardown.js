import pg from 'pg';

export default async function globalTeardown() {
  const db = globalThis.__chartwardenTestDb;
  if (!db) return;
  if (db.kind === 'embedded') {
    await db.cluster.stop();
    return;
  }
  const client = new pg.Client({ connectionString: db.base });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS "${db.name}" WITH (FORCE)`);
  await client.end();
}
