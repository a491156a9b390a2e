import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Body, Controller, Get, Headers, Module, NotFoundException, Param, Post, UnauthorizedException, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Bundle, OperationOutcome, Patient } from '@medplum/fhirtypes';
import { ChartWarden, ChartWardenModule, StoreError, StoreErrorCode, TokenVerifier, type Actor } from '../../src/index.js';
import { issueDevToken } from '../../src/dev.js';
import { testDatabaseUrl } from '../support/test-app.js';

/**
 * A hospital system embedding ChartWarden: its own Nest module and routes, with
 * `ChartWardenModule.forRootAsync()` imported beside them, using only the public API
 * (`src/index.ts`). Both the host's routes and ChartWarden's `/fhir` routes must work in
 * the one application, and each keeps its own body parsing, guards and error shapes.
 */

const system = `urn:chartwarden-embed:${randomUUID()}`;

/** The host's own service identity: its screens read as a HIS integration client, and the trail names it. */
const HOST_ACTOR: Actor = { id: 'his-host-screen', practitioner: 'Practitioner/his-host-screen', roles: ['his-system'], scopes: [] };

/** The host's own routes, built on what ChartWarden exports. */
@Controller('host')
class HostController {
  constructor(
    private readonly chartwarden: ChartWarden,
    private readonly tokens: TokenVerifier,
  ) {}

  /** A host screen: the patient's current name and how many versions the record has (through the policy and the trail, as HTTP). */
  @Get('patients/:id')
  async patient(@Param('id') id: string): Promise<{ id: string; family?: string; versions: number }> {
    const client = this.chartwarden.as(HOST_ACTOR);
    try {
      const current: Patient = await client.read('Patient', id);
      const history = await client.history('Patient', id);
      return { id: current.id as string, family: current.name?.[0]?.family, versions: history.total as number };
    } catch (e) {
      if (e instanceof StoreError && e.code === StoreErrorCode.NotFound) throw new NotFoundException(`no patient ${id}`);
      throw e;
    }
  }

  /** The host verifies ChartWarden tokens for its own routes with the exported verifier. */
  @Get('whoami')
  async whoami(@Headers('authorization') authorization?: string): Promise<{ id: string; roles: readonly string[] }> {
    const actor = await this.tokens.verifyAuthorization(authorization).catch(() => {
      throw new UnauthorizedException();
    });
    return { id: actor.id, roles: actor.roles };
  }

  /** A host route with an ordinary JSON body, parsed by the host's own body parser. */
  @Post('notes')
  note(@Body() body: { text?: string }): { received?: string } {
    return { received: body?.text };
  }
}

function hostModule(settings: { databaseUrl: string; dataDir: string }) {
  @Module({
    imports: [ChartWardenModule.forRootAsync({ useFactory: async () => ({ ...settings, databasePoolSize: 3 }) })],
    controllers: [HostController],
  })
  class HostModule {}
  return HostModule;
}

describe('ChartWarden embedded in a host Nest application (e2e)', () => {
  let app: INestApplication;
  let base: string;
  let dataDir: string;
  let token: string;

  const call = async <T>(method: string, path: string, init: { body?: unknown; contentType?: string; token?: string } = {}) => {
    const headers: Record<string, string> = {};
    if (init.token) headers.authorization = `Bearer ${init.token}`;
    if (init.body !== undefined) headers['content-type'] = init.contentType ?? 'application/json';
    const res = await fetch(`${base}${path}`, { method, headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
    return { status: res.status, headers: res.headers, body: (await res.json()) as T };
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'chartwarden-embed-'));
    // The host keeps Nest's default body parser (application/json): ChartWarden must coexist with it.
    app = await NestFactory.create(hostModule({ databaseUrl: testDatabaseUrl(), dataDir }), { logger: ['error'] });
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    token = await issueDevToken(dataDir, { sub: 'his-integration', roles: ['his-system'], ttl: '1h' });
  });
  afterAll(async () => {
    await app?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('R-12: a patient created and updated through /fhir is read through the host route via the injected ChartWarden client', async () => {
    const value = `embed-${randomUUID()}`;
    const created = await call<Patient>('POST', '/fhir/Patient', {
      token,
      contentType: 'application/fhir+json',
      body: { resourceType: 'Patient', identifier: [{ system, value }], name: [{ family: 'Li' }] },
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(`${base}/fhir/Patient/${created.body.id}/_history/1`);
    const id = created.body.id as string;

    const updated = await call<Patient>('PUT', `/fhir/Patient/${id}`, {
      token,
      contentType: 'application/fhir+json',
      body: { ...created.body, name: [{ family: 'Liu' }] },
    });
    expect(updated.status).toBe(200);
    expect(updated.headers.get('etag')).toBe('W/"2"');

    const host = await call<{ id: string; family?: string; versions: number }>('GET', `/host/patients/${id}`);
    expect(host.status).toBe(200);
    expect(host.body).toEqual({ id, family: 'Liu', versions: 2 });

    const search = await call<Bundle>('GET', `/fhir/Patient?identifier=${encodeURIComponent(`${system}|${value}`)}`, { token });
    expect(search.status).toBe(200);
    expect(search.body.total).toBe(1);
  });

  it('a FHIR create sent as application/json, already parsed by the host body parser, is stored once', async () => {
    const value = `embed-json-${randomUUID()}`;
    const created = await call<Patient>('POST', '/fhir/Patient', {
      token,
      contentType: 'application/json',
      body: { resourceType: 'Patient', identifier: [{ system, value }] },
    });
    expect(created.status).toBe(201);
    expect(created.body.identifier?.[0].value).toBe(value);
    const host = await call<{ versions: number }>('GET', `/host/patients/${created.body.id}`);
    expect(host.body.versions).toBe(1);
    const search = await call<Bundle>('GET', `/fhir/Patient?identifier=${encodeURIComponent(`${system}|${value}`)}`, { token });
    expect(search.body.total).toBe(1);
  });

  it("the host's own routes keep the host's body parser, guards and error shape; ChartWarden's filter stays on /fhir", async () => {
    const note = await call<{ received?: string }>('POST', '/host/notes', { body: { text: '查房记录' } });
    expect(note.status).toBe(201);
    expect(note.body).toEqual({ received: '查房记录' });

    const missing = await call<{ statusCode: number; resourceType?: string }>('GET', `/host/patients/${randomUUID()}`);
    expect(missing.status).toBe(404);
    expect(missing.body.statusCode).toBe(404);
    expect(missing.body.resourceType).toBeUndefined();

    const fhirMissing = await call<OperationOutcome>('GET', `/fhir/Patient/${randomUUID()}`, { token });
    expect(fhirMissing.status).toBe(404);
    expect(fhirMissing.body.resourceType).toBe('OperationOutcome');
  });

  it('R-01: /fhir still refuses an anonymous caller inside the host app, while the host verifies the same tokens itself', async () => {
    const value = `embed-anon-${randomUUID()}`;
    const anonymous = await call<OperationOutcome>('POST', '/fhir/Patient', {
      contentType: 'application/fhir+json',
      body: { resourceType: 'Patient', identifier: [{ system, value }] },
    });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.issue?.[0].code).toBe('login');
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer /);
    const search = await call<Bundle>('GET', `/fhir/Patient?identifier=${encodeURIComponent(`${system}|${value}`)}`, { token });
    expect(search.body.total).toBe(0);

    const who = await call<{ id: string; roles: string[] }>('GET', '/host/whoami', { token });
    expect(who.status).toBe(200);
    expect(who.body).toEqual({ id: 'his-integration', roles: ['his-system'] });
    expect((await call('GET', '/host/whoami')).status).toBe(401);
  });

  it('GET /fhir/metadata answers inside the host app with its base URL', async () => {
    const cs = await call<{ resourceType: string; implementation?: { url?: string } }>('GET', '/fhir/metadata');
    expect(cs.status).toBe(200);
    expect(cs.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
    expect(cs.body.resourceType).toBe('CapabilityStatement');
    expect(cs.body.implementation?.url).toBe(`${base}/fhir`);
  });
});
