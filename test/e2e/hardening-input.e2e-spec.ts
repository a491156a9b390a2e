import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { Bundle, OperationOutcome, Patient } from '@medplum/fhirtypes';
import pg from 'pg';
import { rawRequest, seedAs, type HttpResult } from '../support/http.js';
import { expectOutcome, expectStatus } from '../support/fhir-expect.js';
import { closeAll, connectTestDatabase, startTestServer, testPlatform, type TestServer } from '../support/test-app.js';

/**
 * Issue #12, items 5 and 7: bad input is a 400 (or 413/415/431) OperationOutcome, never a
 * 500 or a 503, nothing is stored, and the refusal is in the audit trail.
 * - A NUL, a lone surrogate, bytes that are not UTF-8 or a malformed percent-escape in the
 *   URL path, a query parameter, a percent-encoded header or any JSON string or key, on every
 *   route (FHIR and workflow): 400 before any query runs, recorded with the bytes escaped.
 * - A NUL attack sent among legitimate reads fails none of them (one bad audit entry must not
 *   fail its group commit).
 * - JSON nested 10,000 deep: 400 too-deep; a body that does not decode as its
 *   Content-Encoding: 400 bad-encoding; a gzip bomb stops at the body limit (413); an unknown
 *   coding is 415; headers over 16 KB: 431 with an OperationOutcome.
 */

const run = randomUUID().slice(0, 8);
const DAY = 86_400_000;
const ERR = {
  chars: 'fhir.invalid-characters',
  request: 'fhir.invalid-request',
  deep: 'fhir.too-deep',
  encoding: 'fhir.bad-encoding',
  tooLarge: 'fhir.payload-too-large',
  media: 'fhir.unsupported-media-type',
  headers: 'fhir.headers-too-large',
};

interface Sent {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  token?: string;
}

/** One raw HTTP/1.1 request (the path, headers and body bytes go out exactly as given), under a request id of its own. */
async function send(base: string, path: string, options: Sent = {}): Promise<HttpResult & { requestId: string }> {
  const requestId = `hardening-${run}-${randomUUID()}`;
  const headers: Record<string, string> = { accept: 'application/fhir+json', 'x-request-id': requestId, ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) {
    headers['content-type'] ??= 'application/fhir+json';
    headers['content-length'] = String(Buffer.byteLength(options.body));
  }
  return { ...(await rawRequest(base, path, { method: options.method, headers, body: options.body })), requestId };
}

describe('Hardening: bad input is refused, audited, and harms no other request (e2e, issue #12 items 5 and 7)', () => {
  let server: TestServer;
  let db: pg.Client;
  let his: string;
  let drNeuro: string;
  let officer: string;
  let recordRoom: string;
  let patient: Patient & { id: string };

  const auditOf = async (requestId: string) =>
    (
      await db.query<{ status: number; entity_id: string | null; content: string; outcome: number }>(
        `SELECT (content::jsonb->>'status')::int AS status, entity_id, content, outcome FROM audit_entry WHERE request_id = $1`,
        [requestId],
      )
    ).rows;
  /** The refusal is in the trail: one entry, status 400 (or `status`), the error code, and no raw NUL. */
  const expectAudited = async (res: { requestId: string }, status: number, code: string) => {
    const rows = await auditOf(res.requestId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status, outcome: 4 });
    expect(JSON.parse(rows[0].content)).toMatchObject({ status, error: code });
    expect(rows[0].content).not.toContain('\u0000');
    return rows[0];
  };
  const count = async (sql: string, params: unknown[]) => (await db.query<{ n: number }>(sql, params)).rows[0].n;
  const patientsNamed = (family: string) =>
    count(`SELECT count(*)::int AS n FROM fhir_resource_version WHERE resource_type = 'Patient' AND content::text LIKE '%' || $1 || '%'`, [family]);
  const postPatient = (body: string | Buffer, headers: Record<string, string> = {}) =>
    send(server.root, '/fhir/Patient', { method: 'POST', token: his, body, headers });

  beforeAll(async () => {
    server = await startTestServer();
    db = await connectTestDatabase();
    his = await server.token();
    drNeuro = await server.token({ sub: `dr-neuro-${run}`, roles: ['attending'], department: 'neuro' });
    officer = await server.token({ sub: `officer-${run}`, roles: ['disputes-officer'] });
    recordRoom = await server.token({ sub: `rr-${run}`, roles: ['record-room'] });
    patient = await seedAs(server.fhirBase, his, { resourceType: 'Patient', name: [{ family: `Hardening-${run}` }], birthDate: '1970-01-01' });
  });
  afterAll(() => closeAll(db, server));

  it('R-20, R-22: a route\'s words in another case (/FHIR/…/$EVERYTHING): no route on Fastify; on Express, which routes them, recorded as what ran', async () => {
    const read = await send(server.root, `/FHIR/Patient/${patient.id}`, { token: his });
    const everything = await send(server.root, `/Fhir/Patient/${patient.id}/$EVERYTHING`, { token: his });
    const recorded = async (requestId: string) =>
      (await db.query(`SELECT action, subtype, entity_type, entity_id, patient, content::jsonb->>'lifecycle' AS lifecycle FROM audit_entry WHERE request_id = $1`, [requestId])).rows;
    if (testPlatform() === 'fastify') {
      // Fastify routes case-sensitively, as FHIR paths are: nothing is read, so nothing is recorded.
      expect([read.status, everything.status]).toEqual([404, 404]);
      expect([await recorded(read.requestId), await recorded(everything.requestId)]).toEqual([[], []]);
    } else {
      expect([read.status, everything.status]).toEqual([200, 200]);
      expect(await recorded(read.requestId)).toEqual([{ action: 'R', subtype: 'read', entity_type: 'Patient', entity_id: patient.id, patient: patient.id, lifecycle: 'access' }]);
      // The export is a disclosure, whatever the case it was asked in.
      expect(await recorded(everything.requestId)).toEqual([{ action: 'E', subtype: 'everything', entity_type: 'Patient', entity_id: patient.id, patient: patient.id, lifecycle: 'disclose' }]);
    }
  });

  describe('item 5: NUL and lone surrogates in the URL and headers', () => {
    it('R-20/R-51: GET /fhir/Patient/x%00 without a token → 400 invalid-characters (not 503), recorded with the NUL escaped', async () => {
      const res = await send(server.root, '/fhir/Patient/x%00');
      const outcome = expectOutcome(res, 400, 'invalid', ERR.chars);
      expect(outcome.issue?.[0].diagnostics).toContain('URL path');
      const row = await expectAudited(res, 400, ERR.chars);
      // The id as the 6 characters \u0000: PostgreSQL text cannot hold a NUL, and the entry still names what was asked.
      expect(row.entity_id).toBe('x\\u0000');
      expect((JSON.parse(row.content) as { entity: { id: string } }).entity.id).toBe('x\\u0000');
    });

    it('R-20/R-51: 120 legitimate reads interleaved with 120 NUL attacks: every read 200, every attack 400 and audited', async () => {
      const reads: Promise<HttpResult & { requestId: string }>[] = [];
      const attacks: Promise<HttpResult & { requestId: string }>[] = [];
      for (let i = 0; i < 120; i++) {
        reads.push(send(server.root, `/fhir/Patient/${patient.id}`, { token: his }));
        attacks.push(send(server.root, `/fhir/Patient/x${i}%00`, i % 2 ? { token: his } : {}));
      }
      const [good, bad] = await Promise.all([Promise.all(reads), Promise.all(attacks)]);
      expect(good.map((r) => r.status)).toEqual(good.map(() => 200));
      expect(bad.map((r) => r.status)).toEqual(bad.map(() => 400));
      for (const r of bad) expectOutcome(r, 400, 'invalid', ERR.chars);
      const recorded = await db.query<{ request_id: string; status: number }>(
        `SELECT request_id, (content::jsonb->>'status')::int AS status FROM audit_entry WHERE request_id = ANY($1)`,
        [[...good, ...bad].map((r) => r.requestId)],
      );
      const statusOf = new Map(recorded.rows.map((r) => [r.request_id, r.status]));
      expect(good.filter((r) => statusOf.get(r.requestId) !== 200)).toEqual([]);
      expect(bad.filter((r) => statusOf.get(r.requestId) !== 400)).toEqual([]);
    });

    // Every route prefix, and each place a bad character can hide in a URL.
    it.each([
      ['/fhir/Patient?_id=%00', ERR.chars, 'query parameter _id'],
      ['/fhir/Patient?_id=%ED%A0%80', ERR.chars, 'query parameter _id'],
      ['/fhir/Patient?na%00me=x', ERR.chars, 'query parameter name'],
      ['/fhir/Patient?_id=%zz', ERR.request, 'query parameter _id'],
      ['/fhir/Patient/x%ED%A0%80', ERR.chars, 'URL path'],
      ['/fhir/Patient/x%zz', ERR.request, 'URL path'],
      ['/fhir/Patient/x/_history/1%00', ERR.chars, 'URL path'],
      ['/access/grants/g%00', ERR.chars, 'URL path'],
      ['/access/grants?patient=%00', ERR.chars, 'query parameter patient'],
      ['/disputes/d%00', ERR.chars, 'URL path'],
      ['/disputes/d%zz', ERR.request, 'URL path'],
      ['/copy-requests?patient=%ED%B0%80', ERR.chars, 'query parameter patient'],
      ['/audit/access-report?patient=Patient/%00', ERR.chars, 'query parameter patient'],
      ['/governance/amendments/a%00', ERR.chars, 'URL path'],
    ])('R-20/R-51: GET %s → 400 %s naming the %s, recorded', async (path, code, where) => {
      const res = await send(server.root, path, { token: his });
      const outcome = expectOutcome(res, 400, 'invalid', code);
      expect(outcome.issue?.[0].expression).toEqual([where]);
      await expectAudited(res, 400, code);
    });

    it('R-20: the public CapabilityStatement refuses a NUL too (it is never audited: there is no record to access)', async () => {
      const res = await send(server.root, '/fhir/metadata?x=%00');
      expectOutcome(res, 400, 'invalid', ERR.chars);
      expect(await auditOf(res.requestId)).toEqual([]);
      expectStatus(await send(server.root, '/fhir/metadata?x=0'), 200);
    });

    it('R-04/R-20: a NUL or a broken escape in X-Break-Glass-Reason → 400 before any decision, recorded', async () => {
      const btg = 'http://terminology.hl7.org/CodeSystem/v3-ActReason#BTG; scheme="http://hl7.org/fhir/tag/security"';
      const nul = await send(server.root, `/fhir/Patient/${patient.id}`, { token: drNeuro, headers: { category: btg, 'x-break-glass-reason': 'stroke%00' } });
      expectOutcome(nul, 400, 'invalid', ERR.chars);
      await expectAudited(nul, 400, ERR.chars);
      const surrogate = await send(server.root, `/fhir/Patient/${patient.id}`, { token: drNeuro, headers: { category: btg, 'x-break-glass-reason': '%ED%A0%80' } });
      expectOutcome(surrogate, 400, 'invalid', ERR.chars);
      await expectAudited(surrogate, 400, ERR.chars);
      // Nothing was opened: no break-the-glass grant exists for this caller.
      expect(await count(`SELECT count(*)::int AS n FROM access_grant WHERE grantee = $1`, [`dr-neuro-${run}`])).toBe(0);
    });

    it('R-12/R-51: X-Edit-Reason with %00 → 400, the version unchanged; the same update with a plain reason passes', async () => {
      const target = await seedAs(server.fhirBase, his, { resourceType: 'Patient', name: [{ family: `Edit-${run}` }] });
      const body = JSON.stringify({ ...target, meta: undefined, gender: 'female' });
      const bad = await send(server.root, `/fhir/Patient/${target.id}`, { method: 'PUT', token: his, body, headers: { 'x-edit-reason': 'typo%00fix' } });
      expectOutcome(bad, 400, 'invalid', ERR.chars);
      expect(bad.body.issue?.[0].expression).toEqual(['header x-edit-reason']);
      await expectAudited(bad, 400, ERR.chars);
      const current = await send(server.root, `/fhir/Patient/${target.id}`, { token: his });
      expect((current.body as unknown as Patient).meta?.versionId).toBe('1');
      const good = await send(server.root, `/fhir/Patient/${target.id}`, { method: 'PUT', token: his, body, headers: { 'x-edit-reason': 'typo%20fix' } });
      expectStatus(good, 200);
    });
  });

  describe('item 7: JSON bodies on FHIR and workflow routes', () => {
    const nested = (depth: number) => `{"resourceType":"Patient","extension":${'['.repeat(depth)}${']'.repeat(depth)}}`;

    it.each([
      ['POST', '/fhir/Patient'],
      ['POST', '/fhir'],
      ['POST', '/access/grants'],
      ['POST', '/disputes'],
      ['POST', '/copy-requests'],
    ])('R-51: %s %s with JSON nested 10,000 deep → 400 too-deep (not 500), recorded', async (method, path) => {
      const res = await send(server.root, path, { method, token: his, body: nested(10_000) });
      const outcome = expectOutcome(res, 400, 'structure', ERR.deep);
      expect(outcome.issue?.[0].diagnostics).toContain('64');
      await expectAudited(res, 400, ERR.deep);
    });

    it.each([
      ['POST', '/fhir/Patient'],
      ['POST', '/fhir'],
      ['POST', '/disputes'],
    ])('R-51: %s %s with an empty FHIR JSON body (Content-Length: 0) → 400 OperationOutcome, recorded; nothing stored', async (method, path) => {
      const before = await count(`SELECT count(*)::int AS n FROM fhir_resource_version`, []);
      const res = await send(server.root, path, { method, token: his, body: '' });
      expect({ status: res.status, resourceType: (res.body as OperationOutcome | undefined)?.resourceType }).toEqual({ status: 400, resourceType: 'OperationOutcome' });
      const code = (res.body as OperationOutcome).issue?.[0].details?.coding?.[0].code;
      await expectAudited(res, 400, code ?? '(none)');
      expect(await count(`SELECT count(*)::int AS n FROM fhir_resource_version`, [])).toBe(before);
    });

    it('R-51: a lone \\ud800 (escaped, or raw bytes) and an escaped \\u0000 → 400 invalid-characters naming the element; nothing stored', async () => {
      const family = `Surrogate-${run}`;
      const escaped = await postPatient(`{"resourceType":"Patient","name":[{"family":"${family}","given":["\\ud800"]}]}`);
      expectOutcome(escaped, 400, 'invalid', ERR.chars);
      expect(escaped.body.issue?.[0].expression).toEqual(['JSON string at name[0].given[0]']);
      await expectAudited(escaped, 400, ERR.chars);
      const head = Buffer.from(`{"resourceType":"Patient","name":[{"family":"${family}","given":["`);
      const raw = await postPatient(Buffer.concat([head, Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"]}]}')]));
      expectOutcome(raw, 400, 'invalid', ERR.chars);
      await expectAudited(raw, 400, ERR.chars);
      const nulKey = await postPatient(`{"resourceType":"Patient","name":[{"family":"${family}","x\\u0000":1}]}`);
      expectOutcome(nulKey, 400, 'invalid', ERR.chars);
      expect(nulKey.body.issue?.[0].expression).toEqual(['JSON key at name[0]']);
      expect(await patientsNamed(family)).toBe(0);
      // A paired surrogate (an emoji, escaped) is ordinary text: the same body with it is stored.
      const pair = await postPatient(`{"resourceType":"Patient","name":[{"family":"${family}","given":["\\ud83d\\ude00"]}]}`);
      expectStatus(pair, 201);
      expect(await patientsNamed(family)).toBe(1);
    });

    it('R-51: \\u0000 in a grant reason → 400, no grant stored; the same request without it is granted', async () => {
      const body = (reason: string) =>
        JSON.stringify({ grantee: `dr-neuro-${run}`, patient: patient.id, purpose: 'research', reason, until: new Date(Date.now() + DAY).toISOString() });
      const bad = await send(server.root, '/access/grants', { method: 'POST', token: drNeuro, body: body('study\u0000') });
      expectOutcome(bad, 400, 'invalid', ERR.chars);
      expect(bad.body.issue?.[0].expression).toEqual(['JSON string at reason']);
      await expectAudited(bad, 400, ERR.chars);
      expect(await count(`SELECT count(*)::int AS n FROM access_grant WHERE patient_id = $1`, [patient.id])).toBe(0);
      expectStatus(await send(server.root, '/access/grants', { method: 'POST', token: drNeuro, body: body('study') }), 201);
      expect(await count(`SELECT count(*)::int AS n FROM access_grant WHERE patient_id = $1`, [patient.id])).toBe(1);
    });

    it('R-51: \\u0000 in a dispute reason → 400, no dispute stored; the same request without it is opened', async () => {
      const body = (reason: string) => JSON.stringify({ patient: `Patient/${patient.id}`, reason, scope: { kind: 'whole-record' } });
      const bad = await send(server.root, '/disputes', { method: 'POST', token: officer, body: body('异议\u0000') });
      expectOutcome(bad, 400, 'invalid', ERR.chars);
      await expectAudited(bad, 400, ERR.chars);
      expect(await count(`SELECT count(*)::int AS n FROM dispute WHERE patient_id = $1`, [patient.id])).toBe(0);
      expectStatus(await send(server.root, '/disputes', { method: 'POST', token: officer, body: body('异议') }), 201);
      expect(await count(`SELECT count(*)::int AS n FROM dispute WHERE patient_id = $1`, [patient.id])).toBe(1);
    });

    it('R-51: \\u0000 in a copy requester name → 400, no copy request stored; the same request without it is received', async () => {
      const body = (name: string) =>
        JSON.stringify({
          patient: `Patient/${patient.id}`,
          requesterType: 'patient',
          requester: { name, idNumber: '110101197001010011' },
          purpose: '复诊',
          scope: { all: true },
        });
      const bad = await send(server.root, '/copy-requests', { method: 'POST', token: recordRoom, body: body('王小明\u0000') });
      expectOutcome(bad, 400, 'invalid', ERR.chars);
      expect(bad.body.issue?.[0].expression).toEqual(['JSON string at requester.name']);
      await expectAudited(bad, 400, ERR.chars);
      expect(await count(`SELECT count(*)::int AS n FROM copy_request WHERE patient_id = $1`, [patient.id])).toBe(0);
      expectStatus(await send(server.root, '/copy-requests', { method: 'POST', token: recordRoom, body: body('王小明') }), 201);
      expect(await count(`SELECT count(*)::int AS n FROM copy_request WHERE patient_id = $1`, [patient.id])).toBe(1);
    });

    it('R-51: a _search form body with %00 → 400 naming the form parameter, recorded', async () => {
      const form = { 'content-type': 'application/x-www-form-urlencoded' };
      const res = await send(server.root, '/fhir/Patient/_search', { method: 'POST', token: his, body: '_id=a%00', headers: form });
      expectOutcome(res, 400, 'invalid', ERR.chars);
      expect(res.body.issue?.[0].expression).toEqual(['form parameter _id']);
      await expectAudited(res, 400, ERR.chars);
    });
  });

  describe('item 7: Content-Encoding and oversized headers', () => {
    it('R-51: Content-Encoding gzip with a garbage body → 400 bad-encoding (not 500), recorded, nothing stored; a real gzip body is accepted', async () => {
      const family = `Gzip-${run}`;
      const garbage = await send(server.root, '/fhir/Patient', { method: 'POST', token: his, body: 'this is not gzip', headers: { 'content-encoding': 'gzip' } });
      expectOutcome(garbage, 400, 'structure', ERR.encoding);
      await expectAudited(garbage, 400, ERR.encoding);
      const truncated = gzipSync(JSON.stringify({ resourceType: 'Patient', name: [{ family }] })).subarray(0, 20);
      const cut = await send(server.root, '/fhir/Patient', { method: 'POST', token: his, body: truncated, headers: { 'content-encoding': 'gzip' } });
      expectOutcome(cut, 400, 'structure', ERR.encoding);
      expect(await patientsNamed(family)).toBe(0);
      const good = await postPatient(gzipSync(JSON.stringify({ resourceType: 'Patient', name: [{ family }] })), { 'content-encoding': 'gzip' });
      expectStatus(good, 201);
      expect(await patientsNamed(family)).toBe(1);
    });

    it('R-51: a gzip bomb is bounded by the body limit after decompression (413), and an unknown coding is 415', async () => {
      // 6 MB of spaces (valid JSON padding) compress to a few KB; the default limit is 5 MB.
      const bomb = gzipSync(Buffer.concat([Buffer.from('{"resourceType":"Patient"'), Buffer.alloc(6 * 1024 * 1024, ' '), Buffer.from('}')]));
      expect(bomb.length).toBeLessThan(64 * 1024);
      const res = await send(server.root, '/fhir/Patient', { method: 'POST', token: his, body: bomb, headers: { 'content-encoding': 'gzip' } });
      expectOutcome(res, 413, 'too-long', ERR.tooLarge);
      await expectAudited(res, 413, ERR.tooLarge);
      const unknown = await send(server.root, '/fhir/Patient', { method: 'POST', token: his, body: 'x', headers: { 'content-encoding': 'compress' } });
      expectOutcome(unknown, 415, 'not-supported', ERR.media);
      await expectAudited(unknown, 415, ERR.media);
    });

    it('R-20: headers over 16 KB → 431 with an OperationOutcome (headers-too-large), with or without a token', async () => {
      for (const token of [undefined, his]) {
        const res = await send(server.root, `/fhir/Patient/${patient.id}`, { token, headers: { 'x-padding': 'a'.repeat(17 * 1024) } });
        expectOutcome(res, 431, 'too-long', ERR.headers);
        expect(res.headers.get('content-type')).toContain('application/fhir+json');
      }
      // The server still serves the next request.
      expectStatus(await send(server.root, `/fhir/Patient/${patient.id}`, { token: his }), 200);
    });
  });
  describe('query strings wherever they travel: If-None-Exist, _search forms, Bundle entry URLs', () => {
    it('R-51: If-None-Exist: identifier=x%00 → 400 invalid-characters naming the header\'s parameter, recorded, nothing created', async () => {
      const family = `IfNoneExist-${run}`;
      const body = JSON.stringify({ resourceType: 'Patient', name: [{ family }] });
      const res = await postPatient(body, { 'if-none-exist': 'identifier=x%00' });
      const outcome = expectOutcome(res, 400, 'invalid', ERR.chars);
      expect(outcome.issue?.[0].expression).toEqual(['If-None-Exist parameter identifier']);
      await expectAudited(res, 400, ERR.chars);
      expect(await patientsNamed(family)).toBe(0);
      // The same create with a clean condition goes through: the refusal was about the NUL.
      expectStatus(await postPatient(body, { 'if-none-exist': `identifier=urn:x|${run}` }), 201);
      expect(await patientsNamed(family)).toBe(1);
    });

    it('R-51: a transaction entry whose URL carries %00 → 400 invalid-characters, recorded, and no entry of it is stored', async () => {
      const family = `BundleUrl-${run}`;
      const bundle = {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { request: { method: 'POST', url: 'Patient' }, resource: { resourceType: 'Patient', name: [{ family }] } },
          { request: { method: 'GET', url: 'Patient?name=x%00' } },
        ],
      };
      const res = await send(server.root, '/fhir', { method: 'POST', token: his, body: JSON.stringify(bundle) });
      expectOutcome(res, 400, 'invalid', ERR.chars);
      await expectAudited(res, 400, ERR.chars);
      expect(await patientsNamed(family)).toBe(0);
    });

    it('R-03: a POST _search form keeps repeated parameters as AND (as a GET does), not folded into one OR list', async () => {
      const other = await seedAs(server.fhirBase, his, { resourceType: 'Patient', name: [{ family: `Other-${run}` }] });
      const form = { 'content-type': 'application/x-www-form-urlencoded' };
      const and = await send(server.root, '/fhir/Patient/_search', { method: 'POST', token: his, body: `_id=${patient.id}&_id=${other.id}`, headers: form });
      expectStatus(and, 200);
      expect((and.body as unknown as Bundle).total).toBe(0);
      const or = await send(server.root, '/fhir/Patient/_search', { method: 'POST', token: his, body: `_id=${patient.id},${other.id}`, headers: form });
      expectStatus(or, 200);
      expect((or.body as unknown as Bundle).total).toBe(2);
      const get = await send(server.root, `/fhir/Patient?_id=${patient.id}&_id=${other.id}`, { token: his });
      expect((get.body as unknown as Bundle).total).toBe(0);
    });

    it('R-51: a POST _search form of 1,001 fields → 400 too-costly (not 500), recorded', async () => {
      const body = Array.from({ length: 1001 }, (_, i) => `name=n${i}`).join('&');
      const res = await send(server.root, '/fhir/Patient/_search', { method: 'POST', token: his, body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      expectOutcome(res, 400, 'too-costly', 'fhir.too-costly');
      await expectAudited(res, 400, 'fhir.too-costly');
    });

    it('R-20/R-51: an AuditEvent search is bounded like any search: 101 OR values → 400 too-costly, recorded', async () => {
      const auditor = await server.token({ sub: `auditor-${run}`, roles: ['auditor'] });
      const values = Array.from({ length: 101 }, (_, i) => `a${i}`).join(',');
      const res = await send(server.root, `/fhir/AuditEvent?agent=${values}`, { token: auditor });
      expectOutcome(res, 400, 'too-costly', 'fhir.too-costly');
      await expectAudited(res, 400, 'fhir.too-costly');
    });
  });
});
