import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';

/** Runs one parameterized statement as the database owner and returns its rows. */
export type OwnerQuery = <T = Record<string, unknown>>(sql: string, parameters?: unknown[]) => Promise<T[]>;

/** The role ChartWarden's request pool runs as, and how to connect as it. */
export interface ApplicationRole {
  role: string;
  url: string;
}

/**
 * The application role could not be set up, or is one that could switch the append-only
 * triggers off. Start-up stops with this message: serving as such a role would
 * make the trail's protection depend on nothing.
 */
export class ApplicationRoleError extends Error {}

/**
 * Where a provisioned role's password is kept: a table of the owner's to which the
 * application role has no grant, so every instance on the database connects with the same
 * password and the application cannot read it.
 */
export const CREDENTIAL_TABLE = 'chartwarden_app_credential';

/** Trigger functions that refuse an operation outright: the application gets no privilege for what they refuse. */
const REFUSING_FUNCTIONS = ['chartwarden_refuse_change', 'chartwarden_refuse_audit_change'];

// pg_trigger.tgtype bits (PostgreSQL's TRIGGER_TYPE_DELETE, TRIGGER_TYPE_UPDATE).
const TRIGGER_DELETE = 8;
const TRIGGER_UPDATE = 16;

const ROLE_ATTRIBUTES = 'LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT';

/**
 * The provisioned role of a database: `<database>_app` (`chartwarden_app` for the embedded
 * `chartwarden`). One per database, because roles are cluster-wide and each database keeps
 * its own role's password: two ChartWarden databases on one cluster never reset each other's.
 */
export function applicationRoleName(database: string): string {
  const clean = database.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  if (clean === database && clean.length + 4 <= 63) return `${clean}_app`;
  return `${clean.slice(0, 45)}_${createHash('sha256').update(database).digest('hex').slice(0, 8)}_app`;
}

/**
 * Sets up the role ChartWarden serves requests as (R-17, R-21; decision 0011), run by the
 * owner after migrations, under the migration lock, in one transaction:
 * - `explicitUrl` (CHARTWARDEN_APP_DATABASE_URL): that URL's role, created by a DBA;
 * - otherwise `<database>_app`, created (or reset to its safe attributes) with a random
 *   password kept in `chartwarden_app_credential` — which needs CREATEROLE: an owner without
 *   it (hosted PostgreSQL) must be given CHARTWARDEN_APP_DATABASE_URL, and start-up says so.
 * Then grants it exactly what the application does on `tables`: SELECT and INSERT; UPDATE
 * and DELETE unless a trigger refuses them outright (append-only tables); DELETE on no table
 * that has any DELETE trigger; never TRUNCATE, REFERENCES or TRIGGER. Finally checks that
 * the role is no superuser, cannot bypass row security or set `session_replication_role`,
 * and is not (a member of) the owner of any table: the triggers are out of its reach.
 */
export async function prepareApplicationRole(q: OwnerQuery, ownerUrl: string, tables: string[], explicitUrl?: string): Promise<ApplicationRole> {
  const [me] = await q<{ database: string; owner: string; may_create_roles: boolean }>(
    `SELECT current_database() AS database, current_user AS owner, rolsuper OR rolcreaterole AS may_create_roles FROM pg_roles WHERE rolname = current_user`,
  );
  let role: ApplicationRole;
  if (explicitUrl) {
    const name = decodeURIComponent(new URL(explicitUrl).username);
    if (!name) throw new ApplicationRoleError('CHARTWARDEN_APP_DATABASE_URL names no user: give the application role in the URL (postgres://role:password@host/db)');
    if ((await q('SELECT 1 FROM pg_roles WHERE rolname = $1', [name])).length === 0) {
      throw new ApplicationRoleError(`CHARTWARDEN_APP_DATABASE_URL: role "${name}" does not exist on this server`);
    }
    role = { role: name, url: explicitUrl };
  } else {
    if (!me.may_create_roles) {
      throw new ApplicationRoleError(
        `the database owner "${me.owner}" may not create roles (no CREATEROLE), so ChartWarden cannot set up the role it serves requests as. ` +
          'Create a login role with NOSUPERUSER NOCREATEROLE NOBYPASSRLS that owns nothing, and set CHARTWARDEN_APP_DATABASE_URL to connect as it ' +
          '(ChartWarden grants it what it needs at each start). See docs/decisions/0011-application-role-and-checkpoints.md.',
      );
    }
    const name = applicationRoleName(me.database);
    role = { role: name, url: withCredentials(ownerUrl, name, await ensureRole(q, name)) };
  }
  await grant(q, role.role, tables);
  await assertUnprivileged(q, role.role);
  return role;
}

/** Creates the role, or resets an existing one to the safe attributes and the stored password; returns the password. */
async function ensureRole(q: OwnerQuery, role: string): Promise<string> {
  await q(`CREATE TABLE IF NOT EXISTS ${CREDENTIAL_TABLE} (role name PRIMARY KEY, password text NOT NULL)`);
  await q(`REVOKE ALL ON ${CREDENTIAL_TABLE} FROM PUBLIC`);
  const [stored] = await q<{ password: string }>(`SELECT password FROM ${CREDENTIAL_TABLE} WHERE role = $1`, [role]);
  const password = stored?.password ?? randomBytes(24).toString('base64url');
  if (!stored) await q(`INSERT INTO ${CREDENTIAL_TABLE} (role, password) VALUES ($1, $2)`, [role, password]);
  const id = pg.escapeIdentifier(role);
  const secret = pg.escapeLiteral(password);
  if ((await q('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).length === 0) {
    // Roles are cluster-wide: another database's start-up may create the same name between the check and here.
    await q('SAVEPOINT create_role');
    try {
      await q(`CREATE ROLE ${id} ${ROLE_ATTRIBUTES} PASSWORD ${secret}`);
      await q('RELEASE SAVEPOINT create_role');
      return password;
    } catch (e) {
      if ((e as { code?: string }).code !== '42710') throw e;
      await q('ROLLBACK TO SAVEPOINT create_role');
    }
  }
  await q(`ALTER ROLE ${id} WITH ${ROLE_ATTRIBUTES} PASSWORD ${secret}`);
  return password;
}

/** Revokes whatever the role held on ChartWarden's tables and grants what the application needs (see `prepareApplicationRole`). */
async function grant(q: OwnerQuery, role: string, tables: string[]): Promise<void> {
  const id = pg.escapeIdentifier(role);
  const rows = await q<{ name: string; refuses_update: boolean; guards_delete: boolean }>(
    `SELECT c.relname AS name,
            coalesce(bool_or(t.tgtype & ${TRIGGER_UPDATE} <> 0 AND p.proname = ANY($2)), false) AS refuses_update,
            coalesce(bool_or(t.tgtype & ${TRIGGER_DELETE} <> 0), false) AS guards_delete
       FROM pg_class c
       LEFT JOIN pg_trigger t ON t.tgrelid = c.oid AND NOT t.tgisinternal
       LEFT JOIN pg_proc p ON p.oid = t.tgfoid
      WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') AND c.relname = ANY($1)
      GROUP BY c.relname ORDER BY c.relname`,
    [tables, REFUSING_FUNCTIONS],
  );
  const [where] = await q<{ database: string; schema: string; connect: boolean; usage: boolean }>(
    `SELECT current_database() AS database, current_schema() AS schema,
            has_database_privilege($1, current_database(), 'CONNECT') AS connect, has_schema_privilege($1, current_schema(), 'USAGE') AS usage`,
    [role],
  );
  if (!where.connect) await q(`GRANT CONNECT ON DATABASE ${pg.escapeIdentifier(where.database)} TO ${id}`);
  if (!where.usage) await q(`GRANT USAGE ON SCHEMA ${pg.escapeIdentifier(where.schema)} TO ${id}`);
  for (const t of rows) {
    const table = pg.escapeIdentifier(t.name);
    const privileges = ['SELECT', 'INSERT', ...(t.refuses_update ? [] : ['UPDATE']), ...(t.guards_delete ? [] : ['DELETE'])];
    await q(`REVOKE ALL ON ${table} FROM ${id}`);
    await q(`GRANT ${privileges.join(', ')} ON ${table} TO ${id}`);
  }
}

/** Refuses a role that could switch the triggers off or read past them (see `prepareApplicationRole`). */
async function assertUnprivileged(q: OwnerQuery, role: string): Promise<void> {
  const [r] = await q<{ rolsuper: boolean; rolbypassrls: boolean; rolcreaterole: boolean; rolreplication: boolean; owns: string | null; version: number }>(
    `SELECT r.rolsuper, r.rolbypassrls, r.rolcreaterole, r.rolreplication,
            (SELECT string_agg(DISTINCT c.relname, ', ') FROM pg_class c
              WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') AND pg_has_role(r.oid, c.relowner, 'MEMBER')) AS owns,
            current_setting('server_version_num')::int AS version
       FROM pg_roles r WHERE r.rolname = $1`,
    [role],
  );
  const problems: string[] = [];
  if (r.rolsuper) problems.push('it is a superuser');
  if (r.rolbypassrls) problems.push('it bypasses row security');
  if (r.rolcreaterole) problems.push('it may create roles');
  if (r.rolreplication) problems.push('it is a replication role');
  if (r.owns) problems.push(`it owns (or is a member of the owner of) ${r.owns}`);
  // GRANT SET ON PARAMETER exists from PostgreSQL 15: a role granted it could switch triggers off without being a superuser.
  if (r.version >= 150000) {
    const [p] = await q<{ may: boolean }>(`SELECT has_parameter_privilege($1, 'session_replication_role', 'SET') AS may`, [role]);
    if (p.may) problems.push('it may set session_replication_role');
  }
  if (problems.length) {
    throw new ApplicationRoleError(
      `the application role "${role}" could disable the append-only triggers (${problems.join('; ')}): serve as a role that owns nothing and holds none of these rights`,
    );
  }
}

/** `url` with another user and password (host, database and parameters kept). */
function withCredentials(url: string, user: string, password: string): string {
  const u = new URL(url);
  u.username = encodeURIComponent(user);
  u.password = encodeURIComponent(password);
  return u.toString();
}
