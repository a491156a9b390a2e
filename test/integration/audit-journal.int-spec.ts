import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import type { Observation } from '@medplum/fhirtypes';
import { AuditLog } from '../../src/audit/audit-log.js';
import { AuditWriteJournal } from '../../src/audit/audit-write-journal.js';
import { RequestAudit } from '../../src/audit/request-audit.js';
import { SystemClock } from '../../src/common/clock.js';
import { AUDIT_DEFAULTS } from '../../src/config/chartwarden.options.js';
import { ChartWardenDatabase } from '../../src/database/chartwarden-database.js';
import type { FhirContext } from '../../src/fhir/fhir-request.js';
import { testDatabaseUrl } from '../support/test-app.js';
import { UnitOfWork } from '../../src/database/unit-of-work.js';

/**
 * R-51 and decision 0008: the entries of a transaction's writes (a Bundle's entries, a seal, a
 * copy) commit with it, appended together as its last statement, so that no audit chain head
 * is held while the transaction still waits for record locks; a rolled-back transaction
 * leaves none of them.
 */
describe('audit write journal: entries appended last in their transaction', () => {
  let db: ChartWardenDatabase;
  let journal: AuditWriteJournal;

  const ctxFor = (requestId: string): FhirContext =>
    ({
      actor: { id: 'his-journal', practitioner: 'Practitioner/his-journal', roles: ['his-system'], scopes: [] },
      baseUrl: 'http://localhost/fhir',
      audit: new RequestAudit(requestId, 'POST', '/fhir', '', '127.0.0.1', 'jest', { action: 'E', subtype: 'transaction', entity: { type: 'Bundle' } }),
    }) as unknown as FhirContext;
  const observation = (id: string): Observation => ({ resourceType: 'Observation', id, status: 'final', code: { text: 'x' }, meta: { versionId: '1' } });
  const countOf = async (q: { query: ChartWardenDatabase['query'] }, requestId: string) =>
    (await q.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_entry WHERE request_id = $1', [requestId]))[0].n;

  beforeAll(async () => {
    db = await ChartWardenDatabase.connect(testDatabaseUrl(), 3);
    const log = new AuditLog(db, AUDIT_DEFAULTS.chains, AUDIT_DEFAULTS.maxBatch);
    await log.onModuleInit();
    journal = new AuditWriteJournal(log, new SystemClock());
  });
  afterAll(async () => {
    await db?.onApplicationShutdown();
  });

  it('R-51: two writes in one transaction: no entry while the work runs, both once it commits', async () => {
    const requestId = `journal-${randomUUID()}`;
    const ctx = ctxFor(requestId);
    await db.transaction(async (tx) => {
      await journal.record(ctx, { resource: observation(`o1-${requestId}`), created: true, patient: 'p-journal' }, UnitOfWork.over(tx));
      await journal.record(ctx, { resource: observation(`o2-${requestId}`), created: true, patient: 'p-journal' }, UnitOfWork.over(tx));
      // Not yet appended: nothing of this transaction holds a chain head while it works.
      expect(await countOf(tx, requestId)).toBe(0);
    });
    expect(await countOf(db, requestId)).toBe(2);
    expect(ctx.audit?.journaled).toHaveLength(2);
  });

  it('R-51: a transaction that rolls back leaves none of its entries', async () => {
    const requestId = `journal-${randomUUID()}`;
    await expect(
      db.transaction(async (tx) => {
        await journal.record(ctxFor(requestId), { resource: observation(`o3-${requestId}`), created: true, patient: 'p-journal' }, UnitOfWork.over(tx));
        throw new Error('refused later in the transaction');
      }),
    ).rejects.toThrow('refused later');
    expect(await countOf(db, requestId)).toBe(0);
  });
});
