import { randomUUID } from 'node:crypto';
import type { Composition, DocumentReference, Encounter, Observation, Patient, Resource } from '@medplum/fhirtypes';
import type pg from 'pg';
import * as publicApi from '../../src/index.js';
import { DisputeHoldGuard } from '../../src/disputes/dispute-hold.guard.js';
import type { FhirContext } from '../../src/fhir/fhir-request.js';
import { WRITE_GUARDS, WRITE_RECORDERS, type WriteGuard, type WriteRecorder } from '../../src/fhir/write-chain.port.js';
import { FhirStore } from '../../src/store/fhir-store.port.js';
import { expectOutcome, expectStatus } from '../support/fhir-expect.js';
import { fhirApi, jsonApi, seedAs } from '../support/http.js';
import { closeAll, connectTestDatabase, startTestServer, type TestServer } from '../support/test-app.js';

/**
 * The write chain's holes a review of issue #15 found, closed (decision 0013), over real HTTP and
 * PostgreSQL: the guard lists cannot be emptied by a host; two PUTs creating one document keep
 * its ledger one chain; a stale `If-Match` answers 412 before any guard; the legal hold
 * matches every patient a write names; the archive guard every encounter, the stored
 * version's too; copy-paste recognises a patient in any reference form.
 */
const run = randomUUID().slice(0, 8);
const DEPT = `cw-harden-${run}`;
const DR = `Practitioner/dr-harden-${run}`;
const PATIENT_SIDE = { name: '王小明', relationship: 'spouse', idDocument: { type: 'resident-id-card', number: '110101199001011234' }, confirmed: true };
const PASSAGE = `患者${run}主诉反复胸闷气短三年，加重伴夜间阵发性呼吸困难一周，活动后明显，休息后可缓解，无发热咳嗽。`;

describe('The write chain, hardened (e2e, real HTTP + PostgreSQL)', () => {
  let server: TestServer;
  let db: pg.Client;
  let his: string;
  let attending: string;
  let officer: string;
  let witness: string;

  const fhir = fhirApi(() => server.fhirBase);
  const disputes = jsonApi<{ id: string; digest: string }>(() => `${server.root}/disputes`);
  const seed = <T extends Resource>(resource: T) => seedAs(server.fhirBase, his, resource);
  const patientNamed = async (name: string) => (await seed<Patient>({ resourceType: 'Patient', name: [{ text: `${name}-${run}` }] })).id;
  const visit = async (patient: string, status: Encounter['status'] = 'finished') =>
    (
      await seed<Encounter>({
        resourceType: 'Encounter',
        status,
        class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
        period: status === 'finished' ? { start: new Date(Date.now() - 3_600_000).toISOString(), end: new Date().toISOString() } : { start: new Date().toISOString() },
        subject: { reference: `Patient/${patient}` },
        serviceProvider: { reference: `Organization/${DEPT}` },
        participant: [{ individual: { reference: DR } }],
      })
    ).id;
  const note = (subject: string, text = '门诊病历', encounter?: string): Composition => ({
    resourceType: 'Composition',
    status: 'preliminary',
    type: { coding: [{ system: 'http://loinc.org', code: '11506-3' }] },
    subject: { reference: subject },
    ...(encounter ? { encounter: { reference: `Encounter/${encounter}` } } : {}),
    date: new Date().toISOString(),
    author: [{ reference: DR }],
    title: '病程记录',
    section: [{ title: '主诉', text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml"><p>${text}</p></div>` } }],
  });
  const codeOf = (res: { body: { issue?: { details?: { coding?: { code?: string }[] } }[] } }) => res.body.issue?.[0].details?.coding?.[0].code;

  /** Seals the patient's whole record, witnessed. */
  async function sealWholeRecord(patient: string): Promise<string> {
    const opened = await disputes(officer, 'POST', '', { patient: `Patient/${patient}`, reason: '患方对病历有异议', scope: { kind: 'whole-record' } });
    expectStatus(opened, 201);
    const { digest } = (await disputes(officer, 'GET', `/${opened.body.id}/inventory`)).body;
    expectStatus(await disputes(witness, 'POST', `/${opened.body.id}/confirmations`, { step: 'seal', inventoryDigest: digest }), 201);
    expectStatus(await disputes(officer, 'POST', `/${opened.body.id}/seal`, { inventoryDigest: digest, patientWitness: PATIENT_SIDE }), 200);
    return opened.body.id;
  }

  /** A signed outpatient note in a visit, the visit then archived. */
  async function archivedVisit(patient: string): Promise<{ encounter: string; document: Composition & { id: string } }> {
    const encounter = await visit(patient);
    const created = await fhir<Composition & { id: string }>(attending, 'POST', 'Composition', note(`Patient/${patient}`, '门诊病历', encounter));
    expectStatus(created, 201);
    expectStatus(await fhir(attending, 'POST', `Composition/${created.body.id}/$sign`), 200);
    expectStatus(await fhir(attending, 'POST', `Encounter/${encounter}/$archive`), 200);
    return { encounter, document: (await fhir<Composition & { id: string }>(his, 'GET', `Composition/${created.body.id}`)).body };
  }

  beforeAll(async () => {
    server = await startTestServer();
    db = await connectTestDatabase();
    his = await server.token();
    attending = await server.token({ sub: `dr-harden-${run}`, roles: ['attending'], department: DEPT, licence: 'licensed', fhirUser: DR });
    officer = await server.token({ sub: `officer-harden-${run}`, roles: ['disputes-officer'] });
    witness = await server.token({ sub: `witness-harden-${run}`, roles: ['medical-affairs'], fhirUser: `Practitioner/witness-harden-${run}` });
    expectStatus(await fhir(his, 'PUT', `Organization/${DEPT}`, { resourceType: 'Organization', id: DEPT, name: DEPT }), 201);
  });
  afterAll(() => closeAll(db, server));

  it('decision 0013: the guard and recorder lists are frozen and not public; neither is the connection behind a unit of work', async () => {
    for (const token of [WRITE_GUARDS, WRITE_RECORDERS]) {
      const list = server.app.get<symbol, (WriteGuard | WriteRecorder)[]>(token);
      expect(list.length).toBeGreaterThan(0);
      expect(Object.isFrozen(list)).toBe(true);
      expect(() => list.splice(0)).toThrow(TypeError);
    }
    // Hosts add guards with forRoot({ writeGuards }); they name no token, open no unit of work, reach no connection.
    for (const internal of ['WRITE_GUARDS', 'WRITE_RECORDERS', 'sqlOf', 'UnitOfWork']) expect(publicApi).not.toHaveProperty(internal);
    expect(Symbol.for('chartwarden:write-guards')).not.toBe(WRITE_GUARDS);
  });

  it('R-12 / R-51: two PUTs creating one document at once: the second is judged as an update of the first, and the ledger stays one chain', async () => {
    const patient = await patientNamed('并发');
    for (let round = 0; round < 4; round++) {
      const id = `his-note-${run}-${round}`;
      const body = (title: string) => ({ ...note(`Patient/${patient}`, `第${round}次并发书写`), id, title });
      const answers = await Promise.all([fhir(his, 'PUT', `Composition/${id}`, body('甲')), fhir(his, 'PUT', `Composition/${id}`, body('乙'))]);
      expect(answers.map((a) => a.status).sort()).toEqual([200, 201]);
      const { rows } = await db.query<{ version_id: number; kind: string; prev_hash: Buffer; hash: Buffer }>(
        `SELECT version_id, kind, prev_hash, hash FROM edit_ledger WHERE resource_type = 'Composition' AND resource_id = $1 ORDER BY version_id`,
        [id],
      );
      expect(rows.map((r) => [r.version_id, r.kind])).toEqual([
        [1, 'create'],
        [2, 'update'],
      ]);
      // Chained from version 1, not restarted at the genesis hash.
      expect(rows[1].prev_hash.equals(rows[0].hash)).toBe(true);
    }
  });

  it('RFC 9110 §13.2.2: a stale If-Match on a sealed record answers 412 (re-read), as before the chain; a current one gets the hold (423)', async () => {
    const patient = await patientNamed('过期');
    const result = await seed<Observation>({ resourceType: 'Observation', status: 'final', code: { text: '血红蛋白' }, subject: { reference: `Patient/${patient}` }, encounter: { reference: `Encounter/${await visit(patient)}` } });
    await sealWholeRecord(patient);
    const change = { ...result, meta: undefined, valueQuantity: { value: 131, unit: 'g/L' } };
    expectOutcome(await fhir(his, 'PUT', `Observation/${result.id}`, change, { 'if-match': 'W/"7"' }), 412, 'conflict', 'store.version-conflict');
    expectOutcome(await fhir(his, 'PUT', `Observation/${result.id}`, change, { 'if-match': 'W/"1"' }), 423, 'business-rule', 'disputes.sealed');
  });

  it('R-41: the hold matches every patient a write names: a record naming two patients, for a sealed visit of the second, is refused (423)', async () => {
    const [first, second] = [await patientNamed('甲'), await patientNamed('乙')].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const sealedVisit = await visit(second);
    await sealWholeRecord(second);
    // No resource type the store indexes names two patients and a visit; the write's scope is resolved by the store, then widened to both.
    const record: Observation = { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: `Patient/${first}` }, encounter: { reference: `Encounter/${sealedVisit}` } };
    const store = server.app.get(FhirStore);
    const hold = server.app.get(DisputeHoldGuard);
    const refused = store.transaction(async (tx, unit) => {
      const scope = await tx.lockForWrite(record, 'create');
      expect(scope.patient).toBe(first);
      await hold.check({} as FhirContext, { resource: record, creating: true, scope: { ...scope, patients: [first, second] } }, unit);
    });
    await expect(refused).rejects.toMatchObject({ code: 'disputes.sealed', answer: { status: 423 } });
  });

  it('R-15: every encounter counts: a document filed under an open and an archived visit is refused, and so is moving one out of an archived visit', async () => {
    const patient = await patientNamed('归档');
    const { encounter: archived, document } = await archivedVisit(patient);
    const open = await visit(patient, 'in-progress');
    const both: DocumentReference = {
      resourceType: 'DocumentReference',
      status: 'current',
      subject: { reference: `Patient/${patient}` },
      context: { encounter: [{ reference: `Encounter/${open}` }, { reference: `Encounter/${archived}` }] },
      content: [{ attachment: { contentType: 'text/plain', data: 'YQ==' } }],
    };
    const added = await fhir(his, 'POST', 'DocumentReference', both);
    expect({ status: added.status, code: codeOf(added) }).toEqual({ status: 422, code: 'governance.archived' });
    expect(added.body.issue?.[0].diagnostics).toContain(`Encounter/${archived} is archived`);

    const moved = await fhir(his, 'PUT', `Composition/${document.id}`, { ...document, encounter: { reference: `Encounter/${open}` } }, { 'x-edit-reason': encodeURIComponent('挂错就诊') });
    expect({ status: moved.status, code: codeOf(moved) }).toEqual({ status: 422, code: 'governance.archived' });
    expect(moved.body.issue?.[0].diagnostics).toContain(`Encounter/${archived} is archived`);
    expect((await fhir<Composition>(his, 'GET', `Composition/${document.id}`)).body.meta?.versionId).toBe(document.meta?.versionId);
  });

  it('R-16: a patient named by an absolute reference is still a patient: copying between two patients is refused (422) whichever note names it so', async () => {
    const [a, b, c] = [await patientNamed('甲'), await patientNamed('乙'), await patientNamed('丙')];
    expectStatus(await fhir(his, 'POST', 'Composition', note(`Patient/${a}`, PASSAGE)), 201);
    const copy = await fhir(his, 'POST', 'Composition', note(`https://his.example/fhir/Patient/${b}`, `今日查房：${PASSAGE}继续治疗。`));
    expect({ status: copy.status, code: codeOf(copy) }).toEqual({ status: 422, code: 'governance.copied-from-other-patient' });

    // The source itself named by an absolute reference: its fingerprints are filed under its patient.
    const passage = `患者${run}入院后予抗感染、化痰、平喘治疗，复查胸片示双肺渗出较前明显吸收，体温正常三日，拟明日出院。`;
    expectStatus(await fhir(his, 'POST', 'Composition', note(`https://his.example/fhir/Patient/${b}`, passage)), 201);
    const back = await fhir(his, 'POST', 'Composition', note(`Patient/${c}`, `查房记录：${passage}`));
    expect({ status: back.status, code: codeOf(back) }).toEqual({ status: 422, code: 'governance.copied-from-other-patient' });
  });
});
