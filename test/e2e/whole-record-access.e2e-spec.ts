import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Bundle, Composition, Encounter, Observation, OperationOutcome, Patient, Provenance, Resource } from '@medplum/fhirtypes';
import type { DisputeView } from '../../src/disputes/dto/dispute.view.js';
import type { InventoryLine } from '../../src/disputes/domain/dispute-case.js';
import { allKeys, inpatientStay, keyOf, putDepartments } from '../support/fhir-builders.js';
import { expectOutcome, expectStatus } from '../support/fhir-expect.js';
import { fhirApi, jsonApi, seedAs, type HttpResult } from '../support/http.js';
import { closeAll, connectTestDatabase, startTestServer, type TestServer } from '../support/test-app.js';

/**
 * The whole record (issue #16, decision 0016) over real HTTP: the R4 Patient compartment is the
 * policy's `patient-record` group, so the record types a HIS sends besides the old fifteen are
 * stored and judged like any record; the definitional and directory groups
 * are readable by clinicians; a type in no group is refused for everyone; a Provenance
 * of a document is its patient's and one spanning two patients is refused; and the
 * legal hold sees a patient however a record links them.
 *
 * Seeded by the HIS: department A with an inpatient stay of patient P whose participant is
 * dr-a (attending of A), and patient Q in department B, treated by dr-b (attending of B).
 * Every resource of P carries the marker `MARK`, so a leak is caught wherever it hides.
 */
const run = randomUUID().slice(0, 8);
const DEPT_A = `wr-a-${run}`;
const DEPT_B = `wr-b-${run}`;
const DR_A = `Practitioner/wr-dr-a-${run}`;
const DR_B = `Practitioner/wr-dr-b-${run}`;
const MARK = `WHOLE-RECORD-${run}`;
const ID_SYSTEM = `urn:chartwarden-e2e:whole-record:${run}`;
const NOW = new Date().toISOString();
const LATER = new Date(Date.now() + 3_600_000).toISOString();
const PATIENT_SIDE = { name: '王小明', relationship: 'spouse', idDocument: { type: 'resident-id-card', number: '110101199001011234' }, confirmed: true };

const identifier = (value: string) => [{ system: ID_SYSTEM, value }];
const text = (t: string) => ({ text: `${MARK} ${t}` });

/** One new record type of the compartment: how the HIS writes it for patient `p` in encounter `e`, and how a search names the patient. */
interface RecordType {
  type: string;
  build: (p: string, e: string) => Resource;
  /** The searches naming the patient: `patient=<id>` (every type here has it) and the type's own link (`subject=Patient/<id>`…). */
  search: ((p: string) => string)[];
}

const byPatient = (p: string) => `patient=${p}`;
const bySubject = (p: string) => `subject=Patient/${p}`;

/** The types the brief of issue #16 names: each links the patient its own way (`participant.actor`, `beneficiary`, `subject`, `patient`). */
const RECORD_TYPES: RecordType[] = [
  {
    type: 'Appointment',
    build: (p) => ({
      resourceType: 'Appointment',
      identifier: identifier(`appointment-${randomUUID()}`),
      status: 'booked',
      description: `${MARK} cardiology follow-up`,
      start: NOW,
      end: LATER,
      participant: [
        { actor: { reference: `Patient/${p}` }, status: 'accepted' },
        { actor: { reference: DR_A }, status: 'accepted' },
      ],
    }),
    search: [byPatient, (p) => `actor=Patient/${p}`],
  },
  {
    type: 'Coverage',
    build: (p) => ({
      resourceType: 'Coverage',
      identifier: identifier(`coverage-${randomUUID()}`),
      status: 'active',
      beneficiary: { reference: `Patient/${p}` },
      payor: [{ reference: `Organization/${DEPT_B}`, display: `${MARK} insurer` }],
    }),
    search: [byPatient, (p) => `beneficiary=Patient/${p}`],
  },
  { type: 'Invoice', build: (p) => ({ resourceType: 'Invoice', identifier: identifier(`invoice-${randomUUID()}`), status: 'issued', subject: { reference: `Patient/${p}` }, note: [{ text: `${MARK} invoice` }] }), search: [byPatient, bySubject] },
  {
    type: 'ChargeItem',
    build: (p, e) => ({ resourceType: 'ChargeItem', identifier: identifier(`charge-${randomUUID()}`), status: 'billable', code: text('bed day'), subject: { reference: `Patient/${p}` }, context: { reference: `Encounter/${e}` } }),
    search: [byPatient, bySubject],
  },
  {
    type: 'ImagingStudy',
    build: (p, e) => ({ resourceType: 'ImagingStudy', identifier: identifier(`imaging-${randomUUID()}`), status: 'available', subject: { reference: `Patient/${p}` }, encounter: { reference: `Encounter/${e}` }, description: `${MARK} chest CT` }),
    search: [byPatient, bySubject],
  },
  {
    type: 'MedicationAdministration',
    build: (p, e) => ({
      resourceType: 'MedicationAdministration',
      identifier: identifier(`medadmin-${randomUUID()}`),
      status: 'completed',
      medicationCodeableConcept: text('头孢曲松钠 1 g'),
      subject: { reference: `Patient/${p}` },
      context: { reference: `Encounter/${e}` },
      effectiveDateTime: NOW,
    }),
    search: [byPatient, bySubject],
  },
  {
    type: 'Immunization',
    build: (p, e) => ({ resourceType: 'Immunization', identifier: identifier(`immunization-${randomUUID()}`), status: 'completed', vaccineCode: text('influenza'), patient: { reference: `Patient/${p}` }, encounter: { reference: `Encounter/${e}` }, occurrenceDateTime: NOW }),
    search: [byPatient],
  },
  { type: 'Specimen', build: (p) => ({ resourceType: 'Specimen', identifier: identifier(`specimen-${randomUUID()}`), type: text('venous blood'), subject: { reference: `Patient/${p}` } }), search: [byPatient, bySubject] },
  {
    type: 'CarePlan',
    build: (p, e) => ({ resourceType: 'CarePlan', identifier: identifier(`careplan-${randomUUID()}`), status: 'active', intent: 'plan', subject: { reference: `Patient/${p}` }, encounter: { reference: `Encounter/${e}` }, title: `${MARK} plan` }),
    search: [byPatient, bySubject],
  },
  {
    type: 'QuestionnaireResponse',
    build: (p, e) => ({ resourceType: 'QuestionnaireResponse', identifier: { system: ID_SYSTEM, value: `qr-${randomUUID()}` }, status: 'completed', subject: { reference: `Patient/${p}` }, encounter: { reference: `Encounter/${e}` }, item: [{ linkId: '1', text: `${MARK} pain score` }] }),
    search: [byPatient, bySubject],
  },
  {
    type: 'Communication',
    build: (p, e) => ({ resourceType: 'Communication', identifier: identifier(`communication-${randomUUID()}`), status: 'completed', subject: { reference: `Patient/${p}` }, encounter: { reference: `Encounter/${e}` }, payload: [{ contentString: `${MARK} call the family` }] }),
    search: [byPatient, bySubject],
  },
  { type: 'Account', build: (p) => ({ resourceType: 'Account', identifier: identifier(`account-${randomUUID()}`), status: 'active', subject: [{ reference: `Patient/${p}` }], name: `${MARK} account` }), search: [byPatient, bySubject] },
];

describe('The whole record: the R4 Patient compartment, definitions and directory under the policy (e2e, issue #16)', () => {
  let server: TestServer;
  let db: pg.Client;
  let his: string;
  let drA: string;
  let drB: string;
  let nurseA: string;
  let recordRoom: string;
  let admin: string;
  const P = { patient: '', encounter: '', composition: '' };
  const Q = { patient: '', encounter: '', observation: '' };
  /** `Type/id` of each new record of P, by type. */
  const stored = new Map<string, string>();

  const fhir = fhirApi(() => server.fhirBase);
  const disputes = jsonApi<DisputeView>(() => `${server.root}/disputes`);
  const seed = async <T extends Resource>(resource: T) => (await seedAs(server.fhirBase, his, resource)).id;
  /** Rows of a type in the store whose content contains `marker` (ground truth past the policy). */
  const rowsWith = async (type: string, marker: string) =>
    (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM fhir_resource WHERE resource_type = $1 AND content::text LIKE '%' || $2 || '%'`, [type, marker])).rows[0].n;
  const versionsWith = async (type: string, marker: string) =>
    (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM fhir_resource_version WHERE resource_type = $1 AND content::text LIKE '%' || $2 || '%'`, [type, marker])).rows[0].n;
  /** A 403 with an OperationOutcome `forbidden` that shows nothing of P's record (`hiddenRecords: forbidden`). */
  const expectHidden = (res: HttpResult<unknown>) => {
    expect({ status: res.status, code: (res.body as OperationOutcome)?.issue?.[0]?.code }).toEqual({ status: 403, code: 'forbidden' });
    expect(res.text).not.toContain(MARK);
  };
  const searchKeys = async (token: string, path: string) => {
    const res = await fhir<Bundle>(token, 'GET', path);
    expectStatus(res, 200);
    return { total: res.body.total, keys: allKeys(res.body) };
  };

  beforeAll(async () => {
    server = await startTestServer();
    db = await connectTestDatabase();
    his = await server.token();
    drA = await server.token({ sub: `wr-dr-a-${run}`, roles: ['attending'], department: DEPT_A, fhirUser: DR_A });
    drB = await server.token({ sub: `wr-dr-b-${run}`, roles: ['attending'], department: DEPT_B, fhirUser: DR_B });
    nurseA = await server.token({ sub: `wr-nurse-a-${run}`, roles: ['nurse'], department: DEPT_A, fhirUser: `Practitioner/wr-nurse-a-${run}` });
    recordRoom = await server.token({ sub: `wr-record-room-${run}`, roles: ['record-room'] });
    admin = await server.token({ sub: `wr-admin-${run}`, roles: ['admin'] });
    await putDepartments(fhir, his, [
      [DEPT_A, 'Cardiology'],
      [DEPT_B, 'Neurology'],
    ]);
    P.patient = await seed<Patient>({ resourceType: 'Patient', identifier: identifier('patient-p'), name: [{ text: `${MARK} 张三` }] });
    P.encounter = await seed<Encounter>(inpatientStay(P.patient, DEPT_A, [DR_A]));
    P.composition = await seed<Composition>({
      resourceType: 'Composition',
      status: 'final',
      type: { coding: [{ system: 'http://loinc.org', code: '11506-3', display: 'Progress note' }] },
      subject: { reference: `Patient/${P.patient}` },
      encounter: { reference: `Encounter/${P.encounter}` },
      date: NOW,
      author: [{ reference: DR_A }],
      title: `${MARK} progress note`,
    });
    Q.patient = await seed<Patient>({ resourceType: 'Patient', identifier: identifier('patient-q'), name: [{ text: '李四' }] });
    Q.encounter = await seed<Encounter>(inpatientStay(Q.patient, DEPT_B, [DR_B]));
    Q.observation = await seed<Observation>({ resourceType: 'Observation', status: 'final', code: { text: 'heart rate' }, subject: { reference: `Patient/${Q.patient}` }, encounter: { reference: `Encounter/${Q.encounter}` } });
  });
  afterAll(() => closeAll(db, server));

  describe('R-02/R-03: every record type of the compartment is stored and judged as the patient\'s record', () => {
    it.each(RECORD_TYPES.map((t) => [t.type, t] as const))('R-02: the HIS creates patient P\'s %s → 201, stored and filed under P (its one owner row)', async (type, t) => {
      const res = await fhir<Resource>(his, 'POST', type, t.build(P.patient, P.encounter));
      expectStatus(res, 201);
      expect(res.body).toMatchObject({ resourceType: type, meta: { versionId: '1' } });
      stored.set(type, res.body.id as string);
      expect((await db.query(`SELECT 1 FROM fhir_resource WHERE resource_type = $1 AND id = $2`, [type, res.body.id])).rowCount).toBe(1);
      // Filed under P (decision 0016): its one owner row names P, however the type links the patient.
      const owner = await db.query(`SELECT target_type, target_id FROM fhir_search_reference WHERE resource_type = $1 AND resource_id = $2 AND param = '_patient'`, [type, res.body.id]);
      expect(owner.rows).toEqual([{ target_type: 'Patient', target_id: P.patient }]);
    });

    it.each(RECORD_TYPES.map((t) => [t.type, t] as const))('R-03: the treating attending reads the %s (200) and finds it by each search naming the patient', async (type, t) => {
      const id = stored.get(type) as string;
      const read = await fhir<Resource>(drA, 'GET', `${type}/${id}`);
      expectStatus(read, 200);
      expect(read.body).toMatchObject({ resourceType: type, id });
      for (const search of t.search) expect({ search: search(P.patient), ...(await searchKeys(drA, `${type}?${search(P.patient)}`)) }).toEqual({ search: search(P.patient), total: 1, keys: [`${type}/${id}`] });
    });

    it.each(RECORD_TYPES.map((t) => [t.type, t] as const))('R-06: an attending of another department is refused the %s (403, nothing shown) and his search finds nothing', async (type, t) => {
      const id = stored.get(type) as string;
      expectHidden(await fhir(drB, 'GET', `${type}/${id}`));
      for (const search of t.search) {
        const found = await fhir<Bundle>(drB, 'GET', `${type}?${search(P.patient)}`);
        expectStatus(found, 200);
        expect({ search: search(P.patient), total: found.body.total, entries: found.body.entry ?? [] }).toEqual({ search: search(P.patient), total: 0, entries: [] });
        expect(found.text).not.toContain(MARK);
      }
    });

    it.each(RECORD_TYPES.map((t) => [t.type] as const))('R-03/R-06: a nurse of department A and the record room read the %s (200)', async (type) => {
      const id = stored.get(type) as string;
      for (const token of [nurseA, recordRoom]) {
        const read = await fhir<Resource>(token, 'GET', `${type}/${id}`);
        expectStatus(read, 200);
        expect(read.body).toMatchObject({ resourceType: type, id });
      }
    });
  });

  describe('R-03: a Provenance is filed under the patient of the records it signs', () => {
    let provenance = '';
    beforeAll(async () => {
      provenance = await seed<Provenance>({ resourceType: 'Provenance', target: [{ reference: `Composition/${P.composition}` }], recorded: NOW, agent: [{ who: { reference: DR_A } }], reason: [text('signature')] });
    });

    it('R-03: a Provenance whose only link is target = P\'s Composition is read by the document\'s team (200), not by another department (403)', async () => {
      const read = await fhir<Provenance>(drA, 'GET', `Provenance/${provenance}`);
      expectStatus(read, 200);
      expect(read.body).toMatchObject({ id: provenance, target: [{ reference: `Composition/${P.composition}` }] });
      expectHidden(await fhir(drB, 'GET', `Provenance/${provenance}`));
      expect(await searchKeys(drB, `Provenance?target=Composition/${P.composition}`)).toEqual({ total: 0, keys: [] });
    });

    it('R-03: the team gets it with _revinclude=Provenance:target; the other department gets neither the document nor the signature', async () => {
      expect(await searchKeys(drA, `Composition?_id=${P.composition}&_revinclude=Provenance:target`)).toEqual({
        total: 1,
        keys: [`Composition/${P.composition}`, `Provenance/${provenance}`],
      });
      expect(await searchKeys(drB, `Composition?_id=${P.composition}&_revinclude=Provenance:target`)).toEqual({ total: 0, keys: [] });
    });

    it('R-03: a signature follows its record: once the HIS files the signed document under Q, its Provenance is Q\'s team\'s, no longer P\'s', async () => {
      const composition = await seed<Composition>({
        resourceType: 'Composition',
        status: 'final',
        type: { coding: [{ system: 'http://loinc.org', code: '11506-3' }] },
        subject: { reference: `Patient/${P.patient}` },
        date: NOW,
        author: [{ reference: DR_A }],
        title: `${MARK} misfiled note`,
      });
      const signature = await seed<Provenance>({ resourceType: 'Provenance', target: [{ reference: `Composition/${composition}` }], recorded: NOW, agent: [{ who: { reference: DR_A } }] });
      expectStatus(await fhir(drA, 'GET', `Provenance/${signature}`), 200);
      expectHidden(await fhir(drB, 'GET', `Provenance/${signature}`));

      const current = (await fhir<Composition>(his, 'GET', `Composition/${composition}`)).body;
      expectStatus(await fhir(his, 'PUT', `Composition/${composition}`, { ...current, meta: undefined, subject: { reference: `Patient/${Q.patient}` } }, { 'x-edit-reason': 'misfiled' }), 200);
      expectStatus(await fhir(drB, 'GET', `Provenance/${signature}`), 200);
      expectHidden(await fhir(drA, 'GET', `Provenance/${signature}`));
    });

    it('R-20: P\'s $everything for the treating attending holds each new record type and the signature of P\'s document', async () => {
      const res = await fhir<Bundle>(drA, 'GET', `Patient/${P.patient}/$everything?_count=200`);
      expectStatus(res, 200);
      const keys = allKeys(res.body);
      expect(keys).toEqual(expect.arrayContaining([...[...stored].map(([type, id]) => `${type}/${id}`), `Composition/${P.composition}`]));
      // The signature names no Patient itself: it is P's by the document it signs (decision 0016), so P's export holds it.
      expect(keys).toContain(`Provenance/${provenance}`);
      expect(allKeys((await fhir<Bundle>(drB, 'GET', `Patient/${Q.patient}/$everything?_count=200`)).body)).not.toContain(`Provenance/${provenance}`);
    });

    it('a Provenance signing records of two patients → 422 business-rule (store.spans-patients); nothing stored, no version', async () => {
      const marker = `spans-${randomUUID()}`;
      const res = await fhir(his, 'POST', 'Provenance', {
        resourceType: 'Provenance',
        target: [{ reference: `Composition/${P.composition}` }, { reference: `Observation/${Q.observation}` }],
        recorded: NOW,
        agent: [{ who: { reference: DR_A } }],
        reason: [{ text: marker }],
      });
      expect(expectOutcome(res, 422, 'business-rule', 'store.spans-patients').issue?.[0].expression).toEqual(['Provenance.target']);
      expect(await searchKeys(his, `Provenance?target=Observation/${Q.observation}`)).toEqual({ total: 0, keys: [] });
      expect({ rows: await rowsWith('Provenance', marker), versions: await versionsWith('Provenance', marker) }).toEqual({ rows: 0, versions: 0 });
    });

    it('a Provenance naming patient Q (a Patient target) and signing P\'s document → 422 business-rule; nothing stored', async () => {
      const marker = `names-q-${randomUUID()}`;
      const res = await fhir(his, 'POST', 'Provenance', {
        resourceType: 'Provenance',
        target: [{ reference: `Patient/${Q.patient}` }, { reference: `Composition/${P.composition}` }],
        recorded: NOW,
        agent: [{ who: { reference: DR_A } }],
        reason: [{ text: marker }],
      });
      expectOutcome(res, 422, 'business-rule', 'store.spans-patients');
      expect({ rows: await rowsWith('Provenance', marker), versions: await versionsWith('Provenance', marker) }).toEqual({ rows: 0, versions: 0 });
    });
  });

  describe('R-02: definitions are read by clinicians and written by the HIS and the administrator', () => {
    const url = (name: string) => `http://his.example.cn/fhir/${name}/${run}`;

    it('R-02: the HIS creates a Questionnaire and a ValueSet (201); the attending reads them (200) but cannot create one (403, nothing stored)', async () => {
      const questionnaire = await seed({ resourceType: 'Questionnaire', url: url('Questionnaire/pain'), status: 'active', title: '疼痛评估', item: [{ linkId: '1', text: '疼痛评分', type: 'integer' }] });
      const valueSet = await seed({ resourceType: 'ValueSet', url: url('ValueSet/wards'), status: 'active', name: 'Wards' });
      for (const [type, id] of [['Questionnaire', questionnaire], ['ValueSet', valueSet]]) {
        const read = await fhir<Resource>(drA, 'GET', `${type}/${id}`);
        expectStatus(read, 200);
        expect(read.body).toMatchObject({ resourceType: type, id });
      }
      expect(await searchKeys(drB, `Questionnaire?url=${url('Questionnaire/pain')}`)).toEqual({ total: 1, keys: [`Questionnaire/${questionnaire}`] });
      const refused = await fhir(drA, 'POST', 'Questionnaire', { resourceType: 'Questionnaire', url: url('Questionnaire/by-attending'), status: 'draft' });
      expectOutcome(refused, 403, 'forbidden', 'access.forbidden');
      expect(await searchKeys(his, `Questionnaire?url=${url('Questionnaire/by-attending')}`)).toEqual({ total: 0, keys: [] });
    });

    it('R-02: the administrator creates a CodeSystem (201); a nurse reads it (200) and cannot change it (403, version unchanged)', async () => {
      const created = await fhir<Resource>(admin, 'POST', 'CodeSystem', { resourceType: 'CodeSystem', url: url('CodeSystem/beds'), status: 'active', content: 'complete', concept: [{ code: 'icu', display: '重症监护' }] });
      expectStatus(created, 201);
      const read = await fhir<Resource>(nurseA, 'GET', `CodeSystem/${created.body.id}`);
      expectStatus(read, 200);
      expect(read.body).toMatchObject({ resourceType: 'CodeSystem', id: created.body.id, url: url('CodeSystem/beds') });
      expectOutcome(await fhir(nurseA, 'PUT', `CodeSystem/${created.body.id}`, { ...read.body, meta: undefined, status: 'retired' }), 403, 'forbidden', 'access.forbidden');
      expect((await fhir<Resource>(his, 'GET', `CodeSystem/${created.body.id}`)).body.meta?.versionId).toBe('1');
    });
  });

  it('R-02: the HIS creates a HealthcareService, an Endpoint and a Device (201); every clinical role reads them (200)', async () => {
    const created = [
      await seed({ resourceType: 'HealthcareService', identifier: identifier('service'), name: '心内科门诊', providedBy: { reference: `Organization/${DEPT_A}` } }),
      await seed({
        resourceType: 'Endpoint',
        identifier: identifier('endpoint'),
        status: 'active',
        connectionType: { system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'hl7-fhir-rest' },
        payloadType: [{ text: 'FHIR' }],
        address: 'https://pacs.example.cn/fhir',
      }),
      await seed({ resourceType: 'Device', identifier: identifier('device'), status: 'active', deviceName: [{ name: '监护仪 3 号', type: 'user-friendly-name' }] }),
    ];
    const clinicians = [drA, drB, nurseA, await server.token({ sub: `wr-intern-${run}`, roles: ['intern'], department: DEPT_B }), await server.token({ sub: `wr-resident-${run}`, roles: ['resident'], department: DEPT_B })];
    for (const [i, type] of ['HealthcareService', 'Endpoint', 'Device'].entries()) {
      for (const token of clinicians) {
        const read = await fhir<Resource>(token, 'GET', `${type}/${created[i]}`);
        expect({ type, status: read.status, id: read.body?.id }).toEqual({ type, status: 200, id: created[i] });
      }
    }
  });

  describe('R-02: a type in no group is refused for everyone, the HIS included', () => {
    it.each([
      ['Group', (m: string) => ({ resourceType: 'Group', type: 'person', actual: true, name: m, member: [{ entity: { reference: `Patient/${P.patient}` } }] })],
      ['Subscription', (m: string) => ({ resourceType: 'Subscription', status: 'requested', reason: m, criteria: 'Observation?code=8867-4', channel: { type: 'rest-hook', endpoint: 'https://his.example.cn/hook' } })],
    ])('R-02: POST /fhir/%s by the HIS → 403, nothing stored', async (type, build) => {
      const marker = `ungoverned-${randomUUID()}`;
      expectOutcome(await fhir(his, 'POST', type, build(marker)), 403, 'forbidden', 'access.forbidden');
      expect({ rows: await rowsWith(type, marker), versions: await versionsWith(type, marker) }).toEqual({ rows: 0, versions: 0 });
    });

    it('R-21: POST /fhir/AuditEvent by the HIS → 405 (the trail is written by ChartWarden alone), nothing stored', async () => {
      const marker = `audit-${randomUUID()}`;
      const res = await fhir(his, 'POST', 'AuditEvent', {
        resourceType: 'AuditEvent',
        type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
        recorded: NOW,
        agent: [{ who: { display: marker }, requestor: true }],
        source: { observer: { display: marker } },
      });
      expect(expectOutcome(res, 405, 'not-supported', 'fhir.method-not-supported').issue?.[0].details?.text).toContain('R-21');
      expect({ rows: await rowsWith('AuditEvent', marker), versions: await versionsWith('AuditEvent', marker) }).toEqual({ rows: 0, versions: 0 });
    });
  });

  describe('R-41: a seal holds a record however it links the patient', () => {
    const seal = async (patient: string) => {
      const officer = await server.token({ sub: `wr-officer-${run}`, roles: ['disputes-officer'] });
      const witness = await server.token({ sub: `wr-witness-${run}`, roles: ['medical-affairs'], fhirUser: `Practitioner/wr-witness-${run}` });
      const opened = await disputes(officer, 'POST', '', { patient: `Patient/${patient}`, reason: '患方对治疗有异议', scope: { kind: 'whole-record' } });
      expectStatus(opened, 201);
      const { lines, digest } = (await disputes<{ digest: string; lines: InventoryLine[] }>(officer, 'GET', `/${opened.body.id}/inventory`)).body;
      expectStatus(await disputes(witness, 'POST', `/${opened.body.id}/confirmations`, { step: 'seal', inventoryDigest: digest }), 201);
      expectStatus(await disputes(officer, 'POST', `/${opened.body.id}/seal`, { inventoryDigest: digest, patientWitness: PATIENT_SIDE }), 200);
      return { caseId: opened.body.id, lines };
    };
    const S = { patient: '', encounter: '', appointment: '', caseId: '' };
    let inventory: InventoryLine[] = [];

    beforeAll(async () => {
      S.patient = await seed<Patient>({ resourceType: 'Patient', name: [{ text: '王小明' }] });
      S.encounter = await seed<Encounter>(inpatientStay(S.patient, DEPT_A, [DR_A], { status: 'finished', period: { start: '2026-01-01T08:00:00+08:00', end: '2026-01-05T08:00:00+08:00' } }));
      S.appointment = await seed(RECORD_TYPES[0].build(S.patient, S.encounter));
      ({ caseId: S.caseId, lines: inventory } = await seal(S.patient));
    });

    it('R-40: the whole-record seal inventories the Appointment that names the patient only through participant.actor', () => {
      expect(inventory.map((l) => `${l.type}/${l.id}`)).toEqual(expect.arrayContaining([`Encounter/${S.encounter}`, `Appointment/${S.appointment}`]));
    });

    it('R-41: updating that Appointment → 423 business-rule (disputes.sealed) naming the case; version unchanged', async () => {
      const current = (await fhir<Resource>(his, 'GET', `Appointment/${S.appointment}`)).body;
      const res = await fhir(his, 'PUT', `Appointment/${S.appointment}`, { ...current, meta: undefined, status: 'cancelled' });
      expect(expectOutcome(res, 423, 'business-rule', 'disputes.sealed').issue?.[0].details?.text).toContain(S.caseId);
      expect((await fhir<Resource>(his, 'GET', `Appointment/${S.appointment}`)).body).toEqual(current);
    });

    it('R-41: a new Communication filed under the sealed visit, naming the patient only as recipient → 423; nothing stored', async () => {
      const marker = `sealed-visit-${randomUUID()}`;
      const res = await fhir(his, 'POST', 'Communication', {
        resourceType: 'Communication',
        status: 'completed',
        encounter: { reference: `Encounter/${S.encounter}` },
        recipient: [{ reference: `Patient/${S.patient}` }],
        payload: [{ contentString: marker }],
      });
      expect(expectOutcome(res, 423, 'business-rule', 'disputes.sealed').issue?.[0].details?.text).toContain(S.caseId);
      expect({ rows: await rowsWith('Communication', marker), versions: await versionsWith('Communication', marker) }).toEqual({ rows: 0, versions: 0 });
    });

    it('R-41 (decision 0008, "new care outside sealed visits goes on"): a new Appointment of the sealed patient, in no visit, is 201', async () => {
      const res = await fhir<Resource>(his, 'POST', 'Appointment', RECORD_TYPES[0].build(S.patient, S.encounter));
      expectStatus(res, 201);
      expect(keyOf(res.body)).toMatch(/^Appointment\//);
      expect(await searchKeys(his, `Appointment?actor=Patient/${S.patient}&_id=${res.body.id}`)).toEqual({ total: 1, keys: [keyOf(res.body)] });
    });
  });
});
