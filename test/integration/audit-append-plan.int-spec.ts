import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { AuditLog } from '../../src/audit/audit-log.js';
import { verifyAuditChains } from '../../src/audit/audit-verifier.js';
import type { AuditEntry } from '../../src/audit/domain/audit-entry.js';
import { AUDIT_DEFAULTS } from '../../src/config/chartwarden.options.js';
import { ChartWardenDatabase } from '../../src/database/chartwarden-database.js';
import { sql, urlOf } from '../support/database-admin.js';
import { dropThrowawayDatabase } from '../support/throwaway-database.js';

/*
 * Issue #13: the audit trail's append runs on every create, in its transaction, and
 * on every group commit of reads. It is prepared once per connection; PostgreSQL planned it again
 * on every execution (0.3–1.4 ms each) because a kept plan costed its bound arrays at 10 rows.
 * Here, on one connection to a fresh database whose audit tables autovacuum never analyses (a
 * new hospital's, the bench's), single entries are appended one after another, as creates do:
 * the plan must be kept, and the entries must chain as before.
 */
/** Commits before the measured appends. */
const SEEDED = 3000;

describe('the audit append keeps its plan (issue #13)', () => {
  let db: ChartWardenDatabase;
  let log: AuditLog;
  const run = randomUUID();
  const database = `chartwarden_append_plan_${Date.now()}_${process.pid}`;

  const entry = (i: number): AuditEntry => ({
    recorded: new Date().toISOString(),
    requestId: `append-plan-${run}-${i}`,
    action: 'C',
    subtype: 'create',
    outcome: 0,
    status: 201,
    agent: { id: 'his-test', roles: ['his-system'] },
    entity: { type: 'Observation', id: `o-${i}` },
    patient: `p-${i}`,
    method: 'POST',
    path: '/fhir/Observation',
  });

  beforeAll(async () => {
    await sql(urlOf(), `CREATE DATABASE "${database}"`);
    // One connection: every append, and the question about its plans, on the same session.
    db = await ChartWardenDatabase.connect(urlOf(database), 1);
    for (const table of ['audit_entry', 'audit_chain']) await db.query(`ALTER TABLE ${table} SET (autovacuum_enabled = false)`);
    log = new AuditLog(db, AUDIT_DEFAULTS.chains, AUDIT_DEFAULTS.maxBatch, 1);
    await log.onModuleInit();
  });
  afterAll(async () => {
    await db?.onApplicationShutdown();
    await dropThrowawayDatabase(urlOf(), database);
  });

  it('R-20/R-21: single entries appended one by one reuse one plan, and every entry is stored and chained', async () => {
    // A trail some hours into a day: each commit moved its chain's head, and until autovacuum comes
    // by the heads' table grows with each move (what an unanalysed plan is costed by). Written on a
    // connection of its own: the appends below start with no plan prepared.
    // A reader's open snapshot (a long report, a backup) keeps every old version of the heads.
    const reader = new pg.Client({ connectionString: urlOf(database) });
    await reader.connect();
    await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await reader.query('SELECT count(*) FROM audit_chain');
    const seeding = await ChartWardenDatabase.connect(urlOf(database), 1);
    const day = new AuditLog(seeding, AUDIT_DEFAULTS.chains, AUDIT_DEFAULTS.maxBatch, 1);
    for (let n = 0; n < SEEDED; n++) await day.append([{ ...entry(100 + n), requestId: `append-plan-${run}-day-${n}` }]);
    await seeding.onApplicationShutdown();
    await reader.query('COMMIT');
    await reader.end();
    for (let i = 0; i < 8; i++) await log.append([entry(i)]);
    const plans = await db.query<{ generic: string; custom: string }>(
      `SELECT generic_plans AS generic, custom_plans AS custom FROM pg_prepared_statements WHERE statement LIKE '%INSERT INTO audit_entry%'`,
    );
    expect(plans).toHaveLength(1);
    // PostgreSQL makes 5 plans for the values first, then keeps one if it costs no more: 3 executions ran on it.
    expect({ generic: Number(plans[0].generic), custom: Number(plans[0].custom) }).toEqual({ generic: 3, custom: 5 });
    const stored = await db.query<{ request_id: string; seq: string }>(
      'SELECT request_id, seq FROM audit_entry WHERE request_id LIKE $1 ORDER BY request_id',
      [`append-plan-${run}-_`],
    );
    expect(stored.map((r) => r.request_id)).toEqual(Array.from({ length: 8 }, (_, i) => `append-plan-${run}-${i}`));
    const verified = await verifyAuditChains(urlOf(database));
    expect({ entries: verified.entries, broken: verified.broken }).toEqual({ entries: SEEDED + 8, broken: undefined });
  }, 60_000);
});
