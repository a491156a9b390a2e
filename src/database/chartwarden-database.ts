import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import { createHash } from 'node:crypto';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { MIGRATIONS } from '../../migrations/index.js';
import { AccessGrantEntity } from '../access/entities/access-grant.entity.js';
import { AUDIT_ENTITIES } from '../audit/entities/audit.entities.js';
import { DISPUTE_ENTITIES } from '../disputes/entities/dispute.entities.js';
import { RELEASE_ENTITIES } from '../release/entities/copy-request.entities.js';
import { EditLedgerEntity } from '../governance/entities/edit-ledger.entity.js';
import { AmendmentEntity } from '../governance/entities/amendment.entity.js';
import { TextFingerprintEntity } from '../governance/entities/text-fingerprint.entity.js';
import { FHIR_STORE_ENTITIES } from '../store/postgres/entities/index.js';

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

/** Every entity of every feature; the DataSource and the schema-agreement test use it. */
export const ENTITIES = [...FHIR_STORE_ENTITIES, AccessGrantEntity, ...AUDIT_ENTITIES, EditLedgerEntity, AmendmentEntity, TextFingerprintEntity, ...DISPUTE_ENTITIES, ...RELEASE_ENTITIES];

/**
 * JIT compilation helps long analytical queries; ChartWarden's are short OLTP statements,
 * where compiling a large access filter costs seconds (seen with `$everything`).
 */
const SESSION_OPTIONS = '-c jit=off';

/** Builds (does not connect) the TypeORM DataSource for ChartWarden's tables: migrations and schema checks. */
export function createDataSource(url: string, poolSize = 2): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    entities: ENTITIES,
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
  ) {}

  /**
   * Connects, migrates, and returns the ready database. `statementTimeoutMs` (0: none) bounds
   * every statement of the pool: PostgreSQL cancels one that runs longer (SQLSTATE 57014) and
   * the connection stays usable, so no request holds a connection past it.
   */
  static async connect(url: string, poolSize = 20, statementTimeoutMs = 0): Promise<ChartWardenDatabase> {
    const dataSource = createDataSource(url);
    await dataSource.initialize();
    const runner = dataSource.createQueryRunner();
    try {
      await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      const applied = await dataSource.runMigrations({ transaction: 'all' });
      if (applied.length) ChartWardenDatabase.logger.log(`Applied migrations: ${applied.map((m) => m.name).join(', ')}`);
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
      await runner.release();
    }
    const options = statementTimeoutMs > 0 ? `${SESSION_OPTIONS} -c statement_timeout=${Math.floor(statementTimeoutMs)}` : SESSION_OPTIONS;
    const pool = new pg.Pool({ connectionString: url, max: poolSize, application_name: 'chartwarden', options });
    const db = new ChartWardenDatabase(dataSource, pool);
    // Once closing, a connection the server ends (a drill dropping its scratch database) is expected.
    pool.on('error', (e) => {
      if (!db.closing) ChartWardenDatabase.logger.error(`idle connection error: ${e.message}`);
    });
    return db;
  }

  async query<T = Record<string, unknown>>(sql: string, parameters?: unknown[], options?: { prepare?: boolean }): Promise<T[]> {
    return (await this.pool.query(statement(sql, parameters, options?.prepare))).rows as T[];
  }

  /** Runs `work` in one transaction (READ COMMITTED); commits when it resolves, rolls back when it throws. */
  async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: unknown;
    try {
      await client.query('BEGIN');
      const last: (() => Promise<unknown>)[] = [];
      const result = await work({
        query: async <R>(sql: string, params?: unknown[], options?: { prepare?: boolean }) =>
          (await client.query(statement(sql, params, options?.prepare))).rows as R[],
        beforeCommit: (step) => void last.push(step),
      });
      for (const step of last) await step();
      await client.query('COMMIT');
      return result;
    } catch (e) {
      await client.query('ROLLBACK').catch((rollbackError: unknown) => (broken = rollbackError));
      throw e;
    } finally {
      // A connection whose rollback failed is in an unknown state: destroy it rather than reuse it.
      client.release(broken instanceof Error ? broken : undefined);
    }
  }

  private closing = false;

  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    await this.pool.end().catch(() => undefined);
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}
