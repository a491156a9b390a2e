import { randomBytes } from 'node:crypto';
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Patient, Resource } from '@medplum/fhirtypes';
import { StoreError, StoreErrorCode } from '../../src/store/store.errors.js';
import { UpstreamCredentials, type UpstreamAuth } from '../../src/store/remote/upstream-auth.js';
import { UpstreamFhirServer } from '../../src/store/remote/upstream-server.js';
import { startFhirPeer, type FhirPeer } from '../support/fhir-peer.js';

/**
 * How the remote store authenticates to the upstream FHIR server (issue #17), over real HTTP:
 * `UpstreamFhirServer` against Medplum's router (`test/support/fhir-peer.ts`), behind a small
 * gateway that sees every header and admits only the tokens a real OAuth2 token endpoint issued
 * (RFC 6749 §4.4 client credentials, HTTP Basic client authentication per §2.3.1). What is
 * checked is what the servers received, not what the client meant to send.
 */

const TIMEOUT_MS = 2_000;
/** A client id and secret with every character §2.3.1's form-urlencoding has to carry through Basic auth. */
const CLIENT_ID = 'chartwarden ward:3';
const SECRET = 's3cret+/: %&=é密';
const PEER_TOKEN = 'the-peer-accepts-only-this-token';

/** One request the token endpoint received, and what it answered. */
interface TokenRequest {
  contentType?: string;
  accept?: string;
  /** The client it authenticated (undefined: it did not). */
  clientId?: string;
  grantType?: string | null;
  scope?: string | null;
  status: number;
}

/** A running OAuth2 token endpoint: its URL, the requests it had, the tokens it issued (oldest first). */
interface TokenEndpoint {
  url: string;
  requests: TokenRequest[];
  issued: string[];
  /** `expires_in` of the next tokens (undefined: left out of the answer). */
  expiresIn: number | undefined;
  /** Whether `authorization` is `Bearer <a token it issued, not revoked, not expired>`. */
  admits(authorization: string | undefined): boolean;
  /** Revokes every token issued so far (the upstream's session ended). */
  revokeAll(): void;
  close(): Promise<void>;
}

interface TokenEndpointOptions {
  /** The scope the client must ask for (asking for none is then refused). */
  scope?: string;
  expiresIn?: number;
  /** How long it takes to answer, so concurrent callers overlap one fetch. */
  delayMs?: number;
  /** Issue this token every time (a FHIR peer that accepts one fixed token). */
  fixedToken?: string;
  /** Echo the presented credentials in an `invalid_client` answer (a careless server). */
  echoCredentials?: boolean;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function closing(server: Server): () => Promise<void> {
  return () =>
    new Promise<void>((resolve, reject) => {
      server.closeAllConnections();
      server.close((err) => (err ? reject(err) : resolve()));
    });
}

async function bodyOf(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** RFC 6749 §2.3.1: `Basic base64(urlencode(id) ":" urlencode(secret))`, each part form-urlencoded. */
function basicCredentials(header: string | undefined): { id: string; secret: string } | undefined {
  const match = /^Basic ([A-Za-z0-9+/]+=*)$/.exec(header ?? '');
  if (!match) return undefined;
  const text = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  try {
    const decode = (part: string) => decodeURIComponent(part.replace(/\+/g, ' '));
    return { id: decode(text.slice(0, colon)), secret: decode(text.slice(colon + 1)) };
  } catch {
    return undefined;
  }
}

/** An OAuth2 token endpoint (RFC 6749 §4.4, §5) on node:http that knows one client. */
async function startTokenEndpoint(options: TokenEndpointOptions = {}): Promise<TokenEndpoint> {
  const requests: TokenRequest[] = [];
  const issued: string[] = [];
  const valid = new Map<string, number>();
  const answer = (res: ServerResponse, seen: TokenRequest, status: number, body: object, headers: Record<string, string> = {}) => {
    seen.status = status;
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers }).end(JSON.stringify(body));
  };
  const server = createServer((req, res) => {
    void (async () => {
      const seen: TokenRequest = { contentType: req.headers['content-type'], accept: req.headers.accept, status: 0 };
      requests.push(seen);
      const form = new URLSearchParams(await bodyOf(req));
      if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
      if (req.method !== 'POST' || req.url !== '/oauth2/token') return answer(res, seen, 404, { error: 'not_found' });
      if (!/^application\/x-www-form-urlencoded\b/.test(req.headers['content-type'] ?? '')) return answer(res, seen, 400, { error: 'invalid_request' });
      const credentials = basicCredentials(req.headers.authorization);
      // §2.3.1: one authentication method per request, and the secret never in the body beside Basic.
      if (!credentials || credentials.id !== CLIENT_ID || credentials.secret !== SECRET || form.has('client_secret')) {
        const words = options.echoCredentials ? `unknown client ${credentials?.id} with secret ${credentials?.secret}` : 'unknown client';
        return answer(res, seen, 401, { error: 'invalid_client', error_description: words }, { 'www-authenticate': 'Basic realm="token"' });
      }
      seen.clientId = credentials.id;
      seen.grantType = form.get('grant_type');
      seen.scope = form.get('scope');
      if (seen.grantType !== 'client_credentials') return answer(res, seen, 400, { error: 'unsupported_grant_type' });
      if (options.scope !== undefined && seen.scope !== options.scope) return answer(res, seen, 400, { error: 'invalid_scope' });
      const token = options.fixedToken ?? `opaque-${issued.length + 1}-${randomBytes(12).toString('hex')}`;
      issued.push(token);
      valid.set(token, endpoint.expiresIn === undefined ? Infinity : Date.now() + endpoint.expiresIn * 1000);
      const expiry = endpoint.expiresIn === undefined ? {} : { expires_in: endpoint.expiresIn };
      answer(res, seen, 200, { access_token: token, token_type: 'Bearer', ...expiry, ...(seen.scope ? { scope: seen.scope } : {}) });
    })();
  });
  const url = `${await listen(server)}/oauth2/token`;
  const endpoint: TokenEndpoint = {
    url,
    requests,
    issued,
    expiresIn: options.expiresIn,
    admits: (authorization) => {
      const token = /^Bearer (\S+)$/.exec(authorization ?? '')?.[1];
      return token !== undefined && (valid.get(token) ?? 0) > Date.now();
    },
    revokeAll: () => valid.clear(),
    close: closing(server),
  };
  return endpoint;
}

/** One request as the upstream received it, with all its headers. */
interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

/** A gateway in front of the peer: records every request, answers 401 to those `admits` refuses, forwards the rest. */
interface Gateway {
  baseUrl: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

async function startGateway(peer: FhirPeer, admits: (authorization: string | undefined) => boolean): Promise<Gateway> {
  const seen: SeenRequest[] = [];
  const target = new URL(peer.baseUrl);
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    if (!admits(req.headers.authorization)) {
      const outcome = { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login', details: { text: 'Unauthorized' } }] };
      res.writeHead(401, { 'content-type': 'application/fhir+json', 'www-authenticate': 'Bearer' }).end(JSON.stringify(outcome));
      return;
    }
    const headers = { ...req.headers, host: target.host };
    const forward = request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', (err) => res.writeHead(502).end(String(err)));
    req.pipe(forward);
  });
  return { baseUrl: await listen(server), seen, close: closing(server) };
}

/** A server that accepts connections and never answers. */
async function startSilentServer(): Promise<{ baseUrl: string; received: () => number; close(): Promise<void> }> {
  let received = 0;
  const server = createServer(() => {
    received++;
  });
  return { baseUrl: await listen(server), received: () => received, close: closing(server) };
}

/** The StoreError `call` fails with; fails the test when it succeeds or fails otherwise. */
async function storeFailure(call: Promise<unknown>): Promise<StoreError> {
  try {
    await call;
  } catch (e) {
    if (e instanceof StoreError) return e;
    throw e;
  }
  throw new Error('expected the upstream call to fail with a StoreError, but it succeeded');
}

const patient = (id: string, family: string): Patient & { id: string } => ({ resourceType: 'Patient', id, name: [{ family }] });
const familyOf = (r: Resource | undefined) => (r as Patient | undefined)?.name?.[0]?.family;
const clientCredentials = (tokenUrl: string, extra: Partial<Extract<UpstreamAuth, { kind: 'client-credentials' }>> = {}): UpstreamAuth => ({
  kind: 'client-credentials',
  tokenUrl,
  clientId: CLIENT_ID,
  clientSecret: SECRET,
  ...extra,
});

describe('upstream authentication over real HTTP (issue #17)', () => {
  let peer: FhirPeer;
  /** Servers a test started, closed after it. */
  const started: { close(): Promise<void> }[] = [];
  const track = <T extends { close(): Promise<void> }>(server: T): T => {
    started.push(server);
    return server;
  };

  beforeAll(async () => {
    peer = await startFhirPeer();
  });

  afterEach(async () => {
    await Promise.all(started.splice(0).map((s) => s.close()));
  });

  afterAll(async () => {
    await peer.close();
  });

  describe('none and a static bearer token', () => {
    it('none: no request carries an Authorization header, and an upstream that wants one refuses with store.upstream-unavailable', async () => {
      const gateway = track(await startGateway(peer, () => true));
      const upstream = new UpstreamFhirServer(gateway.baseUrl, { kind: 'none' }, TIMEOUT_MS);
      expect((await upstream.capabilities()).transactions).toBe(true);
      const { versionId } = await upstream.put({ resource: patient('auth-none', 'None') });
      expect(familyOf(await upstream.read('Patient', 'auth-none'))).toBe('None');
      expect((await upstream.readMany('Patient', ['auth-none'])).map((r) => r.meta?.versionId)).toEqual([versionId]);
      expect(gateway.seen.map((r) => r.method)).toEqual(['GET', 'PUT', 'GET', 'GET']);
      for (const seen of gateway.seen) expect(seen.headers).not.toHaveProperty('authorization');

      const guarded = track(await startFhirPeer({ token: PEER_TOKEN }));
      const error = await storeFailure(new UpstreamFhirServer(guarded.baseUrl, { kind: 'none' }, TIMEOUT_MS).read('Patient', 'auth-none'));
      expect(error.code).toBe(StoreErrorCode.UpstreamUnavailable);
      expect(error.message).toContain('HTTP 401');
      expect(guarded.requests).toEqual([{ method: 'GET', url: '/Patient/auth-none' }]);
    });

    it('bearer: every interaction carries Authorization: Bearer <token>, and a peer that checks it serves them', async () => {
      const gateway = track(await startGateway(peer, (authorization) => authorization === `Bearer ${PEER_TOKEN}`));
      const upstream = new UpstreamFhirServer(gateway.baseUrl, { kind: 'bearer', token: PEER_TOKEN }, TIMEOUT_MS);
      await upstream.capabilities();
      const first = await upstream.put({ resource: patient('auth-bearer', 'Bearer') });
      await upstream.put({ resource: patient('auth-bearer', 'Bearer II'), ifMatch: first.versionId });
      const [second] = await upstream.transaction([{ resource: patient('auth-bearer-2', 'Transaction') }]);
      expect(familyOf(await upstream.read('Patient', 'auth-bearer'))).toBe('Bearer II');
      expect((await upstream.readMany('Patient', ['auth-bearer', 'auth-bearer-2'])).map(familyOf).sort()).toEqual(['Bearer II', 'Transaction']);
      const { changes } = await upstream.history(undefined, 10, 100);
      expect(changes.map((c) => c.versionId)).toContain(second.versionId);
      expect(gateway.seen).toHaveLength(7);
      for (const seen of gateway.seen) expect(seen.headers.authorization).toBe(`Bearer ${PEER_TOKEN}`);

      // The peer's own check, without the gateway: only the right token is served.
      const guarded = track(await startFhirPeer({ token: PEER_TOKEN }));
      await new UpstreamFhirServer(guarded.baseUrl, { kind: 'bearer', token: PEER_TOKEN }, TIMEOUT_MS).put({ resource: patient('guarded', 'Guarded') });
      expect(guarded.changes().map((c) => `${c.method} ${c.resourceType}/${c.id}`)).toEqual(['PUT Patient/guarded']);
      const revoked = new UpstreamFhirServer(guarded.baseUrl, { kind: 'bearer', token: 'a-revoked-token' }, TIMEOUT_MS);
      const refused = await storeFailure(revoked.read('Patient', 'guarded'));
      expect(refused.code).toBe(StoreErrorCode.UpstreamUnavailable);
      expect(refused.message).toContain('HTTP 401');
    });

    it("bearer: the Authorization header is added beside the request's own headers (Accept, Content-Type, If-Match), not instead of them", async () => {
      const gateway = track(await startGateway(peer, () => true));
      const upstream = new UpstreamFhirServer(gateway.baseUrl, { kind: 'bearer', token: PEER_TOKEN }, TIMEOUT_MS);
      const first = await upstream.put({ resource: patient('auth-headers', 'Headers') });
      await upstream.put({ resource: patient('auth-headers', 'Headers II'), ifMatch: first.versionId });
      const [create, update] = gateway.seen;
      expect(create.headers).toMatchObject({ authorization: `Bearer ${PEER_TOKEN}`, accept: 'application/fhir+json', 'content-type': 'application/fhir+json' });
      expect(update.headers).toMatchObject({ authorization: `Bearer ${PEER_TOKEN}`, 'if-match': `W/"${first.versionId}"` });
    });

    it('bearer: a stale If-Match still answers store.version-conflict, and the newer version is not overwritten', async () => {
      const guarded = track(await startFhirPeer({ token: PEER_TOKEN }));
      const upstream = new UpstreamFhirServer(guarded.baseUrl, { kind: 'bearer', token: PEER_TOKEN }, TIMEOUT_MS);
      const first = await upstream.put({ resource: patient('stale', 'First') });
      const second = await upstream.put({ resource: patient('stale', 'Second'), ifMatch: first.versionId });
      const error = await storeFailure(upstream.put({ resource: patient('stale', 'Lost update'), ifMatch: first.versionId }));
      expect(error.code).toBe(StoreErrorCode.VersionConflict);
      const current = await upstream.read('Patient', 'stale');
      expect([familyOf(current), current?.meta?.versionId]).toEqual(['Second', second.versionId]);
      expect(guarded.changes().map((c) => c.resource && familyOf(c.resource))).toEqual(['First', 'Second']);
    });
  });

  describe('OAuth2 client credentials', () => {
    it('asks with HTTP Basic client auth (form-urlencoded id and secret), grant_type=client_credentials and the scope; sends the token it got', async () => {
      const tokens = track(await startTokenEndpoint({ scope: 'system/*.read system/*.write', expiresIn: 3600 }));
      const gateway = track(await startGateway(peer, tokens.admits));
      const upstream = new UpstreamFhirServer(gateway.baseUrl, clientCredentials(tokens.url, { scope: 'system/*.read system/*.write' }), TIMEOUT_MS);
      await upstream.put({ resource: patient('auth-cc', 'Client') });
      expect(familyOf(await upstream.read('Patient', 'auth-cc'))).toBe('Client');
      expect(tokens.requests).toEqual([
        {
          contentType: 'application/x-www-form-urlencoded',
          accept: 'application/json',
          clientId: CLIENT_ID,
          grantType: 'client_credentials',
          scope: 'system/*.read system/*.write',
          status: 200,
        },
      ]);
      expect(gateway.seen.map((r) => [r.method, r.headers.authorization])).toEqual([
        ['PUT', `Bearer ${tokens.issued[0]}`],
        ['GET', `Bearer ${tokens.issued[0]}`],
      ]);

      // Without a scope configured, none is asked for.
      const unscoped = track(await startTokenEndpoint({ expiresIn: 3600 }));
      await new UpstreamFhirServer(peer.baseUrl, clientCredentials(unscoped.url), TIMEOUT_MS).read('Patient', 'auth-cc');
      expect(unscoped.requests).toEqual([expect.objectContaining({ clientId: CLIENT_ID, grantType: 'client_credentials', scope: null, status: 200 })]);
    });

    it('one token serves N sequential calls and N concurrent calls (one fetch shared)', async () => {
      const tokens = track(await startTokenEndpoint({ expiresIn: 3600, delayMs: 100 }));
      const gateway = track(await startGateway(peer, tokens.admits));
      await new UpstreamFhirServer(peer.baseUrl, { kind: 'none' }, TIMEOUT_MS).put({ resource: patient('auth-shared', 'Shared') });

      const sequential = new UpstreamFhirServer(gateway.baseUrl, clientCredentials(tokens.url), TIMEOUT_MS);
      for (let n = 0; n < 5; n++) expect(familyOf(await sequential.read('Patient', 'auth-shared'))).toBe('Shared');
      expect(tokens.requests).toHaveLength(1);

      const concurrent = new UpstreamFhirServer(gateway.baseUrl, clientCredentials(tokens.url), TIMEOUT_MS);
      const answers = await Promise.all(Array.from({ length: 8 }, () => concurrent.read('Patient', 'auth-shared')));
      expect(answers.map(familyOf)).toEqual(Array(8).fill('Shared'));
      expect(tokens.requests.map((r) => r.status)).toEqual([200, 200]);
      const [sequentialToken, concurrentToken] = tokens.issued.map((t) => `Bearer ${t}`);
      expect(gateway.seen.map((r) => r.headers.authorization)).toEqual([...Array(5).fill(sequentialToken), ...Array(8).fill(concurrentToken)]);
    });

    it('a token that expires within the minute is refreshed before the next request', async () => {
      const tokens = track(await startTokenEndpoint({ expiresIn: 30 }));
      const gateway = track(await startGateway(peer, tokens.admits));
      const upstream = new UpstreamFhirServer(gateway.baseUrl, clientCredentials(tokens.url), TIMEOUT_MS);
      for (let n = 0; n < 3; n++) await upstream.capabilities();
      expect(tokens.requests.map((r) => r.status)).toEqual([200, 200, 200]);
      expect(new Set(tokens.issued).size).toBe(3);
      expect(gateway.seen.map((r) => r.headers.authorization)).toEqual(tokens.issued.map((t) => `Bearer ${t}`));
    });

    it('a token is reused until a minute before its expires_in (300 s when the endpoint gives none), on a clock the test moves', async () => {
      const tokens = track(await startTokenEndpoint({ expiresIn: 3600 }));
      let now = Date.parse('2025-03-01T08:00:00Z');
      const credentials = new UpstreamCredentials(clientCredentials(tokens.url), TIMEOUT_MS, () => now);
      const first = await credentials.header();
      expect(first).toBe(`Bearer ${tokens.issued[0]}`);
      now += 3539_000;
      expect(await credentials.header()).toBe(first);
      expect(tokens.requests).toHaveLength(1);
      now += 2_000;
      expect(await credentials.header()).toBe(`Bearer ${tokens.issued[1]}`);
      expect(tokens.requests).toHaveLength(2);

      tokens.expiresIn = undefined;
      credentials.invalidate();
      const unstated = await credentials.header();
      expect(unstated).toBe(`Bearer ${tokens.issued[2]}`);
      now += 239_000;
      expect(await credentials.header()).toBe(unstated);
      now += 2_000;
      expect(await credentials.header()).toBe(`Bearer ${tokens.issued[3]}`);
      expect(tokens.requests.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    });

    it('a wrong secret fails the call with store.upstream-unavailable naming the token endpoint; no FHIR request is sent, no secret is told', async () => {
      const tokens = track(await startTokenEndpoint({ expiresIn: 3600, echoCredentials: true }));
      const gateway = track(await startGateway(peer, tokens.admits));
      const wrong = 'not-the-secret';
      const upstream = new UpstreamFhirServer(gateway.baseUrl, clientCredentials(tokens.url, { clientSecret: wrong }), TIMEOUT_MS);
      const error = await storeFailure(upstream.read('Patient', 'anything'));
      expect(error.code).toBe(StoreErrorCode.UpstreamUnavailable);
      expect(error.message).toContain(tokens.url);
      expect(error.message).toContain('HTTP 401');
      expect(error.message).not.toContain(wrong);
      expect(gateway.seen).toEqual([]);
      expect(tokens.requests).toEqual([{ contentType: 'application/x-www-form-urlencoded', accept: 'application/json', status: 401 }]);
      expect(tokens.issued).toEqual([]);
      // A failed fetch is not remembered: the next call asks again.
      await storeFailure(upstream.capabilities());
      expect(tokens.requests.map((r) => r.status)).toEqual([401, 401]);
      expect(gateway.seen).toEqual([]);
    });

    it('a 401 from the FHIR server forgets the token: that call fails, the next one fetches a new token and succeeds', async () => {
      const tokens = track(await startTokenEndpoint({ expiresIn: 3600 }));
      const gateway = track(await startGateway(peer, tokens.admits));
      const upstream = new UpstreamFhirServer(gateway.baseUrl, clientCredentials(tokens.url), TIMEOUT_MS);
      await upstream.put({ resource: patient('auth-revoked', 'Revoked') });
      tokens.revokeAll();

      const error = await storeFailure(upstream.read('Patient', 'auth-revoked'));
      expect(error.code).toBe(StoreErrorCode.UpstreamUnavailable);
      expect(error.message).toMatch(/refused ChartWarden's credentials \(HTTP 401\) on GET Patient\/auth-revoked/);
      expect(tokens.requests).toHaveLength(1);

      expect(familyOf(await upstream.read('Patient', 'auth-revoked'))).toBe('Revoked');
      expect(tokens.requests.map((r) => r.status)).toEqual([200, 200]);
      expect(gateway.seen.map((r) => `${r.method} ${r.headers.authorization}`)).toEqual([
        `PUT Bearer ${tokens.issued[0]}`,
        `GET Bearer ${tokens.issued[0]}`,
        `GET Bearer ${tokens.issued[1]}`,
      ]);
    });

    it('a token endpoint issuing the fixed token a peer checks: the round trip works against the peer itself', async () => {
      const tokens = track(await startTokenEndpoint({ expiresIn: 3600, fixedToken: PEER_TOKEN }));
      const guarded = track(await startFhirPeer({ token: PEER_TOKEN }));
      const upstream = new UpstreamFhirServer(guarded.baseUrl, clientCredentials(tokens.url), TIMEOUT_MS);
      const { versionId } = await upstream.put({ resource: patient('fixed', 'Fixed') });
      expect((await upstream.read('Patient', 'fixed'))?.meta?.versionId).toBe(versionId);
      expect(guarded.requests.map((r) => `${r.method} ${r.url}`)).toEqual(['PUT /Patient/fixed', 'GET /Patient/fixed']);
      expect(tokens.requests.map((r) => r.status)).toEqual([200]);
    });
  });

  describe('an upstream that does not answer', () => {
    it('a FHIR server that never answers fails the call with store.upstream-unavailable within about the timeout', async () => {
      const silent = track(await startSilentServer());
      const upstream = new UpstreamFhirServer(silent.baseUrl, { kind: 'bearer', token: PEER_TOKEN }, 300);
      const started = performance.now();
      const error = await storeFailure(upstream.read('Patient', 'anything'));
      const elapsed = performance.now() - started;
      expect(error.code).toBe(StoreErrorCode.UpstreamUnavailable);
      expect(error.message).toContain(`${silent.baseUrl} did not answer GET Patient/anything`);
      expect(elapsed).toBeGreaterThanOrEqual(250);
      expect(elapsed).toBeLessThan(2_000);
      expect(silent.received()).toBe(1);
    });

    it('a token endpoint that never answers fails the call within about the timeout, naming it, with no FHIR request sent', async () => {
      const silent = track(await startSilentServer());
      const gateway = track(await startGateway(peer, () => true));
      const tokenUrl = `${silent.baseUrl}/oauth2/token`;
      const upstream = new UpstreamFhirServer(gateway.baseUrl, clientCredentials(tokenUrl), 300);
      const started = performance.now();
      const error = await storeFailure(upstream.capabilities());
      const elapsed = performance.now() - started;
      expect(error.code).toBe(StoreErrorCode.UpstreamUnavailable);
      expect(error.message).toContain(`token endpoint ${tokenUrl} did not answer`);
      expect(elapsed).toBeGreaterThanOrEqual(250);
      expect(elapsed).toBeLessThan(2_000);
      expect(silent.received()).toBe(1);
      expect(gateway.seen).toEqual([]);
    });
  });

  it('the client secret appears in no StoreError message, however the upstream fails', async () => {
    const basic = Buffer.from(`${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(SECRET)}`).toString('base64');
    const secretForms = [SECRET, encodeURIComponent(SECRET), new URLSearchParams({ s: SECRET }).toString().slice(2), basic];
    const failures: StoreError[] = [];
    const fail = async (call: Promise<unknown>) => failures.push(await storeFailure(call));

    // The token endpoint refuses and echoes what it was sent; answers 200 without a token; never answers; is not there.
    const tokens = track(await startTokenEndpoint({ scope: 'system/*.read', echoCredentials: true }));
    await fail(new UpstreamFhirServer(peer.baseUrl, clientCredentials(tokens.url, { clientId: 'someone-else' }), TIMEOUT_MS).read('Patient', 'x'));
    const noToken = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ error: SECRET })));
    const noTokenUrl = await listen(noToken);
    track({ close: closing(noToken) });
    await fail(new UpstreamFhirServer(peer.baseUrl, clientCredentials(noTokenUrl), TIMEOUT_MS).read('Patient', 'x'));
    const silent = track(await startSilentServer());
    await fail(new UpstreamFhirServer(peer.baseUrl, clientCredentials(silent.baseUrl), 200).read('Patient', 'x'));
    const gone = track(await startSilentServer());
    const goneUrl = `${gone.baseUrl}/oauth2/token`;
    await gone.close();
    started.splice(started.indexOf(gone), 1);
    await fail(new UpstreamFhirServer(peer.baseUrl, clientCredentials(goneUrl), TIMEOUT_MS).read('Patient', 'x'));

    // The token is fine; the FHIR server refuses it (401), fails (500) or never answers.
    const good = track(await startTokenEndpoint({ expiresIn: 3600 }));
    const refusing = track(await startGateway(peer, () => false));
    await fail(new UpstreamFhirServer(refusing.baseUrl, clientCredentials(good.url), TIMEOUT_MS).put({ resource: patient('secret', 'Secret') }));
    const outcome = { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'exception', diagnostics: SECRET }] };
    const failing = createServer((_req, res) => res.writeHead(500, { 'content-type': 'application/fhir+json' }).end(JSON.stringify(outcome)));
    const failingUrl = await listen(failing);
    track({ close: closing(failing) });
    await fail(new UpstreamFhirServer(failingUrl, clientCredentials(good.url), TIMEOUT_MS).capabilities());
    await fail(new UpstreamFhirServer(silent.baseUrl, clientCredentials(good.url), 200).read('Patient', 'x'));

    expect(failures.map((f) => f.code)).toEqual(Array(7).fill(StoreErrorCode.UpstreamUnavailable));
    expect(failures.filter((f) => f.message.includes('token endpoint'))).toHaveLength(4);
    for (const failure of failures) {
      for (const form of secretForms) expect(failure.message).not.toContain(form);
    }
  });
});
