import type { Bundle, Observation, OperationOutcome, Patient, Resource } from '@medplum/fhirtypes';
import { Client, type FhirResource } from 'fhir-kit-client';
import { startFhirPeer, type FhirPeer } from '../support/fhir-peer.js';

/**
 * The FHIR peer the remote-store adapter is tested against (issue #17), proven over real HTTP
 * with the same client the adapter uses: statuses, ETags, Location, If-Match, vread by UUID
 * version, reference search, transaction placeholders, history, upstream auth, and the request
 * log that tests use to see what was forwarded.
 */

const TOKEN = 'peer-test-token';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const fk = (r: Resource): FhirResource => r as unknown as FhirResource;
const as = <T>(r: FhirResource): T => r as unknown as T;
const statusOf = (r: FhirResource) => Client.httpFor(r).response?.status;
const headerOf = (r: FhirResource, name: string) => Client.httpFor(r).response?.headers.get(name);

/** The HTTP failure fhir-kit-client raised; fails the test when the call succeeded. */
async function failure(call: Promise<unknown>): Promise<{ status: number; data: OperationOutcome; headers?: Headers }> {
  try {
    await call;
  } catch (e) {
    const response = (e as { response?: { status: number; data: OperationOutcome; headers?: Headers } }).response;
    if (response) return response;
    throw e;
  }
  throw new Error('expected the request to fail, but it succeeded');
}

const patient = (family: string): Patient => ({ resourceType: 'Patient', name: [{ family }] });
const observation = (subject: string): Observation => ({
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
  subject: { reference: subject },
});

describe('FHIR peer (Medplum fhir-router over node:http)', () => {
  let peer: FhirPeer;
  let client: Client;
  /** The requests the peer logged since `mark` was taken. */
  const since = (mark: number) => peer.requests.slice(mark);

  beforeAll(async () => {
    peer = await startFhirPeer({ token: TOKEN });
    client = new Client({ baseUrl: peer.baseUrl, bearerToken: TOKEN });
  });

  afterAll(async () => {
    await peer.close();
  });

  it('creates with 201, a Location to the version and a weak ETag of its UUID version id', async () => {
    const mark = peer.requests.length;
    const created = await client.create({ resourceType: 'Patient', body: fk(patient('Created')) });
    const { id, meta } = as<Patient>(created);
    expect(statusOf(created)).toBe(201);
    expect(meta?.versionId).toMatch(UUID);
    expect(headerOf(created, 'etag')).toBe(`W/"${meta?.versionId}"`);
    expect(headerOf(created, 'location')).toBe(`${peer.baseUrl}/Patient/${id}/_history/${meta?.versionId}`);
    expect(headerOf(created, 'content-type')).toMatch(/^application\/fhir\+json/);

    const read = await client.read({ resourceType: 'Patient', id: id! });
    expect(statusOf(read)).toBe(200);
    expect(as<Patient>(read)).toEqual(as<Patient>(created));
    expect(headerOf(read, 'etag')).toBe(`W/"${meta?.versionId}"`);
    expect(since(mark)).toEqual([
      { method: 'POST', url: '/Patient' },
      { method: 'GET', url: `/Patient/${id}` },
    ]);
  });

  it('updates with a current If-Match, refuses a stale one with 412, and vreads the first version by its UUID', async () => {
    const first = as<Patient>(await client.create({ resourceType: 'Patient', body: fk(patient('First')) }));
    const v1 = first.meta!.versionId!;
    const updated = await client.update({
      resourceType: 'Patient',
      id: first.id!,
      body: fk({ ...first, name: [{ family: 'Second' }] }),
      options: { headers: { 'If-Match': `W/"${v1}"` } },
    });
    const v2 = as<Patient>(updated).meta!.versionId!;
    expect(statusOf(updated)).toBe(200);
    expect(v2).toMatch(UUID);
    expect(v2).not.toBe(v1);
    expect(headerOf(updated, 'etag')).toBe(`W/"${v2}"`);

    const mark = peer.requests.length;
    const stale = await failure(
      client.update({
        resourceType: 'Patient',
        id: first.id!,
        body: fk({ ...first, name: [{ family: 'Lost' }] }),
        options: { headers: { 'If-Match': `W/"${v1}"` } },
      }),
    );
    expect(stale.status).toBe(412);
    expect(stale.data.resourceType).toBe('OperationOutcome');
    expect(stale.data.issue?.[0]?.severity).toBe('error');
    const current = as<Patient>(await client.read({ resourceType: 'Patient', id: first.id! }));
    expect(current.meta?.versionId).toBe(v2);
    expect(current.name).toEqual([{ family: 'Second' }]);

    const old = await client.vread({ resourceType: 'Patient', id: first.id!, version: v1 });
    expect(statusOf(old)).toBe(200);
    expect(as<Patient>(old).name).toEqual([{ family: 'First' }]);
    expect(as<Patient>(old).meta?.versionId).toBe(v1);
    expect(headerOf(old, 'etag')).toBe(`W/"${v1}"`);
    expect(since(mark)).toEqual([
      { method: 'PUT', url: `/Patient/${first.id}` },
      { method: 'GET', url: `/Patient/${first.id}` },
      { method: 'GET', url: `/Patient/${first.id}/_history/${v1}` },
    ]);

    const history = as<Bundle<Patient>>(await client.history({ resourceType: 'Patient', id: first.id! }));
    expect(history.type).toBe('history');
    // Both versions, never the refused one; the order is not asserted (see the report on this peer).
    expect(new Set(history.entry?.map((e) => e.resource?.meta?.versionId))).toEqual(new Set([v1, v2]));
    expect(history.entry).toHaveLength(2);
  });

  it('searches Observation by subject reference, without paging links', async () => {
    const x = as<Patient>(await client.create({ resourceType: 'Patient', body: fk(patient('X')) }));
    const y = as<Patient>(await client.create({ resourceType: 'Patient', body: fk(patient('Y')) }));
    const ids: string[] = [];
    for (const subject of [`Patient/${x.id}`, `Patient/${x.id}`, `Patient/${y.id}`]) {
      ids.push(as<Observation>(await client.create({ resourceType: 'Observation', body: fk(observation(subject)) })).id!);
    }

    const mark = peer.requests.length;
    const result = await client.search({ resourceType: 'Observation', searchParams: { subject: `Patient/${x.id}` } });
    const bundle = as<Bundle<Observation>>(result);
    expect(statusOf(result)).toBe(200);
    expect(bundle.type).toBe('searchset');
    expect(bundle.entry?.map((e) => e.resource?.id).sort()).toEqual([ids[0], ids[1]].sort());
    expect(bundle.total).toBe(2);
    expect(bundle.link).toBeUndefined();
    expect(since(mark)).toEqual([{ method: 'GET', url: `/Observation?subject=Patient%2F${x.id}` }]);
  });

  it('runs a transaction, resolving a urn:uuid reference to the id it assigned', async () => {
    const placeholder = 'urn:uuid:7f0b2a52-5e0e-4c1e-9f0a-2b7d3c9e4a11';
    const mark = peer.requests.length;
    const response = await client.transaction({
      body: fk({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { fullUrl: placeholder, resource: patient('Transacted'), request: { method: 'POST', url: 'Patient' } },
          { resource: observation(placeholder), request: { method: 'POST', url: 'Observation' } },
        ],
      } as Bundle),
    });
    const bundle = as<Bundle>(response);
    expect(statusOf(response)).toBe(200);
    expect(bundle.type).toBe('transaction-response');
    expect(bundle.entry?.map((e) => e.response?.status)).toEqual(['201', '201']);
    const [patientLocation, observationLocation] = bundle.entry!.map((e) => e.response!.location!);
    expect(patientLocation).toMatch(/^Patient\/[0-9a-f-]{36}$/);
    expect(observationLocation).toMatch(/^Observation\/[0-9a-f-]{36}$/);

    const stored = as<Observation>(await client.read({ resourceType: 'Observation', id: observationLocation.split('/')[1] }));
    expect(stored.subject?.reference).toBe(patientLocation);
    const subject = as<Patient>(await client.read({ resourceType: 'Patient', id: patientLocation.split('/')[1] }));
    expect(subject.name).toEqual([{ family: 'Transacted' }]);
    expect(since(mark).map((r) => `${r.method} ${r.url}`)).toEqual([
      'POST /',
      `GET /${observationLocation}`,
      `GET /${patientLocation}`,
    ]);
  });

  it('answers 401 with an OperationOutcome without the bearer token, and writes nothing', async () => {
    const anonymous = new Client({ baseUrl: peer.baseUrl });
    const wrong = new Client({ baseUrl: peer.baseUrl, bearerToken: 'not-the-token' });
    const mark = peer.requests.length;
    for (const c of [anonymous, wrong]) {
      const refused = await failure(c.create({ resourceType: 'Patient', body: fk(patient('Intruder')) }));
      expect(refused.status).toBe(401);
      expect(refused.data.resourceType).toBe('OperationOutcome');
      expect(refused.data.issue?.[0]?.code).toBe('login');
    }
    const found = as<Bundle>(await client.search({ resourceType: 'Patient', searchParams: { family: 'Intruder' } }));
    expect(found.total).toBe(0);
    expect(since(mark)).toEqual([
      { method: 'POST', url: '/Patient' },
      { method: 'POST', url: '/Patient' },
      { method: 'GET', url: '/Patient?family=Intruder' },
    ]);
  });

  it('answers an unknown id with 404 and an OperationOutcome', async () => {
    const missing = await failure(client.read({ resourceType: 'Patient', id: 'no-such-patient' }));
    expect(missing.status).toBe(404);
    expect(missing.data.issue?.[0]?.code).toBe('not-found');
    expect(peer.requests.at(-1)).toEqual({ method: 'GET', url: '/Patient/no-such-patient' });
  });
});
