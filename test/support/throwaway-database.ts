import pg from 'pg';
import { applicationRoleName } from '../../src/database/application-role.js';

/**
 * Drops a database a test or the benchmark created for itself (`DROP DATABASE IF EXISTS … WITH
 * (FORCE)`), then the role ChartWarden provisioned for it (`applicationRoleName`, decision
 * 0011): roles are cluster-wide and outlive their database, so without this every run left its
 * `<database>_app` roles on the shared server. `server`: any database on that server, as a
 * role that may drop both (the test server's superuser).
 *
 * The role holds grants only inside its database, so once that is gone nothing stops the DROP
 * ROLE. If something does, it throws, naming what still depends on the role: a silent catch
 * would bring the leak back unseen. The one known case is a copy (`CREATE DATABASE … TEMPLATE`)
 * of a database a server ran on, which carries the template's grants: drop copies first.
 */
export async function dropThrowawayDatabase(server: string | pg.ClientConfig, database: string): Promise<void> {
  const client = new pg.Client(server);
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)} WITH (FORCE)`);
    const role = applicationRoleName(database);
    try {
      await client.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(role)}`);
    } catch (e) {
      const detail = (e as { detail?: string }).detail;
      throw new Error(`dropped database "${database}" but not its role "${role}": ${(e as Error).message}${detail ? ` (${detail})` : ''}`, { cause: e });
    }
  } finally {
    await client.end();
  }
}
