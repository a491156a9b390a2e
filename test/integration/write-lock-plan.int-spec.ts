import 'reflect-metadata';
import type { Encounter } from '@medplum/fhirtypes';
import pg from 'pg';
import { LOCK_ENCOUNTER, LOCK_ENCOUNTERS } from '../../src/store/postgres/write-scope.js';
import { SearchParameterRegistry } from '../../src/store/search/search-parameter.registry.js';
import { urlOf } from '../support/database-admin.js';
import { openUnanalysedStore, type PlanNode, type UnanalysedStore } from '../support/unanalysed-store.js';

/*
 * Issue #13, R-41: a create locks its encounters `FOR KEY SHARE`, so that a seal inventorying the
 * visit waits for the write or the write for the seal. The statement is prepared once per
 * connection, and PostgreSQL keeps the plan it makes on the connection's first executions. As
 * `id = ANY($1)`, the plan made while the table was small read every Encounter with the ids as a
 * filter, and every later create ran it: 15–130 ms a lock once the hospital held 10,000 visits,
 * until autovacuum analysed the table. These tests make the plans on a small table, grow it, and
 * check that a lock still reads only the visits it locks, and locks them.
 */

const registry = SearchParameterRegistry.fromProfiles();

/** Executions of a prepared statement before PostgreSQL may keep a generic plan (it makes 5 custom ones first), and a few more. */
const EXECUTIONS = 8;

/** Visits added after the plans were made: enough that reading them all would show. */
const LATER_VISITS = 300;

describe('A create\'s lock of its visits reads only those visits, whatever the table held when the plan was made (issue #13, R-41)', () => {
  let opened: UnanalysedStore;
  let client: pg.Client;
  let other: pg.Client;

  beforeAll(async () => {
    opened = await openUnanalysedStore('write_lock_plan', registry);
    const database = (await opened.db.query<{ name: string }>('SELECT current_database() AS name'))[0].name;
    client = new pg.Client({ connectionString: urlOf(database) });
    other = new pg.Client({ connectionString: urlOf(database) });
    await client.connect();
    await other.connect();
  });
  afterAll(async () => {
    await client?.end();
    await other?.end();
    await opened?.close();
  });

  const visit = () => opened.put<Encounter>({ resourceType: 'Encounter', status: 'in-progress', class: { code: 'IMP' } });

  /** The nodes of the kept plan of prepared statement `name`, run with `values` (inlined: EXPLAIN takes no parameters). */
  async function keptPlan(name: string, values: string): Promise<PlanNode[]> {
    const { rows } = await client.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(`EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE ${name}(${values})`);
    const nodesOf = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodesOf)];
    return nodesOf(rows[0]['QUERY PLAN'][0].Plan);
  }

  /** The most rows any read of `fhir_resource` (its heap or an index) gave in one loop, kept or filtered out. */
  const mostRead = (nodes: (PlanNode & { 'Relation Name'?: string; 'Rows Removed by Filter'?: number })[]) =>
    Math.max(...nodes.filter((n) => n['Relation Name'] === 'fhir_resource' || n['Index Name'] !== undefined).map((n) => n['Actual Rows'] + (n['Rows Removed by Filter'] ?? 0)));

  /** Whether another transaction is refused the visit `FOR UPDATE` at once (a seal's lock): the lock is held. */
  async function held(id: string): Promise<boolean> {
    try {
      await other.query(`SELECT 1 FROM fhir_resource WHERE resource_type = 'Encounter' AND id = $1 FOR UPDATE NOWAIT`, [id]);
      return false;
    } catch (e) {
      if ((e as { code?: string }).code === '55P03') return true;
      throw e;
    }
  }

  it('locks one visit by its whole key, and several in id order, after the table grew past the plan\'s', async () => {
    const early = [await visit(), await visit()];
    const [low, high] = early.map((e) => e.id).sort();
    // The plans are made while the table holds a few rows, as a new hospital's first writes make them.
    for (let i = 0; i < EXECUTIONS; i++) {
      await client.query('BEGIN');
      await client.query({ name: 'lock_one', text: LOCK_ENCOUNTER, values: [low] });
      await client.query({ name: 'lock_many', text: LOCK_ENCOUNTERS, values: [[high, low]] });
      await client.query('ROLLBACK');
    }
    for (let n = 0; n < LATER_VISITS; n += 25) await Promise.all(Array.from({ length: 25 }, visit));

    const one = await keptPlan('lock_one', pg.escapeLiteral(low));
    const many = await keptPlan('lock_many', `ARRAY[${pg.escapeLiteral(high)}, ${pg.escapeLiteral(low)}]`);
    // Each scan reads the one visit it looks up (per loop), never the 302 of the table.
    expect({ one: mostRead(one), many: mostRead(many) }).toEqual({ one: 1, many: 1 });

    // The statements do their work: the visits named, in id order, held against a seal's lock until the transaction ends.
    await client.query('BEGIN');
    const locked = await client.query<{ id: string }>({ name: 'lock_many', text: LOCK_ENCOUNTERS, values: [[high, low, 'no-such-visit']] });
    expect({ locked: locked.rows.map((r) => r.id), low: await held(low), high: await held(high) }).toEqual({ locked: [low, high], low: true, high: true });
    await client.query('ROLLBACK');
    await client.query('BEGIN');
    const single = await client.query<{ id: string }>({ name: 'lock_one', text: LOCK_ENCOUNTER, values: [high] });
    expect({ locked: single.rows.map((r) => r.id), low: await held(low), high: await held(high) }).toEqual({ locked: [high], low: false, high: true });
    await client.query('ROLLBACK');
  }, 120_000);
});
