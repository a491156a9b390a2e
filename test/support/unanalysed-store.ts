import { SystemClock } from '../../src/common/clock.js';
import { ChartWardenDatabase } from '../../src/database/chartwarden-database.js';
import { AccessPolicyService } from '../../src/policy/access-policy.service.js';
import { ActiveAccessSource, type ActiveAccess } from '../../src/policy/active-access.port.js';
import { LoadedPolicy } from '../../src/policy/loaded-policy.js';
import { defaultPolicyPath, loadPolicy } from '../../src/policy/policy.loader.js';
import { loadR4Definitions } from '../../src/store/fhir-definitions.js';
import { PatientCompartment } from '../../src/store/patient-compartment.js';
import { PostgresFhirStore } from '../../src/store/postgres/postgres-fhir.store.js';
import { atInstant, type Sql } from '../../src/store/postgres/search-sql.js';
import type { SearchParameterRegistry } from '../../src/store/search/search-parameter.registry.js';
import { parseSearchRequest, type SearchRequest } from '../../src/store/search/search-request.js';
import type { Resource } from '@medplum/fhirtypes';
import pg from 'pg';
import { sql, urlOf } from './database-admin.js';
import { dropThrowawayDatabase } from './throwaway-database.js';

/*
 * The scaffolding of the search plan tests (issue #13): a store on a database of its own whose
 * store tables autovacuum never analyses, so a plan is the one a fresh hospital's database gets
 * until the test runs ANALYZE itself (`analyse`); the default policy's decisions with no grant
 * held; and the nodes of an `EXPLAIN (ANALYZE, FORMAT JSON)`.
 */

/** The store's tables the plan tests read. */
const STORE_TABLES = ['fhir_resource', 'fhir_search_token', 'fhir_search_reference', 'fhir_search_date'];

/** Nobody holds a grant or a break-the-glass. */
class NoHeldAccess extends ActiveAccessSource {
  activeFor(): Promise<ActiveAccess> {
    return Promise.resolve({ grants: [], breakGlass: [] });
  }
}

/** The default policy's decisions, with no grant held. */
export function defaultPolicyService(): AccessPolicyService {
  return new AccessPolicyService(new LoadedPolicy(loadPolicy(defaultPolicyPath(), loadR4Definitions())), new NoHeldAccess(), new SystemClock());
}

/** One node of `EXPLAIN (ANALYZE, FORMAT JSON)`. */
export interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Actual Loops': number;
  'Actual Rows': number;
  Plans?: PlanNode[];
}

export interface UnanalysedStore {
  db: ChartWardenDatabase;
  store: PostgresFhirStore;
  /** Creates `resource` and returns it as stored. */
  put<T extends Resource>(resource: T): Promise<T & { id: string }>;
  /** An Observation search as a client writes its query string (pages up to 1,000). */
  observations(query: string): SearchRequest;
  /** ANALYZE the store's tables. */
  analyse(): Promise<void>;
  /** Every node of the plan `statement` runs with now. */
  plan(statement: Sql): Promise<PlanNode[]>;
  /**
   * Every node of the plan PostgreSQL keeps for `statement` (its generic plan, made without the
   * values, as from a connection's sixth execution on), run with now. PostgreSQL 15 has no
   * `EXPLAIN (GENERIC_PLAN)`: the statement is prepared in a transaction under
   * `plan_cache_mode = force_generic_plan` and explained with its values as literals.
   */
  keptPlan(statement: Sql): Promise<PlanNode[]>;
  close(): Promise<void>;
}

/** Creates the database `chartwarden_<name>_…`, migrated, with autovacuum off on the store's tables. */
export async function openUnanalysedStore(name: string, registry: SearchParameterRegistry): Promise<UnanalysedStore> {
  const database = `chartwarden_${name}_${Date.now()}_${process.pid}`;
  await sql(urlOf(), `CREATE DATABASE "${database}"`);
  const db = await ChartWardenDatabase.connect(urlOf(database), 4);
  for (const table of STORE_TABLES) await db.query(`ALTER TABLE ${table} SET (autovacuum_enabled = false)`);
  const nodesOf = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodesOf)];
  const store = new PostgresFhirStore(db, registry, PatientCompartment.fromProfiles(), new SystemClock());
  return {
    db,
    store,
    put: async <T extends Resource>(resource: T) => (await store.create(resource)).resource as T & { id: string },
    observations: (query) => parseSearchRequest('Observation', [...new URLSearchParams(query).entries()], registry, { defaultCount: 20, maxCount: 1000, lenient: false }),
    analyse: async () => {
      for (const table of STORE_TABLES) await db.query(`ANALYZE ${table}`);
    },
    plan: async (statement) => {
      const rows = await db.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${statement.text}`, atInstant(statement.params, new Date()));
      return nodesOf(rows[0]['QUERY PLAN'][0].Plan);
    },
    keptPlan: (statement) =>
      db.transaction(async (tx) => {
        await tx.query('SET LOCAL plan_cache_mode = force_generic_plan');
        await tx.query(`PREPARE kept_plan AS ${statement.text}`);
        const values = atInstant(statement.params, new Date()).map(literal).join(', ');
        const rows = await tx.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(`EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE kept_plan(${values})`);
        await tx.query('DEALLOCATE kept_plan');
        return nodesOf(rows[0]['QUERY PLAN'][0].Plan);
      }),
    close: async () => {
      await db.onApplicationShutdown();
      await dropThrowawayDatabase(urlOf(), database);
    },
  };
}

/** A bound value as an SQL literal for `EXECUTE` (which takes no parameters): text, a number, an instant, or a list of text. */
function literal(value: unknown): string {
  if (Array.isArray(value)) return `ARRAY[${value.map((v) => pg.escapeLiteral(String(v))).join(', ')}]::text[]`;
  if (value instanceof Date) return pg.escapeLiteral(value.toISOString());
  if (value === null) return 'NULL';
  return pg.escapeLiteral(String(value));
}
