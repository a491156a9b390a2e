import { randomUUID } from 'node:crypto';
import type { Bundle, Observation, Patient } from '@medplum/fhirtypes';
import { httpRequest, type HttpResult } from '../support/http.js';
import { startTestServer, TestClock, type TestServer } from '../support/test-app.js';

/**
 * Issue #13: `_total=accurate` counts once per search. The first page counts; its paging links
 * carry the count in `_total-token`, bound to the caller and the question, so the pages after it
 * do not count again. The proof that a page did not count: a matching record added between
 * page 1 and page 2 is counted by a fresh search, and not by page 2. A token that does not
 * verify (tampered, another caller's, another question's, expired) is ignored: 200, counted afresh.
 */

const PAGE = 10;
const link = (bundle: Bundle, relation: string) => bundle.link?.find((l) => l.relation === relation)?.url;
const tokenIn = (url: string | undefined) => new URL(url ?? 'missing:').searchParams.get('_total-token') ?? undefined;

describe('a _total=accurate count carried by paging links (issue #13, e2e)', () => {
  /** Moved past a token's lifetime by the last test only. */
  const clock = new TestClock();
  let server: TestServer;
  let his: string;
  let otherHis: string;
  let nurse: string;
  let patientId: string;
  const system = `urn:chartwarden-e2e:carried-total:${randomUUID()}`;

  const get = (url: string, token = his) => httpRequest<Bundle>(url.startsWith('http') ? url : `${server.fhirBase}/${url}`, 'GET', { token });
  const bundleOf = (res: HttpResult<Bundle>) => {
    expect(res.status).toBe(200);
    return res.body;
  };
  const observation = (n: number): Observation => ({
    resourceType: 'Observation',
    status: 'final',
    identifier: [{ system, value: String(n) }],
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
    subject: { reference: `Patient/${patientId}` },
    valueQuantity: { value: 60 + n, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
  });
  let added = 30;
  const addObservation = async () => {
    const res = await httpRequest(`${server.fhirBase}/Observation`, 'POST', { token: his, body: observation(++added) });
    expect(res.status).toBe(201);
  };
  const firstPage = async (token = his) => bundleOf(await get(`Observation?patient=${patientId}&_total=accurate&_count=${PAGE}`, token));
  /** What a fresh search counts now: the ground truth a carried total is compared with. */
  const countedNow = async () => (await firstPage()).total;

  beforeAll(async () => {
    server = await startTestServer({ clock });
    his = await server.token({ sub: 'his-carried-total' });
    otherHis = await server.token({ sub: 'his-carried-total-2' });
    nurse = await server.token({ sub: 'nurse-carried-total', roles: ['nurse'], department: 'dept-carried-total', fhirUser: 'Practitioner/nurse-carried-total' });
    const patient: Patient = { resourceType: 'Patient', identifier: [{ system, value: 'p' }] };
    const created = await httpRequest<Patient>(`${server.fhirBase}/Patient`, 'POST', { token: his, body: patient });
    expect(created.status).toBe(201);
    patientId = created.body.id as string;
    const transaction: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: Array.from({ length: 30 }, (_, i) => ({ resource: observation(i + 1), request: { method: 'POST' as const, url: 'Observation' } })),
    };
    const stored = await httpRequest<Bundle>(server.fhirBase, 'POST', { token: his, body: transaction });
    expect(stored.status).toBe(200);
  });

  afterAll(async () => {
    await server?.close();
  });

  it('page 1 counts and every link carries the count; page 2 reuses it (a record added in between is not counted) while a fresh search counts it', async () => {
    const page1 = await firstPage();
    expect(page1.total).toBe(added);
    expect(page1.entry).toHaveLength(PAGE);
    const token = tokenIn(link(page1, 'next'));
    expect(token).toMatch(new RegExp(`^${added}\\.\\d+\\.[A-Za-z0-9_-]{43}$`));
    for (const relation of ['self', 'first', 'next']) expect(tokenIn(link(page1, relation))).toBe(token);
    const before = added;

    await addObservation();
    const page2 = bundleOf(await get(link(page1, 'next') as string));
    expect(page2.total).toBe(before);
    expect(page2.entry).toHaveLength(PAGE);
    expect(tokenIn(link(page2, 'next'))).toBe(token);
    expect(tokenIn(link(page2, 'previous'))).toBe(token);
    expect(await countedNow()).toBe(before + 1);

    // The page the count says is the last reads to the end: the record added since is not hidden behind a stale count.
    const page3 = bundleOf(await get(link(page2, 'next') as string));
    expect(page3.total).toBe(before + 1);
    expect(page3.entry).toHaveLength(PAGE);
    const page4 = bundleOf(await get(link(page3, 'next') as string));
    expect(page4.entry).toHaveLength(1);
    expect(page4.total).toBe(before + 1);
  });

  it('a tampered token is ignored: 200, counted afresh, and the tampered text appears nowhere in the answer', async () => {
    const next = link(await firstPage(), 'next') as string;
    await addObservation();
    const token = tokenIn(next) as string;
    const claimed = token.replace(/^\d+\./, '5000.');
    const res = await get(next.replace(encodeURIComponent(token), encodeURIComponent(claimed)));
    expect(bundleOf(res).total).toBe(added);
    expect(res.text).not.toContain(claimed);
    expect(tokenIn(link(res.body, 'self'))).toMatch(new RegExp(`^${added}\\.`));
  });

  it("another caller following the links gets their own count: the same role's another client, and a nurse who sees none of it", async () => {
    const next = link(await firstPage(), 'next') as string;
    await addObservation();
    const otherClient = await get(next, otherHis);
    expect(bundleOf(otherClient).total).toBe(added);
    expect(tokenIn(link(otherClient.body, 'self'))).not.toBe(tokenIn(next));
    const stranger = bundleOf(await get(next, nurse));
    expect(stranger.total).toBe(0);
    expect(stranger.entry ?? []).toHaveLength(0);
  });

  it("one question's token is ignored on another: a narrower search counts its own matches", async () => {
    const token = tokenIn(link(await firstPage(), 'next')) as string;
    const narrower = bundleOf(await get(`Observation?patient=${patientId}&identifier=${encodeURIComponent(`${system}|3`)}&_total=accurate&_count=${PAGE}&_offset=0&_total-token=${token}`));
    expect(narrower.total).toBe(1);
    const otherType = bundleOf(await get(`Patient?identifier=${encodeURIComponent(`${system}|p`)}&_total=accurate&_count=1&_offset=0&_total-token=${token}`));
    expect(otherType.total).toBe(1);
  });

  it('a malformed or overlong token is ignored (200, counted); a token without _total=accurate is refused (400) without echoing it', async () => {
    const base = `Observation?patient=${patientId}&_total=accurate&_count=${PAGE}&_offset=${PAGE}`;
    for (const junk of ['not-a-token', '9'.repeat(300)]) {
      const res = await get(`${base}&_total-token=${junk}`);
      expect(bundleOf(res).total).toBe(added);
      expect(res.text).not.toContain(junk);
    }
    const token = tokenIn(link(await firstPage(), 'next')) as string;
    const refused = await get(`Observation?patient=${patientId}&_count=${PAGE}&_offset=${PAGE}&_total-token=${token}`);
    expect(refused.status).toBe(400);
    expect(refused.text).toContain('_total=accurate');
    expect(refused.text).not.toContain(token);
  });

  it('a token expires an hour after its count: the page counts again', async () => {
    const next = link(await firstPage(), 'next') as string;
    await addObservation();
    expect(bundleOf(await get(next)).total).toBe(added - 1);
    clock.advance(61 * 60 * 1000);
    expect(bundleOf(await get(next)).total).toBe(added);
  });
});
