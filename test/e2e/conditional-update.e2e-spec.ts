import { randomUUID } from 'node:crypto';
import type { Bundle, Encounter, Observation, OperationOutcome, Patient, Resource } from '@medplum/fhirtypes';
import type pg from 'pg';
import type { FhirContext } from '../../src/fhir/fhir-request.js';
import { WriteGuard, type WriteAttempt } from '../../src/fhir/write-chain.port.js';
import type { AuditRow } from '../support/database-rows.js';
import { expectOutcome, expectStatus } from '../support/fhir-expect.js';
import { httpRequest, seedAs, type HttpResult } from '../support/http.js';
import { closeAll, connectTestDatabase, startTestServer, type TestServer } from '../support/test-app.js';
import { inpatientStay } from '../support/fhir-builders.js';

/**
 * Conditional update (`PUT /Type?identifier=…`, R4 http.html#cond-update) and conditional
 * creates inside one transaction, over real HTTP and PostgreSQL (docs/decisions/0015). The
 * condition is a search under the caller's own filter; one match is updated, none creates,
 * more than one answers 412. In a transaction, entries with the same condition create one
 * resource together; a genuinely concurrent duplicate still fails the transaction (409).
 */
const run = randomUUID().slice(0, 8);
const SYS = `urn:chartwarden-e2e:cond-update:${run}`;
const SLOW = `urn:chartwarden-e2e:cond-update-slow:${run}`;

/** Holds a write whose `meta.source` is SLOW until the test lets it go: a transaction kept open at a known point. */
class GateGuard extends WriteGuard {
  reached!: Promise<void>;
  private arrive!: () => void;
  private release!: () => void;
  private gate!: Promise<void>;

  constructor() {
    super();
    this.reset();
  }

  reset(): void {
    this.reached = new Promise((resolve) => (this.arrive = resolve));
    this.gate = new Promise((resolve) => (this.release = resolve));
  }

  open(): void {
    this.release();
  }

  async check(_ctx: FhirContext, { resource }: WriteAttempt): Promise<void> {
    if (resource.meta?.source !== SLOW) return;
    this.arrive();
    await this.gate;
  }
}

describe('Conditional update and conditional creates in transactions (e2e, real HTTP + PostgreSQL)', () => {
  const gate = new GateGuard();
  let server: TestServer;
  let db: pg.Client;
  let his: string;
  let patient: string;

  const fhir = <T = OperationOutcome>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, token = his) =>
    httpRequest<T>(`${server.fhirBase}${path ? `/${path}` : ''}`, method, { token, body, headers: { 'x-request-id': `cond-${randomUUID()}`, ...headers } });
  const seed = <T extends Resource>(resource: T) => seedAs(server.fhirBase, his, resource);
  const obs = (value: string, extra: Partial<Observation> = {}): Observation => ({
    resourceType: 'Observation',
    status: 'final',
    code: { text: '体温' },
    subject: { reference: `Patient/${patient}` },
    identifier: [{ system: SYS, value }],
    valueQuantity: { value: 36.8, unit: 'Cel' },
    ...extra,
  });
  const stored = async (value: string, system = SYS) =>
    (await db.query<{ id: string; version_id: number }>(`SELECT r.id, r.version_id FROM fhir_resource r WHERE r.resource_type = 'Observation' AND r.content->'identifier' @> $1::jsonb`, [JSON.stringify([{ system, value }])])).rows;
  const auditOf = async (res: HttpResult<unknown>) => (await db.query<AuditRow>('SELECT * FROM audit_entry WHERE request_id = $1 ORDER BY chain, seq', [res.headers.get('x-request-id')])).rows;
  const condition = (value: string, system = SYS) => `identifier=${encodeURIComponent(`${system}|${value}`)}`;
  const conditional = (value: string, extra: Record<string, unknown> = {}) => ({
    resource: obs(value),
    request: { method: 'POST', url: 'Observation', ifNoneExist: `identifier=${SYS}|${value}` },
    ...extra,
  });

  beforeAll(async () => {
    server = await startTestServer({ writeGuards: [gate] });
    db = await connectTestDatabase();
    his = await server.token();
    patient = (await seed<Patient>({ resourceType: 'Patient', name: [{ text: `条件-${run}` }] })).id;
  });
  afterAll(() => closeAll(db, server));

  it('no match: creates with a server id; one match: updates it; more than one: 412, nothing written', async () => {
    const created = await fhir<Observation>('PUT', `Observation?${condition('new')}`, obs('new'));
    expectStatus(created, 201);
    expect(created.body).toMatchObject({ meta: { versionId: '1' }, identifier: [{ system: SYS, value: 'new' }] });
    expect(await stored('new')).toEqual([{ id: created.body.id, version_id: 1 }]);
    expect((await auditOf(created)).map((a) => [a.action, a.subtype, a.outcome, a.entity_id])).toEqual([['C', 'create', 0, created.body.id]]);

    const updated = await fhir<Observation>('PUT', `Observation?${condition('new')}`, obs('new', { valueQuantity: { value: 37.2, unit: 'Cel' } }));
    expectStatus(updated, 200);
    expect(updated.body).toMatchObject({ id: created.body.id, meta: { versionId: '2' }, valueQuantity: { value: 37.2 } });
    expect((await auditOf(updated)).map((a) => [a.action, a.subtype, a.outcome, a.entity_id])).toEqual([['U', 'update', 0, created.body.id]]);

    // The body's id, when present, must be the match's.
    expectOutcome(await fhir('PUT', `Observation?${condition('new')}`, { ...obs('new'), id: 'someone-else' }), 400, 'invalid', 'fhir.id-mismatch');

    await seed(obs('twice'));
    await seed(obs('twice'));
    expectOutcome(await fhir('PUT', `Observation?${condition('twice')}`, obs('twice', { status: 'amended' })), 412, 'multiple-matches', 'store.multiple-matches');
    expect((await stored('twice')).map((r) => r.version_id)).toEqual([1, 1]);
    expectOutcome(await fhir('PUT', 'Observation', obs('none')), 400, 'invalid', 'fhir.invalid-request');
  });

  it('no match with a body id: an update-as-create at that id; an id that exists but does not match: 409', async () => {
    const id = `cond-${run}`;
    const res = await fhir<Observation>('PUT', `Observation?${condition('with-id')}`, { ...obs('with-id'), id });
    expectStatus(res, 201);
    expect(res.body.id).toBe(id);
    const other = await seed(obs('other'));
    expectOutcome(await fhir('PUT', `Observation?${condition('nothing-matches')}`, { ...obs('nothing-matches'), id: other.id }), 409, 'conflict', 'store.conflict');
    expect(await stored('other')).toEqual([{ id: other.id, version_id: 1 }]);
  });

  it('transaction: a conditional update matching a record updates it; one matching nothing creates, and a urn:uuid reference to it resolves', async () => {
    const existing = await seed(obs('tx-existing'));
    const urn = `urn:uuid:${randomUUID()}`;
    const res = await fhir<Bundle>('POST', '', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: obs('tx-existing', { status: 'amended' }), request: { method: 'PUT', url: `Observation?identifier=${SYS}|tx-existing` } },
        { fullUrl: urn, resource: obs('tx-new'), request: { method: 'PUT', url: `Observation?identifier=${SYS}|tx-new` } },
        { resource: obs('tx-derived', { derivedFrom: [{ reference: urn }] }), request: { method: 'POST', url: 'Observation' } },
      ],
    });
    expectStatus(res, 200);
    expect(res.body.entry?.map((e) => e.response?.status)).toEqual(['200 OK', '201 Created', '201 Created']);
    expect(res.body.entry?.[0].resource).toMatchObject({ id: existing.id, status: 'amended', meta: { versionId: '2' } });
    const created = res.body.entry?.[1].resource as Observation;
    expect(await stored('tx-new')).toEqual([{ id: created.id, version_id: 1 }]);
    expect((res.body.entry?.[2].resource as Observation).derivedFrom?.[0].reference).toBe(`Observation/${created.id}`);
  });

  it('issue #16: two conditional creates in one transaction both create; the same condition twice creates one resource both entries name', async () => {
    const res = await fhir<Bundle>('POST', '', { resourceType: 'Bundle', type: 'transaction', entry: [conditional('A'), conditional('B')] });
    expectStatus(res, 200);
    expect(res.body.entry?.map((e) => e.response?.status)).toEqual(['201 Created', '201 Created']);
    expect((await stored('A')).length + (await stored('B')).length).toBe(2);

    const [first, second] = [`urn:uuid:${randomUUID()}`, `urn:uuid:${randomUUID()}`];
    const twice = await fhir<Bundle>('POST', '', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        conditional('C', { fullUrl: first }),
        conditional('C', { fullUrl: second }),
        { resource: obs('C-derived', { derivedFrom: [{ reference: first }, { reference: second }] }), request: { method: 'POST', url: 'Observation' } },
      ],
    });
    expectStatus(twice, 200);
    expect(twice.body.entry?.map((e) => e.response?.status)).toEqual(['201 Created', '200 OK', '201 Created']);
    const [c] = await stored('C');
    expect(await stored('C')).toEqual([{ id: c.id, version_id: 1 }]);
    expect(twice.body.entry?.[1].resource?.id).toBe(c.id);
    expect((twice.body.entry?.[2].resource as Observation).derivedFrom?.map((d) => d.reference)).toEqual([`Observation/${c.id}`, `Observation/${c.id}`]);

    // Sent again, both entries match what the first transaction created.
    const retry = await fhir<Bundle>('POST', '', { resourceType: 'Bundle', type: 'transaction', entry: [conditional('C'), conditional('C')] });
    expect(retry.body.entry?.map((e) => [e.response?.status, e.resource?.id])).toEqual([
      ['200 OK', c.id],
      ['200 OK', c.id],
    ]);
  });

  it('a condition that only a resource created earlier in the same transaction matches: 400 (conditions overlap), nothing written', async () => {
    const both = obs('D', { identifier: [{ system: SYS, value: 'D' }, { system: SLOW, value: `D-${run}` }] });
    const res = await fhir('POST', '', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: both, request: { method: 'POST', url: 'Observation', ifNoneExist: `identifier=${SYS}|D` } },
        { resource: obs('E'), request: { method: 'POST', url: 'Observation', ifNoneExist: `identifier=${SLOW}|D-${run}` } },
      ],
    });
    expect(expectOutcome(res, 400, 'invalid', 'fhir.invalid-request').issue?.[0].diagnostics).toMatch(/entry\[0\] of this transaction creates/);
    expect(await stored('D')).toEqual([]);
  });

  it('a genuinely concurrent duplicate still fails its transaction with 409 (retry), and one resource is stored', async () => {
    gate.reset();
    const slow = fhir<Bundle>('POST', '', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [conditional('F'), { resource: obs('F-slow', { meta: { source: SLOW } }), request: { method: 'POST', url: 'Observation' } }],
    });
    await gate.reached;
    // The first transaction has created F (uncommitted) and waits in a guard; the second finds no F and waits on the condition's lock.
    const racing = fhir('POST', '', { resourceType: 'Bundle', type: 'transaction', entry: [conditional('F')] });
    // The store's one-key lock on the condition (`Observation?identifier=…`), waited for: other suites' locks do not count.
    const waiting = `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objsubid = 1
      AND ((classid::bigint << 32) | objid::bigint) = (hashtext($1)::bigint & x'ffffffffffffffff'::bigint)`;
    let blocked = false;
    for (let i = 0; i < 200 && !blocked; i++) {
      blocked = (await db.query<{ n: number }>(waiting, [`Observation?identifier=${SYS}|F`])).rows[0].n > 0;
      if (!blocked) await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(blocked).toBe(true);
    gate.open();
    expectStatus(await slow, 200);
    const refused = await racing;
    expect(expectOutcome(refused, 409, 'conflict', 'store.conflict').issue?.[0].diagnostics).toMatch(/concurrent request .* retry/);
    expect(await stored('F')).toHaveLength(1);
  });

  it('a condition must choose records: none but result parameters (_format, _count…) is 400 and nothing is created or matched', async () => {
    const named = async () =>
      (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM fhir_resource WHERE resource_type = 'Patient' AND content->'name' @> $1::jsonb`, [JSON.stringify([{ text: `无条件-${run}` }])])).rows[0].n;
    const refused = await fhir('PUT', 'Patient?_format=json', { resourceType: 'Patient', name: [{ text: `无条件-${run}` }] });
    expectOutcome(refused, 400, 'invalid', 'fhir.invalid-request');
    expectOutcome(await fhir('PUT', `Observation?${condition('shaped')}&_sort=date`, obs('shaped')), 400, 'invalid', 'fhir.invalid-request');
    const ifNoneExist = await fhir('POST', 'Patient', { resourceType: 'Patient', name: [{ text: `无条件-${run}` }] }, { 'if-none-exist': '_count=1' });
    expectOutcome(ifNoneExist, 400, 'invalid', 'fhir.invalid-request');
    expect(await named()).toBe(0);
    expect(await stored('shaped')).toEqual([]);
  });

  it('R4 http.html#trules: two PUT entries writing one resource (the same condition, or the same id) fail the transaction (400, both named), nothing written', async () => {
    const put = (value: string, note: string) => ({ resource: obs(value, { note: [{ text: note }] }), request: { method: 'PUT', url: `Observation?identifier=${SYS}|${value}` } });
    const fresh = await fhir('POST', '', { resourceType: 'Bundle', type: 'transaction', entry: [put('twice-new', 'first'), put('twice-new', 'second')] });
    expect(expectOutcome(fresh, 400, 'invalid', 'fhir.invalid-request').issue?.[0].diagnostics).toMatch(/entry\[0\] and Bundle\.entry\[1\] both write/);
    expect(await stored('twice-new')).toEqual([]);

    const existing = await seed(obs('twice-old'));
    const matched = await fhir('POST', '', { resourceType: 'Bundle', type: 'transaction', entry: [put('twice-old', 'first'), put('twice-old', 'second')] });
    expect(expectOutcome(matched, 400, 'invalid', 'fhir.invalid-request').issue?.[0].diagnostics).toMatch(/entry\[0\] and Bundle\.entry\[1\] both write Observation\//);
    const byId = await fhir('POST', '', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [put('twice-old', 'first'), { resource: { ...obs('twice-old'), id: existing.id }, request: { method: 'PUT', url: `Observation/${existing.id}` } }],
    });
    expect(expectOutcome(byId, 400, 'invalid', 'fhir.invalid-request').issue?.[0].diagnostics).toContain(`both write Observation/${existing.id}`);
    expect(await stored('twice-old')).toEqual([{ id: existing.id, version_id: 1 }]);
  });

  it('decision 0015: a record hidden from a clinician never matches his conditional update: he creates his own, the hidden one is untouched', async () => {
    const [deptA, deptB] = [`dept-a-${run}`, `dept-b-${run}`];
    const dr = `Practitioner/dr-cond-${run}`;
    const own = await seed<Encounter>(inpatientStay(patient, deptA, [dr]));
    const otherPatient = (await seed<Patient>({ resourceType: 'Patient', name: [{ text: `隐藏-${run}` }] })).id;
    const hiddenStay = await seed<Encounter>(inpatientStay(otherPatient, deptB, [`Practitioner/someone-${run}`]));
    const hidden = await seed(obs('hidden', { subject: { reference: `Patient/${otherPatient}` }, encounter: { reference: `Encounter/${hiddenStay.id}` } }));
    const clinician = await server.token({ sub: `dr-cond-${run}`, roles: ['attending'], department: deptA, licence: 'licensed', fhirUser: dr });
    const res = await fhir<Observation>('PUT', `Observation?${condition('hidden')}`, obs('hidden', { encounter: { reference: `Encounter/${own.id}` }, status: 'amended' }), {}, clinician);
    expectStatus(res, 201);
    expect(res.body.id).not.toBe(hidden.id);
    const matching = await stored('hidden');
    expect(matching).toHaveLength(2);
    expect(matching).toEqual(expect.arrayContaining([{ id: hidden.id, version_id: 1 }, { id: res.body.id, version_id: 1 }]));
    const { rows } = await db.query<{ status: string; subject: string }>(`SELECT content->>'status' AS status, content->'subject'->>'reference' AS subject FROM fhir_resource WHERE resource_type = 'Observation' AND id = $1`, [hidden.id]);
    expect(rows).toEqual([{ status: 'final', subject: `Patient/${otherPatient}` }]);
  });
});
