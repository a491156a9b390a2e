import { randomUUID } from 'node:crypto';
import type {
  Appointment,
  Bundle,
  BundleEntry,
  Communication,
  Composition,
  Coverage,
  DocumentReference,
  Observation,
  OperationOutcome,
  Provenance,
  Resource,
} from '@medplum/fhirtypes';
import { allKeys, clinicalBuilders, inpatientStay, keyOf, putDepartments } from '../support/fhir-builders.js';
import { fhirApi, httpRequest, seedAs, type HttpResult } from '../support/http.js';
import { startTestServer, TestClock, type TestServer } from '../support/test-app.js';

/**
 * The access policy (issue #3, R-02…R-07) attacked over real HTTP, as an attacker would try.
 *
 * Seeded by the HIS integration client: two departments (`cardio`, `neuro`), patient A with an
 * in-progress cardio encounter whose participant is Practitioner/dr-cardio, patient B with a
 * neuro encounter whose participant is Practitioner/dr-neuro, and Observations, a Composition
 * and a DocumentReference for each. The attacker is dr-neuro (attending, department neuro):
 * every way of reaching patient A's records must fail, and no response may leak anything of
 * patient A — not an id, not a count, not an included entry. Every A resource carries the
 * marker `SECRET_A`, so a leaked resource is caught wherever it hides in a response.
 */

const run = randomUUID();
const ID_SYSTEM = `urn:chartwarden-e2e:access-adversarial:${run}`;
const CODE_SYSTEM = `urn:chartwarden-e2e:access-adversarial-code:${run}`;
const SECRET_A = `SECRET-A-${run}`;
const CARDIO = 'cardio';
const NEURO = 'neuro';
const DR_CARDIO = 'Practitioner/dr-cardio';
const DR_NEURO = 'Practitioner/dr-neuro';
const BTG_CATEGORY = 'http://terminology.hl7.org/CodeSystem/v3-ActReason#BTG; scheme="http://hl7.org/fhir/tag/security"';

// ---------------------------------------------------------------- HTTP

type Res<T = OperationOutcome> = HttpResult<T>;

const query = (params: Record<string, string>) => new URLSearchParams(params).toString();
const matchKeys = (b: Bundle) => (b.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => keyOf(e.resource));
const includeKeys = (b: Bundle) => (b.entry ?? []).filter((e) => e.search?.mode === 'include').map((e) => keyOf(e.resource));
const nextLink = (b: Bundle) => b.link?.find((l) => l.relation === 'next')?.url;

// ---------------------------------------------------------------- FHIR builders

const build = clinicalBuilders({ identifier: ID_SYSTEM, code: CODE_SYSTEM, family: 'Patient' });
const identifier = build.identifier;
const patientResource = build.patient;
const encounterResource = build.encounter;
const observationResource = (patient: string, encounter: string | undefined, code: string, marker: string, extra: Partial<Observation> = {}): Observation =>
  build.observation({ patient, encounter, code, identifier: `obs-${code}-${randomUUID()}`, note: `${marker} observation` }, extra);

const compositionResource = (patient: string, encounter: string, author: string, marker: string, value = `comp-${randomUUID()}`): Composition => ({
  resourceType: 'Composition',
  identifier: { system: ID_SYSTEM, value },
  status: 'final',
  type: { coding: [{ system: 'http://loinc.org', code: '11506-3', display: 'Progress note' }] },
  subject: { reference: `Patient/${patient}` },
  encounter: { reference: `Encounter/${encounter}` },
  date: new Date().toISOString(),
  author: [{ reference: author }],
  title: `${marker} progress note`,
});

const documentResource = (patient: string, encounter: string, marker: string): DocumentReference => ({
  resourceType: 'DocumentReference',
  identifier: identifier(`doc-${randomUUID()}`),
  status: 'current',
  subject: { reference: `Patient/${patient}` },
  context: { encounter: [{ reference: `Encounter/${encounter}` }] },
  description: `${marker} discharge letter`,
  content: [{ attachment: { contentType: 'text/plain', data: Buffer.from(`${marker} letter`).toString('base64') } }],
});

describe('R-03 access policy under attack (e2e, real HTTP + PostgreSQL)', () => {
  /** Grant expiry is reached by moving this clock, not by waiting (R-05). */
  const clock = new TestClock();
  let server: TestServer;
  let his: string;
  /** The attacker: attending in neuro, on patient B's care team only. */
  let drNeuro: string;
  /** Attending in cardio, on patient A's care team. */
  let drCardio: string;
  let medicalAffairs: string;
  let seedStart: string;

  const A = { patient: '', encounter: '', obs1: '', obs2: '', composition: '', document: '' };
  const B = { patient: '', encounter: '', obs1: '', obs2: '', obs3: '', cross: '', composition: '', document: '' };
  /** `Type/id` of every resource of patient A: none may ever show up in the attacker's responses. */
  const aKeys = new Set<string>();

  const fhir = fhirApi(() => server.fhirBase);
  const access = <T = unknown>(token: string, method: string, path: string, body?: unknown) =>
    httpRequest<T>(`${server.root}/access/${path}`, method, { token, body, headers: body === undefined ? {} : { 'content-type': 'application/json' } });

  /** Creates as the HIS and returns the id. */
  const seed = async (resource: Resource): Promise<string> => (await seedAs(server.fhirBase, his, resource)).id;
  /** A fresh cardio patient on dr-cardio's care team, with one Observation: for tests that open access to it. */
  const seedCardioPatient = async (label: string) => {
    const patient = await seed(patientResource(label, SECRET_A));
    const encounter = await seed(encounterResource(patient, CARDIO, DR_CARDIO, SECRET_A));
    const obs = await seed(observationResource(patient, encounter, 'grant', SECRET_A));
    return { patient, encounter, obs };
  };
  /** The current version as the HIS sees it (proves what an attack did not change). */
  const hisRead = async <T extends Resource>(type: string, id: string) => {
    const res = await fhir<T>(his, 'GET', `${type}/${id}`);
    expect(res.status).toBe(200);
    return res.body;
  };
  /** How many resources of `type` the HIS finds with our identifier `value` (proves what was not stored). */
  const storedCount = async (type: string, value: string) => {
    const res = await fhir<Bundle>(his, 'GET', `${type}?${query({ identifier: `${ID_SYSTEM}|${value}`, _summary: 'count' })}`);
    expect(res.status).toBe(200);
    return res.body.total;
  };

  /** Nothing of patient A in a response: no A resource, no A marker, no reference to patient A. */
  const expectNoLeak = (body: unknown, options: { allow?: string[] } = {}) => {
    const text = JSON.stringify(body ?? null);
    expect(text).not.toContain(SECRET_A);
    if (!options.allow?.includes(`Patient/${A.patient}`)) expect(text).not.toContain(`Patient/${A.patient}`);
    if ((body as Resource | undefined)?.resourceType === 'Bundle') {
      expect(allKeys(body as Bundle).filter((k) => aKeys.has(k))).toEqual([]);
    }
  };
  const expectForbidden = (res: Res, options: { allow?: string[] } = {}) => {
    expect(res.status).toBe(403);
    expect(res.body?.resourceType).toBe('OperationOutcome');
    expect(res.body.issue?.[0]).toMatchObject({ severity: 'error', code: 'forbidden' });
    expectNoLeak(res.body, options);
  };
  /** Follows `next` links to the end, returning every page (as the attacker). */
  const allPages = async (token: string, first: string): Promise<Bundle[]> => {
    const pages: Bundle[] = [];
    let url: string | undefined = first;
    while (url) {
      const res: Res<Bundle> = await fhir<Bundle>(token, 'GET', url);
      expect(res.status).toBe(200);
      pages.push(res.body);
      url = nextLink(res.body);
      if (pages.length > 50) throw new Error('paging does not end');
    }
    return pages;
  };

  beforeAll(async () => {
    server = await startTestServer({ clock });
    his = await server.token();
    drNeuro = await server.token({ sub: 'dr-neuro', roles: ['attending'], department: NEURO, fhirUser: DR_NEURO });
    drCardio = await server.token({ sub: 'dr-cardio', roles: ['attending'], department: CARDIO, fhirUser: DR_CARDIO });
    medicalAffairs = await server.token({ sub: 'ma-officer', roles: ['medical-affairs'] });
    seedStart = new Date(Date.now() - 1000).toISOString();

    await putDepartments(fhir, his, [
      [CARDIO, 'Cardiology'],
      [NEURO, 'Neurology'],
    ]);

    A.patient = await seed(patientResource('A', SECRET_A));
    A.encounter = await seed(encounterResource(A.patient, CARDIO, DR_CARDIO, SECRET_A));
    A.obs1 = await seed(observationResource(A.patient, A.encounter, 'shared', SECRET_A));
    B.patient = await seed(patientResource('B', 'plain'));
    // Crafted by the attack scenario: an A Observation naming patient B as performer, so it sits in B's compartment.
    A.obs2 = await seed(observationResource(A.patient, A.encounter, 'shared', SECRET_A, { performer: [{ reference: `Patient/${B.patient}` }] }));
    A.composition = await seed(compositionResource(A.patient, A.encounter, DR_CARDIO, SECRET_A));
    A.document = await seed(documentResource(A.patient, A.encounter, SECRET_A));

    B.encounter = await seed(encounterResource(B.patient, NEURO, DR_NEURO, 'plain'));
    B.obs1 = await seed(observationResource(B.patient, B.encounter, 'shared', 'plain'));
    B.obs2 = await seed(observationResource(B.patient, B.encounter, 'shared', 'plain'));
    B.obs3 = await seed(observationResource(B.patient, B.encounter, 'shared', 'plain'));
    // B's Observation whose encounter reference points at A's encounter: _include must not follow it into A.
    B.cross = await seed(observationResource(B.patient, A.encounter, 'cross', 'plain'));
    B.composition = await seed(compositionResource(B.patient, B.encounter, DR_NEURO, 'plain'));
    B.document = await seed(documentResource(B.patient, B.encounter, 'plain'));

    aKeys.add(`Patient/${A.patient}`);
    aKeys.add(`Encounter/${A.encounter}`);
    aKeys.add(`Observation/${A.obs1}`);
    aKeys.add(`Observation/${A.obs2}`);
    aKeys.add(`Composition/${A.composition}`);
    aKeys.add(`DocumentReference/${A.document}`);
  }, 60_000);
  afterAll(() => server?.close());

  it('R-03: the seed is what the attack assumes: dr-cardio reads A, dr-neuro reads B (positive controls)', async () => {
    for (const [type, id] of [
      ['Observation', A.obs1],
      ['Encounter', A.encounter],
      ['Composition', A.composition],
      ['DocumentReference', A.document],
    ]) {
      const res = await fhir<Resource>(drCardio, 'GET', `${type}/${id}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ resourceType: type, id });
    }
    for (const [type, id] of [
      ['Patient', B.patient],
      ['Observation', B.obs1],
      ['Composition', B.composition],
      ['DocumentReference', B.document],
    ]) {
      const res = await fhir<Resource>(drNeuro, 'GET', `${type}/${id}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ resourceType: type, id });
    }
  });

  describe('reading by id, version and history', () => {
    it.each([
      ['Patient', () => A.patient],
      ['Encounter', () => A.encounter],
      ['Observation', () => A.obs1],
      ['Composition', () => A.composition],
      ['DocumentReference', () => A.document],
    ])('R-03: GET %s of patient A by id is 403 forbidden and shows nothing of it', async (type, id) => {
      const res = await fhir(drNeuro, 'GET', `${type}/${id()}`);
      expectForbidden(res, { allow: type === 'Patient' ? [`Patient/${A.patient}`] : [] });
      expect(res.headers.get('etag')).toBeNull();
      expect(res.headers.get('last-modified')).toBeNull();
    });

    it('R-03: vread of version 1 of A\'s Observation is 403 forbidden', async () => {
      const res = await fhir(drNeuro, 'GET', `Observation/${A.obs1}/_history/1`);
      expectForbidden(res);
      expect(res.headers.get('etag')).toBeNull();
    });

    it('R-03: the instance _history of A\'s Observation is 403 forbidden', async () => {
      const res = await fhir(drNeuro, 'GET', `Observation/${A.obs1}/_history`);
      expectForbidden(res);
    });

    it.each(['Observation', 'Encounter', 'Patient', 'Composition', 'DocumentReference'])(
      'R-03: type history %s/_history (every page) contains none of A\'s resources, but B\'s',
      async (type) => {
        const pages = await allPages(drNeuro, `${type}/_history?${query({ _since: seedStart, _count: '5' })}`);
        for (const page of pages) {
          expect(page.type).toBe('history');
          expectNoLeak(page);
        }
        const keys = pages.flatMap((p) => allKeys(p));
        const own = { Observation: B.obs1, Encounter: B.encounter, Patient: B.patient, Composition: B.composition, DocumentReference: B.document }[type];
        expect(keys).toContain(`${type}/${own}`);
        // The total counts only the versions shown: it never betrays that hidden versions exist.
        expect(pages[0].total).toBe(keys.length);
      },
    );
  });

  describe('search', () => {
    it('R-03: Observation?patient=A is 200 with total 0 and no entries', async () => {
      const res = await fhir<Bundle>(drNeuro, 'GET', `Observation?${query({ patient: A.patient })}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: 0 });
      expect(res.body.entry ?? []).toEqual([]);
      expect(nextLink(res.body)).toBeUndefined();
      expectNoLeak(res.body.entry);
    });

    it('R-03: searching by subject=Patient/A, by encounter=A\'s encounter, by _id and by POST _search finds nothing of A', async () => {
      const gets = [
        `Observation?${query({ subject: `Patient/${A.patient}` })}`,
        `Observation?${query({ _id: `${A.obs1},${A.obs2}` })}`,
        `Encounter?${query({ _id: A.encounter })}`,
        `Patient?${query({ _id: A.patient })}`,
        `Composition?${query({ patient: A.patient })}`,
        `DocumentReference?${query({ patient: A.patient })}`,
        `Patient?${query({ identifier: `${ID_SYSTEM}|patient-A` })}`,
      ];
      for (const path of gets) {
        const res = await fhir<Bundle>(drNeuro, 'GET', path);
        expect(res.status).toBe(200);
        expect(res.body.total).toBe(0);
        expect(res.body.entry ?? []).toEqual([]);
        expectNoLeak(res.body.entry);
      }
      // Searching by A's encounter finds only B's own Observation that points there, never A's.
      const byEncounter = await fhir<Bundle>(drNeuro, 'GET', `Observation?${query({ encounter: A.encounter })}`);
      expect(byEncounter.status).toBe(200);
      expect(byEncounter.body.total).toBe(1);
      expect(matchKeys(byEncounter.body)).toEqual([`Observation/${B.cross}`]);
      expectNoLeak(byEncounter.body);

      const posted = await fhir<Bundle>(drNeuro, 'POST', 'Observation/_search', query({ patient: A.patient }), {
        'content-type': 'application/x-www-form-urlencoded',
      });
      expect(posted.status).toBe(200);
      expect(posted.body.total).toBe(0);
      expect(posted.body.entry ?? []).toEqual([]);
    });

    // Issue #12 item 3: the probe runs under the attacker's search filter, so A's record is no match (it was 403, which told it exists).
    it('R-03: a conditional create whose If-None-Exist matches only A\'s Observation neither returns nor reveals it: it creates B\'s', async () => {
      const target = await hisRead<Observation>('Observation', A.obs1);
      const aIdentifier = target.identifier?.[0];
      const value = `ifnoneexist-${randomUUID()}`;
      const probe = observationResource(B.patient, B.encounter, 'probe', 'plain', { identifier: identifier(value) });
      const res = await fhir<Observation>(drNeuro, 'POST', 'Observation', probe, {
        'if-none-exist': `identifier=${aIdentifier?.system}|${aIdentifier?.value}`,
      });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ resourceType: 'Observation', subject: { reference: `Patient/${B.patient}` } });
      expect(res.body.id).not.toBe(A.obs1);
      expectNoLeak(res.body);
      expect(await storedCount('Observation', value)).toBe(1);
      expect(await hisRead<Observation>('Observation', A.obs1)).toEqual(target);
    });

    it('R-03: Observation?code=<code shared by A and B> returns only B\'s, and total counts only B\'s (also with _summary=count)', async () => {
      const shared = `${CODE_SYSTEM}|shared`;
      const res = await fhir<Bundle>(drNeuro, 'GET', `Observation?${query({ code: shared, _count: '50' })}`);
      expect(res.status).toBe(200);
      expect(res.body.total).toBe(3);
      expect(matchKeys(res.body).sort()).toEqual([`Observation/${B.obs1}`, `Observation/${B.obs2}`, `Observation/${B.obs3}`].sort());
      expectNoLeak(res.body);

      // The HIS sees all five: the filter above hid A's two, it did not lose them.
      const everyone = await fhir<Bundle>(his, 'GET', `Observation?${query({ code: shared, _summary: 'count' })}`);
      expect(everyone.body.total).toBe(5);

      const counted = await fhir<Bundle>(drNeuro, 'GET', `Observation?${query({ code: shared, _summary: 'count' })}`);
      expect(counted.status).toBe(200);
      expect(counted.body.total).toBe(3);
      expect(counted.body.entry ?? []).toEqual([]);
    });

    it('R-03: paging with _count=1 over B\'s visible results: full pages, honest totals, each B result once, never one of A\'s', async () => {
      for (const sort of ['_lastUpdated', '-_lastUpdated']) {
        const pages = await allPages(drNeuro, `Observation?${query({ code: `${CODE_SYSTEM}|shared`, _count: '1', _sort: sort })}`);
        expect(pages).toHaveLength(3);
        for (const page of pages) {
          expect(page.total).toBe(3);
          expect(page.entry).toHaveLength(1);
          expectNoLeak(page);
        }
        const seen = pages.flatMap((p) => matchKeys(p));
        expect(new Set(seen).size).toBe(3);
        expect([...seen].sort()).toEqual([`Observation/${B.obs1}`, `Observation/${B.obs2}`, `Observation/${B.obs3}`].sort());
      }
      // Probing past the visible results shows nothing either (A's two hidden results do not fill an extra page).
      for (const offset of ['3', '4']) {
        const beyond = await fhir<Bundle>(drNeuro, 'GET', `Observation?${query({ code: `${CODE_SYSTEM}|shared`, _count: '1', _offset: offset })}`);
        expect(beyond.status).toBe(200);
        expect(beyond.body.total).toBe(3);
        expect(beyond.body.entry ?? []).toEqual([]);
        expect(nextLink(beyond.body)).toBeUndefined();
      }
    });
  });

  describe('_include, _revinclude, _has, chains, _elements', () => {
    it('R-03: Observation?patient=B&_include=Observation:patient includes only patient B', async () => {
      const res = await fhir<Bundle>(drNeuro, 'GET', `Observation?${query({ patient: B.patient, _include: 'Observation:patient', _count: '100' })}`);
      expect(res.status).toBe(200);
      expect(includeKeys(res.body)).toEqual([`Patient/${B.patient}`]);
      expect(matchKeys(res.body)).toEqual(expect.arrayContaining([`Observation/${B.obs1}`, `Observation/${B.cross}`]));
      expectNoLeak(res.body);
    });

    it('R-03: _include=Observation:encounter does not follow B\'s Observation into A\'s encounter', async () => {
      // The HIS, unrestricted, would include A's encounter: the reference is really there.
      const unrestricted = await fhir<Bundle>(his, 'GET', `Observation?${query({ patient: B.patient, _include: 'Observation:encounter', _count: '100' })}`);
      expect(includeKeys(unrestricted.body)).toContain(`Encounter/${A.encounter}`);

      const res = await fhir<Bundle>(drNeuro, 'GET', `Observation?${query({ patient: B.patient, _include: 'Observation:encounter', _count: '100' })}`);
      expect(res.status).toBe(200);
      expect(matchKeys(res.body)).toContain(`Observation/${B.cross}`);
      expect(includeKeys(res.body)).toEqual([`Encounter/${B.encounter}`]);
      expectNoLeak(res.body);
    });

    it('R-03: Patient?_id=B&_revinclude=Observation:subject gives only B\'s; _revinclude=Observation:performer does not pull A\'s Observation naming B', async () => {
      const bySubject = await fhir<Bundle>(drNeuro, 'GET', `Patient?${query({ _id: B.patient, _revinclude: 'Observation:subject' })}`);
      expect(bySubject.status).toBe(200);
      expect(matchKeys(bySubject.body)).toEqual([`Patient/${B.patient}`]);
      expect(includeKeys(bySubject.body)).toEqual(
        expect.arrayContaining([`Observation/${B.obs1}`, `Observation/${B.obs2}`, `Observation/${B.obs3}`, `Observation/${B.cross}`]),
      );
      expectNoLeak(bySubject.body);

      const unrestricted = await fhir<Bundle>(his, 'GET', `Patient?${query({ _id: B.patient, _revinclude: 'Observation:performer' })}`);
      expect(includeKeys(unrestricted.body)).toEqual([`Observation/${A.obs2}`]);

      const byPerformer = await fhir<Bundle>(drNeuro, 'GET', `Patient?${query({ _id: B.patient, _revinclude: 'Observation:performer' })}`);
      expect(byPerformer.status).toBe(200);
      expect(matchKeys(byPerformer.body)).toEqual([`Patient/${B.patient}`]);
      expect(includeKeys(byPerformer.body)).toEqual([]);
      expectNoLeak(byPerformer.body);

      const fromEncounter = await fhir<Bundle>(drNeuro, 'GET', `Encounter?${query({ _id: A.encounter, _revinclude: 'Observation:encounter' })}`);
      expect(fromEncounter.status).toBe(200);
      expect(fromEncounter.body.total).toBe(0);
      expect(fromEncounter.body.entry ?? []).toEqual([]);
    });

    it.each([
      ['_has (reverse chain)', 'Patient', { [`_has:Observation:patient:code`]: `${CODE_SYSTEM}|shared` }, 'invalid'],
      ['a chained parameter subject.name', 'Observation', { 'subject.name': 'PatientA' }, 'invalid'],
      ['a typed chained parameter subject:Patient.name', 'Observation', { 'subject:Patient.name': 'PatientA' }, 'invalid'],
    ])('R-03: %s cannot be checked, so it is refused with 400 and returns nothing', async (_name, type, params, code) => {
      const res = await fhir<OperationOutcome & Partial<Omit<Bundle, 'resourceType'>>>(drNeuro, 'GET', `${type}?${query(params)}`);
      expect(res.status).toBe(400);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(res.body.issue?.[0].code).toBe(code);
      expect(res.body.entry).toBeUndefined();
      expect(res.body.total).toBeUndefined();
      expectNoLeak(res.body);
    });

    // Issue #16: `_elements` and `_summary` are served now, on what the decision let through (they were refused with 400 before).
    it.each([
      ['_elements=id', { _elements: 'id' }],
      ['_summary=true', { _summary: 'true' }],
    ])('R-03: %s subsets only what dr-neuro may read: B\'s three, each tagged SUBSETTED, total 3, nothing of A', async (_name, params) => {
      const res = await fhir<Bundle>(drNeuro, 'GET', `Observation?${query({ ...params, code: `${CODE_SYSTEM}|shared`, _count: '50' })}`);
      expect(res.status).toBe(200);
      expect(res.body.total).toBe(3);
      expect(matchKeys(res.body).sort()).toEqual([`Observation/${B.obs1}`, `Observation/${B.obs2}`, `Observation/${B.obs3}`].sort());
      for (const e of res.body.entry ?? []) {
        expect(e.resource?.meta?.tag).toContainEqual(expect.objectContaining({ code: 'SUBSETTED' }));
        expect((e.resource as Observation).note).toBeUndefined();
      }
      expectNoLeak(res.body);
    });
  });

  describe('Patient/$everything', () => {
    it('R-03: Patient/A/$everything is 403 forbidden', async () => {
      const res = await fhir(drNeuro, 'GET', `Patient/${A.patient}/$everything`);
      expectForbidden(res, { allow: [`Patient/${A.patient}`] });
    });

    it('R-03: Patient/B/$everything is only B\'s compartment as dr-neuro may read it — not A\'s Observation naming B as performer', async () => {
      const unrestricted = await fhir<Bundle>(his, 'GET', `Patient/${B.patient}/$everything?_count=100`);
      expect(allKeys(unrestricted.body)).toContain(`Observation/${A.obs2}`);

      const started = Date.now();
      const res = await fhir<Bundle>(drNeuro, 'GET', `Patient/${B.patient}/$everything?_count=100`);
      const elapsed = Date.now() - started;
      expect(res.status).toBe(200);
      const keys = allKeys(res.body);
      expect(keys).toEqual(
        expect.arrayContaining([
          `Patient/${B.patient}`,
          `Encounter/${B.encounter}`,
          `Observation/${B.obs1}`,
          `Observation/${B.cross}`,
          `Composition/${B.composition}`,
          `DocumentReference/${B.document}`,
        ]),
      );
      expect(res.body.total).toBe(keys.length);
      expect(res.body.total).toBe((unrestricted.body.total ?? 0) - 1);
      expectNoLeak(res.body);
      // A dozen resources: the restricted $everything must answer like any read, not after tens of seconds.
      expect({ elapsedMs: elapsed, fastEnough: elapsed < 10_000 }).toEqual({ elapsedMs: elapsed, fastEnough: true });
    }, 150_000);
  });

  describe('batch and transaction', () => {
    it('R-03: in a batch, the GETs of A\'s Observation (read, vread, search) fail or find nothing while the other entries succeed', async () => {
      const bundle: Bundle = {
        resourceType: 'Bundle',
        type: 'batch',
        entry: [
          { request: { method: 'GET', url: `Observation/${B.obs1}` } },
          { request: { method: 'GET', url: `Observation/${A.obs1}` } },
          { request: { method: 'GET', url: `Observation/${A.obs1}/_history/1` } },
          { request: { method: 'GET', url: `Observation?${query({ patient: A.patient })}` } },
          { request: { method: 'GET', url: `Patient/${B.patient}` } },
        ],
      };
      const res = await fhir<Bundle>(drNeuro, 'POST', '', bundle);
      expect(res.status).toBe(200);
      expect(res.body.type).toBe('batch-response');
      const entries = res.body.entry ?? [];
      expect(entries.map((e) => e.response?.status)).toEqual(['200 OK', '403 Forbidden', '403 Forbidden', '200 OK', '200 OK']);
      expect(entries[0].resource).toMatchObject({ resourceType: 'Observation', id: B.obs1 });
      for (const i of [1, 2]) {
        expect(entries[i].resource).toBeUndefined();
        expect((entries[i].response?.outcome as OperationOutcome).issue?.[0].code).toBe('forbidden');
      }
      expect(entries[3].resource).toMatchObject({ resourceType: 'Bundle', total: 0 });
      expect((entries[3].resource as Bundle).entry ?? []).toEqual([]);
      expect(entries[4].resource).toMatchObject({ resourceType: 'Patient', id: B.patient });
      expectNoLeak(res.body);
    });

    const goodEntries = (tag: string): BundleEntry[] => [
      {
        resource: observationResource(B.patient, B.encounter, 'tx', 'plain', { identifier: identifier(`${tag}-good-1`) }),
        request: { method: 'POST', url: 'Observation' },
      },
      {
        resource: observationResource(B.patient, B.encounter, 'tx', 'plain', { identifier: identifier(`${tag}-good-2`) }),
        request: { method: 'POST', url: 'Observation' },
      },
    ];

    it('R-03: a transaction with a PUT of A\'s Observation among valid entries is refused 403 as a whole; nothing is stored, A\'s Observation is unchanged', async () => {
      const tag = `tx-put-${randomUUID()}`;
      const before = await hisRead<Observation>('Observation', A.obs1);
      const tampered: Observation = { ...before, status: 'entered-in-error', identifier: identifier(`${tag}-tampered`) };
      const entries = goodEntries(tag);
      entries.splice(1, 0, { resource: tampered, request: { method: 'PUT', url: `Observation/${A.obs1}` } });

      const res = await fhir(drNeuro, 'POST', '', { resourceType: 'Bundle', type: 'transaction', entry: entries });
      expectForbidden(res);
      expect((res.body.issue ?? []).flatMap((i) => i.expression ?? [])).toContain('Bundle.entry[1]');

      expect(await storedCount('Observation', `${tag}-good-1`)).toBe(0);
      expect(await storedCount('Observation', `${tag}-good-2`)).toBe(0);
      expect(await storedCount('Observation', `${tag}-tampered`)).toBe(0);
      expect(await hisRead<Observation>('Observation', A.obs1)).toEqual(before);
    });

    it('R-03: a transaction that POSTs an Observation into A\'s encounter among valid entries is refused 403; nothing is stored', async () => {
      const tag = `tx-post-${randomUUID()}`;
      const entries = goodEntries(tag);
      entries.push({
        resource: observationResource(A.patient, A.encounter, 'tx', 'plain', { identifier: identifier(`${tag}-into-a`) }),
        request: { method: 'POST', url: 'Observation' },
      });
      const aObservationsBefore = (await fhir<Bundle>(his, 'GET', `Observation?${query({ patient: A.patient, _summary: 'count' })}`)).body.total;

      const res = await fhir(drNeuro, 'POST', '', { resourceType: 'Bundle', type: 'transaction', entry: entries });
      expectForbidden(res, { allow: [`Patient/${A.patient}`] });
      expect((res.body.issue ?? []).flatMap((i) => i.expression ?? [])).toContain('Bundle.entry[2]');

      for (const v of ['good-1', 'good-2', 'into-a']) expect(await storedCount('Observation', `${tag}-${v}`)).toBe(0);
      expect((await fhir<Bundle>(his, 'GET', `Observation?${query({ patient: A.patient, _summary: 'count' })}`)).body.total).toBe(aObservationsBefore);
    });

    it('R-03: a transaction whose GET of A\'s Observation runs after its POSTs is refused 403 and the POSTs are rolled back', async () => {
      const tag = `tx-get-${randomUUID()}`;
      const entries = [{ request: { method: 'GET', url: `Observation/${A.obs1}` } } as BundleEntry, ...goodEntries(tag)];
      const res = await fhir(drNeuro, 'POST', '', { resourceType: 'Bundle', type: 'transaction', entry: entries });
      expectForbidden(res);
      expect(await storedCount('Observation', `${tag}-good-1`)).toBe(0);
      expect(await storedCount('Observation', `${tag}-good-2`)).toBe(0);
    });

    it('R-03: the same transaction without the forbidden entry succeeds for dr-neuro (the refusals above are about A, not the rest)', async () => {
      const tag = `tx-ok-${randomUUID()}`;
      const res = await fhir<Bundle>(drNeuro, 'POST', '', { resourceType: 'Bundle', type: 'transaction', entry: goodEntries(tag) });
      expect(res.status).toBe(200);
      expect(res.body.type).toBe('transaction-response');
      expect(res.body.entry?.map((e) => e.response?.status)).toEqual(['201 Created', '201 Created']);
      expect(await storedCount('Observation', `${tag}-good-1`)).toBe(1);
      expect(await storedCount('Observation', `${tag}-good-2`)).toBe(1);
    });
  });

  describe('moving a resource with an update', () => {
    it('R-03: dr-neuro cannot move B\'s Observation to patient A (403); its version and patient are unchanged, A\'s search does not find it', async () => {
      const id = await seed(observationResource(B.patient, B.encounter, 'move', 'plain'));
      const before = await hisRead<Observation>('Observation', id);
      const res = await fhir(drNeuro, 'PUT', `Observation/${id}`, { ...before, subject: { reference: `Patient/${A.patient}` } });
      expectForbidden(res, { allow: [`Patient/${A.patient}`] });
      expect(res.headers.get('etag')).toBeNull();

      const after = await hisRead<Observation>('Observation', id);
      expect(after).toEqual(before);
      expect(after.meta?.versionId).toBe('1');
      const inA = await fhir<Bundle>(his, 'GET', `Observation?${query({ patient: A.patient, _id: id })}`);
      expect(inA.body.total).toBe(0);
      // Without the move, the same update is dr-neuro's to make: the refusal is about A.
      const allowed = await fhir<Observation>(drNeuro, 'PUT', `Observation/${id}`, { ...before, valueQuantity: { ...before.valueQuantity, value: 80 } });
      expect(allowed.status).toBe(200);
      expect(allowed.body.meta?.versionId).toBe('2');
    });

    it('R-03: dr-neuro cannot create a record for patient A through PUT to a new id (update-as-create): 403, nothing stored', async () => {
      const id = `adv-${randomUUID()}`;
      const res = await fhir(drNeuro, 'PUT', `Observation/${id}`, { ...observationResource(A.patient, A.encounter, 'move', 'plain'), id });
      expectForbidden(res, { allow: [`Patient/${A.patient}`] });
      expect((await fhir(his, 'GET', `Observation/${id}`)).status).toBe(404);
    });

    it('R-03: dr-cardio, on A\'s care team, cannot move A\'s Observation to patient B, out of reach of A\'s team (403); version unchanged', async () => {
      const before = await hisRead<Observation>('Observation', A.obs1);
      expect((await fhir(drCardio, 'GET', `Observation/${A.obs1}`)).status).toBe(200);
      const res = await fhir(drCardio, 'PUT', `Observation/${A.obs1}`, { ...before, subject: { reference: `Patient/${B.patient}` }, encounter: { reference: `Encounter/${B.encounter}` } });
      expect(res.status).toBe(403);
      expect(res.body.issue?.[0].code).toBe('forbidden');
      const after = await hisRead<Observation>('Observation', A.obs1);
      expect(after).toEqual(before);
      expect(after.meta?.versionId).toBe(before.meta?.versionId);
      // dr-neuro still cannot see it: nothing moved into B.
      expectForbidden(await fhir(drNeuro, 'GET', `Observation/${A.obs1}`));
    });

    describe('when the HIS moves a record from A to B', () => {
      const V1_MARKER = `MOVED-FROM-A-${run}`;
      let moved = '';

      beforeAll(async () => {
        moved = await seed(observationResource(A.patient, A.encounter, 'moved', `${SECRET_A} ${V1_MARKER}`));
        aKeys.add(`Observation/${moved}`);
        const current = await hisRead<Observation>('Observation', moved);
        const res = await fhir<Observation>(his, 'PUT', `Observation/${moved}`, {
          ...current,
          subject: { reference: `Patient/${B.patient}` },
          encounter: { reference: `Encounter/${B.encounter}` },
          note: [{ text: 'corrected: belongs to patient B' }],
        });
        expect(res.status).toBe(200);
        expect(res.body.meta?.versionId).toBe('2');
        aKeys.delete(`Observation/${moved}`); // its current version is B's
      });

      it('R-03: the HIS move is allowed (200, version 2); dr-neuro reads the current version, but vread of version 1 (A\'s) is 403', async () => {
        const current = await fhir<Observation>(drNeuro, 'GET', `Observation/${moved}`);
        expect(current.status).toBe(200);
        expect(current.body).toMatchObject({ id: moved, meta: { versionId: '2' }, subject: { reference: `Patient/${B.patient}` } });
        expect(current.text).not.toContain(V1_MARKER);

        const v1 = await fhir(drNeuro, 'GET', `Observation/${moved}/_history/1`);
        expectForbidden(v1);
        expect(v1.text).not.toContain(V1_MARKER);
        expect((await fhir(drNeuro, 'GET', `Observation/${moved}/_history/2`)).status).toBe(200);
      });

      it('R-03: instance history of the moved record shows dr-neuro only version 2, total 1, on every page', async () => {
        const whole = await fhir<Bundle>(drNeuro, 'GET', `Observation/${moved}/_history`);
        expect(whole.status).toBe(200);
        expect(whole.body.entry?.map((e) => e.resource?.meta?.versionId)).toEqual(['2']);
        expect(whole.body.total).toBe(1);
        expect(whole.text).not.toContain(V1_MARKER);
        expectNoLeak(whole.body);

        const pages = await allPages(drNeuro, `Observation/${moved}/_history?_count=1`);
        for (const page of pages) {
          expect(page.total).toBe(1);
          expect(JSON.stringify(page)).not.toContain(V1_MARKER);
        }
        expect(pages.flatMap((p) => (p.entry ?? []).map((e) => e.resource?.meta?.versionId))).toEqual(['2']);
      });

      it('R-03: type history Observation/_history never shows dr-neuro the version that was A\'s', async () => {
        const pages = await allPages(drNeuro, `Observation/_history?${query({ _since: seedStart, _count: '50' })}`);
        const versions = pages.flatMap((p) => (p.entry ?? []).filter((e) => e.resource?.id === moved).map((e) => e.resource?.meta?.versionId));
        expect(versions).toEqual(['2']);
        for (const page of pages) {
          expect(JSON.stringify(page)).not.toContain(V1_MARKER);
          expectNoLeak(page);
        }
      });
    });
  });

  describe('SMART scopes only narrow', () => {
    it.each(['user/*.*', 'system/*.*', 'user/*.cruds', 'user/Composition.write'])(
      'R-02: a nurse whose token carries scope %s still cannot create a Composition (403); nothing stored',
      async (scope) => {
        const nurse = await server.token({ sub: 'nurse-neuro', roles: ['nurse'], department: NEURO, scope });
        const value = `nurse-comp-${randomUUID()}`;
        const res = await fhir(nurse, 'POST', 'Composition', compositionResource(B.patient, B.encounter, DR_NEURO, 'plain', value));
        expectForbidden(res);
        expect(await storedCount('Composition', value)).toBe(0);
        // Nor does the wide scope open another department's patient.
        expectForbidden(await fhir(nurse, 'GET', `Observation/${A.obs1}`));
      },
    );

    it('R-02: the same nurse token may do what the policy allows it (create an Observation for B, in her department)', async () => {
      const nurse = await server.token({ sub: 'nurse-neuro', roles: ['nurse'], department: NEURO, scope: 'user/*.*' });
      const value = `nurse-obs-${randomUUID()}`;
      const res = await fhir<Observation>(nurse, 'POST', 'Observation', observationResource(B.patient, B.encounter, 'nurse', 'plain', { identifier: identifier(value) }));
      expect(res.status).toBe(201);
      expect(await storedCount('Observation', value)).toBe(1);
    });

    it('R-02: a scope narrower than the policy narrows it: dr-neuro with user/Observation.rs reads B but cannot create (403)', async () => {
      const narrowed = await server.token({ sub: 'dr-neuro', roles: ['attending'], department: NEURO, fhirUser: DR_NEURO, scope: 'user/Observation.rs' });
      expect((await fhir(narrowed, 'GET', `Observation/${B.obs1}`)).status).toBe(200);
      expectForbidden(await fhir(narrowed, 'GET', `Observation/${A.obs1}`));
      const value = `narrowed-${randomUUID()}`;
      const res = await fhir(narrowed, 'POST', 'Observation', observationResource(B.patient, B.encounter, 'scope', 'plain', { identifier: identifier(value) }));
      expectForbidden(res);
      expect(await storedCount('Observation', value)).toBe(0);
      // The Composition is outside the scope's type: denied even for reading B's.
      expectForbidden(await fhir(narrowed, 'GET', `Composition/${B.composition}`));
    });
  });

  describe('grants (R-05)', () => {
    const requestGrant = (token: string, grantee: string, patient: string, until: string) =>
      access<{ id: string; status: string; grantee: string; patientId: string }>(token, 'POST', 'grants', {
        grantee,
        patient,
        purpose: 'research',
        reason: 'Retrospective arrhythmia study',
        until,
      });
    const approve = (id: string) => access<{ id: string; status: string; validUntil: string }>(medicalAffairs, 'POST', `grants/${id}/approve`, { note: 'ok' });
    /** The grant as medical affairs lists it (the state that counts, whatever a response said). */
    const grantState = async (id: string) => {
      const res = await access<{ id: string; status: string; validUntil: string | null }[]>(medicalAffairs, 'GET', 'grants');
      expect(res.status).toBe(200);
      const grant = res.body.find((g) => g.id === id);
      expect(grant).toBeDefined();
      return grant as { id: string; status: string; validUntil: string | null };
    };
    /** A neuro attending no decision has been cached for yet, for tests about what a grant opens rather than when. */
    const freshClinician = async (label: string) => {
      const sub = `dr-neuro-${label}-${run.slice(0, 8)}`;
      return { sub, token: await server.token({ sub, roles: ['attending'], department: NEURO, fhirUser: `Practitioner/${sub}` }) };
    };

    it('R-05: once medical affairs approves dr-neuro\'s grant on a cardio patient, dr-neuro can read and search it at once', async () => {
      const g = await seedCardioPatient('grant-open');
      expectForbidden(await fhir(drNeuro, 'GET', `Observation/${g.obs}`));

      const requested = await requestGrant(drNeuro, 'dr-neuro', g.patient, new Date(Date.now() + 86_400_000).toISOString());
      expect(requested.status).toBe(201);
      expect(requested.body).toMatchObject({ status: 'requested', grantee: 'dr-neuro', patientId: g.patient });
      expectForbidden(await fhir(drNeuro, 'GET', `Observation/${g.obs}`));
      // The attacker cannot approve their own request.
      const selfApproved = await access<OperationOutcome>(drNeuro, 'POST', `grants/${requested.body.id}/approve`, {});
      expect(selfApproved.status).toBe(403);
      expect(selfApproved.body.issue?.[0].code).toBe('forbidden');
      expect((await grantState(requested.body.id)).status).toBe('requested');

      const approved = await approve(requested.body.id);
      expect(approved.status).toBe(200);
      expect((await grantState(requested.body.id)).status).toBe('approved');

      const read = await fhir<Observation>(drNeuro, 'GET', `Observation/${g.obs}`);
      expect(read.status).toBe(200);
      expect(read.body.id).toBe(g.obs);
      const found = await fhir<Bundle>(drNeuro, 'GET', `Observation?${query({ patient: g.patient })}`);
      expect(found.status).toBe(200);
      expect(found.body.total).toBe(1);
      expect(matchKeys(found.body)).toEqual([`Observation/${g.obs}`]);
      expect(approved.body).toMatchObject({ id: requested.body.id, status: 'approved' });
    });

    it('R-05: a research grant opens reading and searching of that one patient only: no writes, patient A stays closed', async () => {
      const g = await seedCardioPatient('grant-scope');
      const clinician = await freshClinician('scope');
      const requested = await requestGrant(drNeuro, clinician.sub, g.patient, new Date(Date.now() + 86_400_000).toISOString());
      expect(requested.status).toBe(201);
      expect((await approve(requested.body.id)).status).toBe(200);

      const read = await fhir<Observation>(clinician.token, 'GET', `Observation/${g.obs}`);
      expect(read.status).toBe(200);
      const found = await fhir<Bundle>(clinician.token, 'GET', `Observation?${query({ patient: g.patient })}`);
      expect(found.body.total).toBe(1);
      expect(matchKeys(found.body)).toEqual([`Observation/${g.obs}`]);

      const write = await fhir(clinician.token, 'PUT', `Observation/${g.obs}`, { ...read.body, status: 'amended' });
      expect(write.status).toBe(403);
      expect(write.body.issue?.[0].code).toBe('forbidden');
      expect((await hisRead<Observation>('Observation', g.obs)).meta?.versionId).toBe('1');
      const value = `grant-create-${randomUUID()}`;
      const create = await fhir(clinician.token, 'POST', 'Observation', observationResource(g.patient, g.encounter, 'grant', 'plain', { identifier: identifier(value) }));
      expect(create.status).toBe(403);
      expect(await storedCount('Observation', value)).toBe(0);

      expectForbidden(await fhir(clinician.token, 'GET', `Observation/${A.obs1}`));
      // The shared code finds B's three (the clinician's own department), still none of A's.
      const aSearch = await fhir<Bundle>(clinician.token, 'GET', `Observation?${query({ code: `${CODE_SYSTEM}|shared` })}`);
      expect(aSearch.status).toBe(200);
      expect(aSearch.body.total).toBe(3);
      expect(matchKeys(aSearch.body).sort()).toEqual([`Observation/${B.obs1}`, `Observation/${B.obs2}`, `Observation/${B.obs3}`].sort());
      expectNoLeak(aSearch.body);
    });

    it('R-05: an expired grant stops working: read and search refuse again after its end (grants cached ≤ 2 s), and it cannot be extended', async () => {
      const g = await seedCardioPatient('grant-expiring');
      const clinician = await freshClinician('expiring');
      const requested = await requestGrant(drNeuro, clinician.sub, g.patient, new Date(clock.now().getTime() + 3000).toISOString());
      expect(requested.status).toBe(201);
      expect((await approve(requested.body.id)).status).toBe(200);
      const state = await grantState(requested.body.id);
      expect(state.status).toBe('approved');
      const end = Date.parse(state.validUntil as string);
      expect(end).toBeGreaterThan(Date.now());

      expect((await fhir(clinician.token, 'GET', `Observation/${g.obs}`)).status).toBe(200);

      clock.advanceTo(end + 2500);
      expectForbidden(await fhir(clinician.token, 'GET', `Observation/${g.obs}`));
      const found = await fhir<Bundle>(clinician.token, 'GET', `Observation?${query({ patient: g.patient })}`);
      expect(found.status).toBe(200);
      expect(found.body.total).toBe(0);
      expect(found.body.entry ?? []).toEqual([]);

      const extend = await access<OperationOutcome>(clinician.token, 'POST', `grants/${requested.body.id}/extend`, {
        until: new Date(Date.now() + 86_400_000).toISOString(),
        reason: 'need more time',
      });
      expect(extend.status).toBe(409);
      expect(extend.body.issue?.[0].code).toBe('conflict');
      expectForbidden(await fhir(clinician.token, 'GET', `Observation/${g.obs}`));
    });

    it('R-05: an expired grant stops at once ("expired grants stop working at once"), even while the grant is cached', async () => {
      const g = await seedCardioPatient('grant-at-once');
      const clinician = await freshClinician('at-once');
      const requested = await requestGrant(drNeuro, clinician.sub, g.patient, new Date(clock.now().getTime() + 2500).toISOString());
      expect((await approve(requested.body.id)).status).toBe(200);
      const end = Date.parse((await grantState(requested.body.id)).validUntil as string);
      // Read just before the end, so the grant is cached when it expires.
      clock.advanceTo(end - 700);
      expect((await fhir(clinician.token, 'GET', `Observation/${g.obs}`)).status).toBe(200);
      clock.advanceTo(end + 300);
      expectForbidden(await fhir(clinician.token, 'GET', `Observation/${g.obs}`));
      expect((await fhir<Bundle>(clinician.token, 'GET', `Observation?${query({ patient: g.patient })}`)).body.total).toBe(0);
    });
  });

  describe('break-the-glass (R-04)', () => {
    const btgList = async () => {
      const res = await access<{ id: string; grantee: string; patientId: string }[]>(medicalAffairs, 'GET', 'break-glass');
      expect(res.status).toBe(200);
      return res.body;
    };

    it.each([
      ['no X-Break-Glass-Reason', {}],
      ['a blank X-Break-Glass-Reason', { 'x-break-glass-reason': '   ' }],
    ])('R-04: break-the-glass with %s is 400 required, and opens nothing', async (_name, extra) => {
      const res = await fhir(drNeuro, 'GET', `Observation/${A.obs1}`, undefined, { category: BTG_CATEGORY, ...extra });
      expect(res.status).toBe(400);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(res.body.issue?.[0].code).toBe('required');
      expect(res.body.issue?.[0].diagnostics).toMatch(/X-Break-Glass-Reason/);
      expectNoLeak(res.body);

      expectForbidden(await fhir(drNeuro, 'GET', `Observation/${A.obs1}`));
      expect((await fhir<Bundle>(drNeuro, 'GET', `Observation?${query({ patient: A.patient })}`)).body.total).toBe(0);
      expect((await btgList()).filter((b) => b.patientId === A.patient)).toEqual([]);
    });

    it('R-04: the same missing reason on a search and in a write is 400 too, and nothing is stored', async () => {
      const search = await fhir(drNeuro, 'GET', `Observation?${query({ patient: A.patient })}`, undefined, { category: BTG_CATEGORY });
      expect(search.status).toBe(400);
      expect(search.body.issue?.[0].code).toBe('required');
      const value = `btg-write-${randomUUID()}`;
      const write = await fhir(drNeuro, 'POST', 'Observation', observationResource(A.patient, A.encounter, 'btg', 'plain', { identifier: identifier(value) }), {
        category: BTG_CATEGORY,
      });
      expect(write.status).toBe(400);
      expect(write.body.issue?.[0].code).toBe('required');
      expect(await storedCount('Observation', value)).toBe(0);
    });

    it.each(['admin', 'auditor'])('R-04: break-the-glass by a role the policy does not name (%s) is 403, and opens nothing', async (role) => {
      const sub = `${role}-${run}`;
      const token = await server.token({ sub, roles: [role] });
      const res = await fhir(token, 'GET', `Observation/${A.obs1}`, undefined, { category: BTG_CATEGORY, 'x-break-glass-reason': 'I want to see it' });
      expectForbidden(res);
      expect(res.body.issue?.[0].diagnostics).toMatch(/R-04/);
      expectForbidden(await fhir(token, 'GET', `Observation/${A.obs1}`));
      expect((await btgList()).filter((b) => b.grantee === sub)).toEqual([]);
    });
  });
  describe('decision 0016: the whole record under attack (types the Patient compartment added)', () => {
    const W = { appointment: '', coverage: '', communication: '', hidden: '' };
    const ref = (patient: string) => ({ reference: `Patient/${patient}` });
    /** As the HIS: how many Provenances sign `target` (ground truth for "nothing stored"). */
    const signatures = async (target: string) => (await fhir<Bundle>(his, 'GET', `Provenance?${query({ target, _summary: 'count' })}`)).body.total;
    const provenance = (targets: string[], by: string): Provenance => ({
      resourceType: 'Provenance',
      target: targets.map((reference) => ({ reference })),
      recorded: new Date().toISOString(),
      agent: [{ who: { reference: by } }],
    });

    beforeAll(async () => {
      W.appointment = await seed({
        resourceType: 'Appointment',
        status: 'booked',
        description: `${SECRET_A} appointment`,
        start: new Date(Date.now() + 86_400_000).toISOString(),
        end: new Date(Date.now() + 90_000_000).toISOString(),
        participant: [{ actor: ref(A.patient), status: 'accepted' }, { actor: { reference: DR_CARDIO }, status: 'accepted' }],
      } satisfies Appointment);
      // A's insurance paid by B (B is its subscriber and policy holder): in B's compartment too, but A's record (beneficiary first).
      W.coverage = await seed({
        resourceType: 'Coverage',
        status: 'active',
        subscriberId: SECRET_A,
        beneficiary: ref(A.patient),
        subscriber: ref(B.patient),
        policyHolder: ref(B.patient),
        payor: [{ reference: `Organization/${CARDIO}` }],
      } satisfies Coverage);
      W.communication = await seed({
        resourceType: 'Communication',
        status: 'completed',
        subject: ref(A.patient),
        encounter: { reference: `Encounter/${A.encounter}` },
        sender: { reference: DR_CARDIO },
        payload: [{ contentString: `${SECRET_A} call the family` }],
      } satisfies Communication);
      W.hidden = await seed(observationResource(A.patient, A.encounter, 'hide', SECRET_A));
      for (const key of [`Appointment/${W.appointment}`, `Coverage/${W.coverage}`, `Communication/${W.communication}`, `Observation/${W.hidden}`]) aKeys.add(key);
    });

    it('R-03: dr-neuro reaches none of A\'s Appointment, Coverage or Communication, by id or by any link naming A; dr-cardio reads them', async () => {
      const reads = [`Appointment/${W.appointment}`, `Coverage/${W.coverage}`, `Communication/${W.communication}`];
      for (const path of reads) {
        expectForbidden(await fhir(drNeuro, 'GET', path));
        expect((await fhir<Resource>(drCardio, 'GET', path)).status).toBe(200);
      }
      const searches: [string, string][] = [
        [`Appointment?${query({ actor: `Patient/${A.patient}` })}`, `Appointment/${W.appointment}`],
        [`Appointment?${query({ patient: A.patient })}`, `Appointment/${W.appointment}`],
        [`Coverage?${query({ beneficiary: `Patient/${A.patient}` })}`, `Coverage/${W.coverage}`],
        [`Coverage?${query({ patient: A.patient })}`, `Coverage/${W.coverage}`],
        [`Communication?${query({ subject: `Patient/${A.patient}` })}`, `Communication/${W.communication}`],
        [`Communication?${query({ encounter: A.encounter })}`, `Communication/${W.communication}`],
      ];
      for (const [path, key] of searches) {
        // The HIS finds it: the search really matches the record.
        expect(matchKeys((await fhir<Bundle>(his, 'GET', path)).body)).toEqual([key]);
        const res = await fhir<Bundle>(drNeuro, 'GET', path);
        expect({ path, status: res.status, total: res.body.total, entries: res.body.entry ?? [] }).toEqual({ path, status: 200, total: 0, entries: [] });
        expectNoLeak(res.body);
      }
    });

    it('R-03: A\'s Coverage naming B as subscriber: dr-neuro\'s searches by B, _revinclude and B\'s $everything never show it', async () => {
      const bySubscriber = `Coverage?${query({ subscriber: `Patient/${B.patient}` })}`;
      expect(matchKeys((await fhir<Bundle>(his, 'GET', bySubscriber)).body)).toEqual([`Coverage/${W.coverage}`]);
      expect(allKeys((await fhir<Bundle>(his, 'GET', `Patient/${B.patient}/$everything?_count=200`)).body)).toContain(`Coverage/${W.coverage}`);

      for (const path of [bySubscriber, `Coverage?${query({ 'policy-holder': `Patient/${B.patient}` })}`]) {
        const res = await fhir<Bundle>(drNeuro, 'GET', path);
        expect({ path, status: res.status, total: res.body.total }).toEqual({ path, status: 200, total: 0 });
        expectNoLeak(res.body);
      }
      const revinclude = await fhir<Bundle>(drNeuro, 'GET', `Patient?${query({ _id: B.patient, _revinclude: 'Coverage:subscriber' })}`);
      expect({ matches: matchKeys(revinclude.body), includes: includeKeys(revinclude.body) }).toEqual({ matches: [`Patient/${B.patient}`], includes: [] });
      const everything = await fhir<Bundle>(drNeuro, 'GET', `Patient/${B.patient}/$everything?_count=200`);
      expect(everything.status).toBe(200);
      expect(allKeys(everything.body)).not.toContain(`Coverage/${W.coverage}`);
      expectNoLeak(everything.body);
    }, 150_000);

    it('R-03: dr-cardio adds B as recipient of A\'s Communication (200): its subject keeps it A\'s record, so dr-neuro still cannot see it', async () => {
      const before = await hisRead<Communication>('Communication', W.communication);
      const res = await fhir<Communication>(drCardio, 'PUT', `Communication/${W.communication}`, { ...before, recipient: [ref(B.patient)] });
      expect(res.status).toBe(200);
      expect(res.body.meta?.versionId).toBe(String(Number(before.meta?.versionId) + 1));
      // The link is there (the HIS finds it by B), but the record is A's.
      expect(matchKeys((await fhir<Bundle>(his, 'GET', `Communication?${query({ recipient: `Patient/${B.patient}` })}`)).body)).toEqual([`Communication/${W.communication}`]);
      expectForbidden(await fhir(drNeuro, 'GET', `Communication/${W.communication}`));
      const found = await fhir<Bundle>(drNeuro, 'GET', `Communication?${query({ recipient: `Patient/${B.patient}` })}`);
      expect({ status: found.status, total: found.body.total }).toEqual({ status: 200, total: 0 });
      expectNoLeak(found.body);
      expect((await fhir(drCardio, 'GET', `Communication/${W.communication}`)).status).toBe(200);
    });

    it('R-03: dr-cardio cannot move A\'s Communication to B by dropping its subject (B then its first patient link): 403, version unchanged', async () => {
      const before = await hisRead<Communication>('Communication', W.communication);
      const { subject: _subject, ...rest } = before;
      const res = await fhir(drCardio, 'PUT', `Communication/${W.communication}`, { ...rest, recipient: [ref(B.patient)] });
      expect({ status: res.status, code: res.body.issue?.[0].code }).toEqual({ status: 403, code: 'forbidden' });
      expect(await hisRead<Communication>('Communication', W.communication)).toEqual(before);
      expectForbidden(await fhir(drNeuro, 'GET', `Communication/${W.communication}`));
    });

    it('R-03: dr-cardio cannot take A\'s Observation out of A\'s record by making a Group its subject (403, unchanged), nor create one so (403, nothing stored)', async () => {
      const before = await hisRead<Observation>('Observation', W.hidden);
      const res = await fhir(drCardio, 'PUT', `Observation/${W.hidden}`, { ...before, subject: { reference: `Group/ward-${run}` } });
      expect({ status: res.status, code: res.body.issue?.[0].code }).toEqual({ status: 403, code: 'forbidden' });
      expect(await hisRead<Observation>('Observation', W.hidden)).toEqual(before);
      expect(matchKeys((await fhir<Bundle>(drCardio, 'GET', `Observation?${query({ patient: A.patient, _id: W.hidden })}`)).body)).toEqual([`Observation/${W.hidden}`]);

      const value = `group-subject-${randomUUID()}`;
      const created = await fhir(drCardio, 'POST', 'Observation', observationResource(A.patient, A.encounter, 'hide', 'plain', { identifier: identifier(value), subject: { reference: `Group/ward-${run}` } }));
      expect({ status: created.status, code: created.body.issue?.[0].code }).toEqual({ status: 403, code: 'forbidden' });
      expect(await storedCount('Observation', value)).toBe(0);
    });

    it('R-03: dr-cardio\'s Provenance signing B\'s document is 403 (it is B\'s record); nothing stored. His signing A\'s is 201', async () => {
      const target = `Composition/${B.composition}`;
      const before = await signatures(target);
      const res = await fhir(drCardio, 'POST', 'Provenance', provenance([target], DR_CARDIO));
      expect({ status: res.status, code: res.body.issue?.[0].code }).toEqual({ status: 403, code: 'forbidden' });
      expect(await signatures(target)).toBe(before);
      expectForbidden(await fhir(drNeuro, 'GET', `Composition/${A.composition}`));

      const own = await fhir<Provenance>(drCardio, 'POST', 'Provenance', provenance([`Composition/${A.composition}`], DR_CARDIO));
      expect(own.status).toBe(201);
      aKeys.add(`Provenance/${own.body.id}`);
      expectForbidden(await fhir(drNeuro, 'GET', `Provenance/${own.body.id}`));
    });

    /**
     * A Provenance signing A's and B's documents spans two patients (422 for the HIS). For dr-cardio,
     * who may not write B's record, the answer must not depend on which patient's id sorts first,
     * nor tell him that B's document exists and is another patient's: 403 both ways.
     */
    it.each([
      ['A\'s id sorts before B\'s', '0', '1'],
      ['B\'s id sorts before A\'s', '1', '0'],
    ])('R-03: dr-cardio\'s Provenance signing A\'s and B\'s documents (%s) → 403; nothing stored', async (_order, aRank, bRank) => {
      const pair = async (rank: string, side: string, dept: string, doctor: string) => {
        const patient = `${rank}-${side}-${run}`;
        expect((await fhir(his, 'PUT', `Patient/${patient}`, { resourceType: 'Patient', id: patient })).status).toBe(201);
        const encounter = await seed(inpatientStay(patient, dept, [doctor]));
        return `Composition/${await seed(compositionResource(patient, encounter, doctor, side === 'a' ? SECRET_A : 'plain'))}`;
      };
      const docA = await pair(aRank, 'a', CARDIO, DR_CARDIO);
      const docB = await pair(bRank, 'b', NEURO, DR_NEURO);
      expect((await fhir(drCardio, 'GET', docA)).status).toBe(200);

      const res = await fhir(drCardio, 'POST', 'Provenance', provenance([docA, docB], DR_CARDIO));
      expect({ status: res.status, code: res.body.issue?.[0].code, text: res.text }).toEqual({ status: 403, code: 'forbidden', text: expect.not.stringContaining('2 patients') });
      expect({ signedA: await signatures(docA), signedB: await signatures(docB) }).toEqual({ signedA: 0, signedB: 0 });
    });
  });
});
