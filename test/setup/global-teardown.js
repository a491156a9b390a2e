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
  // The application roles ChartWarden provisioned for this run's databases (`<database>_app`,
  // decision 0011): roles are cluster-wide and outlive their database. One still holding
  // privileges elsewhere cannot be dropped, and is left.
  const roles = await client.query(`SELECT rolname FROM pg_roles WHERE rolname LIKE $1 AND NOT rolsuper`, [`${db.name}%\\_app`]);
  for (const { rolname } of roles.rows) {
    await client.query(`DROP ROLE IF EXISTS "${rolname.replaceAll('"', '""')}"`).catch(() => undefined);
  }
  await client.end();
}
