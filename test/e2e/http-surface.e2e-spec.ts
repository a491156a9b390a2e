import { randomUUID } from 'node:crypto';
import type { CapabilityStatement, OperationOutcome, Patient } from '@medplum/fhirtypes';
import pg from 'pg';
import { rawRequest, seedAs, type HttpResult } from '../support/http.js';
import { expectOutcome } from '../support/fhir-expect.js';
import { closeAll, connectTestDatabase, startTestServer, type TestServer } from '../support/test-app.js';

/**
 * Issue #16, the HTTP surface a browser app and a FHIR client meet first:
 * - `_format` and `Accept` (R4 http.html#mime-type): JSON is served, anything else is 406 with
 *   an OperationOutcome before any record is read (the refusal is recorded, no disclosure);
 * - CORS for the configured origins: a preflight is answered without a token, an unknown origin
 *   gets no CORS header, a cross-origin read exposes ETag;
 * - `/.well-known/smart-configuration` (SMART App Launch 2) and `/metadata`'s absolute base and
 *   security section, as the identity provider is configured.
 */

const APP = 'https://app.example';
const IDP = {
  jwksUrl: 'https://idp.example/jwks',
  issuer: 'https://idp.example',
  authorizationEndpoint: 'https://idp.example/authorize',
  tokenEndpoint: 'https://idp.example/token',
};

/** One raw HTTP/1.1 request: the method (OPTIONS), `Origin` and `Accept` go out exactly as given, as a browser sends them. */
function send<T = OperationOutcome>(base: string, path: string, method = 'GET', headers: Record<string, string> = {}): Promise<HttpResult<T>> {
  return rawRequest<T>(base, path, { method, headers });
}

const list = (value: string | null) => (value ?? '').split(',').map((v) => v.trim().toLowerCase()).filter(Boolean);
const corsHeaders = (headers: Headers) => [...headers.keys()].filter((h) => h.startsWith('access-control-'));

describe('HTTP surface: _format, CORS, SMART configuration, /metadata (issue #16)', () => {
  let server: TestServer | undefined;
  let smart: TestServer | undefined;
  let db: pg.Client | undefined;
  let his: string;
  let patient: Patient & { id: string };
  const auth = () => ({ authorization: `Bearer ${his}` });

  beforeAll(async () => {
    server = await startTestServer({ cors: { origins: [APP, 'http://localhost:5173'] } });
    // An identity provider by JWKS: its keys are fetched on the first token only, and none is sent here.
    smart = await startTestServer({ identity: IDP });
    db = await connectTestDatabase();
    his = await server.token();
    patient = await seedAs(server.fhirBase, his, { resourceType: 'Patient', identifier: [{ system: 'urn:test:http-surface', value: randomUUID() }] });
  });

  afterAll(() => closeAll(db, smart, server));

  const auditOf = async (requestId: string) =>
    (
      await db!.query<{ status: number; outcome: number; patient: string | null; subtype: string; content: string }>(
        `SELECT (content::jsonb->>'status')::int AS status, outcome, patient, subtype, content FROM audit_entry WHERE request_id = $1`,
        [requestId],
      )
    ).rows;

  describe('_format and Accept', () => {
    it('R-20: _format=xml is 406 not-supported with an OperationOutcome; the refusal is recorded, nothing was read or disclosed', async () => {
      const rid = `http-surface-${randomUUID()}`;
      const res = await send(server!.root, `/fhir/Patient/${patient.id}?_format=xml`, 'GET', { ...auth(), 'x-request-id': rid });
      expectOutcome(res, 406, 'not-supported', 'fhir.not-acceptable');
      expect(res.headers.get('content-type')).toContain('application/fhir+json');
      expect(res.body.issue?.[0].diagnostics ?? res.body.issue?.[0].details?.text).toContain('_format=xml');
      const rows = await auditOf(rid);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ status: 406, outcome: 4, patient: null, subtype: 'read' });
      expect(JSON.parse(rows[0].content)).not.toHaveProperty('disclosed');
    });

    it('every other format is refused the same way: fhir+xml, turtle, html, junk, on search, history and /metadata', async () => {
      for (const path of [
        `/fhir/Patient/${patient.id}?_format=${encodeURIComponent('application/fhir+xml')}`,
        '/fhir/Patient?_format=ttl',
        `/fhir/Patient/${patient.id}/_history?_format=html`,
        '/fhir/Patient?_format=junk',
        '/fhir/metadata?_format=xml',
      ]) {
        const res = await send(server!.root, path, 'GET', auth());
        expect({ path, status: res.status, code: res.body?.issue?.[0].code }).toEqual({ path, status: 406, code: 'not-supported' });
      }
      // /metadata needs no token for its refusal either.
      expect((await send(server!.root, '/fhir/metadata?_format=xml')).status).toBe(406);
    });

    it('Accept admitting no JSON is 406; */*, none, a JSON type, or _format=json over any Accept answer JSON', async () => {
      const read = `/fhir/Patient/${patient.id}`;
      expect((await send(server!.root, read, 'GET', { ...auth(), accept: 'application/fhir+xml' })).status).toBe(406);
      expect((await send(server!.root, read, 'GET', { ...auth(), accept: 'text/html' })).status).toBe(406);
      for (const [path, accept] of [
        [read, '*/*'],
        [read, ''],
        [read, 'application/json'],
        [read, 'application/fhir+xml;q=1, application/fhir+json;q=0.5'],
        [`${read}?_format=json`, 'application/fhir+xml'],
        // An unencoded + reads as a space: still application/fhir+json.
        [`${read}?_format=application/fhir+json`, 'application/fhir+xml'],
      ]) {
        const res = await send<Patient>(server!.root, path, 'GET', { ...auth(), ...(accept ? { accept } : {}) });
        expect({ path, accept, status: res.status, id: res.body?.id }).toEqual({ path, accept, status: 200, id: patient.id });
      }
    });
  });

  describe('CORS for CHARTWARDEN_CORS_ORIGINS', () => {
    const preflight = (base: string, origin: string, requestId = `http-surface-${randomUUID()}`) =>
      send(base, '/fhir/Patient', 'OPTIONS', {
        origin,
        'x-request-id': requestId,
        'access-control-request-method': 'PUT',
        'access-control-request-headers': 'authorization,content-type,if-match,x-break-glass-reason',
      });

    it('a preflight from an allowed origin is 204 without a token: the origin by name, the methods and headers ChartWarden takes, Max-Age, Vary: Origin', async () => {
      const rid = `http-surface-${randomUUID()}`;
      const res = await preflight(server!.root, APP, rid);
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe(APP);
      expect(list(res.headers.get('access-control-allow-methods'))).toEqual(['get', 'head', 'post', 'put', 'patch']);
      expect(list(res.headers.get('access-control-allow-headers'))).toEqual(
        expect.arrayContaining(['authorization', 'content-type', 'if-match', 'if-none-exist', 'prefer', 'x-break-glass-reason', 'category', 'x-edit-reason']),
      );
      expect(list(res.headers.get('access-control-expose-headers'))).toEqual(expect.arrayContaining(['etag', 'location', 'content-location', 'last-modified']));
      expect(res.headers.get('access-control-max-age')).toBe('600');
      expect(list(res.headers.get('vary'))).toContain('origin');
      expect(res.headers.get('access-control-allow-credentials')).toBeNull();
      // Answered ahead of identity and the audit trail: it reads nothing, so nothing is recorded.
      expect(await auditOf(rid)).toEqual([]);
    });

    it('a preflight from an origin not listed gets no CORS header (401, as without CORS); so does a server with no origins configured', async () => {
      const unknown = await preflight(server!.root, 'https://evil.example');
      expect(unknown.status).toBe(401);
      expect(corsHeaders(unknown.headers)).toEqual([]);
      const unconfigured = await preflight(smart!.root, APP);
      expect(unconfigured.status).toBe(401);
      expect(corsHeaders(unconfigured.headers)).toEqual([]);
    });

    it('a cross-origin read carries the origin and exposes ETag; a refusal carries them too; another origin gets none', async () => {
      const read = await send<Patient>(server!.root, `/fhir/Patient/${patient.id}`, 'GET', { ...auth(), origin: APP });
      expect(read.status).toBe(200);
      expect(read.body.id).toBe(patient.id);
      expect(read.headers.get('access-control-allow-origin')).toBe(APP);
      expect(read.headers.get('etag')).toBe(`W/"${patient.meta?.versionId}"`);
      expect(list(read.headers.get('access-control-expose-headers'))).toContain('etag');
      const refused = await send(server!.root, `/fhir/Patient/${patient.id}`, 'GET', { origin: APP });
      expect(refused.status).toBe(401);
      expect(refused.headers.get('access-control-allow-origin')).toBe(APP);
      const other = await send(server!.root, `/fhir/Patient/${patient.id}`, 'GET', { ...auth(), origin: 'https://evil.example' });
      expect(other.status).toBe(200);
      expect(corsHeaders(other.headers)).toEqual([]);
      expect(list(other.headers.get('vary'))).toContain('origin');
    });
  });

  describe('GET /.well-known/smart-configuration', () => {
    it('dev mode: public, the dev issuer, no OAuth endpoint or grant, the scopes ChartWarden enforces', async () => {
      const res = await send<Record<string, unknown>>(server!.root, '/.well-known/smart-configuration', 'GET', { origin: APP });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('application/json');
      expect(res.headers.get('access-control-allow-origin')).toBe(APP);
      expect(res.body).toMatchObject({ issuer: 'chartwarden-dev', grant_types_supported: [], code_challenge_methods_supported: [] });
      expect(res.body).not.toHaveProperty('authorization_endpoint');
      expect(res.body).not.toHaveProperty('token_endpoint');
      expect(res.body.capabilities).toEqual(expect.arrayContaining(['permission-v2', 'permission-patient']));
      expect(res.body.scopes_supported).toEqual(expect.arrayContaining(['patient/*.rs', 'user/*.crus', 'system/*.read']));
    });

    it('JWKS mode: the identity provider as configured, the same at the root and relative to the FHIR base, no token needed', async () => {
      for (const path of ['/.well-known/smart-configuration', '/fhir/.well-known/smart-configuration']) {
        const res = await send<Record<string, unknown>>(smart!.root, path);
        expect({ path, status: res.status }).toEqual({ path, status: 200 });
        expect(res.body).toMatchObject({
          issuer: IDP.issuer,
          jwks_uri: IDP.jwksUrl,
          authorization_endpoint: IDP.authorizationEndpoint,
          token_endpoint: IDP.tokenEndpoint,
          grant_types_supported: ['authorization_code', 'client_credentials'],
          code_challenge_methods_supported: ['S256'],
        });
      }
    });
  });

  describe('GET /fhir/metadata', () => {
    it('the absolute base as the client reached it, the governed types, JSON only, and no SMART service in dev mode', async () => {
      const res = await send<CapabilityStatement>(server!.root, '/fhir/metadata');
      expect(res.status).toBe(200);
      expect(res.body.implementation?.url).toBe(server!.fhirBase);
      expect(res.body.format).toEqual(['json', 'application/fhir+json']);
      const rest = res.body.rest?.[0];
      expect(rest?.security?.cors).toBe(true);
      expect(rest?.security?.service).toBeUndefined();
      expect(rest?.resource?.map((r) => r.type)).toEqual(expect.arrayContaining(['Patient', 'Observation', 'Composition', 'AuditEvent']));
    });

    it('JWKS mode: rest.security names SMART-on-FHIR with the oauth-uris extension of the configured endpoints', async () => {
      const res = await send<CapabilityStatement>(smart!.root, '/fhir/metadata');
      expect(res.status).toBe(200);
      const security = res.body.rest?.[0].security;
      expect(security?.cors).toBe(false);
      expect(security?.service?.[0].coding?.[0]).toMatchObject({ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' });
      expect(security?.extension?.[0]).toEqual({
        url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
        extension: [
          { url: 'authorize', valueUri: IDP.authorizationEndpoint },
          { url: 'token', valueUri: IDP.tokenEndpoint },
        ],
      });
    });
  });
});
