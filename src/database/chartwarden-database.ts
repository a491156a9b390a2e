import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import { createHash } from 'node:crypto';
import pg from 'pg';
import { DataSource, type EntitySchema, type ObjectType } from 'typeorm';
import { MIGRATIONS } from '../../migrations/index.js';
import { ApplicationRoleError, prepareApplicationRole } from './application-role.js';

/** Any object that can run a parameterized SQL statement: the pool or one transaction. Returns the rows. */
export interface Queryable {
  /**
   * `prepare`: run as a named prepared statement, so PostgreSQL parses it once per connection
   * and may reuse its plan. For hot statements whose planning costs as much as their execution
   * (reads, access checks, writes, searches). At most `MAX_PREPARED` distinct texts are prepared.
   */
  query<T = Record<string, unknown>>(sql: string, parameters?: unknown[], options?: { prepare?: boolean }): Promise<T[]>;
  /**
   * In a transaction: a step run after the work, just before COMMIT (in the order given). For
   * what must commit with the work but should take shared locks last, e.g. audit chain heads.
   */
  beforeCommit?(step: () => Promise<unknown>): void;
  /**
   * In a transaction: a statement sent in one round trip with the COMMIT, after the
   * `beforeCommit` steps (in the order given; `make` is called then, and may give nothing to
   * send). Its rows are not read: its failure rolls the whole transaction back, and is what
   * the transaction throws (as `failed` maps it). For a write's last statements, whose only
   * answer is that they succeeded (the versions a transaction created, its audit entries).
   */
  commitWith?(make: () => FinalStatement | undefined): void;
}

/** A statement `Queryable.commitWith` sends with the COMMIT. */
export interface FinalStatement {
  sql: string;
  parameters: unknown[];
  prepare?: boolean;
  /** The error the transaction throws when this statement fails (default: PostgreSQL's). */
  failed?: (e: unknown) => unknown;
}

/**
 * Runs `s` now on `q` (outside a commit, or where `q` cannot send it with one), failing as its
 * `failed` maps PostgreSQL's error: the same statement and the same error as when it goes with
 * the COMMIT.
 */
export async function runStatement(q: Queryable, s: FinalStatement): Promise<void> {
  await q.query(s.sql, s.parameters, { prepare: s.prepare }).catch((e: unknown) => {
    throw s.failed ? s.failed(e) : e;
  });
}

/** Distinct statements prepared at most (per process); beyond, statements run unnamed. */
const MAX_PREPARED = 300;
const preparedNames = new Map<string, string>();

/** The pg query config: named (prepared) when asked and while under the cap. */
function statement(sql: string, parameters: unknown[] | undefined, prepare: boolean | undefined): pg.QueryConfig {
  if (prepare) {
    let name = preparedNames.get(sql);
    if (!name && preparedNames.size < MAX_PREPARED) {
      name = `cw_${createHash('sha1').update(sql).digest('hex').slice(0, 20)}`;
      preparedNames.set(sql, name);
    }
    if (name) return { name, text: sql, values: parameters };
  }
  return { text: sql, values: parameters };
}

/**
 * The TypeORM entities of ChartWarden's tables. The features own them and the composition lists
 * them (`CHARTWARDEN_ENTITIES`, src/schema.ts): this layer knows no feature, so it is given them.
 */
export type EntityList = readonly (ObjectType<unknown> | EntitySchema)[];

/**
 * JIT compilation helps long analytical queries; ChartWarden's are short OLTP statements,
 * where compiling a large access filter costs seconds (seen with `$everything`).
 */
const SESSION_OPTIONS = '-c jit=off';

/**
 * Builds (does not connect) the TypeORM DataSource for ChartWarden's tables: migrations, and
 * with `entities` the schema checks (what the entities describe against what the migrations built).
 */
export function createDataSource(url: string, entities: EntityList = [], poolSize = 2): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    entities: [...entities],
    migrations: MIGRATIONS,
    migrationsTableName: 'chartwarden_migrations',
    synchronize: false,
    logging: false,
    extra: { max: poolSize, application_name: 'chartwarden-migrations' },
  });
}

/** Advisory-lock key serialising migrations when several instances start together. */
const MIGRATION_LOCK = 0x43574d47; // 'CWMG'

/**
 * Whom the request pool connects as (R-17, R-21; decision 0011). `owner`: the migration
 * URL's role (admin commands, tests that inspect the schema). `application`: a role that
 * owns nothing and may not disable triggers, set up by the owner at start-up (`url`: the
 * CHARTWARDEN_APP_DATABASE_URL a DBA gave, else ChartWarden provisions `<database>_app`).
 */
export type DatabaseRole = { as: 'owner' } | { as: 'application'; url?: string };

/**
 * ChartWarden's connection to PostgreSQL: the one object features use to run SQL and open
 * transactions. Connects and applies pending migrations with TypeORM (under an advisory
 * lock, so N instances starting at once do not race) before the application serves
 * anything; statements then run on a plain `pg` pool, which returns rows for every kind of
 * statement (TypeORM's `query` answers `UPDATE … RETURNING` with `[rows, count]`).
 */
export class ChartWardenDatabase implements OnApplicationShutdown, Queryable {
  private static readonly logger = new Logger('Database');

  private constructor(
    readonly dataSource: DataSource,
    private readonly pool: pg.Pool,
    /** The role the pool's statements run as. */
    readonly role: string,
  ) {}

  /**
   * Connects, migrates, and returns the ready database. `statementTimeoutMs` (0: none) bounds
   * every statement of the pool: PostgreSQL cancels one that runs longer (SQLSTATE 57014) and
   * the connection stays usable, so no request holds a connection past it. `role`: whom the
   * pool runs as (the server: `application`); as the application, the owner's connection is
   * closed once the schema and the role are ready, so the process keeps no owner session.
   * `entities`: ChartWarden's tables (`CHARTWARDEN_ENTITIES`), whose metadata `dataSource` carries
   * and on which the application role is granted what it needs (decision 0011). A caller that
   * only migrates and queries as the owner (the CLI, most tests) needs none; as the application
   * they are required: the role is granted exactly these tables, never a guess from the schema.
   */
  static async connect(
    url: string,
    poolSize = 20,
    statementTimeoutMs = 0,
    role: DatabaseRole = { as: 'owner' },
    entities: EntityList = [],
  ): Promise<ChartWardenDatabase> {
    if (role.as === 'application' && entities.length === 0) {
      throw new Error("connecting as the application role needs ChartWarden's entities (CHARTWARDEN_ENTITIES): its grants are exactly their tables");
    }
    const dataSource = createDataSource(url, entities);
    await dataSource.initialize();
    let poolUrl: string;
    try {
      poolUrl = await ChartWardenDatabase.migrate(dataSource, url, role);
    } catch (e) {
      await dataSource.destroy().catch(() => undefined);
      throw e;
    }
    if (role.as === 'application') await dataSource.destroy();
    const options = statementTimeoutMs > 0 ? `${SESSION_OPTIONS} -c statement_timeout=${Math.floor(statementTimeoutMs)}` : SESSION_OPTIONS;
    // Pipeline mode: a transaction's BEGIN and its last statements with the COMMIT go out without
    // waiting for the answer before them (`transaction`); one statement at a time otherwise changes nothing.
    const pool = new pg.Pool({ connectionString: poolUrl, max: poolSize, application_name: 'chartwarden', options, pipeline: true });
    let user: string;
    try {
      [{ user }] = (await pool.query<{ user: string }>('SELECT current_user AS user')).rows;
    } catch (e) {
      await pool.end().catch(() => undefined);
      if (role.as === 'owner') throw e;
      throw new ApplicationRoleError(
        `could not connect as the application role (${decodeURIComponent(new URL(poolUrl).username)}): ${(e as Error).message}. ` +
          'The server must let it log in (pg_hba.conf), or set CHARTWARDEN_APP_DATABASE_URL to a role it does.',
        { cause: e },
      );
    }
    const db = new ChartWardenDatabase(dataSource, pool, user);
    // Once closing, a connection the server ends (a drill dropping its scratch database) is expected.
    pool.on('error', (e) => {
      if (!db.closing) ChartWardenDatabase.logger.error(`idle connection error: ${e.message}`);
    });
    return db;
  }

  /**
   * Under the migration lock: the pending migrations, then (as the application) the role's
   * set-up in one transaction, so instances starting together neither race nor see half of
   * it. Returns the URL the pool connects with.
   */
  private static async migrate(dataSource: DataSource, url: string, role: DatabaseRole): Promise<string> {
    const runner = dataSource.createQueryRunner();
    try {
      await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      const applied = await dataSource.runMigrations({ transaction: 'all' });
      if (applied.length) ChartWardenDatabase.logger.log(`Applied migrations: ${applied.map((m) => m.name).join(', ')}`);
      if (role.as === 'owner') return url;
      await runner.startTransaction();
      try {
        const q = async <T,>(sql: string, parameters?: unknown[]) => (await runner.query(sql, parameters)) as T[];
        const app = await prepareApplicationRole(q, url, dataSource.entityMetadatas.map((m) => m.tableName), role.url);
        await runner.commitTransaction();
        return app.url;
      } catch (e) {
        await runner.rollbackTransaction().catch(() => undefined);
        throw e;
      }
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
      await runner.release();
    }
  }

  /** The request pool's connections, read-only (metrics): open, idle, callers waiting for one, and the most it opens. */
  get poolCounts(): { total: number; idle: number; waiting: number; max: number } {
    return { total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount, max: this.pool.options.max ?? 10 };
  }

  async query<T = Record<string, unknown>>(sql: string, parameters?: unknown[], options?: { prepare?: boolean }): Promise<T[]> {
    return (await this.pool.query(statement(sql, parameters, options?.prepare))).rows as T[];
  }

  /**
   * Runs `work` in one transaction (READ COMMITTED); commits when it resolves, rolls back when it
   * throws. BEGIN leaves with the first statement and the `commitWith` statements with the
   * COMMIT (`PipelinedTransaction`): a create is one round trip, not five.
   */
  async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: unknown;
    // A checked-out client has no pool listener: a connection lost now (the database restarted) would be an
    // unhandled 'error' event and end the process. Its queries fail on their own; the client is destroyed below.
    const lost = (e: Error) => (broken = e);
    client.on('error', lost);
    const opened = new PipelinedTransaction(client);
    try {
      const result = await work(opened.queryable);
      await opened.commit();
      return result;
    } catch (e) {
      await client.query('ROLLBACK').catch((rollbackError: unknown) => (broken = rollbackError));
      throw e;
    } finally {
      // A connection whose rollback failed is in an unknown state: destroy it rather than reuse it.
      client.removeListener('error', lost);
      client.release(broken instanceof Error ? broken : undefined);
    }
  }

  /**
   * A connection of its own, outside the pool, as the pool's role, for a session that stays
   * open (LISTEN, `src/cluster/cluster-events.ts`). Not connected: the caller connects and ends it.
   */
  dedicatedClient(applicationName: string): pg.Client {
    return new pg.Client({
      connectionString: this.pool.options.connectionString,
      application_name: applicationName,
      options: SESSION_OPTIONS,
      connectionTimeoutMillis: 10_000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
  }

  private closing = false;

  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    await this.pool.end().catch(() => undefined);
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

/**
 * One transaction on a checked-out client in pg's pipeline mode (issue #13: on these machines
 * each round trip, and each socket write, costs the server more than most statements do).
 * BEGIN leaves with the transaction's first statement, or with its commit, and the
 * `commitWith` statements with the COMMIT: each group in one socket write (the socket corked
 * while it is queued), without waiting for the answers before it. PostgreSQL runs what it is
 * sent in order: a statement that fails aborts the transaction, every later one fails with it,
 * and the COMMIT of an aborted transaction answers ROLLBACK. BEGIN itself fails only with its
 * connection, and then so does everything sent after it.
 */
class PipelinedTransaction {
  private begun?: Promise<unknown>;
  private readonly steps: (() => Promise<unknown>)[] = [];
  private readonly finals: (() => FinalStatement | undefined)[] = [];
  /** What the work runs its statements on. */
  readonly queryable: Queryable = {
    query: <R,>(sql: string, parameters?: unknown[], options?: { prepare?: boolean }) => this.query<R>(sql, parameters, options),
    beforeCommit: (step) => void this.steps.push(step),
    commitWith: (make) => void this.finals.push(make),
  };

  constructor(private readonly client: pg.PoolClient) {}

  private async query<R>(sql: string, parameters: unknown[] | undefined, options: { prepare?: boolean } | undefined): Promise<R[]> {
    const answer = this.send(() => this.client.query(statement(sql, parameters, options?.prepare)));
    try {
      await this.begun;
    } catch (e) {
      answer.catch(() => undefined);
      throw e;
    }
    return (await answer).rows as R[];
  }

  /**
   * Runs the `beforeCommit` steps, then sends the final statements with the COMMIT and waits
   * for every answer (so none is left unhandled). The first that failed is the cause, thrown
   * as its `failed` maps it: the transaction was rolled back.
   */
  async commit(): Promise<void> {
    for (const step of this.steps) await step();
    const finals = this.finals.map((make) => make()).filter((s): s is FinalStatement => s !== undefined);
    const answers = this.send(() => [...finals.map((s) => this.client.query(statement(s.sql, s.parameters, s.prepare))), this.client.query('COMMIT')]);
    const [began, ...settled] = await Promise.allSettled([this.begun, ...answers]);
    if (began.status === 'rejected') throw began.reason;
    const failed = settled.findIndex((a) => a.status === 'rejected');
    if (failed >= 0) {
      const cause = (settled[failed] as PromiseRejectedResult).reason;
      throw failed < finals.length && finals[failed].failed ? finals[failed].failed(cause) : cause;
    }
    const committed = (settled[settled.length - 1] as PromiseFulfilledResult<pg.QueryResult>).value;
    if (committed.command !== 'COMMIT') throw new Error(`the transaction was not committed (PostgreSQL answered ${committed.command})`);
  }

  /** Queues what `statements` sends, behind BEGIN when it has not gone out yet, all in one socket write. */
  private send<S>(statements: () => S): S {
    // pg corks its socket per statement; corking is counted, so the messages queued here leave when this uncorks.
    const socket = (this.client as unknown as { connection?: { stream?: { cork?(): void; uncork?(): void } } }).connection?.stream;
    socket?.cork?.();
    try {
      if (!this.begun) {
        this.begun = this.client.query('BEGIN');
        // Met by the statement or commit that awaits it: never an unhandled rejection.
        this.begun.catch(() => undefined);
      }
      return statements();
    } finally {
      socket?.uncork?.();
    }
  }
}
