import pg from 'pg';

/**
 * The application roles ChartWarden provisions (decision 0011) on the test databases: the run's
 * `chartwarden_test_<time>_<pid>` (global setup) and the names suites derive from it, and the
 * `cw_…` databases suites create for themselves. `applicationRoleName` adds `_app` to a clean
 * name, or shortens and hashes a long or odd one: either way lower-case letters, digits and
 * underscores, beginning as the database's name does.
 */
const TEST_APPLICATION_ROLE = '^(chartwarden_test_[0-9]+_[0-9]+(_[a-z0-9_]+)?|cw_[a-z0-9_]+)_app$';

export default async function globalTeardown() {
  const db = globalThis.__chartwardenTestDb;
  if (!db) return;
  if (db.kind === 'embedded') {
    await db.cluster.stop();
    return;
  }
  const client = new pg.Client({ connectionString: db.base });
  await client.connect();
  try {
    // Not test/support's dropThrowawayDatabase: Jest runs this file outside the TS transform, so it
    // cannot import TypeScript. The sweep below takes this database's role with the earlier ones.
    await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(db.name)} WITH (FORCE)`);
    await dropLeakedApplicationRoles(client);
  } finally {
    await client.end();
  }
}

/**
 * Drops the application roles of test databases that no longer exist: this run's, and those
 * earlier runs leaked (roles are cluster-wide and outlive their database). Only a role named
 * and shaped as ChartWarden provisions one for a test database, and holding nothing anywhere
 * on the server: its grants are all inside its database, from the transaction that created it
 * until that database is dropped, so a role still holding any belongs to a live database, of
 * this run or of another one running at the same time. A database still named by the start of
 * the role's name keeps it as well. Never a role of another shape, nor `chartwarden_app`.
 */
async function dropLeakedApplicationRoles(client) {
  const { rows } = await client.query(
    `SELECT r.rolname FROM pg_roles r
      WHERE r.rolname ~ $1 AND r.rolname <> 'chartwarden_app'
        AND r.rolcanlogin AND NOT (r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolreplication OR r.rolbypassrls)
        AND NOT EXISTS (SELECT 1 FROM pg_shdepend s WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = r.oid)
        AND NOT EXISTS (SELECT 1 FROM pg_database d WHERE starts_with(r.rolname, d.datname))
      ORDER BY r.rolname`,
    [TEST_APPLICATION_ROLE],
  );
  for (const { rolname } of rows) {
    // Granted something since the query (a database of that name started meanwhile), or not ours to drop: left, and said.
    await client.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(rolname)}`).catch((e) => console.warn(`[test] left role ${rolname}: ${e.message}`));
  }
}
