import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Patient } from '@medplum/fhirtypes';
import { ApplicationRoleError, CREDENTIAL_TABLE, applicationRoleName } from '../../src/database/application-role.js';
import { ChartWardenDatabase } from '../../src/database/chartwarden-database.js';
import { EmbeddedPostgresLauncher } from '../../src/database/embedded-postgres.launcher.js';
import { runCliOn, sql, urlOf } from '../support/database-admin.js';
import { httpRequest, seedAs } from '../support/http.js';
import { startTestServer, testDatabaseUrl, type TestServer } from '../support/test-app.js';
import { CHARTWARDEN_ENTITIES } from '../../src/schema.js';
import { dropThrowawayDatabase } from '../support/throwaway-database.js';

/**
 * R-21 / R-17: the server runs its requests as a role that owns nothing and is no superuser,
 * so nothing sent through its pool (an injected statement included) can switch the
 * append-only triggers off, delete an audit entry, or move a chain's head back; the owner
 * only migrates and grants (decision 0011).
 */
describe('R-21: the application role (the request pool cannot disable the trail\'s protection)', () => {
  const run = randomBytes(4).toString('hex');
  const createdDatabases: string[] = [];
  const createdRoles: string[] = [];
  const open: ChartWardenDatabase[] = [];
  let server: TestServer;
  let db: ChartWardenDatabase;
  let token: string;
  let patient: Patient & { id: string };

  const auditCount = async () => Number((await sql<{ n: string }>(testDatabaseUrl(), 'SELECT count(*) AS n FROM audit_entry'))[0].n);
  const freshDatabase = async (owner?: string): Promise<string> => {
    const name = `cw_role_${run}_${createdDatabases.length}`;
    await sql(urlOf(), `CREATE DATABASE "${name}"${owner ? ` OWNER "${owner}"` : ''}`);
    createdDatabases.push(name);
    return name;
  };
  const loginRole = async (name: string, attributes: string): Promise<string> => {
    await sql(urlOf(), `CREATE ROLE "${name}" LOGIN PASSWORD 'pw-${run}' ${attributes}`);
    createdRoles.push(name);
    return name;
  };
  const urlAs = (database: string, role: string): string => {
    const url = new URL(urlOf(database));
    url.username = role;
    url.password = `pw-${run}`;
    return url.toString();
  };

  beforeAll(async () => {
    server = await startTestServer();
    db = server.app.get(ChartWardenDatabase);
    token = await server.token();
    patient = await seedAs<Patient>(server.fhirBase, token, { resourceType: 'Patient', gender: 'female', name: [{ family: `Role-${run}` }] });
  });

  afterAll(async () => {
    await server?.close();
    for (const d of open) await d.onApplicationShutdown();
    for (const name of createdDatabases) await dropThrowawayDatabase(urlOf(), name);
    for (const name of createdRoles) await sql(urlOf(), `DROP ROLE IF EXISTS "${name}"`);
  });

  it('R-21: the server\'s pool runs as <database>_app: not a superuser, owning no table, while the owner that migrated is', async () => {
    const database = new URL(testDatabaseUrl()).pathname.slice(1);
    expect(db.role).toBe(applicationRoleName(database));
    const [me] = await db.query<{ user: string; rolsuper: boolean; rolbypassrls: boolean; rolcreaterole: boolean }>(
      'SELECT current_user AS user, rolsuper, rolbypassrls, rolcreaterole FROM pg_roles WHERE rolname = current_user',
    );
    expect(me).toEqual({ user: db.role, rolsuper: false, rolbypassrls: false, rolcreaterole: false });
    const owned = await sql(testDatabaseUrl(), `SELECT relname FROM pg_class WHERE pg_has_role($1, relowner, 'MEMBER') AND relnamespace = 'public'::regnamespace`, [db.role]);
    expect(owned).toEqual([]);
    // The password it connects with is kept where it cannot read it.
    await expect(db.query(`SELECT password FROM ${CREDENTIAL_TABLE}`)).rejects.toMatchObject({ code: '42501' });
  });

  it('R-21: through the server\'s own pool, SET session_replication_role = replica is refused (permission denied)', async () => {
    await expect(db.query('SET session_replication_role = replica')).rejects.toMatchObject({ code: '42501', message: expect.stringMatching(/permission denied/) as unknown });
    await expect(db.transaction((tx) => tx.query('SET LOCAL session_replication_role = replica'))).rejects.toMatchObject({ code: '42501' });
    expect(await db.query("SELECT current_setting('session_replication_role') AS r")).toEqual([{ r: 'origin' }]);
  });

  it.each(['audit_entry', 'audit_chain', 'edit_ledger', 'fhir_resource_version'])(
    'R-21: ALTER TABLE %s DISABLE TRIGGER ALL is refused: the role owns no table',
    async (table) => {
      await expect(db.query(`ALTER TABLE ${table} DISABLE TRIGGER ALL`)).rejects.toMatchObject({ code: '42501', message: expect.stringMatching(/must be owner/) as unknown });
      const disabled = await sql(testDatabaseUrl(), `SELECT tgname FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal AND tgenabled = 'D'`, [table]);
      expect(disabled).toEqual([]);
    },
  );

  it('R-21: DELETE, UPDATE and TRUNCATE of audit entries are refused by privilege (before any trigger), and nothing changed', async () => {
    const before = await auditCount();
    const [last] = await sql<{ chain: number; seq: string; hash: Buffer }>(testDatabaseUrl(), 'SELECT chain, seq, hash FROM audit_entry ORDER BY recorded DESC, seq DESC LIMIT 1');
    const denied = { code: '42501', message: expect.stringMatching(/permission denied for table audit_entry/) as unknown };
    await expect(db.query('DELETE FROM audit_entry WHERE chain = $1 AND seq = $2', [last.chain, last.seq])).rejects.toMatchObject(denied);
    await expect(db.query(`UPDATE audit_entry SET actor = 'mallory' WHERE chain = $1 AND seq = $2`, [last.chain, last.seq])).rejects.toMatchObject(denied);
    await expect(db.query('TRUNCATE audit_entry')).rejects.toMatchObject(denied);
    await expect(db.query('DELETE FROM edit_ledger')).rejects.toMatchObject({ code: '42501', message: expect.stringMatching(/permission denied for table edit_ledger/) as unknown });
    // The head may only move forward (its trigger), and the role cannot switch that trigger off.
    await expect(db.query('UPDATE audit_chain SET seq = seq - 1 WHERE chain = $1', [last.chain])).rejects.toMatchObject({ code: '42501' });
    const [still] = await sql<{ hash: Buffer }>(testDatabaseUrl(), 'SELECT hash FROM audit_entry WHERE chain = $1 AND seq = $2', [last.chain, last.seq]);
    expect(still.hash.equals(last.hash)).toBe(true);
    expect(await auditCount()).toBeGreaterThanOrEqual(before);
  });

  it('R-21: meanwhile the server serves reads and writes through that pool, each audited, and the trail verifies', async () => {
    const before = await auditCount();
    const read = await httpRequest<Patient>(`${server.fhirBase}/Patient/${patient.id}`, 'GET', { token });
    expect(read.status).toBe(200);
    expect(read.body.name?.[0]?.family).toBe(`Role-${run}`);
    const update = await httpRequest<Patient>(`${server.fhirBase}/Patient/${patient.id}`, 'PUT', { token, body: { ...read.body, gender: 'male' } });
    expect(update.status).toBe(200);
    expect(update.body.meta?.versionId).toBe('2');
    const entries = await sql<{ subtype: string }>(testDatabaseUrl(), `SELECT subtype FROM audit_entry WHERE entity_type = 'Patient' AND entity_id = $1 ORDER BY recorded, seq`, [patient.id]);
    expect(entries.map((e) => e.subtype)).toEqual(expect.arrayContaining(['create', 'read', 'update']));
    expect(await auditCount()).toBeGreaterThan(before);
    const verify = await runCliOn(testDatabaseUrl(), ['audit', 'verify']);
    expect(verify.error).toBeUndefined();
    expect(verify.stdout).toMatch(/^audit verify: \d+ chains, \d+ entries intact/);
  });

  it('R-21: two instances starting at once on a fresh database agree on one role and both serve', async () => {
    const name = await freshDatabase();
    const [a, b] = await Promise.all([
      ChartWardenDatabase.connect(urlOf(name), 2, 0, { as: 'application' }, CHARTWARDEN_ENTITIES),
      ChartWardenDatabase.connect(urlOf(name), 2, 0, { as: 'application' }, CHARTWARDEN_ENTITIES),
    ]);
    open.push(a, b);
    expect(a.role).toBe(applicationRoleName(name));
    expect(b.role).toBe(a.role);
    expect(await a.query('SELECT 1 AS one FROM audit_chain LIMIT 1')).toEqual([]);
    await expect(b.query('DELETE FROM audit_entry')).rejects.toMatchObject({ code: '42501' });
    expect(await sql(urlOf(name), `SELECT role FROM ${CREDENTIAL_TABLE}`)).toEqual([{ role: a.role }]);
  });

  it('R-21: an owner without CREATEROLE cannot start as itself: start-up names CHARTWARDEN_APP_DATABASE_URL; with a DBA\'s role it serves as that role', async () => {
    const owner = await loginRole(`cw_owner_${run}`, 'NOSUPERUSER NOCREATEROLE');
    const app = await loginRole(`cw_dba_app_${run}`, 'NOSUPERUSER NOCREATEROLE');
    const name = await freshDatabase(owner);
    await sql(urlOf(name), `ALTER SCHEMA public OWNER TO "${owner}"`);

    await expect(ChartWardenDatabase.connect(urlAs(name, owner), 2, 0, { as: 'application' }, CHARTWARDEN_ENTITIES)).rejects.toThrow(ApplicationRoleError);
    await expect(ChartWardenDatabase.connect(urlAs(name, owner), 2, 0, { as: 'application' }, CHARTWARDEN_ENTITIES)).rejects.toThrow(/may not create roles.*CHARTWARDEN_APP_DATABASE_URL/);

    const served = await ChartWardenDatabase.connect(urlAs(name, owner), 2, 0, { as: 'application', url: urlAs(name, app) }, CHARTWARDEN_ENTITIES);
    open.push(served);
    expect(served.role).toBe(app);
    expect(await served.query('SELECT count(*)::int AS n FROM audit_entry')).toEqual([{ n: 0 }]);
    await expect(served.query('ALTER TABLE audit_entry DISABLE TRIGGER ALL')).rejects.toMatchObject({ code: '42501' });
    await expect(served.query('SET session_replication_role = replica')).rejects.toMatchObject({ code: '42501' });
  });

  it('R-21: an application URL naming a superuser (or the owner) is refused at start-up', async () => {
    const name = await freshDatabase();
    await expect(ChartWardenDatabase.connect(urlOf(name), 2, 0, { as: 'application', url: urlOf(name) }, CHARTWARDEN_ENTITIES)).rejects.toThrow(
      /the application role "[^"]+" could disable the append-only triggers \(it is a superuser/,
    );
  });

  it('R-21: on embedded PostgreSQL (password authentication) the server runs as chartwarden_app, whose password only the owner can read', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'chartwarden-app-role-'));
    await chmod(dataDir, 0o755); // as root, PostgreSQL runs as "postgres" and must reach <dataDir>/pg
    const launcher = new EmbeddedPostgresLauncher({ dataDir, log: { log: () => undefined, warn: () => undefined } });
    try {
      const ownerUrl = await launcher.start();
      const served = await ChartWardenDatabase.connect(ownerUrl, 2, 0, { as: 'application' }, CHARTWARDEN_ENTITIES);
      try {
        expect(served.role).toBe('chartwarden_app');
        expect(await served.query('SELECT count(*)::int AS n FROM audit_entry')).toEqual([{ n: 0 }]);
        await expect(served.query('SET session_replication_role = replica')).rejects.toMatchObject({ code: '42501' });
        // The role really authenticates with a password: a wrong one is refused.
        const wrong = new URL(ownerUrl);
        wrong.username = 'chartwarden_app';
        wrong.password = 'not-the-password';
        const client = new pg.Client({ connectionString: wrong.toString() });
        client.on('error', () => undefined);
        await expect(client.connect()).rejects.toThrow(/password authentication failed for user "chartwarden_app"/);
        // A second start (a restart) reuses the stored password.
        const again = await ChartWardenDatabase.connect(ownerUrl, 2, 0, { as: 'application' }, CHARTWARDEN_ENTITIES);
        expect(await again.query('SELECT current_user AS u')).toEqual([{ u: 'chartwarden_app' }]);
        expect(await served.query('SELECT 1 AS ok')).toEqual([{ ok: 1 }]);
        await again.onApplicationShutdown();
      } finally {
        await served.onApplicationShutdown();
      }
    } finally {
      await launcher.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
