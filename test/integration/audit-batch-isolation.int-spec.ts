import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { AuditLog } from '../../src/audit/audit-log.js';
import { verifyAuditChains } from '../../src/audit/audit-verifier.js';
import type { AuditEntry, AuditOutcome } from '../../src/audit/domain/audit-entry.js';
import { AUDIT_DEFAULTS } from '../../src/config/chartwarden.options.js';
import { ChartWardenDatabase } from '../../src/database/chartwarden-database.js';
import { testDatabaseUrl } from '../support/test-app.js';

/**
 * at the writer: one bad entry never fails its batch-mates in a group commit.
 * - An entry holding a NUL or a lone surrogate (anywhere: id, patient, path, user agent) is
 *   stored, escaped as the 6 characters `\u0000`, in the same commit as the others.
 * - An entry the database refuses even so (here: a time that is not a time) fails alone:
 *   the batch is retried request by request, and every other caller's entries are committed.
 * The chains verify afterwards.
 */
describe('audit group commit: a bad entry fails alone (integration)', () => {
  let db: ChartWardenDatabase;
  let log: AuditLog;
  /** Entries per statement the log sent, in order (the `request_id` array's length). */
  let statements: number[] = [];
  const started = new Date(Date.now() - 1000);
  const run = randomUUID();

  const entry = (i: number, patch: Partial<AuditEntry> = {}): AuditEntry => ({
    recorded: new Date().toISOString(),
    requestId: `isolation-${run}-${i}`,
    action: 'R',
    subtype: 'read',
    outcome: 0,
    status: 200,
    agent: { id: `dr-${i}`, roles: ['attending'], ip: '10.0.0.9' },
    entity: { type: 'Patient', id: `p-${i}` },
    patient: `p-${i}`,
    method: 'GET',
    path: `/fhir/Patient/p-${i}`,
    ...patch,
  });
  const stored = async (requestId: string) =>
    db.query<{ entity_id: string | null; patient: string | null; content: string }>(
      'SELECT entity_id, patient, content FROM audit_entry WHERE request_id = $1',
      [requestId],
    );

  /** An AuditLog (one chain, one lane: every append joins one queue) on `database`, counting the entries of each statement it sends. */
  const countingLog = (database: ChartWardenDatabase) => {
    const sent: number[] = [];
    const counting = new Proxy(database, {
      get(target, prop, receiver) {
        if (prop !== 'query') return Reflect.get(target, prop, receiver) as unknown;
        return (text: string, params?: unknown[], options?: unknown) => {
          if (Array.isArray(params?.[2])) sent.push(params[2].length);
          return (target.query as (t: string, p?: unknown[], o?: unknown) => Promise<unknown>).call(target, text, params, options);
        };
      },
    });
    return { log: new AuditLog(counting, 1, AUDIT_DEFAULTS.maxBatch, 1), sent };
  };

  beforeAll(async () => {
    db = await ChartWardenDatabase.connect(testDatabaseUrl(), 3);
    ({ log, sent: statements } = countingLog(db));
    await log.onModuleInit();
  });
  afterAll(async () => {
    await db?.onApplicationShutdown();
  });

  it('R-20/R-51: entries holding a NUL or a lone surrogate commit with their batch-mates, escaped', async () => {
    statements.length = 0;
    const warmUp = log.append([entry(0)]);
    // Queued while the first statement is in flight: one group commit for all of them.
    const bad = entry(1, {
      entity: { type: 'Patient', id: 'x\u0000' },
      patient: 'p\ud800',
      path: '/fhir/Patient/x%00',
      agent: { roles: [], userAgent: 'curl\u0000/8' },
    });
    const mates = [entry(2), entry(3), entry(4)];
    const results = await Promise.allSettled([warmUp, log.append([bad]), ...mates.map((e) => log.append([e]))]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
    expect(statements).toEqual([1, 4]);
    const [row] = await stored(bad.requestId);
    expect(row).toMatchObject({ entity_id: 'x\\u0000', patient: 'p\\ud800' });
    const content = JSON.parse(row.content) as AuditEntry;
    expect(content.entity?.id).toBe('x\\u0000');
    expect(content.agent.userAgent).toBe('curl\\u0000/8');
    expect(row.content).not.toContain('\u0000');
    for (const m of mates) expect(await stored(m.requestId)).toHaveLength(1);
  });

  it('R-20/R-51: an entry the database refuses fails alone; every other caller in its group commit is recorded', async () => {
    statements.length = 0;
    const warmUp = log.append([entry(10)]);
    const refused = entry(11, { recorded: 'not a time' });
    const tooBig = entry(12, { outcome: 70000 as AuditOutcome });
    const mates = [entry(13), entry(14), [entry(15), entry(16)]];
    const results = await Promise.allSettled([
      warmUp,
      log.append([refused]),
      ...mates.map((m) => log.append(Array.isArray(m) ? m : [m])),
      log.append([tooBig]),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
    // The group commit (6 entries) failed as one statement, then each request was tried alone.
    expect(statements).toEqual([1, 6, 1, 1, 1, 2, 1]);
    expect(await stored(refused.requestId)).toHaveLength(0);
    expect(await stored(tooBig.requestId)).toHaveLength(0);
    for (const id of [13, 14, 15, 16]) expect(await stored(entry(id).requestId)).toHaveLength(1);
    expect((await verifyAuditChains(testDatabaseUrl(), { since: started })).broken).toBeUndefined();
  });

  it('R-51: a failure that is not about the data (the database gone) fails the batch as one, without retrying each request', async () => {
    const closed = await ChartWardenDatabase.connect(testDatabaseUrl(), 1);
    await closed.onApplicationShutdown();
    const { log: dead, sent } = countingLog(closed);
    const results = await Promise.allSettled([dead.append([entry(20)]), dead.append([entry(21)]), dead.append([entry(22)])]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(sent).toEqual([1, 2]);
  });
});
