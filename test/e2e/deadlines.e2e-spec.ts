import { randomUUID } from 'node:crypto';
import type { Composition, Encounter, OperationOutcome, Patient, Procedure, Resource } from '@medplum/fhirtypes';
import type { EncounterOverdue } from '../../src/governance/overdue.service.js';
import { inpatientStay } from '../support/fhir-builders.js';
import { fhirApi, httpRequest, seedAs } from '../support/http.js';
import { startTestServer, TestClock, type TestServer } from '../support/test-app.js';

/**
 * R-10 end to end: writing deadlines are policy data (admission record 24 h, first progress
 * note 8 h, operation record 24 h, discharge record 24 h after their events), and
 * GET /governance/overdue?dept= lists, per inpatient encounter, what is late or missing.
 */
const run = randomUUID().slice(0, 8);
const DEPT = `cw-deadline-${run}`;
const DR = `Practitioner/dr-dl-${run}`;
const HOUR = 3_600_000;
const LOINC = 'http://loinc.org';

describe('R-10 writing deadlines (e2e, real HTTP + PostgreSQL, a clock the test moves)', () => {
  let server: TestServer;
  let clock: TestClock;
  let his: string;
  let attending: string;
  let other: string;
  let medicalAffairs: string;

  const fhir = fhirApi(() => server.fhirBase);
  const overdue = (token: string, dept?: string) =>
    httpRequest<EncounterOverdue[] | OperationOutcome>(`${server.root}/governance/overdue${dept ? `?dept=${dept}` : ''}`, 'GET', { token, headers: { accept: 'application/json' } });
  const seed = async <T extends Resource>(resource: T): Promise<string> => (await seedAs(server.fhirBase, his, resource)).id;
  const doc = (patient: string, encounter: string, code: string, title: string): Composition => ({
    resourceType: 'Composition',
    status: 'preliminary',
    type: { coding: [{ system: LOINC, code }] },
    subject: { reference: `Patient/${patient}` },
    encounter: { reference: `Encounter/${encounter}` },
    date: clock.now().toISOString(),
    author: [{ reference: DR }],
    title,
  });
  /** A patient (family name `family` + run) admitted to DEPT at `start`, under DR's care. */
  const admit = async (family: string, start: Date) => {
    const patient = await seed<Patient>({ resourceType: 'Patient', name: [{ family: `${family}${run}` }] });
    const encounter = await seed(inpatientStay(patient, DEPT, [DR], { period: { start: start.toISOString() } }));
    return { patient, encounter };
  };
  const mine = async (encounter: string) => {
    const res = await overdue(attending);
    expect(res.status).toBe(200);
    return (res.body as EncounterOverdue[]).find((e) => e.encounter === `Encounter/${encounter}`)?.items ?? [];
  };

  beforeAll(async () => {
    clock = new TestClock();
    server = await startTestServer({ clock });
    his = await server.token();
    attending = await server.token({ sub: `dr-dl-${run}`, roles: ['attending'], department: DEPT, licence: 'licensed', fhirUser: DR });
    other = await server.token({ sub: `dr-elsewhere-${run}`, roles: ['attending'], department: `elsewhere-${run}`, licence: 'licensed' });
    medicalAffairs = await server.token({ sub: `ma-dl-${run}`, roles: ['medical-affairs'] });
    expect((await fhir(his, 'PUT', `Organization/${DEPT}`, { resourceType: 'Organization', id: DEPT, name: DEPT })).status).toBeLessThan(300);
  });
  afterAll(() => server?.close());

  it('R-10: after admission the first progress note is due in 8 h and the admission record in 24 h; late and missing documents are listed with their due time', async () => {
    const admitted = clock.now();
    const { patient, encounter } = await admit('时限', admitted);
    expect(await mine(encounter)).toEqual([]);

    clock.advance(9 * HOUR);
    expect(await mine(encounter)).toEqual([
      expect.objectContaining({ docType: 'first-progress-note', event: 'admission', state: 'missing', deadlineHours: 8, due: new Date(admitted.getTime() + 8 * HOUR).toISOString(), hoursLate: 1 }),
    ]);

    clock.advance(17 * HOUR); // 26 h after admission: the admission record is written 2 h late
    const record = await fhir<Composition>(attending, 'POST', 'Composition', doc(patient, encounter, '47039-3', '入院记录'));
    expect(record.status).toBe(201);
    const items = await mine(encounter);
    expect(items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ docType: 'admission-record', state: 'late', document: `Composition/${record.body.id}`, hoursLate: 2 }),
        expect.objectContaining({ docType: 'first-progress-note', state: 'missing', hoursLate: 18 }),
      ]),
    );
    expect(items).toHaveLength(2);
  });

  it('R-10: an operation\'s record is due 24 h after it, the discharge record 24 h after discharge', async () => {
    const start = clock.now();
    const { patient, encounter } = await admit('手术', start);
    expect((await fhir(attending, 'POST', 'Composition', doc(patient, encounter, '47039-3', '入院记录'))).status).toBe(201);
    expect((await fhir(attending, 'POST', 'Composition', { ...doc(patient, encounter, '11506-3', '首次病程记录'), type: { coding: [{ system: 'https://chartwarden.dev/fhir/CodeSystem/document-type', code: 'first-progress-note' }] } })).status).toBe(201);
    clock.advance(2 * HOUR);
    const operated = clock.now();
    await seed<Procedure>({
      resourceType: 'Procedure',
      status: 'completed',
      category: { coding: [{ system: 'http://snomed.info/sct', code: '387713003' }] },
      subject: { reference: `Patient/${patient}` },
      encounter: { reference: `Encounter/${encounter}` },
      performedDateTime: operated.toISOString(),
    });
    clock.advance(30 * HOUR);
    const current = (await fhir<Encounter>(his, 'GET', `Encounter/${encounter}`)).body;
    const discharged = clock.now();
    expect((await fhir(his, 'PUT', `Encounter/${encounter}`, { ...current, status: 'finished', period: { start: start.toISOString(), end: discharged.toISOString() } })).status).toBe(200);
    clock.advance(25 * HOUR);
    const items = await mine(encounter);
    expect(items).toEqual([
      expect.objectContaining({ docType: 'operation-record', event: 'operation', state: 'missing', due: new Date(operated.getTime() + 24 * HOUR).toISOString(), hoursLate: 31 }),
      expect.objectContaining({ docType: 'discharge-record', event: 'discharge', state: 'missing', due: new Date(discharged.getTime() + 24 * HOUR).toISOString(), hoursLate: 1 }),
    ]);
    // Medical affairs reads any department's list; a physician of another department does not.
    expect((await overdue(medicalAffairs, DEPT)).status).toBe(200);
    const refused = await overdue(other, DEPT);
    expect(refused.status).toBe(403);
    expect((refused.body as OperationOutcome).issue?.[0].code).toBe('forbidden');
  });
});
