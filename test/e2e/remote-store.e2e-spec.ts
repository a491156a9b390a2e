import { randomUUID } from 'node:crypto';
import { rm, mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle, BundleEntry, Observation, Resource } from '@medplum/fhirtypes';
import type pg from 'pg';
import { clinicalBuilders, keyOf, putDepartments } from '../support/fhir-builders.js';
import { expectOutcome, expectStatus } from '../support/fhir-expect.js';
import { startFhirPeer, type FhirPeer, type FhirPeerOptions } from '../support/fhir-peer.js';
import { fhirApi, httpRequest, jsonApi, seedAs, type HttpResult } from '../support/http.js';
import { closeAll, connectTestDatabase, startTestServer, type TestServer } from '../support/test-app.js';

/**
 * ChartWarden in front of an existing FHIR server (issue #17, decision 0017 "As built" A–F),
 * attacked over real HTTP: a ChartWarden server in remote mode (sync off, so only reads and
 * search pages can notice what changed) in front of Medplum's FHIR router (`fhir-peer.ts`).
 *
 * The attacker here is not only a client of ChartWarden but another client of the upstream, who
 * writes past ChartWarden: moves a patient A's Observation to patient B, changes its content,
 * deletes it. ChartWarden must judge every answer on what the upstream holds *now* (adopting the
 * version it did not write, with an alarm), never on its own older copy, and never lose its own
 * versions (R-17). Each test makes its own records; departments and practitioners are this run's.
 */

const run = randomUUID().slice(0, 8);
const ID_SYSTEM = `urn:chartwarden-e2e:remote-store:${run}`;
const CODE_SYSTEM = `urn:chartwarden-e2e:remote-store-code:${run}`;
const CARDIO = `cw-remote-cardio-${run}`;
const NEURO = `cw-remote-neuro-${run}`;
const DR_CARDIO = `Practitioner/dr-remote-cardio-${run}`;
const DR_NEURO = `Practitioner/dr-remote-neuro-${run}`;
const PATIENT_SIDE = { name: '王小明', relationship: 'spouse', idDocument: { type: 'resident-id-card', number: '110101199001011234' }, confirmed: true };
const TRIPWIRE = 'chartwarden_tripwire_alarms_total';

const build = clinicalBuilders({ identifier: ID_SYSTEM, code: CODE_SYSTEM, family: 'Remote' });
const query = (params: Record<string, string>) => new URLSearchParams(params).toString();
const matchKeys = (b: Bundle) => (b.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => keyOf(e.resource));

/** An Observation of `patient` in `encounter` with a unique identifier (returned with it, to find it by). */
const observation = (patient: string, encounter: string, code: string, extra: Partial<Observation> = {}) => {
  const identifier = `obs-${code}-${randomUUID()}`;
  return { identifier, resource: build.observation({ patient, encounter, code, identifier, note: `${code} observation of ${patient}` }, extra) };
};

/** Direct calls to the upstream FHIR server (read when called: it starts in `beforeAll`): another client of it, past ChartWarden. */
function upstreamApi(peer: () => FhirPeer) {
  return <T = Resource>(method: string, path: string, body?: unknown): Promise<HttpResult<T>> => httpRequest<T>(`${peer().baseUrl}/${path}`, method, { body });
}

/** The resource without its server metadata, as another client of the upstream would PUT it back. */
function withoutMeta<T extends Resource>(resource: T): T {
  const { meta: _meta, ...rest } = resource;
  return rest as T;
}

/** The Observation without its metadata, with another value: what a client PUTs to change it. */
function withValue(o: Observation, value: number): Observation {
  return { ...withoutMeta(o), valueQuantity: { ...o.valueQuantity, value } };
}

/** One sample of a counter in the Prometheus text (undefined when absent). */
function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

/** A port nothing listens on (taken and released). */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as { port: number };
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Why `startTestServer` failed (it must), in a data dir removed here: a failed start never reaches the server's own clean-up. */
async function startUpFailure(store: { kind: 'remote'; url: string; auth?: { kind: 'bearer'; token: string } }): Promise<Error> {
  const dataDir = await mkdtemp(join(tmpdir(), 'chartwarden-remote-startup-'));
  try {
    const server = await startTestServer({ dataDir, store: { ...store, syncIntervalSeconds: 0, timeoutMs: 3000 } });
    await server.close();
  } catch (e) {
    return e as Error;
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
  throw new Error('the server started');
}

interface RemoteVersionRow {
  version_id: number;
  upstream_version: string;
  origin: string;
}

describe('Issue #17: the remote store under attack, in front of a real FHIR server (e2e, real HTTP + PostgreSQL)', () => {
  let peer: FhirPeer;
  let server: TestServer;
  let db: pg.Client;
  let his: string;
  /** Attending in cardio, on patient A's care team. */
  let drCardio: string;
  /** Attending in neuro, on patient B's care team: the outsider to A. */
  let drNeuro: string;

  const A = { patient: '', encounter: '', obs: '' };
  const B = { patient: '', encounter: '' };

  const fhir = fhirApi(() => server.fhirBase);
  const upstream = upstreamApi(() => peer);
  const seed = async <T extends Resource>(resource: T) => (await seedAs(server.fhirBase, his, resource)).id;

  /** The tripwire counter as `/metrics` shows it. */
  const alarms = async (): Promise<number> => {
    const res = await httpRequest(`${server.root}/metrics`, 'GET', { headers: { accept: 'text/plain' } });
    expectStatus(res, 200);
    const value = sample(res.text, TRIPWIRE);
    expect(value).toBeDefined();
    return value as number;
  };
  const remoteVersions = async (type: string, id: string) =>
    (
      await db.query<RemoteVersionRow>(
        'SELECT version_id, upstream_version, origin FROM remote_version WHERE resource_type = $1 AND id = $2 ORDER BY version_id, recorded_at',
        [type, id],
      )
    ).rows;
  /** ChartWarden's own copy: every version it holds, with its content. */
  const localVersions = async (type: string, id: string) =>
    (
      await db.query<{ version_id: number; content: Resource }>(
        'SELECT version_id, content FROM fhir_resource_version WHERE resource_type = $1 AND id = $2 ORDER BY version_id',
        [type, id],
      )
    ).rows;
  const auditOf = async (res: HttpResult<unknown>) =>
    (
      await db.query<{ subtype: string; outcome: number; entity_type: string | null; entity_id: string | null; actor: string | null }>(
        'SELECT subtype, outcome, entity_type, entity_id, actor FROM audit_entry WHERE request_id = $1 ORDER BY chain, seq',
        [res.headers.get('x-request-id')],
      )
    ).rows;
  /** What the upstream holds now, read past ChartWarden. */
  const upstreamNow = async <T extends Resource>(type: string, id: string) => {
    const res = await upstream<T>('GET', `${type}/${id}`);
    expectStatus(res, 200);
    return res.body;
  };
  /** Another client of the upstream changes the record there (ChartWarden never sees the request); returns the upstream's new version. */
  const writeUpstream = async <T extends Resource>(type: string, id: string, change: (current: T) => T) => {
    const current = await upstreamNow<T>(type, id);
    const res = await upstream<T>('PUT', `${type}/${id}`, withoutMeta(change(current)));
    expectStatus(res, 200);
    return res.body;
  };
  /** Another client of the upstream files the Observation under patient B (a wrong-patient correction, or an attack). */
  const moveToB = (id: string) =>
    writeUpstream<Observation>('Observation', id, (o) => ({ ...o, subject: { reference: `Patient/${B.patient}` }, encounter: undefined }));
  /** A fresh Observation of patient A, seeded through ChartWarden by the HIS. */
  const seedA = async (code: string) => {
    const { identifier, resource } = observation(A.patient, A.encounter, code);
    return { id: await seed(resource), identifier };
  };

  beforeAll(async () => {
    peer = await startFhirPeer();
    server = await startTestServer({ store: { kind: 'remote', url: peer.baseUrl, syncIntervalSeconds: 0 }, metrics: { enabled: true } });
    db = await connectTestDatabase();
    his = await server.token();
    drCardio = await server.token({ sub: `dr-remote-cardio-${run}`, roles: ['attending'], department: CARDIO, fhirUser: DR_CARDIO });
    drNeuro = await server.token({ sub: `dr-remote-neuro-${run}`, roles: ['attending'], department: NEURO, fhirUser: DR_NEURO });
    await putDepartments(fhir, his, [
      [CARDIO, 'Cardiology'],
      [NEURO, 'Neurology'],
    ]);
    A.patient = await seed(build.patient(`A-${run}`, 'A'));
    A.encounter = await seed(build.encounter(A.patient, CARDIO, DR_CARDIO));
    A.obs = (await seedA('control')).id;
    B.patient = await seed(build.patient(`B-${run}`, 'B'));
    B.encounter = await seed(build.encounter(B.patient, NEURO, DR_NEURO));
  }, 60_000);
  afterAll(() => closeAll(db, server, peer));

  describe('positive controls: the policy answers as with the embedded store (R-03)', () => {
    it('R-03: A\'s doctor reads A\'s Observation (fetched upstream first); the outsider gets 403 and finds nothing by patient=A', async () => {
      const before = peer.requests.length;
      const read = await fhir<Observation>(drCardio, 'GET', `Observation/${A.obs}`);
      expectStatus(read, 200);
      expect(read.body).toMatchObject({ resourceType: 'Observation', id: A.obs, subject: { reference: `Patient/${A.patient}` }, meta: { versionId: '1' } });
      expect(read.headers.get('etag')).toBe('W/"1"');
      // Freshness before judgement (E): the read went upstream for the record's current version.
      expect(peer.requests.slice(before)).toContainEqual({ method: 'GET', url: `/Observation/${A.obs}` });

      const denied = await fhir(drNeuro, 'GET', `Observation/${A.obs}`);
      expectOutcome(denied, 403, 'forbidden', 'access.forbidden');
      expect(denied.text).not.toContain(`Patient/${A.patient}`);
      expect(denied.headers.get('etag')).toBeNull();

      const outsider = await fhir<Bundle>(drNeuro, 'GET', `Observation?${query({ patient: A.patient })}`);
      expectStatus(outsider, 200);
      expect(outsider.body).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: 0 });
      expect(outsider.body.entry ?? []).toEqual([]);
      expect(outsider.text).not.toContain(A.obs);

      const treating = await fhir<Bundle>(drCardio, 'GET', `Observation?${query({ patient: A.patient })}`);
      expectStatus(treating, 200);
      expect(matchKeys(treating.body)).toContain(`Observation/${A.obs}`);
      expect(treating.body.total).toBe(matchKeys(treating.body).length);
    });
  });

  describe('writes through ChartWarden reach the upstream (C, D)', () => {
    it('R-12/R-20: a create goes upstream as PUT with ChartWarden\'s id; versions 1, then 2; a stale If-Match is 412, the upstream keeps 2', async () => {
      const { identifier, resource } = observation(A.patient, A.encounter, 'write');
      const before = peer.requests.length;
      const created = await fhir<Observation>(his, 'POST', 'Observation', resource);
      expectStatus(created, 201);
      const id = created.body.id as string;
      expect(created.body.meta?.versionId).toBe('1');
      expect(created.headers.get('etag')).toBe('W/"1"');
      // C: ChartWarden chose the id and PUT it; nothing was POSTed upstream.
      const sent = peer.requests.slice(before).filter((r) => r.method !== 'GET');
      expect(sent).toEqual([{ method: 'PUT', url: `/Observation/${id}` }]);
      const upstreamV1 = await upstreamNow<Observation>('Observation', id);
      expect(upstreamV1).toMatchObject({
        id,
        subject: { reference: `Patient/${A.patient}` },
        identifier: [{ system: ID_SYSTEM, value: identifier }],
        valueQuantity: { value: 72 },
      });
      // The upstream numbers its own versions; ChartWarden maps them (B).
      expect(upstreamV1.meta?.versionId).not.toBe('1');
      expect(await remoteVersions('Observation', id)).toEqual([{ version_id: 1, upstream_version: upstreamV1.meta?.versionId, origin: 'chartwarden' }]);
      expect(await auditOf(created)).toContainEqual(expect.objectContaining({ subtype: 'create', outcome: 0, entity_type: 'Observation', entity_id: id }));

      const updated = await fhir<Observation>(his, 'PUT', `Observation/${id}`, withValue(created.body, 80), { 'if-match': 'W/"1"' });
      expectStatus(updated, 200);
      expect(updated.body.meta?.versionId).toBe('2');
      expect(updated.headers.get('etag')).toBe('W/"2"');
      const upstreamV2 = await upstreamNow<Observation>('Observation', id);
      expect(upstreamV2.valueQuantity?.value).toBe(80);
      expect(await remoteVersions('Observation', id)).toEqual([
        { version_id: 1, upstream_version: upstreamV1.meta?.versionId, origin: 'chartwarden' },
        { version_id: 2, upstream_version: upstreamV2.meta?.versionId, origin: 'chartwarden' },
      ]);
      expect(await auditOf(updated)).toContainEqual(expect.objectContaining({ subtype: 'update', outcome: 0, entity_type: 'Observation', entity_id: id }));

      const changes = peer.changes().length;
      const stale = await fhir(his, 'PUT', `Observation/${id}`, withValue(created.body, 99), { 'if-match': 'W/"1"' });
      expectOutcome(stale, 412, 'conflict', 'store.version-conflict');
      expect(peer.changes()).toHaveLength(changes);
      expect(await upstreamNow<Observation>('Observation', id)).toEqual(upstreamV2);
      expect((await localVersions('Observation', id)).map((v) => v.version_id)).toEqual([1, 2]);
      expect((await auditOf(stale)).filter((r) => r.subtype === 'update' && r.outcome === 0)).toEqual([]);
    });

    it('R-12: a governed document written through ChartWarden has its ledger entry in ChartWarden\'s database and its content upstream', async () => {
      const document = {
        resourceType: 'DocumentReference' as const,
        identifier: build.identifier(`doc-${randomUUID()}`),
        status: 'current' as const,
        subject: { reference: `Patient/${A.patient}` },
        context: { encounter: [{ reference: `Encounter/${A.encounter}` }] },
        description: 'discharge letter',
        content: [{ attachment: { contentType: 'text/plain', data: Buffer.from('letter').toString('base64') } }],
      };
      const created = await fhir<Resource>(his, 'POST', 'DocumentReference', document);
      expectStatus(created, 201);
      const id = created.body.id as string;
      const ledger = await db.query<{ version_id: number }>('SELECT version_id FROM edit_ledger WHERE resource_type = $1 AND resource_id = $2', [
        'DocumentReference',
        id,
      ]);
      expect(ledger.rows.map((r) => r.version_id)).toEqual([1]);
      expect(await upstreamNow('DocumentReference', id)).toMatchObject({ id, description: 'discharge letter', subject: { reference: `Patient/${A.patient}` } });
    });
  });

  describe('writes past ChartWarden, before any sync (E)', () => {
    it('R-03: an Observation moved upstream from A to B is at once not A\'s doctor\'s (read, search, write) but B\'s, with an alarm', async () => {
      const moved = await seedA('moved');
      expectStatus(await fhir(drCardio, 'GET', `Observation/${moved.id}`), 200);
      const alarmsBefore = await alarms();

      const upstreamV2 = await moveToB(moved.id);

      const denied = await fhir(drCardio, 'GET', `Observation/${moved.id}`);
      expectOutcome(denied, 403, 'forbidden', 'access.forbidden');
      expect(denied.text).not.toContain(B.patient);
      const search = await fhir<Bundle>(drCardio, 'GET', `Observation?${query({ identifier: `${ID_SYSTEM}|${moved.identifier}` })}`);
      expectStatus(search, 200);
      expect(search.body.total).toBe(0);
      expect(search.body.entry ?? []).toEqual([]);

      const read = await fhir<Observation>(drNeuro, 'GET', `Observation/${moved.id}`);
      expectStatus(read, 200);
      expect(read.body).toMatchObject({ id: moved.id, subject: { reference: `Patient/${B.patient}` }, meta: { versionId: '2' } });
      expect(read.body.encounter).toBeUndefined();
      // The index moved with it: B's doctor now finds it by B.
      const byB = await fhir<Bundle>(drNeuro, 'GET', `Observation?${query({ patient: B.patient, identifier: `${ID_SYSTEM}|${moved.identifier}` })}`);
      expectStatus(byB, 200);
      expect(matchKeys(byB.body)).toEqual([`Observation/${moved.id}`]);

      expect(await remoteVersions('Observation', moved.id)).toEqual([
        { version_id: 1, upstream_version: expect.any(String), origin: 'chartwarden' },
        { version_id: 2, upstream_version: upstreamV2.meta?.versionId, origin: 'upstream' },
      ]);
      // ChartWarden keeps both: what it wrote, and what it adopted.
      const kept = await localVersions('Observation', moved.id);
      expect(kept.map((v) => [v.version_id, (v.content as Observation).subject?.reference])).toEqual([
        [1, `Patient/${A.patient}`],
        [2, `Patient/${B.patient}`],
      ]);
      expect(await alarms()).toBe(alarmsBefore + 1);

      // A's doctor cannot write it back into A's record either: the write is judged on B (and nothing reaches the upstream).
      const changes = peer.changes().length;
      const back = await fhir(drCardio, 'PUT', `Observation/${moved.id}`, { ...withoutMeta(read.body), subject: { reference: `Patient/${A.patient}` } });
      expectOutcome(back, 403, 'forbidden', 'access.forbidden');
      expect(peer.changes()).toHaveLength(changes);
      expect((await upstreamNow<Observation>('Observation', moved.id)).subject?.reference).toBe(`Patient/${B.patient}`);
    });

    it('R-03/R-12: a change made upstream is read as ChartWarden\'s next version; an If-Match on the version it replaced is 412 (no lost update)', async () => {
      const changed = await seedA('changed');
      const alarmsBefore = await alarms();
      await writeUpstream<Observation>('Observation', changed.id, (o) => ({ ...o, valueQuantity: { ...o.valueQuantity, value: 140 } }));

      const read = await fhir<Observation>(drCardio, 'GET', `Observation/${changed.id}`);
      expectStatus(read, 200);
      expect(read.body).toMatchObject({ valueQuantity: { value: 140 }, subject: { reference: `Patient/${A.patient}` }, meta: { versionId: '2' } });
      expect(read.headers.get('etag')).toBe('W/"2"');
      expect(await alarms()).toBe(alarmsBefore + 1);
      expect((await localVersions('Observation', changed.id)).map((v) => (v.content as Observation).valueQuantity?.value)).toEqual([72, 140]);

      // Another upstream write, then a client that last saw version 2: the upstream's change is adopted first, so 2 is stale.
      const upstreamV3 = await writeUpstream<Observation>('Observation', changed.id, (o) => ({ ...o, valueQuantity: { ...o.valueQuantity, value: 150 } }));
      const changes = peer.changes().length;
      const stale = await fhir(his, 'PUT', `Observation/${changed.id}`, withValue(read.body, 60), { 'if-match': 'W/"2"' });
      expectOutcome(stale, 412, 'conflict', 'store.version-conflict');
      expect(peer.changes()).toHaveLength(changes);
      expect(await upstreamNow<Observation>('Observation', changed.id)).toEqual(upstreamV3);
    });

    it('R-03: A\'s doctor writing a record just moved upstream to B (unseen by ChartWarden) is judged on B: 403, nothing goes upstream', async () => {
      const moved = await seedA('write-moved');
      const mine = await fhir<Observation>(drCardio, 'GET', `Observation/${moved.id}`);
      expectStatus(mine, 200);
      const upstreamV2 = await moveToB(moved.id);
      const changes = peer.changes().length;

      const write = await fhir(drCardio, 'PUT', `Observation/${moved.id}`, withValue(mine.body, 1));
      expectOutcome(write, 403, 'forbidden', 'access.forbidden');
      expect(peer.changes()).toHaveLength(changes);
      expect(await upstreamNow<Observation>('Observation', moved.id)).toEqual(upstreamV2);
      // The write's lock brought the record up to the upstream first: the upstream's version is ChartWarden's version 2.
      expect((await remoteVersions('Observation', moved.id)).map((r) => [r.version_id, r.origin])).toEqual([
        [1, 'chartwarden'],
        [2, 'upstream'],
      ]);
    });

    it('R-12/R-17: a HIS write without If-Match after an upstream change keeps the upstream\'s version as 2 and becomes 3, upstream too', async () => {
      const changed = await seedA('blind');
      await writeUpstream<Observation>('Observation', changed.id, (o) => ({ ...o, status: 'amended' }));
      const current = await upstreamNow<Observation>('Observation', changed.id);

      const write = await fhir<Observation>(his, 'PUT', `Observation/${changed.id}`, { ...withoutMeta(current), status: 'corrected' });
      expectStatus(write, 200);
      expect(write.body.meta?.versionId).toBe('3');
      const history = await fhir<Bundle>(his, 'GET', `Observation/${changed.id}/_history`);
      expectStatus(history, 200);
      expect((history.body.entry ?? []).map((e) => [e.resource?.meta?.versionId, (e.resource as Observation).status])).toEqual([
        ['3', 'corrected'],
        ['2', 'amended'],
        ['1', 'final'],
      ]);
      expect((await remoteVersions('Observation', changed.id)).map((r) => [r.version_id, r.origin])).toEqual([
        [1, 'chartwarden'],
        [2, 'upstream'],
        [3, 'chartwarden'],
      ]);
      expect((await upstreamNow<Observation>('Observation', changed.id)).status).toBe('corrected');
    });

    it('R-12/R-17: raced against direct upstream writes, ChartWarden never overwrites a version it has not seen (If-Match upstream)', async () => {
      const raced = await seedA('race');
      const outcomes = new Set<number>();
      const fetchesOf = (from: number) => peer.requests.slice(from).filter((r) => r.method === 'GET' && r.url === `/Observation/${raced.id}`).length;
      // How many times one write fetches the record first: the other client aims at the window after the last of them.
      const before = await upstreamNow<Observation>('Observation', raced.id);
      const calm = peer.requests.length;
      expectStatus(await fhir(his, 'PUT', `Observation/${raced.id}`, withValue(before, 999)), 200);
      const fetches = fetchesOf(calm);
      expect(fetches).toBeGreaterThan(0);
      for (let round = 0; round < 25; round++) {
        const current = await upstreamNow<Observation>('Observation', raced.id);
        const seen = peer.requests.length;
        const [through] = await Promise.all([
          fhir(his, 'PUT', `Observation/${raced.id}`, withValue(current, 1000 + round)),
          // The other client writes once ChartWarden has fetched the record for this write (the window before its PUT), a little later each round.
          (async () => {
            const deadline = Date.now() + 2000;
            while (fetchesOf(seen) < fetches && Date.now() < deadline) await new Promise(setImmediate);
            await new Promise((resolve) => setTimeout(resolve, round % 5));
            return upstream('PUT', `Observation/${raced.id}`, withValue(current, 2000 + round));
          })(),
        ]);
        // Either order is fine: ChartWarden's write lands (200), or the upstream moved under it (412).
        expect([200, 412]).toContain(through.status);
        outcomes.add(through.status);
      }
      expectStatus(await fhir(his, 'GET', `Observation/${raced.id}`), 200);
      // Every version the upstream ever held of it is one ChartWarden holds: none was overwritten before ChartWarden saw it.
      const upstreamVersions = peer.changes().filter((c) => c.id === raced.id).map((c) => c.versionId);
      const mapped = new Set((await remoteVersions('Observation', raced.id)).map((r) => r.upstream_version));
      expect(upstreamVersions.filter((v) => !mapped.has(v))).toEqual([]);
      // The race was run, not dodged: some rounds landed the other client's write inside the window.
      expect(outcomes.has(412)).toBe(true);
    });

    it('R-03: a record created directly on the upstream is judged on its content: the outsider gets 403, A\'s doctor reads it as version 1', async () => {
      const id = randomUUID();
      const { resource } = observation(A.patient, A.encounter, 'born-upstream');
      expectStatus(await upstream('PUT', `Observation/${id}`, { ...resource, id }), 200);

      expectOutcome(await fhir(drNeuro, 'GET', `Observation/${id}`), 403, 'forbidden', 'access.forbidden');
      const read = await fhir<Observation>(drCardio, 'GET', `Observation/${id}`);
      expectStatus(read, 200);
      expect(read.body).toMatchObject({ id, subject: { reference: `Patient/${A.patient}` }, meta: { versionId: '1' } });
      expect((await remoteVersions('Observation', id)).map((r) => [r.version_id, r.origin])).toEqual([[1, 'upstream']]);
    });

    it('R-03: the type history of A\'s doctor no longer shows a record moved upstream to B (as with the embedded store after such a move)', async () => {
      const since = new Date(Date.now() - 1000).toISOString();
      const kept = await seedA('history');
      const moved = await seedA('history');
      await moveToB(moved.id);

      const history = await fhir<Bundle>(drCardio, 'GET', `Observation/_history?${query({ _since: since, _count: '50' })}`);
      expectStatus(history, 200);
      const ids = (history.body.entry ?? []).map((e) => e.resource?.id);
      expect(ids).toContain(kept.id);
      expect(ids).not.toContain(moved.id);
      expect(history.text).not.toContain(moved.identifier);
    });

    it('R-03: a search page that held a record moved upstream to another patient leaves it out (and out of total): the tripwire', async () => {
      const kept = await seedA('page');
      const moved = await seedA('page');
      const alarmsBefore = await alarms();
      await moveToB(moved.id);

      const page = await fhir<Bundle>(drCardio, 'GET', `Observation?${query({ patient: A.patient, code: `${CODE_SYSTEM}|page`, _count: '50' })}`);
      expectStatus(page, 200);
      expect(matchKeys(page.body)).toEqual([`Observation/${kept.id}`]);
      expect(page.body.total).toBe(1);
      expect(page.text).not.toContain(moved.id);
      // changed-upstream (adopted) and dropped (the tripwire).
      expect(await alarms()).toBe(alarmsBefore + 2);
      expect((await remoteVersions('Observation', moved.id)).map((r) => r.origin)).toEqual(['chartwarden', 'upstream']);

      // The outsider's view of A is unchanged; B's doctor finds the moved one under B.
      const outsider = await fhir<Bundle>(drNeuro, 'GET', `Observation?${query({ patient: A.patient })}`);
      expect(outsider.body.total).toBe(0);
      const byB = await fhir<Bundle>(drNeuro, 'GET', `Observation?${query({ patient: B.patient, code: `${CODE_SYSTEM}|page` })}`);
      expect(matchKeys(byB.body)).toEqual([`Observation/${moved.id}`]);
    });

    it('R-17: a record deleted on the upstream answers 404 through ChartWarden (read and search), and ChartWarden keeps its versions', async () => {
      const deleted = await seedA('deleted');
      const alarmsBefore = await alarms();
      expectStatus(await upstream('DELETE', `Observation/${deleted.id}`), 200);

      for (const token of [his, drCardio]) {
        const read = await fhir(token, 'GET', `Observation/${deleted.id}`);
        expectOutcome(read, 404, 'not-found', 'store.not-found');
        expect(read.text).not.toContain(`Patient/${A.patient}`);
      }
      const search = await fhir<Bundle>(drCardio, 'GET', `Observation?${query({ identifier: `${ID_SYSTEM}|${deleted.identifier}` })}`);
      expectStatus(search, 200);
      expect(search.body.entry ?? []).toEqual([]);
      expect(search.body.total).toBe(0);
      expect(await alarms()).toBeGreaterThan(alarmsBefore);

      // R-17: nothing of ChartWarden's copy was deleted.
      const kept = await localVersions('Observation', deleted.id);
      expect(kept.map((v) => v.version_id)).toEqual([1]);
      expect(kept[0].content).toMatchObject({ id: deleted.id, subject: { reference: `Patient/${A.patient}` } });
      expect((await remoteVersions('Observation', deleted.id)).map((r) => r.origin)).toEqual(['chartwarden']);
    });

    it('R-17: a HIS write to a record deleted on the upstream is refused as a conflict (never a 500), and neither side changes', async () => {
      const deleted = await seedA('deleted-write');
      const current = await upstreamNow<Observation>('Observation', deleted.id);
      expectStatus(await upstream('DELETE', `Observation/${deleted.id}`), 200);
      const changes = peer.changes().length;

      const write = await fhir(his, 'PUT', `Observation/${deleted.id}`, { ...withoutMeta(current), status: 'amended' });
      expect(expectOutcome(write, 409, 'conflict', 'store.conflict').issue?.[0].details?.text).toContain('deleted on the upstream');
      expect(peer.changes()).toHaveLength(changes);
      expectStatus(await upstream('GET', `Observation/${deleted.id}`), 404);
      expect((await localVersions('Observation', deleted.id)).map((v) => v.version_id)).toEqual([1]);
      expect((await auditOf(write)).filter((r) => r.subtype === 'update' && r.outcome === 0)).toEqual([]);
    });
  });

  describe('R-41: the legal hold in front of the upstream', () => {
    it('R-41: a write to a sealed record is refused (423) and nothing reaches the upstream', async () => {
      const officer = await server.token({ sub: `officer-remote-${run}`, roles: ['disputes-officer'] });
      const witness = await server.token({ sub: `witness-remote-${run}`, roles: ['medical-affairs'], fhirUser: `Practitioner/witness-remote-${run}` });
      const disputes = jsonApi<{ id: string; digest: string }>(() => `${server.root}/disputes`);
      const patient = await seed(build.patient(`S-${run}`, 'S'));
      const encounter = await seed(build.encounter(patient, CARDIO, DR_CARDIO));
      const { resource } = observation(patient, encounter, 'sealed');
      const sealed = await fhir<Observation>(his, 'POST', 'Observation', resource);
      expectStatus(sealed, 201);
      const opened = await disputes(officer, 'POST', '', { patient: `Patient/${patient}`, reason: '患方对检验结果有异议', scope: { kind: 'whole-record' } });
      expectStatus(opened, 201);
      const { digest } = (await disputes(officer, 'GET', `/${opened.body.id}/inventory`)).body;
      expectStatus(await disputes(witness, 'POST', `/${opened.body.id}/confirmations`, { step: 'seal', inventoryDigest: digest }), 201);
      expectStatus(await disputes(officer, 'POST', `/${opened.body.id}/seal`, { inventoryDigest: digest, patientWitness: PATIENT_SIDE }), 200);

      const changes = peer.changes().length;
      const before = peer.requests.length;
      const refused = await fhir(his, 'PUT', `Observation/${sealed.body.id}`, { ...withoutMeta(sealed.body), valueQuantity: { value: 1, unit: '/min' } });
      expect(expectOutcome(refused, 423, 'business-rule', 'disputes.sealed').issue?.[0].details?.text).toContain(opened.body.id);
      expect(peer.changes()).toHaveLength(changes);
      expect(peer.requests.slice(before).filter((r) => r.method !== 'GET')).toEqual([]);
      expect((await upstreamNow<Observation>('Observation', sealed.body.id as string)).valueQuantity?.value).toBe(72);
      expect((await localVersions('Observation', sealed.body.id as string)).map((v) => v.version_id)).toEqual([1]);
    });
  });

  describe('transactions on an upstream without them (decision 0017, point 7)', () => {
    let bare: FhirPeer;
    let bareServer: TestServer;
    let bareHis: string;
    const bareFhir = fhirApi(() => bareServer.fhirBase);

    beforeAll(async () => {
      bare = await startFhirPeer({ transactions: false });
      bareServer = await startTestServer({ store: { kind: 'remote', url: bare.baseUrl, syncIntervalSeconds: 0 } });
      bareHis = await bareServer.token();
    }, 30_000);
    afterAll(() => closeAll(bareServer, bare));

    it('a transaction of two creates is refused with 400 not-supported; nothing is written upstream nor in ChartWarden', async () => {
      const patient = await seedAs(bareServer.fhirBase, bareHis, build.patient(`T-${run}`, 'T'));
      expect(bare.changes().map((c) => `${c.resourceType}/${c.id}`)).toContain(`Patient/${patient.id}`);
      const marker = `tx-${randomUUID()}`;
      const bundle: Bundle = {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { fullUrl: `urn:uuid:${randomUUID()}`, resource: build.patient(marker, 'T'), request: { method: 'POST', url: 'Patient' } },
          { resource: observation(patient.id, '', marker, { identifier: build.identifier(marker) }).resource, request: { method: 'POST', url: 'Observation' } },
        ],
      };
      const changes = bare.changes().length;
      const before = bare.requests.length;
      const res = await bareFhir(bareHis, 'POST', '', bundle);
      const outcome = expectOutcome(res, 400, 'not-supported', 'store.upstream-not-supported');
      expect(outcome.issue?.[0].details?.text).toContain('does not support transactions');
      expect(bare.changes()).toHaveLength(changes);
      expect(bare.requests.slice(before).filter((r) => r.method !== 'GET')).toEqual([]);
      const stored = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM fhir_resource WHERE content->'identifier' @> $1::jsonb OR content->'identifier' @> $2::jsonb`,
        [JSON.stringify([{ system: ID_SYSTEM, value: marker }]), JSON.stringify([{ system: ID_SYSTEM, value: `patient-${marker}` }])],
      );
      expect(stored.rows[0].n).toBe(0);
      expect((await auditOf(res)).filter((r) => r.subtype === 'create' && r.outcome === 0)).toEqual([]);
    });

    it('a batch of two creates still works there, entry by entry, and each reaches the upstream', async () => {
      const marker = `batch-${randomUUID()}`;
      const bundle: Bundle = {
        resourceType: 'Bundle',
        type: 'batch',
        entry: [1, 2].map((n) => ({ resource: build.patient(`${marker}-${n}`, 'T'), request: { method: 'POST' as const, url: 'Patient' } })),
      };
      const res = await bareFhir<Bundle>(bareHis, 'POST', '', bundle);
      expectStatus(res, 200);
      expect(res.body.type).toBe('batch-response');
      const entries = res.body.entry as BundleEntry[];
      expect(entries.map((e) => e.response?.status)).toEqual([expect.stringMatching(/^201/), expect.stringMatching(/^201/)]);
      const ids = entries.map((e) => e.response?.location?.match(/Patient\/([^/]+)/)?.[1]);
      for (const id of ids) {
        const held = await httpRequest<Resource>(`${bare.baseUrl}/Patient/${id}`, 'GET');
        expectStatus(held, 200);
        expect(held.body.id).toBe(id);
      }
    });
  });

  describe('start-up checks the upstream (decision 0017, C)', () => {
    it('an upstream that does not take client-assigned ids is refused at start-up, and the error says so', async () => {
      const noIds = await startFhirPeer({ updateCreate: false });
      try {
        const error = await startUpFailure({ kind: 'remote', url: noIds.baseUrl });
        expect(error.message).toContain(noIds.baseUrl);
        expect(error.message).toContain('does not take client-assigned ids');
        expect(noIds.changes()).toEqual([]);
      } finally {
        await noIds.close();
      }
    });

    it('an upstream URL where nothing listens stops start-up, naming the URL', async () => {
      const url = `http://127.0.0.1:${await deadPort()}/fhir`;
      const error = await startUpFailure({ kind: 'remote', url });
      expect(error.message).toContain(url);
      expect(error.message).toContain('cannot be used');
    });
  });

  describe('upstream auth (a static bearer token)', () => {
    const upstreamToken = 'x'.repeat(20);
    /** The peer reads its options at each request: changing `token` is the upstream rotating its credentials. */
    const peerOptions: FhirPeerOptions = { token: upstreamToken };
    let guarded: FhirPeer;
    let guardedServer: TestServer;
    let guardedHis: string;
    const guardedFhir = fhirApi(() => guardedServer.fhirBase);

    beforeAll(async () => {
      guarded = await startFhirPeer(peerOptions);
      const auth = { kind: 'bearer' as const, token: upstreamToken };
      guardedServer = await startTestServer({ store: { kind: 'remote', url: guarded.baseUrl, syncIntervalSeconds: 0, auth } });
      guardedHis = await guardedServer.token();
    }, 30_000);
    afterAll(() => closeAll(guardedServer, guarded));

    it('with the right token, writes and reads work through ChartWarden', async () => {
      const patient = await seedAs(guardedServer.fhirBase, guardedHis, build.patient(`G-${run}`, 'G'));
      const read = await guardedFhir<Resource>(guardedHis, 'GET', `Patient/${patient.id}`);
      expectStatus(read, 200);
      expect(read.body).toMatchObject({ resourceType: 'Patient', id: patient.id, meta: { versionId: '1' } });
      const held = await httpRequest<Resource>(`${guarded.baseUrl}/Patient/${patient.id}`, 'GET', { token: upstreamToken });
      expectStatus(held, 200);
      // Without the token the peer refuses: ChartWarden's calls above carried it.
      expectStatus(await httpRequest(`${guarded.baseUrl}/Patient/${patient.id}`, 'GET'), 401);
    });

    it('a wrong token at start-up stops it, saying the upstream refused ChartWarden\'s credentials', async () => {
      const error = await startUpFailure({ kind: 'remote', url: guarded.baseUrl, auth: { kind: 'bearer', token: 'y'.repeat(20) } });
      expect(error.message).toContain(guarded.baseUrl);
      expect(error.message).toContain("refused ChartWarden's credentials");
    });

    it('once the upstream refuses ChartWarden\'s token, a read answers 503 transient (never the upstream\'s 401), and a write stores nothing', async () => {
      const patient = await seedAs(guardedServer.fhirBase, guardedHis, build.patient(`R-${run}`, 'R'));
      peerOptions.token = 'z'.repeat(20);
      try {
        const read = await guardedFhir(guardedHis, 'GET', `Patient/${patient.id}`);
        const outcome = expectOutcome(read, 503, 'transient', 'store.upstream-unavailable');
        expect(outcome.issue?.[0].details?.text).toContain("refused ChartWarden's credentials");
        expect(read.text).not.toContain(upstreamToken);
        expect(read.text).not.toContain(patient.name?.[0].text as string);

        const marker = `refused-${randomUUID()}`;
        const write = await guardedFhir(guardedHis, 'POST', 'Patient', build.patient(marker, 'R'));
        expectOutcome(write, 503, 'transient', 'store.upstream-unavailable');
        const stored = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM fhir_resource WHERE content->'identifier' @> $1::jsonb`, [
          JSON.stringify([{ system: ID_SYSTEM, value: `patient-${marker}` }]),
        ]);
        expect(stored.rows[0].n).toBe(0);
        expect((await auditOf(write)).filter((r) => r.subtype === 'create' && r.outcome === 0)).toEqual([]);
      } finally {
        peerOptions.token = upstreamToken;
      }
      // The upstream takes the token again: so does ChartWarden, with no restart.
      expectStatus(await guardedFhir(guardedHis, 'GET', `Patient/${patient.id}`), 200);
    });
  });

  describe('the tripwire in /metrics', () => {
    it('the tripwire counter of one application counts only its own alarms (two ChartWardens in one process)', async () => {
      // The main server raises alarms; this one (same process, its own registry) must not count them.
      const own = async () => sample((await httpRequest(`${server.root}/metrics`, 'GET')).text, TRIPWIRE) as number;
      const other = await startTestServer({ metrics: { enabled: true } });
      try {
        const otherCount = async () => sample((await httpRequest(`${other.root}/metrics`, 'GET')).text, TRIPWIRE);
        expect(await otherCount()).toBe(0);
        const moved = await seedA('bleed');
        await writeUpstream<Observation>('Observation', moved.id, (o) => ({ ...o, valueQuantity: { ...o.valueQuantity, value: 1 } }));
        const before = await own();
        expectStatus(await fhir(drCardio, 'GET', `Observation/${moved.id}`), 200);
        expect(await own()).toBe(before + 1);
        expect(await otherCount()).toBe(0);
      } finally {
        await other.close();
      }
    });
  });
});
