import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Patient } from '@medplum/fhirtypes';
import { UpstreamFhirServer } from '../../src/store/remote/upstream-server.js';
import { startFhirPeer, type FhirPeer } from '../support/fhir-peer.js';

/**
 * The remote store's upstream client (issue #17) on what the store's pages ask of it: the current
 * versions of a page's records in one search, by GET while the query is short and by POST
 * `_search` (a form) once the ids would make the URL too long for proxies.
 */
describe('UpstreamFhirServer.readMany over HTTP (issue #17)', () => {
  let peer: FhirPeer;
  let upstream: UpstreamFhirServer;
  const ids: string[] = [];

  beforeAll(async () => {
    peer = await startFhirPeer();
    upstream = new UpstreamFhirServer(peer.baseUrl, { kind: 'none' }, 5_000);
    for (let n = 0; n < 60; n++) {
      const written = await upstream.put({ resource: { resourceType: 'Patient', id: `page-${n}-${randomUUID()}`, name: [{ family: `P${n}` }] } as Patient & { id: string } });
      expect(written.versionId).toBeTruthy();
    }
    const bundle = (await (await fetch(`${peer.baseUrl}/Patient?_count=100`)).json()) as { entry?: { resource: Patient }[] };
    ids.push(...(bundle.entry ?? []).map((e) => e.resource.id as string));
    expect(ids).toHaveLength(60);
  });
  afterAll(() => peer.close());

  it('a few ids: one GET with _id and _count', async () => {
    const mark = peer.requests.length;
    const found = await upstream.readMany('Patient', ids.slice(0, 3));
    expect(found.map((r) => r.id).sort()).toEqual(ids.slice(0, 3).sort());
    expect(peer.requests.slice(mark).map((r) => r.method)).toEqual(['GET']);
    expect(peer.requests[mark].url).toMatch(/^\/Patient\?_id=[^&]+&_count=3$/);
  });

  it('a page of 60 ids (over 1,500 characters): one POST _search, every record found, an unknown id left out', async () => {
    const mark = peer.requests.length;
    const found = await upstream.readMany('Patient', [...ids, 'no-such-patient']);
    expect(found.map((r) => r.id).sort()).toEqual([...ids].sort());
    expect(peer.requests.slice(mark)).toEqual([{ method: 'POST', url: '/Patient/_search' }]);
  });

  it('an upstream that answers a read with another record is refused, never adopted under the asked name', async () => {
    // A server answering GET Patient/asked with Patient/other (a broken proxy, a cache keyed wrongly).
    const liar = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/fhir+json' });
      res.end(JSON.stringify({ resourceType: 'Patient', id: 'other', meta: { versionId: '1' } }));
    });
    await new Promise<void>((resolve) => liar.listen(0, '127.0.0.1', resolve));
    try {
      const confused = new UpstreamFhirServer(`http://127.0.0.1:${(liar.address() as AddressInfo).port}`, { kind: 'none' }, 5_000);
      await expect(confused.read('Patient', 'asked')).rejects.toMatchObject({ code: 'store.upstream-refused', message: expect.stringContaining('answered GET Patient/asked with Patient/other') });
    } finally {
      liar.closeAllConnections();
      await new Promise((resolve) => liar.close(resolve));
    }
  });

  it('an id that is not a FHIR id never reaches an upstream URL: refused on a read and a write, left out of a page', async () => {
    const mark = peer.requests.length;
    for (const id of ['../metadata', 'a/b', 'a?x=1', '..', 'a,b']) {
      await expect(upstream.read('Patient', id)).rejects.toMatchObject({ code: 'store.invalid-resource' });
      await expect(upstream.put({ resource: { resourceType: 'Patient', id } as Patient & { id: string } })).rejects.toMatchObject({ code: 'store.invalid-resource' });
    }
    await expect(upstream.read('../Patient', 'x')).rejects.toMatchObject({ code: 'store.invalid-resource' });
    expect(peer.requests.slice(mark)).toEqual([]);
    expect((await upstream.readMany('Patient', ['a,b', ids[0]])).map((r) => r.id)).toEqual([ids[0]]);
  });
});
