import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { MIGRATIONS } from '../../migrations/index.js';
import { AccessGrantEntity } from '../access/entities/access-grant.entity.js';
import { FHIR_STORE_ENTITIES } from '../store/postgres/entities/index.js';

/** Any object that can run a parameterized SQL statement: the pool or one transaction. */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, parameters?: unknown[]): Promise<T[]>;
}

/** Every entity of every feature; the DataSource and the schema-agreement test use it. */
export const ENTITIES = [...FHIR_STORE_ENTITIES, AccessGrantEntity];

/** Builds (does not connect) the TypeORM DataSource for ChartWarden's tables. */
export function createDataSource(url: string, poolSize = 20): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'chartwarden_migrations',
    synchronize: false,
    logging: false,
    extra: { max: poolSize, application_name: 'chartwarden' },
  });
}

/** Advisory-lock key serialising migrations when several instances start together. */
const MIGRATION_LOCK = 0x43574d47; // 'CWMG'

/**
 * ChartWarden's connection to PostgreSQL: the one object features use to run SQL and open
 * transactions. Connects and applies pending migrations (under an advisory lock, so N
 * instances starting at once do not race) before the application serves anything.
 */
export class ChartWardenDatabase implements OnApplicationShutdown, Queryable {
  private static readonly logger = new Logger('Database');

  private constructor(readonly dataSource: DataSource) {}

  /** Connects, migrates, and returns the ready database. */
  static async connect(url: string, poolSize?: number): Promise<ChartWardenDatabase> {
    const dataSource = createDataSource(url, poolSize);
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
    return new ChartWardenDatabase(dataSource);
  }

  query<T = Record<string, unknown>>(sql: string, parameters?: unknown[]): Promise<T[]> {
    return this.dataSource.query(sql, parameters);
  }

  /** Runs `work` in one transaction (READ COMMITTED); commits when it resolves, rolls back when it throws. */
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.dataSource.transaction((manager: EntityManager) => work({ query: (sql, params) => manager.query(sql, params) }));
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}
