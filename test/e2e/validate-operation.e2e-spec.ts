import { randomUUID } from 'node:crypto';
import type { Observation, OperationOutcome, Patient } from '@medplum/fhirtypes';
import type pg from 'pg';
import type { AuditRow } from '../support/database-rows.js';
import { expectOutcome, expectStatus } from '../support/fhir-expect.js';
import { httpRequest, seedAs, type HttpResult } from '../support/http.js';
import { closeAll, connectTestDatabase, startTestServer, type TestServer } from '../support/test-app.js';

/**
 * `$validate` (R4 resource-operation-validate) over real HTTP: the validator every write runs
 * a record is not stored corrupted), answered as an OperationOutcome with status 200;
 * nothing is ever stored. Type level for whoever may create that type, instance level for
 * whoever may update that record; recorded in the audit trail as the operation it is.
 */
const run = randomUUID().slice(0, 8);
const SYS = `urn:chartwarden-e2e:validate:${run}`;

describe('$validate (e2e, real HTTP + PostgreSQL)', () => {
  let server: TestServer;
  let db: pg.Client;
  let his: string;
  let officer: string;
  let patient: string;

  const call = (token: string, path: string, body: unknown) =>
    httpRequest<OperationOutcome>(`${server.fhirBase}/${path}`, 'POST', { token, body, headers: { 'x-request-id': `validate-${randomUUID()}` } });
  const obs = (value: string, extra: Partial<Observation> = {}): Observation => ({
    resourceType: 'Observation',
    status: 'final',
    code: { text: '血压' },
    subject: { reference: `Patient/${patient}` },
    identifier: [{ system: SYS, value }],
    ...extra,
  });
  const stored = async () => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM fhir_resource_version WHERE content::text LIKE '%' || $1 || '%'`, [SYS])).rows[0].n;
  const auditOf = async (res: HttpResult<unknown>) => (await db.query<AuditRow>('SELECT * FROM audit_entry WHERE request_id = $1 ORDER BY chain, seq', [res.headers.get('x-request-id')])).rows;

  beforeAll(async () => {
    server = await startTestServer();
    db = await connectTestDatabase();
    his = await server.token();
    officer = await server.token({ sub: `officer-validate-${run}`, roles: ['disputes-officer'] });
    patient = (await seedAs<Patient>(server.fhirBase, his, { resourceType: 'Patient', name: [{ text: `校验-${run}` }] })).id;
  });
  afterAll(() => closeAll(db, server));

  it('R-17: a valid resource answers "All OK", an invalid one its issues (200 both); nothing is stored; the trail records a validate', async () => {
    const ok = await call(his, 'Observation/$validate', obs('ok'));
    expectStatus(ok, 200);
    expect(ok.body).toEqual({ resourceType: 'OperationOutcome', issue: [expect.objectContaining({ severity: 'information', code: 'informational', diagnostics: 'All OK' })] });
    expect((await auditOf(ok)).map((a) => [a.action, a.subtype, a.outcome, a.entity_type])).toEqual([['E', 'validate', 0, 'Observation']]);

    const bad = await call(his, 'Observation/$validate', obs('bad', { status: 'whatever' as Observation['status'] }));
    expectStatus(bad, 200);
    expect(bad.body.issue).toEqual([expect.objectContaining({ severity: 'error', code: 'code-invalid', expression: ['Observation.status'] })]);

    const wrapped = await call(his, 'Observation/$validate', { resourceType: 'Parameters', parameter: [{ name: 'mode', valueCode: 'create' }, { name: 'resource', resource: obs('bad', { status: 'whatever' as Observation['status'] }) }] });
    expectStatus(wrapped, 200);
    expect(wrapped.body.issue?.[0]).toMatchObject({ code: 'code-invalid' });
    expect(await stored()).toBe(0);
  });

  it('instance level: for whoever may update the record; an unknown record is 404; a body naming another id is 400', async () => {
    const existing = await seedAs(server.fhirBase, his, obs('existing'));
    const res = await call(his, `Observation/${existing.id}/$validate`, { ...existing, status: 'amended' });
    expectStatus(res, 200);
    expect(res.body.issue?.[0].diagnostics).toBe('All OK');
    expectOutcome(await call(his, 'Observation/no-such-record/$validate', obs('x')), 404, 'not-found', 'store.not-found');
    expectOutcome(await call(his, `Observation/${existing.id}/$validate`, { ...obs('x'), id: 'other' }), 400, 'invalid', 'fhir.id-mismatch');
    expect((await db.query('SELECT 1 FROM fhir_resource_version WHERE resource_type = $1 AND id = $2', ['Observation', existing.id])).rowCount).toBe(1);
  });

  it('R-02: a role the policy lets create no Observation is refused (403); the body type must match the URL; delete mode is refused', async () => {
    const refused = await call(officer, 'Observation/$validate', obs('officer'));
    expectOutcome(refused, 403, 'forbidden', 'access.forbidden');
    expect((await auditOf(refused)).map((a) => [a.subtype, a.outcome])).toEqual([['validate', 4]]);
    expectOutcome(await call(his, 'Observation/$validate', { resourceType: 'Patient' }), 400, 'invalid', 'fhir.resource-type-mismatch');
    expectOutcome(await call(his, 'Observation/$validate', { resourceType: 'Parameters', parameter: [{ name: 'mode', valueCode: 'delete' }, { name: 'resource', resource: obs('d') }] }), 400, 'invalid', 'fhir.invalid-request');
    expect(await stored()).toBe(1);
  });
});
