import { randomUUID } from 'node:crypto';
import type { Bundle, Encounter, Organization, Patient, Practitioner, Resource } from '@medplum/fhirtypes';
import { LoadedPolicy } from '../../src/policy/loaded-policy.js';
import { defaultPolicyPath, loadPolicy } from '../../src/policy/policy.loader.js';
import { loadR4Definitions } from '../../src/store/fhir-definitions.js';
import { SearchParameterRegistry } from '../../src/store/search/search-parameter.registry.js';
import { INPATIENT } from '../support/fhir-builders.js';
import { expectStatus } from '../support/fhir-expect.js';
import { fhirApi, type HttpResult } from '../support/http.js';
import { corpusSearch, corpusText, parseCorpusText, resourceTypeFirst, withoutServerFields, type CorpusSubjects } from '../support/r4-corpus.js';
import { startTestServer, type TestServer } from '../support/test-app.js';

/**
 * Issue #16's proof: a resource of every type the policy governs, as a HIS sends it (the corpus
 * of `test/support/r4-corpus.ts`: Chinese text, `1.50` and `1e-30`, `_birthDate`, contained
 * resources, `resourceType` not first), is accepted from the HIS (`his-system`), comes back as
 * it was sent, and is found by a search parameter of its type; and the patient's treating
 * doctor reads the patient's records while a doctor of another department does not (R-03).
 *
 * The types are the LOADED policy's groups (the suite checks the server loaded the file it
 * enumerates), so the proof grows with the policy. "As it was sent" is byte-for-byte on the
 * JSON text, apart from what the server sets (`id`, `meta.versionId`, `meta.lastUpdated`):
 * key order and number lexemes count (FHIR: 1.0 is not 1).
 */

const RUN = `wr-${randomUUID().slice(0, 8)}`;

const r4Types = loadR4Definitions();
const policy = loadPolicy(defaultPolicyPath(), r4Types);
/** Every resource type a group of the shipped policy names. */
const GOVERNED = [...new Set(Object.values(policy.groups).flat())].filter((t) => r4Types.has(t)).sort();
const PATIENT_RECORD = new Set(policy.groups['patient-record'] ?? []);
const registry = SearchParameterRegistry.fromProfiles();

/** Ten patient-compartment types, linked to the patient through different parameters (subject, patient, beneficiary, actor…). */
const TREATING_TYPES = [
  'Observation', 'MedicationRequest', 'DiagnosticReport', 'ImagingStudy', 'Immunization',
  'MedicationAdministration', 'ChargeItem', 'Coverage', 'Appointment', 'Claim',
];

describe('The whole record (e2e, issue #16): every governed R4 type, from the HIS and back', () => {
  let server: TestServer;
  let his: string;
  const fhir = fhirApi(() => server.fhirBase);
  const dept = `${RUN}-surgery`;
  const otherDept = `${RUN}-cardio`;
  const subjects: CorpusSubjects = {
    run: RUN,
    patient: `${RUN}-p`,
    encounter: `${RUN}-e`,
    practitioner: `${RUN}-care`,
    organization: dept,
  };
  /** The text each type was sent as, and the id the server gave it. */
  const created = new Map<string, { id: string; text: string }>();

  /** Seeds a patient admitted to the surgery department, `practitioner` on the encounter's care team. */
  const seedPatient = async (patient: string, encounter: string, practitioner: string) => {
    const resources: (Resource & { id: string })[] = [
      { resourceType: 'Patient', id: patient, name: [{ text: '王五' }] } as Patient & { id: string },
      {
        resourceType: 'Encounter',
        id: encounter,
        status: 'in-progress',
        class: INPATIENT,
        subject: { reference: `Patient/${patient}` },
        serviceProvider: { reference: `Organization/${dept}` },
        participant: [{ individual: { reference: `Practitioner/${practitioner}` } }],
        period: { start: new Date(Date.now() - 86_400_000).toISOString() },
      } as Encounter & { id: string },
    ];
    for (const r of resources) expectStatus(await fhir(his, 'PUT', `${r.resourceType}/${r.id}`, r), 201);
  };

  beforeAll(async () => {
    server = await startTestServer();
    his = await server.token({ sub: `${RUN}-his` });
    for (const [id, name] of [[dept, '普通外科'], [otherDept, '心内科']]) {
      const org: Organization = { resourceType: 'Organization', id, name, active: true };
      expectStatus(await fhir(his, 'PUT', `Organization/${id}`, org), 201);
    }
    for (const id of [`${RUN}-care`, `${RUN}-other`]) {
      const practitioner: Practitioner = { resourceType: 'Practitioner', id, name: [{ text: id }] };
      expectStatus(await fhir(his, 'PUT', `Practitioner/${id}`, practitioner), 201);
    }
    await seedPatient(subjects.patient, subjects.encounter, subjects.practitioner);
  });
  afterAll(() => server?.close());

  it('enumerates the policy the server loaded (its groups, every type they name)', () => {
    expect(server.app.get(LoadedPolicy).document.groups).toEqual(policy.groups);
    expect(GOVERNED).toEqual(expect.arrayContaining([...PATIENT_RECORD]));
    expect(PATIENT_RECORD.size).toBeGreaterThan(0);
  });

  describe.each(GOVERNED)('%s', (type) => {
    it('R-02: the HIS creates it (201, the stored resource answered)', async () => {
      const text = corpusText(type, subjects);
      const res = await fhir<Resource>(his, 'POST', type, text);
      expectStatus(res, 201);
      expect(res.body).toMatchObject({ resourceType: type, id: expect.any(String), meta: { versionId: expect.any(String) } });
      expect(res.headers.get('location')).toContain(`/${type}/${res.body.id}/_history/`);
      created.set(type, { id: res.body.id as string, text });
    });

    it('R-17: it comes back as it was sent (key order after a leading resourceType, decimal lexemes, extensions), byte for byte', async () => {
      const sent = created.get(type);
      if (!sent) throw new Error(`${type} was not created (see the create test)`);
      const res = await fhir(his, 'GET', `${type}/${sent.id}`);
      expectStatus(res, 200);
      expect(parseCorpusText(res.text)).toMatchObject({ resourceType: type, id: sent.id });
      expect(withoutServerFields(res.text)).toBe(resourceTypeFirst(sent.text));
    });

    it('a search by a parameter of its type finds it', async () => {
      const sent = created.get(type);
      if (!sent) throw new Error(`${type} was not created (see the create test)`);
      // A type with no token or reference parameter of its own (ObservationDefinition) is searched by `_id`.
      const search = corpusSearch(registry, type, parseCorpusText(sent.text), RUN) ?? { query: `_id=${sent.id}`, narrowed: false };
      const query = `${search.query}${search.narrowed ? `&_id=${sent.id}` : ''}&_count=100`;
      const res = await fhir<Bundle>(his, 'GET', `${type}?${query}`);
      expectStatus(res, 200);
      expect({ query, found: res.body.entry?.map((e) => e.resource?.id) }).toEqual({ query, found: expect.arrayContaining([sent.id]) });
    });
  });

  describe('R-03: a treating doctor reads the patient compartment; a doctor of another department does not', () => {
    const patient = `${RUN}-p2`;
    const encounter = `${RUN}-e2`;
    /** The HIS's answer to each create. */
    const creates = new Map<string, HttpResult<Resource>>();
    let treating: string;
    let otherDoctor: string;

    beforeAll(async () => {
      await seedPatient(patient, encounter, `${RUN}-care`);
      treating = await server.token({ sub: `${RUN}-care`, roles: ['attending'], department: otherDept, fhirUser: `Practitioner/${RUN}-care` });
      otherDoctor = await server.token({ sub: `${RUN}-other`, roles: ['attending'], department: otherDept, fhirUser: `Practitioner/${RUN}-other` });
      const seeded = { ...subjects, patient, encounter };
      for (const type of TREATING_TYPES) {
        creates.set(type, await fhir<Resource>(his, 'POST', type, corpusText(type, seeded)));
      }
    });

    it('the ten types are patient records of the policy', () => {
      expect(TREATING_TYPES.filter((t) => !PATIENT_RECORD.has(t))).toEqual([]);
    });

    it.each(TREATING_TYPES)('%s: the attending on the care team reads it; an attending of another department, not on it, is refused', async (type) => {
      const created = creates.get(type) as HttpResult<Resource>;
      expectStatus(created, 201);
      const id = created.body.id as string;
      const own = await fhir<Resource>(treating, 'GET', `${type}/${id}`);
      expectStatus(own, 200);
      expect(own.body).toMatchObject({ resourceType: type, id });
      const other = await fhir(otherDoctor, 'GET', `${type}/${id}`);
      expectStatus(other, policy.settings.hiddenRecords === 'not-found' ? 404 : 403);
      expect(other.body?.resourceType).toBe('OperationOutcome');
      expect(other.text).not.toContain(patient);
    });
  });
});
