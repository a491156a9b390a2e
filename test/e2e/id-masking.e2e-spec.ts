import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { parse } from 'yaml';
import type { Composition, Encounter, Patient, Resource } from '@medplum/fhirtypes';
import type { CopyRequestView } from '../../src/release/dto/copy-request.view.js';
import type { DisputeView } from '../../src/disputes/dto/dispute.view.js';
import { expectStatus } from '../support/fhir-expect.js';
import { httpRequest, seedAs } from '../support/http.js';
import { closeAll, connectTestDatabase, startTestServer, type TestServer } from '../support/test-app.js';

/**
 * Issue #18: identity-document numbers in workflow JSON. The roles that check or record them
 * (policy `settings.idNumbersVisibleTo`: the record room, the disputes office) read them whole;
 * every other role that may read the workflow (medical affairs, the auditor, here let `list`
 * copy requests by the policy) reads them masked as the papers print them (`****` and the last
 * four). Lists mask as single reads do; the stored rows keep the whole number. Over real HTTP
 * and PostgreSQL.
 */
const run = randomUUID().slice(0, 8);
const DEPT = `cw-idm-${run}`;
const DR = `Practitioner/dr-idm-${run}`;
const REQUESTER_ID = '110101198801015678';
const WITNESS_ID = '110101199001011234';
const PATIENT_SIDE = { name: '王小明', relationship: 'spouse', idDocument: { type: 'resident-id-card', number: WITNESS_ID }, confirmed: true };
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082', 'hex');

type Policy = { settings: Record<string, unknown>; roles: Record<string, { rules: Record<string, unknown>[] }> };

/** The shipped policy, with medical affairs and the auditor also reading copy requests, and `idNumbersVisibleTo` as given (absent: the shipped one). */
function policyWith(idNumbersVisibleTo?: string[]): Record<string, unknown> {
  const policy = parse(readFileSync(fileURLToPath(new URL('../../policy/default.policy.yaml', import.meta.url)), 'utf8')) as Policy;
  policy.roles['medical-affairs'].rules.push({ id: 'medical-affairs.copy-requests', allow: ['list'], on: ['CopyRequest'], rule: 'R-34' });
  policy.roles.auditor.rules.push({ id: 'auditor.copy-requests', allow: ['list'], on: ['CopyRequest'], rule: 'R-34' });
  if (idNumbersVisibleTo) policy.settings.idNumbersVisibleTo = idNumbersVisibleTo;
  return policy as unknown as Record<string, unknown>;
}

describe('ID numbers in workflow JSON, whole for the roles that need them, masked for the others (issue #18, e2e)', () => {
  let server: TestServer;
  let db: pg.Client;
  let his: string;
  let clerk: string;
  let approver: string;
  let officer: string;
  let medicalAffairs: string;
  let auditor: string;

  const call = <T>(s: TestServer, token: string, method: string, path: string, body?: unknown) =>
    httpRequest<T>(`${s.root}${path}`, method, { token, body, contentType: 'application/json', headers: { accept: 'application/json' } });
  const copies = <T = CopyRequestView>(token: string, method: string, path: string, body?: unknown) => call<T>(server, token, method, `/copy-requests${path}`, body);
  const disputes = <T = DisputeView>(token: string, method: string, path: string, body?: unknown) => call<T>(server, token, method, `/disputes${path}`, body);
  const seed = <T extends Resource>(resource: T) => seedAs(server.fhirBase, his, resource);

  /** A discharged patient with a signed discharge record: something to copy and to seal. */
  const record = async () => {
    const patient = await seed<Patient>({ resourceType: 'Patient', name: [{ text: '王小明' }], gender: 'male' });
    const encounter = await seed<Encounter>({
      resourceType: 'Encounter',
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
      subject: { reference: `Patient/${patient.id}` },
      period: { start: new Date(Date.now() - 3 * 86_400_000).toISOString(), end: new Date().toISOString() },
      serviceProvider: { reference: `Organization/${DEPT}` },
      participant: [{ individual: { reference: DR } }],
    });
    await seed<Composition>({
      resourceType: 'Composition',
      status: 'final',
      type: { coding: [{ system: 'http://loinc.org', code: '18842-5' }] },
      subject: { reference: `Patient/${patient.id}` },
      encounter: { reference: `Encounter/${encounter.id}` },
      date: new Date().toISOString(),
      author: [{ reference: DR }],
      attester: [{ mode: 'legal', time: new Date().toISOString(), party: { reference: DR } }],
      title: '出院记录',
      section: [{ title: '出院记录', text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">出院记录：病情平稳。</div>' } }],
    });
    return patient.id;
  };

  /** A copy request received, checked, approved, produced and delivered to the requester, who shows the same ID again. */
  const deliveredRequest = async (patient: string): Promise<string> => {
    const created = await copies(clerk, 'POST', '', { patient: `Patient/${patient}`, requesterType: 'patient', requester: { name: '王小明', idNumber: REQUESTER_ID }, purpose: '医保报销', scope: { all: true } });
    expectStatus(created, 201);
    const { id } = created.body;
    const upload = await fetch(`${server.root}/copy-requests/${id}/evidence?proves=id-card`, { method: 'POST', headers: { authorization: `Bearer ${clerk}`, 'content-type': 'image/png' }, body: PNG });
    expect(upload.status).toBe(201);
    expectStatus(await copies(clerk, 'POST', `/${id}/verify`, { identityChecked: true }), 200);
    expectStatus(await copies(approver, 'POST', `/${id}/approve`, {}), 200);
    expectStatus(await copies(clerk, 'POST', `/${id}/produce`), 201);
    const delivered = await copies(clerk, 'POST', `/${id}/deliver`, { recipient: { name: '王小明', idNumber: REQUESTER_ID }, identityChecked: true, requesterChecked: true });
    expectStatus(delivered, 200);
    // The clerk who handed it out reads both numbers whole in the answer.
    expect(delivered.body.requester.idNumber).toBe(REQUESTER_ID);
    expect(delivered.body.events.find((e) => e.step === 'delivered')?.to).toEqual({ name: '王小明', idNumber: REQUESTER_ID });
    return id;
  };

  /** Shown, confirmed by medical affairs as the hospital side's witness, sealed by the officer with the patient side present. */
  const sealedCase = async (patient: string): Promise<DisputeView> => {
    const opened = await disputes(officer, 'POST', '', { patient: `Patient/${patient}`, reason: '患方对诊疗有异议', scope: { kind: 'whole-record' } });
    expectStatus(opened, 201);
    const { digest } = (await disputes<{ digest: string }>(officer, 'GET', `/${opened.body.id}/inventory`)).body;
    expectStatus(await disputes(medicalAffairs, 'POST', `/${opened.body.id}/confirmations`, { step: 'seal', inventoryDigest: digest }), 201);
    const sealed = await disputes(officer, 'POST', `/${opened.body.id}/seal`, { inventoryDigest: digest, patientWitness: PATIENT_SIDE });
    expectStatus(sealed, 200);
    return sealed.body;
  };

  beforeAll(async () => {
    server = await startTestServer({ policy: policyWith() });
    db = await connectTestDatabase();
    his = await server.token();
    clerk = await server.token({ sub: `rr-idm-${run}`, roles: ['record-room'] });
    approver = await server.token({ sub: `rr-idm-approver-${run}`, roles: ['record-room'] });
    officer = await server.token({ sub: `officer-idm-${run}`, roles: ['disputes-officer'], fhirUser: `Practitioner/officer-idm-${run}` });
    medicalAffairs = await server.token({ sub: `ma-idm-${run}`, roles: ['medical-affairs'], fhirUser: `Practitioner/ma-idm-${run}` });
    auditor = await server.token({ sub: `auditor-idm-${run}`, roles: ['auditor'] });
    expectStatus(await httpRequest(`${server.fhirBase}/Organization/${DEPT}`, 'PUT', { token: his, body: { resourceType: 'Organization', id: DEPT, name: DEPT } }), 201);
  });
  afterAll(() => closeAll(db, server));

  it('R-30, R-34: the record room reads the requester\'s and the recipient\'s ID numbers whole; medical affairs and the auditor read them masked; the row keeps them whole', async () => {
    const patient = await record();
    const id = await deliveredRequest(patient);
    const numbers = (view: CopyRequestView) => ({ requester: view.requester.idNumber, recipient: (view.events.find((e) => e.step === 'delivered')?.to as { idNumber: string }).idNumber });

    const byClerk = await copies(clerk, 'GET', `/${id}`);
    expectStatus(byClerk, 200);
    expect(numbers(byClerk.body)).toEqual({ requester: REQUESTER_ID, recipient: REQUESTER_ID });
    for (const reader of [medicalAffairs, auditor]) {
      const read = await copies(reader, 'GET', `/${id}`);
      expectStatus(read, 200);
      expect(numbers(read.body)).toEqual({ requester: '****5678', recipient: '****5678' });
      expect(read.text).not.toContain(REQUESTER_ID);
      // Everything else of the request reads the same for them as for the clerk.
      expect({ ...read.body, requester: byClerk.body.requester, events: byClerk.body.events }).toEqual(byClerk.body);
    }

    // The queue masks as the single read does.
    const queue = (token: string) => copies<CopyRequestView[]>(token, 'GET', `?patient=Patient/${patient}`);
    expect((await queue(clerk)).body.map(numbers)).toEqual([{ requester: REQUESTER_ID, recipient: REQUESTER_ID }]);
    const masked = await queue(medicalAffairs);
    expect(masked.body.map(numbers)).toEqual([{ requester: '****5678', recipient: '****5678' }]);
    expect(masked.text).not.toContain(REQUESTER_ID);

    // What is stored keeps the whole number: it identifies who asked and who received.
    const row = (await db.query<{ requester: { idNumber: string }; events: { step: string; to?: { idNumber: string } }[] }>('SELECT requester, events FROM copy_request WHERE id = $1', [id])).rows[0];
    expect({ requester: row.requester.idNumber, recipient: row.events.find((e) => e.step === 'delivered')?.to?.idNumber }).toEqual({ requester: REQUESTER_ID, recipient: REQUESTER_ID });
  });

  it('R-40, R-43: the disputes office reads the patient side\'s ID number whole, medical affairs masked, in the case and the board; the sealed copy\'s row keeps it whole', async () => {
    const patient = await record();
    const sealed = await sealedCase(patient);
    // The officer who recorded it reads it whole in the seal's answer.
    expect(sealed.copies[0].witnesses.patient?.idDocument).toEqual({ type: 'resident-id-card', number: WITNESS_ID });

    const byOfficer = await disputes(officer, 'GET', `/${sealed.id}`);
    expect(byOfficer.body.copies[0].witnesses.patient?.idDocument.number).toBe(WITNESS_ID);
    const byMedicalAffairs = await disputes(medicalAffairs, 'GET', `/${sealed.id}`);
    expectStatus(byMedicalAffairs, 200);
    expect(byMedicalAffairs.body.copies[0].witnesses.patient).toEqual({ ...PATIENT_SIDE, idDocument: { type: 'resident-id-card', number: '****1234' } });
    expect(byMedicalAffairs.text).not.toContain(WITNESS_ID);

    const board = (token: string) => disputes<DisputeView[]>(token, 'GET', `?patient=${patient}`);
    expect((await board(officer)).body.map((c) => c.copies[0].witnesses.patient?.idDocument.number)).toEqual([WITNESS_ID]);
    const maskedBoard = await board(medicalAffairs);
    expect(maskedBoard.body.map((c) => c.copies[0].witnesses.patient?.idDocument.number)).toEqual(['****1234']);
    expect(maskedBoard.text).not.toContain(WITNESS_ID);

    // Unsealed with both sides again: the unsealing names the patient side too, masked alike.
    expectStatus(await disputes(medicalAffairs, 'POST', `/${sealed.id}/confirmations`, { step: 'unseal' }), 201);
    const unsealed = await disputes(officer, 'POST', `/${sealed.id}/unseal`, { basis: 'both-sides', patientWitness: PATIENT_SIDE });
    expectStatus(unsealed, 200);
    const side = (view: DisputeView) => (view.unsealing as { patient: { idDocument: { number: string } } }).patient.idDocument.number;
    expect(side(unsealed.body)).toBe(WITNESS_ID);
    expect(side((await disputes(medicalAffairs, 'GET', `/${sealed.id}`)).body)).toBe('****1234');

    const stored = await db.query<{ witnesses: { patient: { idDocument: { number: string } } } }>('SELECT witnesses FROM dispute_copy WHERE dispute_id = $1', [sealed.id]);
    expect(stored.rows.map((r) => r.witnesses.patient.idDocument.number)).toEqual([WITNESS_ID]);
    const unsealing = await db.query<{ unsealing: { patient: { idDocument: { number: string } } } }>('SELECT unsealing FROM dispute WHERE id = $1', [sealed.id]);
    expect(unsealing.rows[0].unsealing.patient.idDocument.number).toBe(WITNESS_ID);
  });

  it('who reads them whole is policy data: a hospital naming only the disputes office has the record room read them masked', async () => {
    const strict = await startTestServer({ policy: policyWith(['disputes-officer']), dataDir: server.dataDir });
    try {
      const patient = await record();
      const created = await call<CopyRequestView>(strict, clerk, 'POST', '/copy-requests', {
        patient: `Patient/${patient}`,
        requesterType: 'patient',
        requester: { name: '王小明', idNumber: REQUESTER_ID },
        purpose: '医保报销',
        scope: { all: true },
      });
      expectStatus(created, 201);
      expect(created.body.requester.idNumber).toBe('****5678');
      // The same request, read through the server with the shipped setting: whole for the clerk.
      expect((await copies(clerk, 'GET', `/${created.body.id}`)).body.requester.idNumber).toBe(REQUESTER_ID);
      const row = await db.query<{ requester: { idNumber: string } }>('SELECT requester FROM copy_request WHERE id = $1', [created.body.id]);
      expect(row.rows[0].requester.idNumber).toBe(REQUESTER_ID);
    } finally {
      await strict.close();
    }
  });
});
