import { randomUUID } from 'node:crypto';
import type { Bundle, Composition, Encounter, Observation, OperationOutcome, Patient, Resource } from '@medplum/fhirtypes';
import type { AccessGrant } from '../../src/access/access-grant.repository.js';
import type { Explanation } from '../../src/policy/explain.service.js';
import { putDepartments } from '../support/fhir-builders.js';
import { httpRequest, type HttpResult } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/test-app.js';

/**
 * The access workflows of issue #3 end to end, over real HTTP and PostgreSQL:
 * break-the-glass and its review by medical affairs (R-04), time-limited grants with
 * request / approve / refuse / extend (R-05), and the decision explanations for auditors and
 * admins (R-02). Patient A is in cardio (care team: Practitioner/dr-cardio); the clinician
 * asking for access is dr-neuro (attending, neuro), who is outside A's care relationship (R-03).
 * Each test that opens access uses its own cardio patient, so no opening leaks into another test.
 */

const run = randomUUID();
const ID_SYSTEM = `urn:chartwarden-e2e:access-workflow:${run}`;
const CODE_SYSTEM = `urn:chartwarden-e2e:access-workflow-code:${run}`;
const CARDIO = 'cardio';
const NEURO = 'neuro';
const DR_CARDIO = 'Practitioner/dr-cardio';
const DR_NEURO = 'Practitioner/dr-neuro';
const BTG_CATEGORY = 'http://terminology.hl7.org/CodeSystem/v3-ActReason#BTG; scheme="http://hl7.org/fhir/tag/security"';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Tolerance for times computed on the server a moment after the test computed its own. */
const SLACK = 60_000;

type Res<T = OperationOutcome> = HttpResult<T>;

function call<T = OperationOutcome>(url: string, method: string, token: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res<T>> {
  return httpRequest<T>(url, method, { token, body, contentType: 'application/json', headers: { accept: 'application/fhir+json, application/json', ...headers } });
}

const query = (params: Record<string, string>) => new URLSearchParams(params).toString();
const keys = (b: Bundle) => (b.entry ?? []).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`);
const inFuture = (ms: number) => new Date(Date.now() + ms).toISOString();

/** `expected` within ± SLACK of `actual` (an ISO instant). */
function expectAbout(actual: string | null | undefined, expected: number): void {
  expect(actual).toEqual(expect.any(String));
  expect(Math.abs(Date.parse(actual as string) - expected)).toBeLessThan(SLACK);
}

function expectOutcome(res: Res<unknown>, status: number, code: string): OperationOutcome {
  expect(res.status).toBe(status);
  const body = res.body as OperationOutcome;
  expect(body?.resourceType).toBe('OperationOutcome');
  expect(body.issue?.[0]).toMatchObject({ severity: 'error', code });
  return body;
}

describe('R-04 / R-05 access workflows (e2e, real HTTP + PostgreSQL)', () => {
  let server: TestServer;
  let his: string;
  let drNeuro: string;
  let drOther: string;
  let chief: string;
  let medicalAffairs: string;
  let secondOfficer: string;
  /** A clinician who is also in medical affairs: may approve grants, but never one they asked for or hold. */
  let dual: string;
  let auditor: string;
  let admin: string;

  const fhir = <T = OperationOutcome>(token: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    call<T>(`${server.fhirBase}/${path}`, method, token, body, { 'content-type': 'application/fhir+json', ...headers });
  const access = <T = AccessGrant>(token: string, method: string, path: string, body?: unknown) => call<T>(`${server.root}/access/${path}`, method, token, body);
  const btg = (reason: string) => ({ category: BTG_CATEGORY, 'x-break-glass-reason': reason });

  const seed = async (resource: Resource): Promise<string> => {
    const res = await fhir<Resource>(his, 'POST', resource.resourceType, resource);
    if (res.status !== 201) throw new Error(`seeding ${resource.resourceType} failed: ${res.status} ${res.text}`);
    return res.body.id as string;
  };

  /** A cardio inpatient on dr-cardio's care team, with an Observation and a Composition. */
  const seedCardioPatient = async (label: string) => {
    const patient: Patient = { resourceType: 'Patient', identifier: [{ system: ID_SYSTEM, value: label }], name: [{ family: `Cardio${label}` }] };
    const patientId = await seed(patient);
    const encounter: Encounter = {
      resourceType: 'Encounter',
      status: 'in-progress',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
      subject: { reference: `Patient/${patientId}` },
      serviceProvider: { reference: `Organization/${CARDIO}` },
      participant: [{ individual: { reference: DR_CARDIO } }],
    };
    const encounterId = await seed(encounter);
    const obs: Observation = {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: CODE_SYSTEM, code: 'hr' }] },
      subject: { reference: `Patient/${patientId}` },
      encounter: { reference: `Encounter/${encounterId}` },
      valueQuantity: { value: 120, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
    };
    const obsId = await seed(obs);
    const composition: Composition = {
      resourceType: 'Composition',
      status: 'final',
      type: { coding: [{ system: 'http://loinc.org', code: '11506-3' }] },
      subject: { reference: `Patient/${patientId}` },
      encounter: { reference: `Encounter/${encounterId}` },
      date: new Date().toISOString(),
      author: [{ reference: DR_CARDIO }],
      title: 'Progress note',
    };
    const compositionId = await seed(composition);
    return { patient: patientId, encounter: encounterId, obs: obsId, composition: compositionId };
  };

  const canRead = async (token: string, obs: string) => (await fhir(token, 'GET', `Observation/${obs}`)).status;
  const requestGrant = (token: string, body: Record<string, unknown>) => access(token, 'POST', 'grants', body);
  const grantBody = (patient: string, until: string, extra: Record<string, unknown> = {}) => ({
    grantee: 'dr-neuro',
    patient,
    purpose: 'research',
    reason: 'Retrospective study of post-infarction arrhythmia',
    until,
    ...extra,
  });

  beforeAll(async () => {
    server = await startTestServer();
    his = await server.token();
    drNeuro = await server.token({ sub: 'dr-neuro', roles: ['attending'], department: NEURO, fhirUser: DR_NEURO });
    drOther = await server.token({ sub: 'dr-other', roles: ['attending'], department: NEURO });
    chief = await server.token({ sub: 'chief-neuro', roles: ['chief'], department: NEURO });
    medicalAffairs = await server.token({ sub: 'ma-officer', roles: ['medical-affairs'] });
    secondOfficer = await server.token({ sub: 'ma-officer-2', roles: ['medical-affairs'] });
    dual = await server.token({ sub: 'dr-dual', roles: ['attending', 'medical-affairs'], department: NEURO });
    auditor = await server.token({ sub: 'auditor-1', roles: ['auditor'] });
    admin = await server.token({ sub: 'admin-1', roles: ['admin'] });
    await putDepartments(fhir, his, [
      [CARDIO, 'Cardiology'],
      [NEURO, 'Neurology'],
    ]);
  }, 60_000);
  afterAll(() => server?.close());

  describe('R-04 break-the-glass', () => {
    const reason = `Unconscious patient in neuro ICU, cardiac history needed now (${run})`;
    let A: Awaited<ReturnType<typeof seedCardioPatient>>;
    let openedAt = 0;
    let btgId = '';

    beforeAll(async () => {
      A = await seedCardioPatient('btg-A');
    });

    it('R-04: BTG with a reason by dr-neuro on A\'s Observation is 200; later reads of A\'s records without the header succeed too', async () => {
      expectOutcome(await fhir(drNeuro, 'GET', `Observation/${A.obs}`), 403, 'forbidden');

      openedAt = Date.now();
      const opened = await fhir<Observation>(drNeuro, 'GET', `Observation/${A.obs}`, undefined, btg(reason));
      expect(opened.status).toBe(200);
      expect(opened.body).toMatchObject({ resourceType: 'Observation', id: A.obs, subject: { reference: `Patient/${A.patient}` } });

      // Within the policy's 4 h the whole patient is open, without the header.
      for (const [type, id] of [
        ['Observation', A.obs],
        ['Encounter', A.encounter],
        ['Composition', A.composition],
        ['Patient', A.patient],
      ]) {
        const res = await fhir<Resource>(drNeuro, 'GET', `${type}/${id}`);
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ resourceType: type, id });
      }
      const found = await fhir<Bundle>(drNeuro, 'GET', `Observation?${query({ patient: A.patient })}`);
      expect(found.status).toBe(200);
      expect(found.body.total).toBe(1);
      expect(keys(found.body)).toEqual([`Observation/${A.obs}`]);
      // Reading is what break-the-glass opens; writing is not.
      const write = await fhir(drNeuro, 'PUT', `Observation/${A.obs}`, { ...opened.body, status: 'amended' });
      expectOutcome(write, 403, 'forbidden');
    });

    it('R-04: the glass opens that one patient only: another cardio patient stays closed', async () => {
      const other = await seedCardioPatient('btg-other');
      expectOutcome(await fhir(drNeuro, 'GET', `Observation/${other.obs}`), 403, 'forbidden');
      expect((await fhir<Bundle>(drNeuro, 'GET', `Observation?${query({ patient: other.patient })}`)).body.total).toBe(0);
    });

    it('R-04: GET /access/break-glass as medical-affairs lists the use: reason, grantee, patient, uses ≥ 2, validUntil ≈ now + 4 h', async () => {
      const res = await access<AccessGrant[]>(medicalAffairs, 'GET', 'break-glass');
      expect(res.status).toBe(200);
      const mine = res.body.filter((b) => b.patientId === A.patient);
      expect(mine).toHaveLength(1);
      const [entry] = mine;
      expect(entry).toMatchObject({ kind: 'break-glass', grantee: 'dr-neuro', patientId: A.patient, purpose: 'BTG', reason, status: 'active', reviewedAt: null, reviewedBy: null });
      expect(entry.uses).toBeGreaterThanOrEqual(2);
      expectAbout(entry.validUntil, openedAt + 4 * HOUR);
      expectAbout(entry.validFrom, openedAt);
      btgId = entry.id;

      const unreviewed = await access<AccessGrant[]>(medicalAffairs, 'GET', 'break-glass?unreviewed=true');
      expect(unreviewed.status).toBe(200);
      expect(unreviewed.body.map((b) => b.id)).toContain(btgId);
    });

    it('R-04: breaking the glass again for the same patient reuses the opening: one entry, its uses counted', async () => {
      const before = (await access<AccessGrant[]>(medicalAffairs, 'GET', 'break-glass')).body.find((b) => b.id === btgId);
      const again = await fhir(drNeuro, 'GET', `Encounter/${A.encounter}`, undefined, btg('still the same emergency'));
      expect(again.status).toBe(200);
      const after = (await access<AccessGrant[]>(medicalAffairs, 'GET', 'break-glass')).body.filter((b) => b.patientId === A.patient);
      expect(after.map((b) => b.id)).toEqual([btgId]);
      expect(after[0].uses).toBeGreaterThan(before?.uses ?? Infinity);
    });

    it('R-04: the break-the-glass list and its review are for medical affairs only (dr-neuro, auditor: 403)', async () => {
      for (const token of [drNeuro, auditor]) {
        expectOutcome(await access(token, 'GET', 'break-glass'), 403, 'forbidden');
        expectOutcome(await access(token, 'GET', 'break-glass?unreviewed=true'), 403, 'forbidden');
        expectOutcome(await access(token, 'POST', `break-glass/${btgId}/review`, { note: 'self-review' }), 403, 'forbidden');
      }
      const still = (await access<AccessGrant[]>(medicalAffairs, 'GET', 'break-glass?unreviewed=true')).body;
      expect(still.map((b) => b.id)).toContain(btgId);
    });

    it('R-04: review by medical-affairs → 200 reviewed; twice → 409; ?unreviewed=true no longer lists it', async () => {
      const reviewed = await access(medicalAffairs, 'POST', `break-glass/${btgId}/review`, { note: 'justified: emergency confirmed' });
      expect(reviewed.status).toBe(200);
      const reviewedAt = Date.now();

      const twice = await access(secondOfficer, 'POST', `break-glass/${btgId}/review`, { note: 'again' });
      expectOutcome(twice, 409, 'conflict');

      const unreviewed = await access<AccessGrant[]>(medicalAffairs, 'GET', 'break-glass?unreviewed=true');
      expect(unreviewed.status).toBe(200);
      expect(unreviewed.body.map((b) => b.id)).not.toContain(btgId);
      const all = await access<AccessGrant[]>(medicalAffairs, 'GET', 'break-glass');
      const entry = all.body.find((b) => b.id === btgId);
      expect(entry).toMatchObject({ reviewedBy: 'ma-officer', reviewNote: 'justified: emergency confirmed' });
      expectAbout(entry?.reviewedAt, reviewedAt);
      // The review answers with the reviewed record.
      expect(reviewed.body).toMatchObject({ id: btgId, kind: 'break-glass', reviewedBy: 'ma-officer', reviewNote: 'justified: emergency confirmed' });
      expectAbout(reviewed.body.reviewedAt, reviewedAt);
    });

    it('R-04: reviewing an unknown break-the-glass id is 404, and a grant id is not a break-the-glass', async () => {
      expectOutcome(await access(medicalAffairs, 'POST', `break-glass/${randomUUID()}/review`, {}), 404, 'not-found');
      const g = await seedCardioPatient('btg-not-a-grant');
      const grant = await requestGrant(drNeuro, grantBody(g.patient, inFuture(DAY)));
      expect(grant.status).toBe(201);
      expectOutcome(await access(medicalAffairs, 'POST', `break-glass/${grant.body.id}/review`, {}), 404, 'not-found');
    });

    it('R-04: BTG on a search without a single patient (Observation?code=x) is 400 invalid and opens nothing', async () => {
      const before = (await access<AccessGrant[]>(medicalAffairs, 'GET', 'break-glass')).body.filter((b) => b.grantee === 'dr-neuro').length;
      const res = await fhir(drNeuro, 'GET', `Observation?${query({ code: `${CODE_SYSTEM}|hr` })}`, undefined, btg('mass casualty'));
      const outcome = expectOutcome(res, 400, 'invalid');
      expect(outcome.issue?.[0].diagnostics).toMatch(/one patient/);
      expect((res.body as unknown as Bundle).entry).toBeUndefined();
      const after = (await access<AccessGrant[]>(medicalAffairs, 'GET', 'break-glass')).body.filter((b) => b.grantee === 'dr-neuro').length;
      expect(after).toBe(before);

      const twoPatients = await fhir(drNeuro, 'GET', `Observation?${query({ patient: `${A.patient},${randomUUID()}` })}`, undefined, btg('two at once'));
      expectOutcome(twoPatients, 400, 'invalid');
    });

    it('R-04: BTG on a search for one patient (Observation?patient=C) opens C and finds its records', async () => {
      const C = await seedCardioPatient('btg-search-C');
      const res = await fhir<Bundle>(drNeuro, 'GET', `Observation?${query({ patient: C.patient })}`, undefined, btg('stroke code, on anticoagulants?'));
      expect(res.status).toBe(200);
      expect(res.body.total).toBe(1);
      expect(keys(res.body)).toEqual([`Observation/${C.obs}`]);
      expect(await canRead(drNeuro, C.obs)).toBe(200);
      const listed = (await access<AccessGrant[]>(medicalAffairs, 'GET', 'break-glass?unreviewed=true')).body.filter((b) => b.patientId === C.patient);
      expect(listed).toHaveLength(1);
      expect(listed[0]).toMatchObject({ grantee: 'dr-neuro', reason: 'stroke code, on anticoagulants?' });
    });
  });

  describe('R-05 time-limited grants', () => {
    /**
     * A neuro attending for whom no decision has been made (and cached) yet. Tests about what a
     * grant opens use one, so they do not depend on when a cached decision lapses; the test
     * "an approval takes effect at once" is about exactly that.
     */
    const clinician = async (label: string) => {
      const sub = `dr-${label}-${run.slice(0, 8)}`;
      return { sub, token: await server.token({ sub, roles: ['attending'], department: NEURO }) };
    };
    /** The grant as medical affairs lists it: the recorded state, whatever a response said. */
    const state = async (id: string): Promise<AccessGrant> => {
      const res = await access<AccessGrant[]>(medicalAffairs, 'GET', 'grants');
      expect(res.status).toBe(200);
      const grant = res.body.find((g) => g.id === id);
      expect(grant).toBeDefined();
      return grant as AccessGrant;
    };

    it('R-05: a request by an attending is 201 requested, and the grantee still cannot read', async () => {
      const G = await seedCardioPatient('grant-request');
      const until = inFuture(7 * DAY);
      const res = await requestGrant(drNeuro, grantBody(G.patient, until));
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        kind: 'grant',
        grantee: 'dr-neuro',
        patientId: G.patient,
        purpose: 'research',
        status: 'requested',
        requestedBy: 'dr-neuro',
        validFrom: null,
        validUntil: null,
      });
      expect(Date.parse(res.body.requestedUntil)).toBe(Date.parse(until));
      expect(res.body.id).toMatch(/^[0-9a-f-]{36}$/);
      expectOutcome(await fhir(drNeuro, 'GET', `Observation/${G.obs}`), 403, 'forbidden');
      expect((await fhir<Bundle>(drNeuro, 'GET', `Observation?${query({ patient: G.patient })}`)).body.total).toBe(0);
      expect(await state(res.body.id)).toMatchObject({ status: 'requested', validUntil: null });
    });

    it('R-05: "Patient/<id>" is accepted as the patient; a role without `request` (nurse, auditor) cannot ask for a grant (403)', async () => {
      const G = await seedCardioPatient('grant-ref');
      const res = await requestGrant(drOther, grantBody(G.patient, inFuture(DAY), { patient: `Patient/${G.patient}`, grantee: 'dr-other' }));
      expect(res.status).toBe(201);
      expect(res.body.patientId).toBe(G.patient);
      for (const token of [await server.token({ sub: 'nurse-1', roles: ['nurse'], department: NEURO }), auditor]) {
        expectOutcome(await requestGrant(token, grantBody(G.patient, inFuture(DAY))), 403, 'forbidden');
      }
    });

    it('R-05: approval by a non-approver (attending, chief, auditor, admin) is 403 and leaves the grant requested', async () => {
      const G = await seedCardioPatient('grant-non-approver');
      const grant = (await requestGrant(drNeuro, grantBody(G.patient, inFuture(DAY)))).body;
      for (const token of [drNeuro, drOther, chief, auditor, admin]) {
        expectOutcome(await access(token, 'POST', `grants/${grant.id}/approve`, {}), 403, 'forbidden');
        expectOutcome(await access(token, 'POST', `grants/${grant.id}/refuse`, {}), 403, 'forbidden');
      }
      expect(await state(grant.id)).toMatchObject({ status: 'requested', decidedBy: null });
      expectOutcome(await fhir(drNeuro, 'GET', `Observation/${G.obs}`), 403, 'forbidden');
    });

    it('R-05: a grant is approved by someone other than its requester and its grantee, even when they are medical affairs (403)', async () => {
      const G = await seedCardioPatient('grant-self-approval');
      const grantee = await clinician('self-approval');
      // dr-dual asked for someone else: dr-dual may not approve it.
      const asked = (await requestGrant(dual, grantBody(G.patient, inFuture(DAY), { grantee: grantee.sub }))).body;
      expect(asked.requestedBy).toBe('dr-dual');
      const byRequester = expectOutcome(await access(dual, 'POST', `grants/${asked.id}/approve`, {}), 403, 'forbidden');
      expect(byRequester.issue?.[0].diagnostics).toMatch(/other than its requester and grantee/);
      // dr-neuro asked for dr-dual: the grantee may not approve it either.
      const held = (await requestGrant(drNeuro, grantBody(G.patient, inFuture(DAY), { grantee: 'dr-dual' }))).body;
      expectOutcome(await access(dual, 'POST', `grants/${held.id}/approve`, {}), 403, 'forbidden');
      expect(await state(asked.id)).toMatchObject({ status: 'requested' });
      expect(await state(held.id)).toMatchObject({ status: 'requested' });
      const dualAsClinician = await server.token({ sub: 'dr-dual', roles: ['attending'], department: NEURO });
      expectOutcome(await fhir(dualAsClinician, 'GET', `Observation/${G.obs}`), 403, 'forbidden');

      // Someone else in medical affairs can.
      const approved = await access(medicalAffairs, 'POST', `grants/${asked.id}/approve`, {});
      expect(approved.status).toBe(200);
      expect(await state(asked.id)).toMatchObject({ status: 'approved', decidedBy: 'ma-officer' });
      expect(await canRead(grantee.token, G.obs)).toBe(200);
    });

    it('R-05: refuse → status refused, the grantee still gets 403; a refused grant can be neither approved nor refused again (409)', async () => {
      const G = await seedCardioPatient('grant-refuse');
      const grant = (await requestGrant(drNeuro, grantBody(G.patient, inFuture(DAY)))).body;
      const refused = await access(medicalAffairs, 'POST', `grants/${grant.id}/refuse`, { note: 'no ethics approval attached' });
      expect(refused.status).toBe(200);
      expect(await state(grant.id)).toMatchObject({ status: 'refused', decidedBy: 'ma-officer', decisionNote: 'no ethics approval attached', validUntil: null });
      expectOutcome(await fhir(drNeuro, 'GET', `Observation/${G.obs}`), 403, 'forbidden');
      expect((await fhir<Bundle>(drNeuro, 'GET', `Observation?${query({ patient: G.patient })}`)).body.total).toBe(0);

      expectOutcome(await access(secondOfficer, 'POST', `grants/${grant.id}/approve`, {}), 409, 'conflict');
      expectOutcome(await access(secondOfficer, 'POST', `grants/${grant.id}/refuse`, {}), 409, 'conflict');
      expectOutcome(await access(drNeuro, 'POST', `grants/${grant.id}/extend`, { until: inFuture(2 * DAY), reason: 'please' }), 409, 'conflict');
      expect(await state(grant.id)).toMatchObject({ status: 'refused', decidedBy: 'ma-officer', validUntil: null });
      expectOutcome(await fhir(drNeuro, 'GET', `Observation/${G.obs}`), 403, 'forbidden');
    });

    it('R-05: approve → 200 with validUntil capped at maxDays (30); the grantee reads and searches; a second approval is 409', async () => {
      const G = await seedCardioPatient('grant-approve');
      const grantee = await clinician('approve');
      const grant = (await requestGrant(drNeuro, grantBody(G.patient, inFuture(90 * DAY), { grantee: grantee.sub }))).body;
      const approvedAt = Date.now();
      const approved = await access(medicalAffairs, 'POST', `grants/${grant.id}/approve`, { note: 'ethics approval 2026-17' });
      expect(approved.status).toBe(200);
      const recorded = await state(grant.id);
      expect(recorded).toMatchObject({ status: 'approved', decidedBy: 'ma-officer', decisionNote: 'ethics approval 2026-17' });
      expectAbout(recorded.validFrom, approvedAt);
      expectAbout(recorded.validUntil, approvedAt + 30 * DAY);

      const read = await fhir<Observation>(grantee.token, 'GET', `Observation/${G.obs}`);
      expect(read.status).toBe(200);
      expect(read.body.id).toBe(G.obs);
      const found = await fhir<Bundle>(grantee.token, 'GET', `Observation?${query({ patient: G.patient })}`);
      expect(found.body.total).toBe(1);
      expect(keys(found.body)).toEqual([`Observation/${G.obs}`]);

      expectOutcome(await access(secondOfficer, 'POST', `grants/${grant.id}/approve`, {}), 409, 'conflict');
      expect(await state(grant.id)).toMatchObject({ decidedBy: 'ma-officer', validUntil: recorded.validUntil });
    });

    it('R-05: extend by the grantee → still approved, extension pending, access continues; approving it moves validUntil; refusing one keeps it', async () => {
      const G = await seedCardioPatient('grant-extend');
      const grantee = await clinician('extend');
      const firstEnd = inFuture(10 * DAY);
      const grant = (await requestGrant(drNeuro, grantBody(G.patient, firstEnd, { grantee: grantee.sub }))).body;
      expect((await access(medicalAffairs, 'POST', `grants/${grant.id}/approve`, {})).status).toBe(200);
      expect(Date.parse((await state(grant.id)).validUntil as string)).toBe(Date.parse(firstEnd));

      // Nobody else may ask to extend it, and asking for an earlier end is not an extension.
      expectOutcome(await access(drOther, 'POST', `grants/${grant.id}/extend`, { until: inFuture(20 * DAY), reason: 'me too' }), 403, 'forbidden');
      expectOutcome(await access(grantee.token, 'POST', `grants/${grant.id}/extend`, { until: inFuture(5 * DAY), reason: 'shorter' }), 400, 'invalid');

      const secondEnd = inFuture(20 * DAY);
      const extended = await access(grantee.token, 'POST', `grants/${grant.id}/extend`, { until: secondEnd, reason: 'reviewer asked for more cases' });
      expect(extended.status).toBe(200);
      const pending = await state(grant.id);
      expect(pending).toMatchObject({ status: 'approved', extensionReason: 'reviewer asked for more cases' });
      expect(Date.parse(pending.validUntil as string)).toBe(Date.parse(firstEnd));
      expect(Date.parse(pending.extensionUntil as string)).toBe(Date.parse(secondEnd));
      expect(await canRead(grantee.token, G.obs)).toBe(200);

      expect((await access(secondOfficer, 'POST', `grants/${grant.id}/approve`, {})).status).toBe(200);
      const moved = await state(grant.id);
      expect(moved).toMatchObject({ status: 'approved', extensionUntil: null, decidedBy: 'ma-officer-2' });
      expect(Date.parse(moved.validUntil as string)).toBe(Date.parse(secondEnd));
      expect(await canRead(grantee.token, G.obs)).toBe(200);

      expect((await access(grantee.token, 'POST', `grants/${grant.id}/extend`, { until: inFuture(25 * DAY), reason: 'one more week' })).status).toBe(200);
      expect((await access(medicalAffairs, 'POST', `grants/${grant.id}/refuse`, { note: 'enough' })).status).toBe(200);
      const kept = await state(grant.id);
      expect(kept).toMatchObject({ status: 'approved', extensionUntil: null, decisionNote: 'enough' });
      expect(Date.parse(kept.validUntil as string)).toBe(Date.parse(secondEnd));
      expect(await canRead(grantee.token, G.obs)).toBe(200);
    });

    it('R-05: one extension at a time: asking again while one is pending is 409 and leaves the pending one as it was', async () => {
      const G = await seedCardioPatient('grant-extend-twice');
      const grantee = await clinician('extend-twice');
      const grant = (await requestGrant(drNeuro, grantBody(G.patient, inFuture(5 * DAY), { grantee: grantee.sub }))).body;
      expect((await access(medicalAffairs, 'POST', `grants/${grant.id}/approve`, {})).status).toBe(200);
      const firstAsk = inFuture(10 * DAY);
      expect((await access(grantee.token, 'POST', `grants/${grant.id}/extend`, { until: firstAsk, reason: 'first' })).status).toBe(200);

      const again = await access(grantee.token, 'POST', `grants/${grant.id}/extend`, { until: inFuture(20 * DAY), reason: 'second' });
      expectOutcome(again, 409, 'conflict');
      const recorded = await state(grant.id);
      expect(recorded.extensionReason).toBe('first');
      expect(Date.parse(recorded.extensionUntil as string)).toBe(Date.parse(firstAsk));
    });

    it('R-05: two officers approving at once: exactly one approval is recorded, the others are 409', async () => {
      const G = await seedCardioPatient('grant-race');
      const grant = (await requestGrant(drNeuro, grantBody(G.patient, inFuture(DAY), { grantee: 'dr-race' }))).body;
      const officers = await Promise.all([1, 2, 3, 4].map((n) => server.token({ sub: `ma-race-${n}`, roles: ['medical-affairs'] })));
      const answers = await Promise.all(officers.map((token) => access(token, 'POST', `grants/${grant.id}/approve`, { note: 'race' })));
      const statuses = answers.map((a) => a.status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(1);
      expect(statuses.filter((s) => s === 409)).toHaveLength(officers.length - 1);
      const winner = `ma-race-${statuses.indexOf(200) + 1}`;
      expect(await state(grant.id)).toMatchObject({ status: 'approved', decidedBy: winner });
    });

    it('R-05: approve, refuse and extend answer with the grant as it now is', async () => {
      const G = await seedCardioPatient('grant-answers');
      const grant = (await requestGrant(drNeuro, grantBody(G.patient, inFuture(3 * DAY)))).body;
      const approved = await access(medicalAffairs, 'POST', `grants/${grant.id}/approve`, { note: 'fine' });
      expect(approved.status).toBe(200);
      expect(approved.body).toMatchObject({ id: grant.id, kind: 'grant', grantee: 'dr-neuro', patientId: G.patient, status: 'approved', decidedBy: 'ma-officer', decisionNote: 'fine' });
      expect(approved.body.validUntil).toBe((await state(grant.id)).validUntil);

      const until = inFuture(6 * DAY);
      const extended = await access(drNeuro, 'POST', `grants/${grant.id}/extend`, { until, reason: 'more' });
      expect(extended.status).toBe(200);
      expect(extended.body).toMatchObject({ id: grant.id, status: 'approved', extensionReason: 'more' });
      expect(Date.parse(extended.body.extensionUntil as string)).toBe(Date.parse(until));

      const refused = await access(medicalAffairs, 'POST', `grants/${grant.id}/refuse`, { note: 'no' });
      expect(refused.status).toBe(200);
      expect(refused.body).toMatchObject({ id: grant.id, status: 'approved', extensionUntil: null, decisionNote: 'no' });

      const other = (await requestGrant(drNeuro, grantBody(G.patient, inFuture(DAY)))).body;
      const refusedRequest = await access(medicalAffairs, 'POST', `grants/${other.id}/refuse`, { note: 'no' });
      expect(refusedRequest.status).toBe(200);
      expect(refusedRequest.body).toMatchObject({ id: other.id, status: 'refused', decidedBy: 'ma-officer' });
    });

    it('R-05: an approval takes effect at once, even for a grantee whose "no grant" was decided a moment before', async () => {
      const G = await seedCardioPatient('grant-at-once');
      const grantee = await clinician('at-once');
      expectOutcome(await fhir(grantee.token, 'GET', `Observation/${G.obs}`), 403, 'forbidden');
      const grant = (await requestGrant(drNeuro, grantBody(G.patient, inFuture(DAY), { grantee: grantee.sub }))).body;
      expect((await access(medicalAffairs, 'POST', `grants/${grant.id}/approve`, {})).status).toBe(200);
      expect(await canRead(grantee.token, G.obs)).toBe(200);
      expect((await fhir<Bundle>(grantee.token, 'GET', `Observation?${query({ patient: G.patient })}`)).body.total).toBe(1);
    });

    it.each([
      ['a missing reason', { reason: undefined }, 'reason'],
      ['an empty reason', { reason: '' }, 'reason'],
      ['an until that is not an instant', { until: 'next tuesday' }, 'until'],
      ['an until without a zone', { until: '2030-01-01T00:00:00' }, 'until'],
      ['an until in the past', { until: new Date(Date.now() - HOUR).toISOString() }, 'until'],
      ['an unknown purpose', { purpose: 'curiosity' }, 'purpose'],
      ['a missing grantee', { grantee: undefined }, 'grantee'],
      ['a patient that is not a Patient reference', { patient: 'Observation/123' }, 'patient'],
      ['a status smuggled into the request', { status: 'approved' }, 'status'],
      ['a validUntil smuggled into the request', { validUntil: '2099-01-01T00:00:00Z' }, 'validUntil'],
    ])('R-05: a grant request with %s is 400 invalid naming the field, and nothing is recorded', async (_name, change, field) => {
      const grantee = `ghost-${randomUUID()}`;
      const body: Record<string, unknown> = { ...grantBody(randomUUID(), inFuture(DAY), { grantee }), ...change };
      for (const [k, v] of Object.entries(body)) if (v === undefined) delete body[k];
      const res = await requestGrant(drNeuro, body);
      const outcome = expectOutcome(res, 400, 'invalid');
      expect(outcome.issue?.[0].diagnostics).toContain(field);
      const listed = await access<AccessGrant[]>(medicalAffairs, 'GET', `grants?grantee=${grantee}`);
      expect(listed.status).toBe(200);
      expect(listed.body).toEqual([]);
    });

    it('R-05: approve/refuse/extend bodies are validated too (400 naming the field)', async () => {
      const G = await seedCardioPatient('grant-bodies');
      const grant = (await requestGrant(drNeuro, grantBody(G.patient, inFuture(DAY)))).body;
      expect(expectOutcome(await access(medicalAffairs, 'POST', `grants/${grant.id}/approve`, { note: 42 }), 400, 'invalid').issue?.[0].diagnostics).toContain('note');
      expect(expectOutcome(await access(medicalAffairs, 'POST', `grants/${grant.id}/approve`, { validUntil: '2099-01-01T00:00:00Z' }), 400, 'invalid').issue?.[0].diagnostics).toContain(
        'validUntil',
      );
      expect(expectOutcome(await access(drNeuro, 'POST', `grants/${grant.id}/extend`, { until: 'later' }), 400, 'invalid').issue?.[0].diagnostics).toMatch(/until|reason/);
      expect((await state(grant.id)).status).toBe('requested');
    });

    it('R-05: an unknown grant id is 404 not-found for approve, refuse and extend', async () => {
      for (const id of [randomUUID(), 'not-a-grant-id']) {
        expectOutcome(await access(medicalAffairs, 'POST', `grants/${id}/approve`, {}), 404, 'not-found');
        expectOutcome(await access(medicalAffairs, 'POST', `grants/${id}/refuse`, {}), 404, 'not-found');
        expectOutcome(await access(drNeuro, 'POST', `grants/${id}/extend`, { until: inFuture(DAY), reason: 'x' }), 404, 'not-found');
      }
    });

    it('R-05: GET /access/grants?grantee=<me> works for the grantee; another grantee\'s or everyone\'s grants need the approver role (403)', async () => {
      const G = await seedCardioPatient('grant-list');
      const mine = (await requestGrant(drNeuro, grantBody(G.patient, inFuture(DAY)))).body;
      const theirs = (await requestGrant(drOther, grantBody(G.patient, inFuture(DAY), { grantee: 'dr-other' }))).body;

      const own = await access<AccessGrant[]>(drNeuro, 'GET', 'grants?grantee=dr-neuro');
      expect(own.status).toBe(200);
      expect(own.body.map((g) => g.id)).toContain(mine.id);
      expect(own.body.every((g) => g.grantee === 'dr-neuro' && g.kind === 'grant')).toBe(true);

      expectOutcome(await access(drNeuro, 'GET', 'grants?grantee=dr-other'), 403, 'forbidden');
      expectOutcome(await access(drNeuro, 'GET', 'grants'), 403, 'forbidden');
      expectOutcome(await access(chief, 'GET', 'grants?grantee=dr-neuro'), 403, 'forbidden');
      expectOutcome(await access(auditor, 'GET', 'grants'), 403, 'forbidden');

      const all = await access<AccessGrant[]>(medicalAffairs, 'GET', 'grants');
      expect(all.status).toBe(200);
      expect(all.body.map((g) => g.id)).toEqual(expect.arrayContaining([mine.id, theirs.id]));
      expect(all.body.every((g) => g.kind === 'grant')).toBe(true);
      const others = await access<AccessGrant[]>(medicalAffairs, 'GET', 'grants?grantee=dr-other');
      expect(others.body.map((g) => g.id)).toContain(theirs.id);
      expect(others.body.every((g) => g.grantee === 'dr-other')).toBe(true);
    });
  });

  describe('R-02 decision explanations', () => {
    let E: Awaited<ReturnType<typeof seedCardioPatient>>;
    const explainPath = (obs: string, extra: Record<string, string> = {}) =>
      `explain?${query({ actor: 'dr-neuro', roles: 'attending', dept: NEURO, action: 'read', resource: `Observation/${obs}`, ...extra })}`;

    beforeAll(async () => {
      E = await seedCardioPatient('explain');
    });

    it('R-02: as auditor, explain dr-neuro reading A\'s Observation → 200, allowed false, naming every rule considered', async () => {
      const res = await access<Explanation>(auditor, 'GET', explainPath(E.obs));
      expect(res.status).toBe(200);
      expect(res.body.allowed).toBe(false);
      expect(res.body.decidedBy).toBeUndefined();
      expect(res.body.policyVersion).toEqual(expect.any(String));
      const considered = ['attending.care-team', 'attending.department', 'attending.grant', 'attending.break-glass'];
      expect(res.body.rules.map((r) => r.rule).sort()).toEqual([...considered].sort());
      expect(res.body.rules.every((r) => r.effect === 'allow')).toBe(true);
      expect(res.body.explanation).toMatch(/^Denied/);
      for (const rule of considered) expect(res.body.explanation).toContain(rule);
      // Issue #12 item 4: the auditor may not read the record, so the facts are not theirs to see (R-02).
      expect(res.body.detail).toBe('decision-only');
      expect(res.body.facts).toBeUndefined();
      // An auditor who may also read the record sees the facts, and which rule matched.
      const reader = await server.token({ sub: `auditor-reader-${run.slice(0, 8)}`, roles: ['auditor', 'medical-affairs'] });
      const full = await access<Explanation>(reader, 'GET', explainPath(E.obs));
      expect(full.body).toMatchObject({ allowed: false, detail: 'full', facts: { patient: E.patient, careTeam: [DR_CARDIO], departments: [CARDIO] } });
      expect(full.body.rules.every((r) => r.effect === 'allow' && r.matched === false)).toBe(true);
      // The explanation agrees with what the API does.
      expectOutcome(await fhir(drNeuro, 'GET', `Observation/${E.obs}`), 403, 'forbidden');
    });

    it('R-02: as admin → 200 with the same decision; as attending or medical-affairs → 403', async () => {
      const res = await access<Explanation>(admin, 'GET', explainPath(E.obs));
      expect(res.status).toBe(200);
      expect(res.body.allowed).toBe(false);
      for (const token of [drNeuro, medicalAffairs, chief]) {
        expectOutcome(await access(token, 'GET', explainPath(E.obs)), 403, 'forbidden');
      }
    });

    it('R-03: explain dr-cardio (cardio attending on the care team) → allowed by a care-team or department rule', async () => {
      const res = await access<Explanation>(auditor, 'GET', explainPath(E.obs, { actor: 'dr-cardio', dept: CARDIO }));
      expect(res.status).toBe(200);
      expect(res.body.allowed).toBe(true);
      expect(['attending.care-team', 'attending.department']).toContain(res.body.decidedBy);
      expect(res.body.explanation).toMatch(/^Allowed/);
      expect(res.body.explanation).toContain(res.body.decidedBy as string);
    });

    it('R-02: explain with an unknown query field or a malformed resource is 400 invalid', async () => {
      expectOutcome(await access(auditor, 'GET', explainPath(E.obs, { resource: 'not-a-resource' })), 400, 'invalid');
      expectOutcome(await access(auditor, 'GET', explainPath(E.obs, { sql: '1=1' })), 400, 'invalid');
    });

    it('R-05: after a grant is approved, the explanation says allowed by rule attending.grant', async () => {
      // A grantee not explained before: the test is about the explanation, not about how fast a cached decision lapses.
      const sub = `dr-explain-${run.slice(0, 8)}`;
      const grant = (await requestGrant(drNeuro, grantBody(E.patient, inFuture(DAY), { grantee: sub }))).body;
      expect((await access(medicalAffairs, 'POST', `grants/${grant.id}/approve`, {})).status).toBe(200);
      const res = await access<Explanation>(auditor, 'GET', explainPath(E.obs, { actor: sub }));
      expect(res.status).toBe(200);
      expect(res.body.allowed).toBe(true);
      expect(res.body.decidedBy).toBe('attending.grant');
      expect(res.body.explanation).toMatch(/^Allowed/);
      expect(res.body.explanation).toContain('attending.grant');
      expect(await canRead(await server.token({ sub, roles: ['attending'], department: NEURO }), E.obs)).toBe(200);
    });
  });
});
