import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle, BundleEntry, CapabilityStatement, Encounter, Observation, OperationOutcome, Patient, Resource } from '@medplum/fhirtypes';
import { Client, type FhirResource, type PaginationParams } from 'fhir-kit-client';
import { httpRequest, type HttpOptions, type HttpResult } from '../support/http.js';
import { devToken, startTestServer, TestClock, type TestServer } from '../support/test-app.js';

/**
 * ChartWarden's FHIR R4 REST API over real HTTP, driven as a HIS would: with fhir-kit-client,
 * and with raw fetch where the client hides a status code or a header. Every resource this
 * file writes carries an identifier in `system` (or a sub-system of it), so the assertions
 * never see other suites' data.
 */

const system = `urn:chartwarden-e2e:${randomUUID()}`;
/** A sub-system of this file's system, for tests that search a whole set of resources. */
const systemFor = (test: string) => `${system}/${test}`;

const LOINC_HEART_RATE = { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] };
const AMBULATORY = { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' };

const patient = (value: string, extra: Partial<Patient> = {}, sys = system): Patient => ({
  resourceType: 'Patient',
  identifier: [{ system: sys, value }],
  ...extra,
});

const observation = (subject: string, extra: Partial<Observation> = {}): Observation => ({
  resourceType: 'Observation',
  status: 'final',
  code: LOINC_HEART_RATE,
  subject: { reference: subject },
  valueQuantity: { value: 72, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
  ...extra,
});

/** fhir-kit-client speaks `FhirResource`; the tests speak `@medplum/fhirtypes`. */
const fk = (r: Resource | Bundle): FhirResource => r as unknown as FhirResource;
const as = <T>(r: FhirResource): T => r as unknown as T;
const statusOf = (r: FhirResource) => Client.httpFor(r).response?.status;
const headerOf = (r: FhirResource, name: string) => Client.httpFor(r).response?.headers.get(name);

/** The HTTP failure fhir-kit-client raised; fails the test when the call succeeded. */
async function failure(call: Promise<unknown>): Promise<{ status: number; data: OperationOutcome }> {
  try {
    await call;
  } catch (e) {
    const response = (e as { response?: { status: number; data: OperationOutcome } }).response;
    if (response) return response;
    throw e;
  }
  throw new Error('expected the request to fail, but it succeeded');
}

/** A raw HTTP call, for what fhir-kit-client does not show (status of a success, headers, media types). */
function raw<T = OperationOutcome>(base: string, method: string, path: string, request: HttpOptions = {}): Promise<HttpResult<T>> {
  return httpRequest<T>(path.startsWith('http') ? path : `${base}/${path}`, method, request);
}

const ids = (bundle: Bundle, mode?: 'match' | 'include') =>
  (bundle.entry ?? []).filter((e) => !mode || e.search?.mode === mode).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`);
const link = (bundle: Bundle, relation: string) => bundle.link?.find((l) => l.relation === relation)?.url;

describe('FHIR REST API over HTTP (e2e)', () => {
  /** The server's now (versions' lastUpdated): moved by the tests that need time to pass, never waited for. */
  const clock = new TestClock();
  let server: TestServer;
  let token: string;
  let client: Client;
  let http: <T = OperationOutcome>(method: string, path: string, request?: HttpOptions) => Promise<HttpResult<T>>;

  const search = async (type: string, searchParams: Record<string, string | string[]>, headers: Record<string, string> = {}) =>
    as<Bundle>(await client.search({ resourceType: type, searchParams, options: { headers } }));
  /** How many resources of `type` carry identifier `sys|value`: proves what was (not) stored. */
  const storedCount = async (type: string, value: string, sys = system) => (await search(type, { identifier: `${sys}|${value}` })).total;
  const create = async <T extends Resource>(resource: T) => as<T>(await client.create({ resourceType: resource.resourceType, body: fk(resource) }));
  /** Follows a Bundle's paging link by URL, as fhir-kit-client does. */
  const follow = async (bundle: Bundle, relation: 'next' | 'previous') => {
    const params = { bundle: fk(bundle) as PaginationParams['bundle'] };
    const page = relation === 'next' ? client.nextPage(params) : client.prevPage(params);
    if (!page) throw new Error(`the bundle has no ${relation} link`);
    return as<Bundle>(await page);
  };

  beforeAll(async () => {
    server = await startTestServer({ clock });
    token = await server.token();
    client = new Client({ baseUrl: server.fhirBase, bearerToken: token });
    http = (method, path, request = {}) => raw(server.fhirBase, method, path, { token, ...request });
  });
  afterAll(() => server?.close());

  describe('create, read, update, history, vread', () => {
    it('R-12: create → read → update with If-Match → stale If-Match refused → both versions kept → searchable', async () => {
      const value = `flow-${randomUUID()}`;
      const created = as<Patient>(
        await client.create({ resourceType: 'Patient', body: fk(patient(value, { gender: 'female', name: [{ family: 'Wang', given: ['Fang'] }] })) }),
      );
      expect(statusOf(fk(created))).toBe(201);
      expect(created.meta?.versionId).toBe('1');
      const id = created.id as string;

      expect(as<Patient>(await client.read({ resourceType: 'Patient', id }))).toEqual(created);

      const updated = await client.update({
        resourceType: 'Patient',
        id,
        body: fk({ ...created, gender: 'male' }),
        options: { headers: { 'If-Match': 'W/"1"' } },
      });
      expect(statusOf(updated)).toBe(200);
      expect(headerOf(updated, 'etag')).toBe('W/"2"');
      expect(as<Patient>(updated)).toMatchObject({ id, gender: 'male', meta: { versionId: '2' } });

      const stale = await failure(
        client.update({ resourceType: 'Patient', id, body: fk({ ...created, gender: 'other' }), options: { headers: { 'If-Match': 'W/"1"' } } }),
      );
      expect(stale.status).toBe(412);
      expect(stale.data.resourceType).toBe('OperationOutcome');
      expect(stale.data.issue?.[0].code).toBe('conflict');
      const current = as<Patient>(await client.read({ resourceType: 'Patient', id }));
      expect(current.meta?.versionId).toBe('2');
      expect(current.gender).toBe('male');

      const history = as<Bundle<Patient>>(await client.history({ resourceType: 'Patient', id }));
      expect(history.type).toBe('history');
      expect(history.total).toBe(2);
      expect(history.entry?.map((e) => e.resource?.meta?.versionId)).toEqual(['2', '1']);
      expect(history.entry?.map((e) => e.resource?.gender)).toEqual(['male', 'female']);

      expect(as<Patient>(await client.vread({ resourceType: 'Patient', id, version: '1' }))).toEqual(created);

      const found = await search('Patient', { identifier: `${system}|${value}` });
      expect(found.total).toBe(1);
      expect(ids(found)).toEqual([`Patient/${id}`]);
      expect(found.entry?.[0].resource?.meta?.versionId).toBe('2');
    });

    it('create and read answer with Location, ETag W/"n", Last-Modified and Content-Type application/fhir+json', async () => {
      const created = await http<Patient>('POST', 'Patient', { body: patient(`headers-${randomUUID()}`) });
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      expect(created.headers.get('location')).toBe(`${server.fhirBase}/Patient/${id}/_history/1`);
      expect(created.headers.get('etag')).toBe('W/"1"');
      expect(created.headers.get('last-modified')).toBe(new Date(created.body.meta?.lastUpdated as string).toUTCString());
      expect(created.headers.get('content-type')).toMatch(/^application\/fhir\+json/);

      const read = await http<Patient>('GET', `Patient/${id}`);
      expect(read.status).toBe(200);
      expect(read.body).toEqual(created.body);
      expect(read.headers.get('etag')).toBe('W/"1"');
      expect(read.headers.get('last-modified')).toBe(created.headers.get('last-modified'));
      expect(read.headers.get('content-type')).toMatch(/^application\/fhir\+json/);

      const updated = await http<Patient>('PUT', `Patient/${id}`, { body: { ...created.body, active: true } });
      expect(updated.status).toBe(200);
      expect(updated.headers.get('location')).toBe(`${server.fhirBase}/Patient/${id}/_history/2`);
      expect((await http('GET', `Patient/${id}`)).headers.get('etag')).toBe('W/"2"');
    });

    it('read of an unknown id is 404 with an OperationOutcome not-found', async () => {
      const missing = await failure(client.read({ resourceType: 'Patient', id: randomUUID() }));
      expect(missing.status).toBe(404);
      expect(missing.data.issue?.[0].code).toBe('not-found');
    });
  });

  describe('update (PUT)', () => {
    it('PUT to a new HIS-chosen id creates it with 201', async () => {
      const id = `his-${randomUUID()}`;
      const res = await http<Patient>('PUT', `Patient/${id}`, { body: patient(`put-${id}`, { id } as Partial<Patient>) });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ resourceType: 'Patient', id, meta: { versionId: '1' } });
      expect(res.headers.get('location')).toBe(`${server.fhirBase}/Patient/${id}/_history/1`);
      expect(res.headers.get('etag')).toBe('W/"1"');
      expect(as<Patient>(await client.read({ resourceType: 'Patient', id })).identifier?.[0].value).toBe(`put-${id}`);
    });

    it('PUT without an id in the body is 400 and stores nothing', async () => {
      const id = `his-${randomUUID()}`;
      const res = await http('PUT', `Patient/${id}`, { body: patient(`noid-${id}`) });
      expect(res.status).toBe(400);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(res.body.issue?.[0]).toMatchObject({ code: 'invalid', expression: ['id'] });
      expect((await failure(client.read({ resourceType: 'Patient', id }))).status).toBe(404);
      expect(await storedCount('Patient', `noid-${id}`)).toBe(0);
    });

    it('PUT whose body id differs from the URL id is 400 and stores neither', async () => {
      const urlId = `his-${randomUUID()}`;
      const bodyId = `his-${randomUUID()}`;
      const res = await http('PUT', `Patient/${urlId}`, { body: patient(`mismatch-${urlId}`, { id: bodyId } as Partial<Patient>) });
      expect(res.status).toBe(400);
      expect(res.body.issue?.[0]).toMatchObject({ code: 'invalid', expression: ['id'] });
      expect(res.body.issue?.[0].diagnostics).toContain(bodyId);
      expect((await failure(client.read({ resourceType: 'Patient', id: urlId }))).status).toBe(404);
      expect((await failure(client.read({ resourceType: 'Patient', id: bodyId }))).status).toBe(404);
    });

    it('PUT whose body resourceType differs from the URL type is 400 and stores nothing', async () => {
      const id = `his-${randomUUID()}`;
      const res = await http('PUT', `Patient/${id}`, { body: { ...observation('Patient/x'), id } });
      expect(res.status).toBe(400);
      expect(res.body.issue?.[0]).toMatchObject({ code: 'invalid', expression: ['resourceType'] });
      expect((await failure(client.read({ resourceType: 'Patient', id }))).status).toBe(404);
      expect((await failure(client.read({ resourceType: 'Observation', id }))).status).toBe(404);
    });
  });

  describe('transaction and batch', () => {
    it('R-51: a transaction with urn:uuid references creates every entry and rewrites references to the real ids', async () => {
      const value = `tx-${randomUUID()}`;
      const [pUrl, eUrl, oUrl] = [`urn:uuid:${randomUUID()}`, `urn:uuid:${randomUUID()}`, `urn:uuid:${randomUUID()}`];
      const encounter: Encounter = { resourceType: 'Encounter', status: 'finished', class: AMBULATORY, subject: { reference: pUrl } };
      const bundle: Bundle = {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          // The Observation comes first: references to later entries must be resolved too.
          { fullUrl: oUrl, resource: observation(pUrl, { encounter: { reference: eUrl } }), request: { method: 'POST', url: 'Observation' } },
          { fullUrl: pUrl, resource: patient(value), request: { method: 'POST', url: 'Patient' } },
          { fullUrl: eUrl, resource: encounter, request: { method: 'POST', url: 'Encounter' } },
        ],
      };
      const response = as<Bundle>(await client.transaction({ body: fk(bundle) }));
      expect(statusOf(fk(response))).toBe(200);
      expect(response.type).toBe('transaction-response');
      expect(response.entry?.map((e) => e.response?.status)).toEqual(['201 Created', '201 Created', '201 Created']);
      expect(response.entry?.map((e) => e.resource?.resourceType)).toEqual(['Observation', 'Patient', 'Encounter']);
      const [oId, pId, eId] = (response.entry ?? []).map((e) => e.resource?.id as string);
      expect(response.entry?.[1].response?.location).toBe(`${server.fhirBase}/Patient/${pId}/_history/1`);

      const obs = as<Observation>(await client.read({ resourceType: 'Observation', id: oId }));
      expect(obs.subject?.reference).toBe(`Patient/${pId}`);
      expect(obs.encounter?.reference).toBe(`Encounter/${eId}`);
      expect(as<Encounter>(await client.read({ resourceType: 'Encounter', id: eId })).subject?.reference).toBe(`Patient/${pId}`);
      expect(await storedCount('Patient', value)).toBe(1);

      expect(ids(await search('Observation', { patient: pId }))).toEqual([`Observation/${oId}`]);
      expect(ids(await search('Encounter', { patient: pId }))).toEqual([`Encounter/${eId}`]);
    });

    it.each([
      { invalid: 'an Observation missing its required code', index: 1, expression: 'Observation.code' },
      { invalid: 'an Observation whose status is the number 42', index: 2, expression: 'Observation.status' },
    ])('R-51: a transaction with $invalid (entry $index) is 400, names Bundle.entry[$index], and stores nothing of the bundle', async ({ index, expression }) => {
      const value = `txbad-${randomUUID()}`;
      const pUrl = `urn:uuid:${randomUUID()}`;
      const good = observation(pUrl, { identifier: [{ system, value: `${value}-good` }] });
      const bad: Record<string, unknown> = { ...observation(pUrl), identifier: [{ system, value: `${value}-bad` }] };
      if (expression === 'Observation.code') delete bad.code;
      else bad.status = 42;
      const entries: BundleEntry[] = [
        { fullUrl: pUrl, resource: patient(value), request: { method: 'POST', url: 'Patient' } },
        { resource: good, request: { method: 'POST', url: 'Observation' } },
      ];
      entries.splice(index, 0, { resource: bad as unknown as Observation, request: { method: 'POST', url: 'Observation' } });

      const res = await http('POST', server.fhirBase, { body: { resourceType: 'Bundle', type: 'transaction', entry: entries } });
      expect(res.status).toBe(400);
      expect(res.body.resourceType).toBe('OperationOutcome');
      const expressions = (res.body.issue ?? []).flatMap((i) => i.expression ?? []);
      expect(expressions).toContain(`Bundle.entry[${index}]`);
      expect(expressions).toContain(expression);

      expect(await storedCount('Patient', value)).toBe(0);
      expect(await storedCount('Observation', `${value}-good`)).toBe(0);
      expect(await storedCount('Observation', `${value}-bad`)).toBe(0);
    });

    it('a batch runs each entry on its own: 200 batch-response with per-entry status, the good entry stored', async () => {
      const value = `batch-${randomUUID()}`;
      const bundle: Bundle = {
        resourceType: 'Bundle',
        type: 'batch',
        entry: [
          { resource: patient(`${value}-good`), request: { method: 'POST', url: 'Patient' } },
          { resource: patient(`${value}-bad`, { birthDate: 'not-a-date' }), request: { method: 'POST', url: 'Patient' } },
        ],
      };
      const response = as<Bundle>(await client.batch({ body: fk(bundle) }));
      expect(statusOf(fk(response))).toBe(200);
      expect(response.type).toBe('batch-response');
      expect(response.entry?.[0].response?.status).toBe('201 Created');
      expect(response.entry?.[0].response?.location).toMatch(new RegExp(`^${server.fhirBase}/Patient/[^/]+/_history/1$`));
      expect(response.entry?.[1].response?.status).toMatch(/^400\b/);
      const outcome = response.entry?.[1].response?.outcome as OperationOutcome;
      expect(outcome.resourceType).toBe('OperationOutcome');
      expect(outcome.issue?.flatMap((i) => i.expression ?? [])).toContain('Patient.birthDate');

      expect(await storedCount('Patient', `${value}-good`)).toBe(1);
      expect(await storedCount('Patient', `${value}-bad`)).toBe(0);
      expect(ids(await search('Patient', { identifier: `${system}|${value}-good` }))).toEqual([`Patient/${response.entry?.[0].resource?.id}`]);
    });

    it('conditional create with If-None-Exist: the second call returns 200 and the existing resource; only one is stored', async () => {
      const value = `cond-${randomUUID()}`;
      const headers = { 'If-None-Exist': `identifier=${system}|${value}` };
      const first = await client.create({ resourceType: 'Patient', body: fk(patient(value, { gender: 'female' })), options: { headers } });
      expect(statusOf(first)).toBe(201);
      const second = await client.create({ resourceType: 'Patient', body: fk(patient(value, { gender: 'male' })), options: { headers } });
      expect(statusOf(second)).toBe(200);
      expect(as<Patient>(second)).toMatchObject({ id: as<Patient>(first).id, gender: 'female', meta: { versionId: '1' } });
      expect(await storedCount('Patient', value)).toBe(1);
    });
  });

  describe('refused requests', () => {
    it('an invalid resource is refused with 400 listing every issue, and nothing is stored', async () => {
      const value = `invalid-${randomUUID()}`;
      const res = await http('POST', 'Patient', { body: { ...patient(value), birthDate: 'not-a-date', active: 'yes', foo: 1 } });
      expect(res.status).toBe(400);
      expect(res.body.resourceType).toBe('OperationOutcome');
      const expressions = (res.body.issue ?? []).flatMap((i) => i.expression ?? []);
      expect(expressions).toEqual(expect.arrayContaining(['Patient.birthDate', 'Patient.active', 'Patient.foo']));
      expect(res.body.issue?.every((i) => i.severity === 'error')).toBe(true);
      expect(await storedCount('Patient', value)).toBe(0);
    });

    it('a body that is not JSON is 400 structure, and nothing is stored', async () => {
      const value = `notjson-${randomUUID()}`;
      const truncated = JSON.stringify(patient(value)).slice(0, -5);
      const res = await http('POST', 'Patient', { body: truncated });
      expect(res.status).toBe(400);
      expect(res.body.issue?.[0].code).toBe('structure');
      expect(await storedCount('Patient', value)).toBe(0);
    });

    it('a text/plain body is 415, and nothing is stored', async () => {
      const value = `plain-${randomUUID()}`;
      const res = await http('POST', 'Patient', { body: JSON.stringify(patient(value)), contentType: 'text/plain' });
      expect(res.status).toBe(415);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(res.body.issue?.[0].code).toBe('not-supported');
      expect(await storedCount('Patient', value)).toBe(0);
    });

    it('R-17: DELETE is refused with 405 and an OperationOutcome; the resource still reads, unchanged', async () => {
      const created = await create(patient(`delete-${randomUUID()}`));
      const id = created.id as string;
      const refused = await failure(client.delete({ resourceType: 'Patient', id }));
      expect(refused.status).toBe(405);
      expect(refused.data.resourceType).toBe('OperationOutcome');
      expect(refused.data.issue?.[0].code).toBe('not-supported');
      expect(refused.data.issue?.[0].diagnostics).toContain('R-17');

      const rawDelete = await http('DELETE', `Patient/${id}`);
      expect(rawDelete.status).toBe(405);
      expect(rawDelete.headers.get('allow')).toMatch(/\bGET\b/);
      expect(rawDelete.headers.get('allow')).not.toMatch(/DELETE/);

      const conditional = await http('DELETE', `Patient?identifier=${encodeURIComponent(`${system}|${created.identifier?.[0].value}`)}`);
      expect(conditional.status).toBe(405);
      expect(conditional.body.resourceType).toBe('OperationOutcome');

      expect(as<Patient>(await client.read({ resourceType: 'Patient', id }))).toEqual(created);
      expect(as<Bundle>(await client.history({ resourceType: 'Patient', id })).total).toBe(1);
    });

    it('R-12: PATCH takes an RFC 6902 JSON Patch as fhir-kit-client sends it (a new version); a whole resource sent as a patch is refused (415) and changes nothing', async () => {
      const created = await create(patient(`patch-${randomUUID()}`, { gender: 'female' }));
      const id = created.id as string;
      const fhirJson = await http('PATCH', `Patient/${id}`, { body: { ...created, gender: 'male' } });
      expect(fhirJson.status).toBe(415);
      expect(fhirJson.body.issue?.[0].code).toBe('not-supported');
      expect(as<Bundle>(await client.history({ resourceType: 'Patient', id })).total).toBe(1);

      // What a HIS actually sends: RFC 6902 JSON Patch, as fhir-kit-client does.
      const patched = as<Patient>(await client.patch({ resourceType: 'Patient', id, jsonPatch: [{ op: 'replace', path: '/gender', value: 'male' }] }));
      expect(patched).toMatchObject({ id, gender: 'male', meta: { versionId: '2' } });
      expect(as<Patient>(await client.read({ resourceType: 'Patient', id }))).toEqual(patched);
      expect(as<Bundle>(await client.history({ resourceType: 'Patient', id })).total).toBe(2);
    });
  });

  describe('R-01: identity', () => {
    const cases: { name: string; authorization: () => Promise<string | undefined>; code: string }[] = [
      { name: 'no token', authorization: async () => undefined, code: 'identity.missing-token' },
      { name: 'a malformed token', authorization: async () => 'Bearer not-a.jwt', code: 'identity.invalid-token' },
      { name: 'a non-Bearer scheme', authorization: async () => 'Basic ZHI6c2VjcmV0', code: 'identity.invalid-token' },
      {
        name: 'a token signed by another key',
        authorization: async () => `Bearer ${await devToken(await mkdtemp(join(tmpdir(), 'chartwarden-other-key-')), { sub: 'dr-test', roles: ['attending'] })}`,
        code: 'identity.invalid-token',
      },
      { name: 'an expired token', authorization: async () => `Bearer ${await server.token({ ttl: '10 minutes ago' })}`, code: 'identity.expired-token' },
    ];

    it.each(cases)('R-01: a request with $name is refused with 401 login and WWW-Authenticate; nothing is stored', async ({ authorization, code }) => {
      const value = `anon-${randomUUID()}`;
      const header = await authorization();
      const headers: Record<string, string> = header ? { authorization: header } : {};
      const res = await raw(server.fhirBase, 'POST', 'Patient', { body: patient(value), headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(res.body.issue?.[0].code).toBe('login');
      expect(res.body.issue?.[0].details?.coding?.[0].code).toBe(code);

      const read = await raw(server.fhirBase, 'GET', `Patient?identifier=${encodeURIComponent(`${system}|${value}`)}`, { headers });
      expect(read.status).toBe(401);
      expect(read.body.issue?.[0].code).toBe('login');

      expect(await storedCount('Patient', value)).toBe(0);
    });

    it('R-01: GET /fhir/metadata needs no token and is a CapabilityStatement with Patient search params and no delete', async () => {
      const anonymous = new Client({ baseUrl: server.fhirBase });
      const cs = as<CapabilityStatement>(await anonymous.capabilityStatement());
      expect(cs.resourceType).toBe('CapabilityStatement');
      expect(cs.fhirVersion).toBe('4.0.1');
      const rest = cs.rest?.[0];
      const patientResource = rest?.resource?.find((r) => r.type === 'Patient');
      expect(patientResource?.searchParam?.map((p) => p.name)).toEqual(
        expect.arrayContaining(['_id', '_lastUpdated', 'identifier', 'name', 'family', 'given', 'birthdate', 'gender']),
      );
      expect(patientResource?.operation?.map((o) => o.name)).toContain('everything');
      const interactions = (rest?.resource ?? []).flatMap((r) => (r.interaction ?? []).map((i) => i.code as string));
      expect(interactions).toContain('read');
      expect(interactions).not.toContain('delete');
      expect(rest?.interaction?.map((i) => i.code)).toEqual(expect.arrayContaining(['transaction', 'batch']));
    });
  });

  describe('search', () => {
    it('an unknown parameter is 400 not-supported; with Prefer: handling=lenient it is ignored and left out of the self link', async () => {
      const value = `lenient-${randomUUID()}`;
      const p = await create(patient(value));
      const strict = await failure(search('Patient', { identifier: `${system}|${value}`, shoeSize: '42' }));
      expect(strict.status).toBe(400);
      expect(strict.data.issue?.[0].code).toBe('not-supported');
      expect(strict.data.issue?.[0].expression).toEqual(['shoeSize']);

      const lenient = await search('Patient', { identifier: `${system}|${value}`, shoeSize: '42' }, { Prefer: 'handling=lenient' });
      expect(statusOf(fk(lenient))).toBe(200);
      expect(ids(lenient)).toEqual([`Patient/${p.id}`]);
      const self = new URL(link(lenient, 'self') as string);
      expect(self.searchParams.has('shoeSize')).toBe(false);
      expect(self.searchParams.get('identifier')).toBe(`${system}|${value}`);
    });

    it('paging with _count=2 over 5 matches: next and previous links lead to full, distinct pages, total 5', async () => {
      const sys = systemFor(`paging-${randomUUID()}`);
      const created: string[] = [];
      for (let i = 0; i < 5; i++) created.push(`Patient/${(await create(patient(`p${i}`, {}, sys))).id}`);

      const page1 = await search('Patient', { identifier: `${sys}|`, _count: '2' });
      expect(page1.total).toBe(5);
      expect(page1.entry).toHaveLength(2);
      expect(link(page1, 'previous')).toBeUndefined();
      const page2 = await follow(page1, 'next');
      expect(page2.total).toBe(5);
      expect(page2.entry).toHaveLength(2);
      const page3 = await follow(page2, 'next');
      expect(page3.total).toBe(5);
      expect(page3.entry).toHaveLength(1);
      expect(link(page3, 'next')).toBeUndefined();

      const seen = [...ids(page1), ...ids(page2), ...ids(page3)];
      expect(new Set(seen).size).toBe(5);
      expect([...seen].sort()).toEqual([...created].sort());

      const back = await follow(page3, 'previous');
      expect(ids(back)).toEqual(ids(page2));
    });

    it('_include and _revinclude bring the related resources, marked search.mode include', async () => {
      const p = await create(patient(`inc-${randomUUID()}`));
      const o = await create(observation(`Patient/${p.id}`));

      const included = await search('Observation', { patient: p.id as string, _include: 'Observation:patient' });
      expect(included.total).toBe(1);
      expect(ids(included, 'match')).toEqual([`Observation/${o.id}`]);
      expect(ids(included, 'include')).toEqual([`Patient/${p.id}`]);

      const revincluded = await search('Patient', { _id: p.id as string, _revinclude: 'Observation:patient' });
      expect(ids(revincluded, 'match')).toEqual([`Patient/${p.id}`]);
      expect(ids(revincluded, 'include')).toEqual([`Observation/${o.id}`]);
    });

    it('_sort=-_lastUpdated returns the newest first; _sort=_lastUpdated the oldest first', async () => {
      const sys = systemFor(`sort-${randomUUID()}`);
      const created: string[] = [];
      for (let i = 0; i < 3; i++) {
        created.push(`Patient/${(await create(patient(`s${i}`, {}, sys))).id}`);
        clock.advance(15);
      }
      const newest = await search('Patient', { identifier: `${sys}|`, _sort: '-_lastUpdated' });
      expect(ids(newest)).toEqual([...created].reverse());
      const stamps = (newest.entry ?? []).map((e) => Date.parse(e.resource?.meta?.lastUpdated as string));
      expect(stamps).toEqual([...stamps].sort((a, b) => b - a));
      expect(ids(await search('Patient', { identifier: `${sys}|`, _sort: '_lastUpdated' }))).toEqual(created);
    });

    it('date prefixes ge/lt on Observation date select the right observations', async () => {
      const p = await create(patient(`dates-${randomUUID()}`));
      const at = async (when: string) => `Observation/${(await create(observation(`Patient/${p.id}`, { effectiveDateTime: when }))).id}`;
      const march1 = await at('2024-03-01T08:00:00+08:00');
      const march10 = await at('2024-03-10T08:00:00+08:00');
      const march20 = await at('2024-03-20T08:00:00+08:00');
      const found = async (...date: string[]) => ids(await search('Observation', { patient: p.id as string, date })).sort();

      expect(await found('ge2024-03-10', 'lt2024-03-20')).toEqual([march10]);
      expect(await found('lt2024-03-10')).toEqual([march1]);
      expect(await found('ge2024-03-01')).toEqual([march1, march10, march20].sort());
      expect(await found('ge2024-03-21')).toEqual([]);
    });

    it('string search finds Chinese names by family name and by the whole name (张三)', async () => {
      const sys = systemFor(`cjk-${randomUUID()}`);
      const zhang = await create(patient('zs', { name: [{ family: '张', given: ['三'] }] }, sys));
      const byName = async (name: string) => ids(await search('Patient', { identifier: `${sys}|`, name }));
      expect(await byName('张')).toEqual([`Patient/${zhang.id}`]);
      expect(await byName('张三')).toEqual([`Patient/${zhang.id}`]);
      expect(await byName('李')).toEqual([]);
      expect(await byName('张四')).toEqual([]);

      const encoded = await http<Bundle>('GET', `Patient?identifier=${encodeURIComponent(`${sys}|`)}&name=${encodeURIComponent('张三')}`);
      expect(encoded.status).toBe(200);
      expect(ids(encoded.body)).toEqual([`Patient/${zhang.id}`]);
      expect(new URL(link(encoded.body, 'self') as string).searchParams.get('name')).toBe('张三');
    });
  });

  describe('operations and history', () => {
    it('Patient/{id}/$everything returns the patient and their Observation and Encounter, nothing of another patient', async () => {
      const mine = await create(patient(`ev-${randomUUID()}`));
      const other = await create(patient(`ev-other-${randomUUID()}`));
      const obs = await create(observation(`Patient/${mine.id}`));
      const enc = await create<Encounter>({ resourceType: 'Encounter', status: 'finished', class: AMBULATORY, subject: { reference: `Patient/${mine.id}` } });
      await create(observation(`Patient/${other.id}`));
      await create<Encounter>({ resourceType: 'Encounter', status: 'finished', class: AMBULATORY, subject: { reference: `Patient/${other.id}` } });

      const everything = as<Bundle>(await client.operation({ name: '$everything', resourceType: 'Patient', id: mine.id, method: 'GET' }));
      expect(statusOf(fk(everything))).toBe(200);
      expect(everything.type).toBe('searchset');
      expect(everything.total).toBe(3);
      expect(ids(everything).sort()).toEqual([`Patient/${mine.id}`, `Observation/${obs.id}`, `Encounter/${enc.id}`].sort());
    });

    it('type history GET /fhir/Patient/_history?_count=2 pages with a next link', async () => {
      await create(patient(`th-${randomUUID()}`));
      await create(patient(`th-${randomUUID()}`));
      await create(patient(`th-${randomUUID()}`));
      const page1 = as<Bundle>(await client.request('Patient/_history?_count=2'));
      expect(page1.type).toBe('history');
      expect(page1.entry).toHaveLength(2);
      expect(page1.total).toBeGreaterThanOrEqual(3);
      expect(page1.entry?.every((e) => e.resource?.resourceType === 'Patient')).toBe(true);
      const next = link(page1, 'next');
      expect(next).toBeDefined();
      const nextUrl = new URL(next as string);
      expect(nextUrl.pathname).toBe(new URL(`${server.fhirBase}/Patient/_history`).pathname);
      expect(nextUrl.searchParams.get('_count')).toBe('2');
      expect(nextUrl.searchParams.get('_offset')).toBe('2');

      const page2 = await follow(page1, 'next');
      expect(page2.type).toBe('history');
      expect(page2.entry?.length).toBeGreaterThan(0);
      expect(link(page2, 'previous')).toBeDefined();
    });
  });

  describe('with a 2048-byte body limit', () => {
    let limited: TestServer;
    let limitedToken: string;

    beforeAll(async () => {
      limited = await startTestServer({ fhir: { maxBodyBytes: 2048 } });
      limitedToken = await limited.token();
    });
    afterAll(() => limited?.close());

    it('a body over the limit is 413 too-long and nothing is stored; one under it is created', async () => {
      const value = `big-${randomUUID()}`;
      const big = patient(value, { name: [{ family: 'Big', given: ['x'.repeat(3000)] }] });
      const res = await raw(limited.fhirBase, 'POST', 'Patient', { token: limitedToken, body: big });
      expect(res.status).toBe(413);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(res.body.issue?.[0].code).toBe('too-long');
      expect(await storedCount('Patient', value)).toBe(0);

      const small = await raw<Patient>(limited.fhirBase, 'POST', 'Patient', { token: limitedToken, body: patient(`${value}-small`) });
      expect(small.status).toBe(201);
      expect(await storedCount('Patient', `${value}-small`)).toBe(1);
    });
  });
});
