import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Composition, Encounter, OperationOutcome, Patient } from '@medplum/fhirtypes';
import type { ConfirmationView } from '../../src/disputes/dto/dispute.view.js';
import { expectOutcome, expectStatus } from '../support/fhir-expect.js';
import { httpRequest, type HttpResult, seedAs } from '../support/http.js';
import { startTestServer, testDatabaseUrl, TestClock, type TestServer } from '../support/test-app.js';

/**
 * `GET /disputes/{id}/confirmations` (issue #18, R-40, R-43, R-44, R-21), over real HTTP and
 * PostgreSQL: the confirmations a case's next step may still use, newest first, seen by whoever
 * sees the case, gone once used or expired, each read in the audit trail.
 */
const run = randomUUID().slice(0, 8);
const DEPT = `cw-dconf-${run}`;
const DR = `Practitioner/dr-dconf-${run}`;
const PATIENT_SIDE = { name: '王小明', relationship: 'spouse', idDocument: { type: 'resident-id-card', number: '110101199001011234' }, confirmed: true };

describe('Disputes: listing a case\'s usable confirmations (e2e, real HTTP + PostgreSQL)', () => {
  const clock = new TestClock();
  let server: TestServer;
  let root: string;
  let db: pg.Client;
  let his: string;
  let attending: string;
  let officer: string;
  let witness: string;
  let medicalAffairs: string;

  const disputes = <T>(token: string, method: string, path: string, body?: unknown): Promise<HttpResult<T>> =>
    httpRequest<T>(`${root}/disputes${path}`, method, { token, body, contentType: 'application/json', headers: { accept: 'application/json' } });
  const listed = (token: string, id: string) => disputes<ConfirmationView[]>(token, 'GET', `/${id}/confirmations`);
  const auditOf = async (res: HttpResult<unknown>) =>
    (await db.query<{ subtype: string; outcome: number; patient: string | null; actor: string; entity_id: string }>(
      'SELECT subtype, outcome, patient, actor, entity_id FROM audit_entry WHERE request_id = $1 ORDER BY seq',
      [res.headers.get('x-request-id')],
    )).rows;

  /** A discharged inpatient with a signed discharge record, and a dispute case opened on it by the officer. */
  const openCase = async (extra: Record<string, unknown> = {}) => {
    const patient = await seedAs<Patient>(server.fhirBase, his, { resourceType: 'Patient', name: [{ text: '王小明', family: '王', given: ['小明'] }] });
    const encounter = await seedAs<Encounter>(server.fhirBase, his, {
      resourceType: 'Encounter',
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
      period: { start: new Date(clock.now().getTime() - 86_400_000).toISOString(), end: clock.now().toISOString() },
      subject: { reference: `Patient/${patient.id}` },
      serviceProvider: { reference: `Organization/${DEPT}` },
      participant: [{ individual: { reference: DR } }],
    });
    await seedAs<Composition>(server.fhirBase, his, {
      resourceType: 'Composition',
      status: 'final',
      type: { coding: [{ system: 'http://loinc.org', code: '18842-5' }] },
      subject: { reference: `Patient/${patient.id}` },
      encounter: { reference: `Encounter/${encounter.id}` },
      date: clock.now().toISOString(),
      author: [{ reference: DR }],
      title: '出院记录',
      section: [{ title: '出院记录', text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">出院记录：患者王小明，病情平稳。</div>' } }],
    });
    const opened = await disputes<{ id: string; status: string }>(officer, 'POST', '', { patient: `Patient/${patient.id}`, reason: '患方对手术结果有异议', scope: { kind: 'whole-record' }, ...extra });
    expectStatus(opened, 201);
    return { id: opened.body.id, patient: patient.id as string, status: opened.body.status };
  };
  const digestOf = async (id: string) => (await disputes<{ digest: string }>(officer, 'GET', `/${id}/inventory`)).body.digest;

  beforeAll(async () => {
    server = await startTestServer({ clock });
    root = server.fhirBase.replace(/\/fhir$/, '');
    db = new pg.Client({ connectionString: testDatabaseUrl() });
    await db.connect();
    his = await server.token();
    attending = await server.token({ sub: `dr-dconf-${run}`, roles: ['attending'], department: DEPT, licence: 'licensed', fhirUser: DR });
    officer = await server.token({ sub: `officer-dconf-${run}`, roles: ['disputes-officer'] });
    witness = await server.token({ sub: `witness-dconf-${run}`, roles: ['medical-affairs'], fhirUser: `Practitioner/witness-dconf-${run}` });
    medicalAffairs = await server.token({ sub: `ma-dconf-${run}`, roles: ['medical-affairs'] });
    expectStatus(await httpRequest(`${server.fhirBase}/Organization/${DEPT}`, 'PUT', { token: his, body: { resourceType: 'Organization', id: DEPT, name: DEPT } }), 201);
  });
  afterAll(async () => {
    await db?.end();
    await server?.close();
  });

  it('R-40/R-21: after the witness confirms, the officer and medical affairs see the confirmation; each read is audited; a seal uses it up', async () => {
    const c = await openCase();
    const empty = await listed(officer, c.id);
    expectStatus(empty, 200);
    expect(empty.body).toEqual([]);

    const digest = await digestOf(c.id);
    const given = await disputes<ConfirmationView>(witness, 'POST', `/${c.id}/confirmations`, { step: 'seal', inventoryDigest: digest });
    expectStatus(given, 201);

    for (const reader of [officer, medicalAffairs]) {
      const res = await listed(reader, c.id);
      expectStatus(res, 200);
      expect(res.body).toEqual([
        {
          id: given.body.id,
          dispute: c.id,
          step: 'seal',
          kind: 'hospital-witness',
          by: { id: `witness-dconf-${run}`, practitioner: `Practitioner/witness-dconf-${run}`, roles: ['medical-affairs'] },
          inventoryDigest: digest,
          confirmedAt: given.body.confirmedAt,
          validUntil: new Date(new Date(given.body.confirmedAt).getTime() + 30 * 60_000).toISOString(),
        },
      ]);
      expect(await auditOf(res)).toEqual([
        expect.objectContaining({ subtype: 'dispute-confirmations', outcome: 0, patient: c.patient, actor: reader === officer ? `officer-dconf-${run}` : `ma-dconf-${run}`, entity_id: c.id }),
      ]);
    }

    // A second confirmation is listed first (newest first).
    clock.advance(60_000);
    const again = await disputes<ConfirmationView>(witness, 'POST', `/${c.id}/confirmations`, { step: 'seal', inventoryDigest: digest });
    expectStatus(again, 201);
    expect((await listed(officer, c.id)).body.map((k) => k.id)).toEqual([again.body.id, given.body.id]);

    // Sealing uses the confirmation: the case now awaits an unseal, and nothing of the seal is listed.
    expectStatus(await disputes(officer, 'POST', `/${c.id}/seal`, { inventoryDigest: digest, patientWitness: PATIENT_SIDE }), 200);
    const afterSeal = await listed(officer, c.id);
    expectStatus(afterSeal, 200);
    expect(afterSeal.body).toEqual([]);
    // Both are still stored: used, not deleted.
    expect((await db.query('SELECT 1 FROM dispute_confirmation WHERE dispute_id = $1', [c.id])).rowCount).toBe(2);

    // Medical affairs' approval of a unilateral unseal is listed for the sealed case, and not after it expires (the policy's 30 minutes).
    const approval = await disputes<ConfirmationView>(medicalAffairs, 'POST', `/${c.id}/confirmations`, { step: 'unseal', basis: 'resolved', reason: '纠纷已调解结案' });
    expectStatus(approval, 201);
    const approvals = await listed(medicalAffairs, c.id);
    expect(approvals.body).toEqual([expect.objectContaining({ id: approval.body.id, step: 'unseal', kind: 'unseal-approval', basis: 'resolved', reason: '纠纷已调解结案' })]);
    clock.advance(31 * 60_000);
    expect((await listed(medicalAffairs, c.id)).body).toEqual([]);
  });

  it('R-44: a clinician gets the same refusal as for the case; a public incident\'s confirmations are for its team alone; an unknown case is 404', async () => {
    const c = await openCase();
    expectStatus(await disputes(witness, 'POST', `/${c.id}/confirmations`, { step: 'seal', inventoryDigest: await digestOf(c.id) }), 201);

    const caseRefusal = await disputes<OperationOutcome>(attending, 'GET', `/${c.id}`);
    const refusal = await disputes<OperationOutcome>(attending, 'GET', `/${c.id}/confirmations`);
    expect(refusal.status).toBe(caseRefusal.status);
    expect(refusal.status).toBe(403);
    expect(refusal.body.resourceType).toBe('OperationOutcome');
    expect(refusal.body.issue?.[0].code).toBe(caseRefusal.body.issue?.[0].code);
    expect(refusal.body.issue?.[0].details?.coding).toEqual(caseRefusal.body.issue?.[0].details?.coding);
    expect(JSON.stringify(refusal.body)).not.toContain('witness-dconf');
    expect(await auditOf(refusal)).toEqual([expect.objectContaining({ subtype: 'dispute-confirmations', outcome: 4 })]);

    // A public-opinion incident (sealed at once, R-44): the officer on its team sees its list; medical affairs outside it is refused as for the case.
    const incident = await openCase({ trigger: 'public-incident', team: [DR] });
    expect(incident.status).toBe('sealed');
    expectStatus(await listed(officer, incident.id), 200);
    const outsider = await listed(medicalAffairs, incident.id);
    const outsiderCase = await disputes<OperationOutcome>(medicalAffairs, 'GET', `/${incident.id}`);
    expectOutcome(outsider, outsiderCase.status, outsiderCase.body.issue?.[0].code as string, 'disputes.forbidden');

    const unknown = randomUUID();
    const missing = expectOutcome(await listed(officer, unknown), 404, 'not-found', 'disputes.not-found');
    expect(missing.issue?.[0].details?.text).toContain(unknown);
  });
});
