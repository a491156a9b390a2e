import { isResourceType, validateResource } from '@medplum/core';
import type { Bundle, BundleEntry, CapabilityStatement, Observation, OperationOutcome, Patient, Resource } from '@medplum/fhirtypes';
import { Client, type FhirResource } from 'fhir-kit-client';
import { startFhirPeer, type FhirPeer } from '../support/fhir-peer.js';

/**
 * The FHIR peer the remote-store adapter is tested against (issue #17), proven over real HTTP
 * with the same client the adapter uses: statuses, ETags, Location, If-Match, vread by UUID
 * version, reference search, transaction placeholders, history, upstream auth, and the request
 * log that tests use to see what was forwarded. Then what the peer's wrapper adds for the
 * adapter (decision 0017): its CapabilityStatement, an upstream without transactions or without
 * update-as-create, and the system `_history` the sync reads, checked against what each write
 * answered.
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

/** One raw HTTP exchange, for what fhir-kit-client hides (statuses of successes, bodies of refusals, absolute next links). */
async function http<T = Resource>(method: string, url: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(url, {
    method,
    headers: { accept: 'application/fhir+json', ...(body === undefined ? {} : { 'content-type': 'application/fhir+json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as T };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const interactions = (statement: CapabilityStatement) => statement.rest?.[0]?.interaction?.map((i) => i.code).sort();
/** What identifies a version in a history entry. */
const versionOf = (e: BundleEntry) => `${e.request?.method} ${e.request?.url} ${e.response?.etag}`;

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

  it('answers GET metadata with a valid R4 CapabilityStatement: transaction, batch, system history, every type with updateCreate', async () => {
    const answer = await client.capabilityStatement();
    const statement = as<CapabilityStatement>(answer);
    expect(statusOf(answer)).toBe(200);
    expect(headerOf(answer, 'content-type')).toMatch(/^application\/fhir\+json/);
    expect(statement).toMatchObject({ resourceType: 'CapabilityStatement', status: 'active', kind: 'instance', fhirVersion: '4.0.1', format: ['json'] });
    expect(statement.implementation?.url).toBe(peer.baseUrl);
    // The R4 invariants included (e.g. cpb-14: an instance statement names its implementation).
    expect(validateResource(statement)).toEqual([]);
    expect(statement.rest).toHaveLength(1);
    expect(statement.rest![0].mode).toBe('server');
    expect(interactions(statement)).toEqual(['batch', 'history-system', 'transaction']);

    const resources = statement.rest![0].resource!;
    const types = resources.map((r) => r.type);
    // R4 defines 145 resource types; Medplum's R4 definitions add a few backports (SubscriptionStatus).
    expect(types.length).toBeGreaterThanOrEqual(145);
    expect(new Set(types).size).toBe(types.length);
    expect(types.filter((t) => !isResourceType(t))).toEqual([]);
    expect(types).toEqual(expect.arrayContaining(['Patient', 'Encounter', 'Observation', 'Composition', 'DocumentReference', 'Consent', 'Provenance', 'AuditEvent']));
    for (const resource of resources) {
      expect(resource.interaction?.map((i) => i.code)).toEqual(expect.arrayContaining(['read', 'vread', 'update', 'create', 'history-instance', 'search-type']));
      expect(resource).toMatchObject({ updateCreate: true, versioning: 'versioned' });
    }
    expect(peer.requests.at(-1)).toEqual({ method: 'GET', url: '/metadata' });
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

describe('FHIR peer without transactions (transactions: false)', () => {
  let peer: FhirPeer;

  beforeAll(async () => {
    peer = await startFhirPeer({ transactions: false });
  });

  afterAll(async () => {
    await peer.close();
  });

  it('leaves transaction out of its CapabilityStatement and refuses a transaction Bundle with 400 not-supported, writing nothing', async () => {
    const metadata = await http<CapabilityStatement>('GET', `${peer.baseUrl}/metadata`);
    expect(metadata.status).toBe(200);
    expect(interactions(metadata.body)).toEqual(['batch', 'history-system']);

    const refused = await http<OperationOutcome>('POST', `${peer.baseUrl}/`, {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: patient('NeverWritten'), request: { method: 'POST', url: 'Patient' } },
        { resource: { ...patient('NeverWrittenEither'), id: 'cw-never' }, request: { method: 'PUT', url: 'Patient/cw-never' } },
      ],
    } as Bundle);
    expect(refused.status).toBe(400);
    expect(refused.body.resourceType).toBe('OperationOutcome');
    expect(refused.body.issue).toEqual([expect.objectContaining({ severity: 'error', code: 'not-supported' })]);

    expect(peer.changes()).toEqual([]);
    const history = await http<Bundle>('GET', `${peer.baseUrl}/_history`);
    expect(history.status).toBe(200);
    expect(history.body).toMatchObject({ resourceType: 'Bundle', type: 'history', total: 0 });
    expect(history.body.entry).toBeUndefined();
    expect((await http<Bundle>('GET', `${peer.baseUrl}/Patient?family=NeverWritten`)).body.total).toBe(0);
    expect((await http<OperationOutcome>('GET', `${peer.baseUrl}/Patient/cw-never`)).status).toBe(404);
  });

  it('still runs a batch, entry by entry', async () => {
    const batch = await http<Bundle>('POST', `${peer.baseUrl}/`, {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [{ resource: patient('Batched'), request: { method: 'POST', url: 'Patient' } }],
    } as Bundle);
    expect(batch.status).toBe(200);
    expect(batch.body.type).toBe('batch-response');
    expect(batch.body.entry?.map((e) => e.response?.status)).toEqual(['201']);
    const created = batch.body.entry![0].resource as Patient;
    expect(peer.changes().map((c) => [c.method, `${c.resourceType}/${c.id}`, c.versionId])).toEqual([['POST', `Patient/${created.id}`, created.meta?.versionId]]);
  });
});

describe('FHIR peer without update-as-create (updateCreate: false)', () => {
  let peer: FhirPeer;

  beforeAll(async () => {
    peer = await startFhirPeer({ updateCreate: false });
  });

  afterAll(async () => {
    await peer.close();
  });

  it('says updateCreate: false, answers a PUT to a new id with 405 and creates nothing, alone or in a batch', async () => {
    const metadata = await http<CapabilityStatement>('GET', `${peer.baseUrl}/metadata`);
    expect(metadata.body.rest?.[0].resource?.length).toBeGreaterThanOrEqual(145);
    expect(metadata.body.rest?.[0].resource?.filter((r) => r.updateCreate !== false)).toEqual([]);
    expect(interactions(metadata.body)).toEqual(['batch', 'history-system', 'transaction']);

    const refused = await http<OperationOutcome>('PUT', `${peer.baseUrl}/Patient/cw-new`, { ...patient('ClientId'), id: 'cw-new' });
    expect(refused.status).toBe(405);
    expect(refused.body.resourceType).toBe('OperationOutcome');
    expect(refused.body.issue).toEqual([expect.objectContaining({ severity: 'error', code: 'not-supported' })]);
    expect((await http<OperationOutcome>('GET', `${peer.baseUrl}/Patient/cw-new`)).status).toBe(404);

    const batch = await http<Bundle>('POST', `${peer.baseUrl}/`, {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [{ resource: { ...patient('ClientIdInBatch'), id: 'cw-batched' }, request: { method: 'PUT', url: 'Patient/cw-batched' } }],
    } as Bundle);
    expect(batch.status).toBe(200);
    expect(batch.body.entry?.map((e) => [e.response?.status, e.response?.outcome?.issue?.[0]?.code])).toEqual([['405', 'not-supported']]);
    expect((await http<OperationOutcome>('GET', `${peer.baseUrl}/Patient/cw-batched`)).status).toBe(404);
    expect(peer.changes()).toEqual([]);
  });

  it('still updates a record that exists', async () => {
    const created = await http<Patient>('POST', `${peer.baseUrl}/Patient`, patient('Existing'));
    expect(created.status).toBe(201);
    const updated = await http<Patient>('PUT', `${peer.baseUrl}/Patient/${created.body.id}`, { ...created.body, name: [{ family: 'Updated' }] });
    expect(updated.status).toBe(200);
    expect(updated.body.name).toEqual([{ family: 'Updated' }]);
    expect(peer.changes().map((c) => [c.method, c.id, c.versionId])).toEqual([
      ['POST', created.body.id, created.body.meta?.versionId],
      ['PUT', created.body.id, updated.body.meta?.versionId],
    ]);
  });
});

describe('FHIR peer system _history (its change log)', () => {
  let peer: FhirPeer;
  const at = (path: string) => `${peer.baseUrl}/${path}`;
  /** What each write answered, in write order: the oracle the history is checked against. */
  const written: { method: string; url: string; status: string; resource?: Resource }[] = [];
  const wrote = (method: string, status: string, resource: Resource) =>
    written.push({ method, url: `${resource.resourceType}/${resource.id}`, status, resource });
  const historyPage = async (query: Record<string, string> = {}) => http<Bundle>('GET', at(`_history?${new URLSearchParams(query)}`));

  beforeAll(async () => {
    peer = await startFhirPeer();
    // A few milliseconds between requests, so each write but the transaction's has its own lastUpdated.
    const a1 = await http<Patient>('POST', at('Patient'), patient('Alpha'));
    wrote('POST', '201', a1.body);
    await pause(3);
    const a2 = await http<Patient>('PUT', at(`Patient/${a1.body.id}`), { ...a1.body, name: [{ family: 'Alpha2' }] });
    wrote('PUT', '200', a2.body);
    await pause(3);
    const o1 = await http<Observation>('POST', at('Observation'), observation(`Patient/${a1.body.id}`));
    wrote('POST', '201', o1.body);
    await pause(3);
    const o2 = await http<Observation>('PATCH', at(`Observation/${o1.body.id}`), [{ op: 'replace', path: '/status', value: 'amended' }]);
    wrote('PATCH', '200', o2.body);
    await pause(3);
    const deleted = await http<OperationOutcome>('DELETE', at(`Patient/${a1.body.id}`));
    expect(deleted.status).toBe(200);
    written.push({ method: 'DELETE', url: `Patient/${a1.body.id}`, status: '200' });
    await pause(3);
    const placeholder = 'urn:uuid:0c3e7d7e-8a57-4a2b-9d5e-3f1d2b6c7a88';
    const transaction = await http<Bundle>('POST', at(''), {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: placeholder, resource: patient('Tango'), request: { method: 'POST', url: 'Patient' } },
        { resource: { ...observation(placeholder), id: o1.body.id }, request: { method: 'PUT', url: `Observation/${o1.body.id}` } },
      ],
    } as Bundle);
    expect(transaction.body.entry?.map((e) => e.response?.status)).toEqual(['201', '200']);
    wrote('POST', '201', transaction.body.entry![0].resource!);
    wrote('PUT', '200', transaction.body.entry![1].resource!);
    await pause(3);
    const c1 = await http<Patient>('PUT', at('Patient/cw-7'), { ...patient('ClientChosen'), id: 'cw-7' });
    // The peer answers an update-as-create with 200 (Medplum's choice); its history says what happened: 201.
    expect(c1.status).toBe(200);
    wrote('PUT', '201', c1.body);
    for (const w of written.filter((w) => w.resource)) expect(w.resource?.meta?.versionId).toMatch(UUID);
  });

  afterAll(async () => {
    await peer.close();
  });

  it('serves every create, update, patch, delete and transaction entry, newest first, with its request and response', async () => {
    const { status, body } = await historyPage();
    expect(status).toBe(200);
    expect(body).toMatchObject({ resourceType: 'Bundle', type: 'history', total: written.length });
    expect(body.link).toBeUndefined();
    const newestFirst = [...written].reverse();
    expect(body.entry).toHaveLength(newestFirst.length);
    body.entry!.forEach((entry, n) => {
      const w = newestFirst[n];
      expect(entry.fullUrl).toBe(at(w.url));
      expect(entry.request).toEqual({ method: w.method, url: w.url });
      expect(entry.response?.status).toBe(w.status);
      if (w.resource) {
        expect(entry.resource).toEqual(w.resource);
        expect(entry.response?.etag).toBe(`W/"${w.resource.meta?.versionId}"`);
        expect(entry.response?.lastModified).toBe(w.resource.meta?.lastUpdated);
      } else {
        expect(entry).not.toHaveProperty('resource');
        expect(entry.response?.etag).toMatch(/^W\/"[0-9a-f-]{36}"$/);
      }
    });
    // The delete sits between the patch before it and the transaction after it.
    const deletion = body.entry!.find((e) => e.request?.method === 'DELETE')!;
    expect(Date.parse(deletion.response!.lastModified!)).toBeGreaterThan(Date.parse(written[3].resource!.meta!.lastUpdated!));
    expect(Date.parse(deletion.response!.lastModified!)).toBeLessThan(Date.parse(written[5].resource!.meta!.lastUpdated!));

    // The same log, in write order, for tests that look at the peer directly.
    const changes = peer.changes();
    expect(changes.map((c) => [c.method, `${c.resourceType}/${c.id}`, `W/"${c.versionId}"`, c.resource])).toEqual(
      written.map((w) => [w.method, w.url, w.resource ? `W/"${w.resource.meta?.versionId}"` : deletion.response?.etag, w.resource]),
    );
    // A copy: what a test does to it changes nothing served.
    (changes[0].resource as Patient).name = [{ family: 'Tampered' }];
    expect(peer.changes()[0].resource).toEqual(written[0].resource);
    expect((await historyPage()).body).toEqual(body);
  });

  it('honours _since as at-or-after, in UTC or with a zone offset, and refuses what is not an instant', async () => {
    const patched = written[3].resource!.meta!.lastUpdated!;
    // The precondition the cases rely on: the patch has a millisecond of its own.
    expect(Date.parse(written[2].resource!.meta!.lastUpdated!)).toBeLessThan(Date.parse(patched));
    const fromPatch = [...written.slice(3)].reverse().map((w) => `${w.method} ${w.url}`);

    const inclusive = await historyPage({ _since: patched });
    expect(inclusive.status).toBe(200);
    expect(inclusive.body.total).toBe(fromPatch.length);
    expect(inclusive.body.entry?.map((e) => `${e.request?.method} ${e.request?.url}`)).toEqual(fromPatch);
    expect(inclusive.body.entry?.at(-1)?.response?.etag).toBe(`W/"${written[3].resource!.meta!.versionId}"`);

    const later = await historyPage({ _since: new Date(Date.parse(patched) + 1).toISOString() });
    expect(later.body.total).toBe(fromPatch.length - 1);
    expect(later.body.entry?.map((e) => `${e.request?.method} ${e.request?.url}`)).toEqual(fromPatch.slice(0, -1));

    const beijing = new Date(Date.parse(patched) + 8 * 3600_000).toISOString().replace('Z', '+08:00');
    expect((await historyPage({ _since: beijing })).body.entry?.map(versionOf)).toEqual(inclusive.body.entry?.map(versionOf));

    const future = await historyPage({ _since: '2999-01-01T00:00:00Z' });
    expect(future.body).toMatchObject({ type: 'history', total: 0 });
    expect(future.body.entry).toBeUndefined();

    const malformed: Record<string, string>[] = [{ _since: 'yesterday' }, { _since: '2024-05-01' }, { _count: '-1' }, { _count: 'ten' }, { _getpages: '99999' }];
    for (const query of malformed) {
      const bad = await http<OperationOutcome>('GET', at(`_history?${new URLSearchParams(query)}`));
      expect(bad.status).toBe(400);
      expect(bad.body.issue?.[0]).toMatchObject({ severity: 'error', code: 'invalid' });
    }
  });
});

describe('FHIR peer system _history paging', () => {
  let peer: FhirPeer;
  const at = (path: string) => `${peer.baseUrl}/${path}`;

  beforeEach(async () => {
    peer = await startFhirPeer();
  });

  afterEach(async () => {
    await peer.close();
  });

  /** A batch of creates; returns what each entry answered, in entry order. */
  async function createMany(families: string[], lastUpdated?: string): Promise<Patient[]> {
    const batch = await http<Bundle>('POST', at(''), {
      resourceType: 'Bundle',
      type: 'batch',
      entry: families.map((family) => ({
        resource: { ...patient(family), ...(lastUpdated ? { meta: { lastUpdated } } : {}) },
        request: { method: 'POST', url: 'Patient' },
      })),
    } as Bundle);
    expect(batch.status).toBe(200);
    expect(batch.body.entry?.every((e) => e.response?.status === '201')).toBe(true);
    return batch.body.entry!.map((e) => e.resource as Patient);
  }

  /** Follows `next` from a first page to the end: the pages' entries and each page's total. */
  async function follow(first: Bundle): Promise<{ pages: BundleEntry[][]; totals: (number | undefined)[] }> {
    const pages: BundleEntry[][] = [first.entry ?? []];
    const totals = [first.total];
    let next = first.link?.find((l) => l.relation === 'next')?.url;
    while (next) {
      expect(next.startsWith(`${peer.baseUrl}/_history?`)).toBe(true);
      const page = await http<Bundle>('GET', next);
      expect(page.status).toBe(200);
      pages.push(page.body.entry ?? []);
      totals.push(page.body.total);
      next = page.body.link?.find((l) => l.relation === 'next')?.url;
      expect(pages.length).toBeLessThan(50);
    }
    return { pages, totals };
  }

  it('keeps write order among versions of the same millisecond, and pages with _count through next links that reach every version once, whatever is written meanwhile', async () => {
    // The memory store keeps a client-sent lastUpdated on create: ten versions of one instant, deterministically.
    const instant = '2024-05-01T08:00:00.000Z';
    const created = await createMany(Array.from({ length: 10 }, (_, n) => `P${n}`), instant);
    expect(new Set(created.map((p) => p.meta?.lastUpdated))).toEqual(new Set([instant]));
    const updates: Patient[] = [];
    for (const p of [created[0], created[5]]) {
      updates.push((await http<Patient>('PUT', at(`Patient/${p.id}`), { ...p, name: [{ family: `${p.name?.[0].family}-bis` }] })).body);
    }
    const expected = [...created.map((p) => `POST Patient/${p.id}`), ...updates.map((p) => `PUT Patient/${p.id}`)]
      .map((line, n) => `${line} W/"${[...created, ...updates][n].meta?.versionId}"`)
      .reverse();

    const whole = await http<Bundle>('GET', at('_history'));
    expect(whole.body.entry?.map(versionOf)).toEqual(expected);
    expect((await http<Bundle>('GET', at('_history'))).body).toEqual(whole.body);

    const first = await http<Bundle>('GET', at('_history?_count=4'));
    expect(first.body.total).toBe(12);
    const nextUrl = new URL(first.body.link!.find((l) => l.relation === 'next')!.url!);
    expect(nextUrl.searchParams.get('_count')).toBe('4');
    expect(nextUrl.searchParams.get('_getpagesoffset')).toBe('4');
    // A write between pages: the pages already begun do not move.
    const late = (await http<Patient>('POST', at('Patient'), patient('Late'))).body;
    const { pages, totals } = await follow(first.body);
    expect(pages.map((p) => p.length)).toEqual([4, 4, 4]);
    expect(totals).toEqual([12, 12, 12]);
    expect(pages.flat().map(versionOf)).toEqual(expected);

    const fresh = await http<Bundle>('GET', at('_history?_count=4'));
    expect(fresh.body.total).toBe(13);
    expect(fresh.body.entry?.[0].request).toEqual({ method: 'POST', url: `Patient/${late.id}` });
    expect((await follow(fresh.body)).pages.flat().map(versionOf)).toEqual([`POST Patient/${late.id} W/"${late.meta?.versionId}"`, ...expected]);
  });

  it('pages 100 versions by default and at most 1000, and answers _count=0 with the total alone', async () => {
    const created = await createMany(Array.from({ length: 1001 }, (_, n) => `Bulk${n}`));
    const all = created.map((p) => `POST Patient/${p.id} W/"${p.meta?.versionId}"`).reverse();

    const byDefault = await http<Bundle>('GET', at('_history'));
    expect(byDefault.body.total).toBe(1001);
    expect(byDefault.body.entry?.map(versionOf)).toEqual(all.slice(0, 100));
    const next = new URL(byDefault.body.link!.find((l) => l.relation === 'next')!.url!);
    expect([next.searchParams.get('_count'), next.searchParams.get('_getpagesoffset')]).toEqual(['100', '100']);

    const capped = await http<Bundle>('GET', at('_history?_count=5000'));
    expect(capped.body.entry).toHaveLength(1000);
    const { pages } = await follow(capped.body);
    expect(pages.map((p) => p.length)).toEqual([1000, 1]);
    expect(pages.flat().map(versionOf)).toEqual(all);

    const countOnly = await http<Bundle>('GET', at('_history?_count=0'));
    expect(countOnly.status).toBe(200);
    expect(countOnly.body.total).toBe(1001);
    expect(countOnly.body.entry).toBeUndefined();
    expect(countOnly.body.link).toBeUndefined();
  });
});
