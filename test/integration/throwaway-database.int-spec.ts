import { randomBytes } from 'node:crypto';
import { applicationRoleName } from '../../src/database/application-role.js';
import { ChartWardenDatabase } from '../../src/database/chartwarden-database.js';
import { CHARTWARDEN_ENTITIES } from '../../src/schema.js';
import { sql, urlOf } from '../support/database-admin.js';
import { dropThrowawayDatabase } from '../support/throwaway-database.js';

/**
 * Tests and the benchmark start ChartWarden on databases of their own, and ChartWarden
 * provisions a cluster-wide `<database>_app` role on each (decision 0011): dropping such a
 * database must drop that role too, or every run leaves its roles on the shared server.
 */
describe('dropThrowawayDatabase: a throwaway database goes with the application role provisioned for it', () => {
  const run = randomBytes(4).toString('hex');
  const created: string[] = [];

  const roleExists = async (role: string) => (await sql(urlOf(), 'SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).length === 1;
  const databaseExists = async (name: string) => (await sql(urlOf(), 'SELECT 1 FROM pg_database WHERE datname = $1', [name])).length === 1;
  const freshDatabase = async (name: string, template?: string): Promise<string> => {
    await sql(urlOf(), `CREATE DATABASE "${name.replaceAll('"', '""')}"${template ? ` TEMPLATE "${template}"` : ''}`);
    created.push(name);
    return name;
  };
  /** Starts ChartWarden's database layer as the server does (as the application role), then stops it. */
  const startAndStop = async (name: string): Promise<string> => {
    const db = await ChartWardenDatabase.connect(urlOf(name), 1, 0, { as: 'application' }, CHARTWARDEN_ENTITIES);
    await db.onApplicationShutdown();
    return db.role;
  };

  afterAll(async () => {
    // Copies before the database they were made from (see the last test).
    for (const name of created.reverse()) await dropThrowawayDatabase(urlOf(), name);
  });

  it('drops the database and its <database>_app role, which the start-up had created', async () => {
    const name = await freshDatabase(`cw_throwaway_${run}`);
    const role = await startAndStop(name);
    expect(role).toBe(`${name}_app`);
    expect(await roleExists(role)).toBe(true);

    await dropThrowawayDatabase(urlOf(), name);

    expect(await databaseExists(name)).toBe(false);
    expect(await roleExists(role)).toBe(false);
  });

  it('drops the hashed role of an odd name (capitals, quotes, spaces), every identifier escaped', async () => {
    const name = await freshDatabase(`cw_Throwaway "odd" ${run}`);
    const role = await startAndStop(name);
    expect(role).toBe(applicationRoleName(name));
    expect(role).not.toBe(`${name}_app`);
    expect(await roleExists(role)).toBe(true);

    await dropThrowawayDatabase(urlOf(), name);

    expect(await databaseExists(name)).toBe(false);
    expect(await roleExists(role)).toBe(false);
  });

  it('a database already gone is no error (IF EXISTS, as every call site had)', async () => {
    await expect(dropThrowawayDatabase(urlOf(), `cw_throwaway_${run}_never`)).resolves.toBeUndefined();
  });

  it('refuses, naming the copy, to leave a role behind silently: a TEMPLATE copy still holds the grants of the role of the database it copies', async () => {
    const seed = await freshDatabase(`cw_throwaway_${run}_seed`);
    const role = await startAndStop(seed);
    const copy = await freshDatabase(`cw_throwaway_${run}_copy`, seed);

    await expect(dropThrowawayDatabase(urlOf(), seed)).rejects.toThrow(
      new RegExp(`dropped database "${seed}" but not its role "${role}": [\\s\\S]*in database ${copy}`),
    );
    expect(await databaseExists(seed)).toBe(false);
    expect(await roleExists(role)).toBe(true);

    // Copies first: then the role goes with the last database holding its grants.
    await dropThrowawayDatabase(urlOf(), copy);
    await dropThrowawayDatabase(urlOf(), seed);
    expect(await roleExists(role)).toBe(false);
  });
});
