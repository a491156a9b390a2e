import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { RequestMethod } from '@nestjs/common';
import { HTTP_CODE_METADATA, METHOD_METADATA, PATH_METADATA, RESPONSE_PASSTHROUGH_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import { ModulesContainer } from '@nestjs/core';
import type { Composition, Encounter, Patient } from '@medplum/fhirtypes';
import { API_ERRORS } from '../../src/common/api-errors.js';
import { ROUTE_PERMISSION, type RoutePermission } from '../../src/fhir/route-permission.js';
import { ERROR_CODE_SYSTEM } from '../../src/fhir/operation-outcome.mapper.js';
import { expectStatus } from '../support/fhir-expect.js';
import { httpRequest, seedAs, type HttpResult } from '../support/http.js';
import { connectTestDatabase, closeAll, startTestServer, type TestServer } from '../support/test-app.js';

/**
 * Issue #18: the OpenAPI document (`/docs-json`) lists every error each workflow route can answer
 * (copy requests and their files, `$print`, disputes, access grants / break-the-glass / explain,
 * governance, the access report), each with the OperationOutcome schema and its codes, and the
 * success answer with its real status and media type, so the console and integrators generate
 * clients from it. Over real HTTP and PostgreSQL: the routes are walked as Nest registered them
 * (a route missing from the document, or listed with no error, fails), and refusals are
 * provoked and compared with what the document says of their route.
 */
const run = randomUUID().slice(0, 8);
const DEPT = `cw-oa-${run}`;
const DR = `Practitioner/dr-oa-${run}`;
const ID_NUMBER = '110101198801015678';
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082', 'hex');
const OUTCOME_REF = '#/components/schemas/OperationOutcome';

/**
 * Controllers that are not the workflow API, and why: the FHIR REST API and the audit trail as
 * FHIR are described by the CapabilityStatement (`/fhir/metadata`), the rest are no API at all.
 */
const NOT_WORKFLOW: Readonly<Record<string, string>> = {
  FhirController: 'the FHIR REST API (CapabilityStatement)',
  SmartConfigurationController: "SMART's discovery document",
  HealthController: 'health probes',
  ConsoleController: "the console's pages",
};
/** Routes of a workflow-hosting controller that are the FHIR API: the audit trail as AuditEvents. */
const FHIR_AUDIT_TRAIL = /^\/fhir\/AuditEvent/;

interface ErrorResponse {
  description: string;
  'x-chartwarden-codes': { code: string; issue: string }[];
  content: Record<string, { schema: { $ref?: string }; examples: Record<string, { value: { resourceType: string; issue: { code: string; details: { coding: { system: string; code: string }[] } }[] } }> }>;
}
interface Operation {
  operationId: string;
  tags: string[];
  responses: Record<string, ErrorResponse & { content?: Record<string, unknown> }>;
}
interface OpenApi {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, { properties: Record<string, { enum?: string[] }>; required: string[] }> };
}

/** A route as Nest serves it: its method, its path in OpenAPI form (`{id}`), and its handler. */
interface Route {
  controller: string;
  type: object;
  name: string;
  method: string;
  path: string;
  handler: object;
}

describe('OpenAPI: every error response of the workflow routes (issue #18, e2e)', () => {
  let server: TestServer;
  let db: pg.Client;
  let doc: OpenApi;
  let routes: Route[];
  let his: string;
  let clerk: string;
  let approver: string;
  let attending: string;
  let nurse: string;
  let officer: string;
  let medicalAffairs: string;
  let auditor: string;

  const call = <T = unknown>(token: string | undefined, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    httpRequest<T>(`${server.root}${path}`, method, { token, body, contentType: 'application/json', headers: { accept: 'application/json', ...headers } });
  const seed = <T extends Patient | Encounter | Composition>(resource: T) => seedAs(server.fhirBase, his, resource);
  const operation = (method: string, path: string): Operation => {
    const op = doc.paths[path]?.[method.toLowerCase()];
    if (!op) throw new Error(`${method} ${path} is not in the OpenAPI document`);
    return op;
  };
  /** What the trail recorded of a request: each entry's status and error code (R-20: refusals are recorded too). */
  const recorded = async (res: HttpResult<unknown>) =>
    (await db.query<{ content: string }>('SELECT content FROM audit_entry WHERE request_id = $1 ORDER BY seq', [res.headers.get('x-request-id')])).rows.map((r) => {
      const { status, error } = JSON.parse(r.content) as { status: number; error?: string };
      return { status, error };
    });

  /**
   * The answer is an OperationOutcome whose status and ChartWarden code the document lists for
   * this route, with the same issue type, in the documented media type; and the trail recorded it so.
   */
  const expectDocumented = async (res: HttpResult<unknown>, method: string, path: string, status: number, code: string) => {
    expect({ status: res.status, code: outcomeCode(res) }).toEqual({ status, code });
    const issue = (res.body as { issue: { code: string }[] }).issue[0].code;
    const documented = operation(method, path).responses[String(status)];
    expect(documented?.['x-chartwarden-codes']).toContainEqual({ code, issue });
    expect(Object.keys(documented.content)).toEqual([(res.headers.get('content-type') ?? '').split(';')[0]]);
    expect(await recorded(res)).toContainEqual({ status, error: code });
  };

  /** A patient in hospital: an encounter of the department, a draft by the doctor. */
  const inpatient = async () => {
    const patient = await seed<Patient>({ resourceType: 'Patient', name: [{ text: '王小明' }], gender: 'male' });
    const encounter = await seed<Encounter>({
      resourceType: 'Encounter',
      status: 'in-progress',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
      subject: { reference: `Patient/${patient.id}` },
      serviceProvider: { reference: `Organization/${DEPT}` },
      participant: [{ individual: { reference: DR } }],
    });
    const draft = await seed<Composition>({
      resourceType: 'Composition',
      status: 'preliminary',
      type: { coding: [{ system: 'http://loinc.org', code: '11506-3' }] },
      subject: { reference: `Patient/${patient.id}` },
      encounter: { reference: `Encounter/${encounter.id}` },
      date: new Date().toISOString(),
      author: [{ reference: DR }],
      title: '日常病程记录',
    });
    return { patient: patient.id, encounter: encounter.id, draft: draft.id };
  };
  const copyRequest = async (patient: string) => {
    const res = await call<{ id: string }>(clerk, 'POST', '/copy-requests', {
      patient: `Patient/${patient}`,
      requesterType: 'patient',
      requester: { name: '王小明', idNumber: ID_NUMBER },
      purpose: '医保报销',
      scope: { all: true },
    });
    expectStatus(res, 201);
    return res.body.id;
  };

  beforeAll(async () => {
    server = await startTestServer();
    db = await connectTestDatabase();
    const res = await httpRequest<OpenApi>(`${server.root}/docs-json`, 'GET', { headers: { accept: 'application/json' } });
    expectStatus(res, 200);
    doc = res.body;
    routes = workflowRoutes(server);
    his = await server.token();
    clerk = await server.token({ sub: `rr-oa-${run}`, roles: ['record-room'] });
    approver = await server.token({ sub: `rr-oa-approver-${run}`, roles: ['record-room'] });
    attending = await server.token({ sub: `dr-oa-${run}`, roles: ['attending'], department: DEPT, licence: 'licensed', fhirUser: DR });
    nurse = await server.token({ sub: `nurse-oa-${run}`, roles: ['nurse'], department: DEPT });
    officer = await server.token({ sub: `officer-oa-${run}`, roles: ['disputes-officer'], fhirUser: `Practitioner/officer-oa-${run}` });
    medicalAffairs = await server.token({ sub: `ma-oa-${run}`, roles: ['medical-affairs'] });
    auditor = await server.token({ sub: `auditor-oa-${run}`, roles: ['auditor'] });
    expectStatus(await httpRequest(`${server.fhirBase}/Organization/${DEPT}`, 'PUT', { token: his, body: { resourceType: 'Organization', id: DEPT, name: DEPT } }), 201);
  });
  afterAll(() => closeAll(db, server));

  it('the walk sees the workflow routes (the routes of every workflow controller, and none of the FHIR API)', () => {
    const seen = routes.map((r) => `${r.method} ${r.path}`);
    expect(seen).toEqual(
      expect.arrayContaining([
        'POST /copy-requests/{id}/approve',
        'GET /copy-requests/{id}/copies/{file}',
        'GET /fhir/{type}/{id}/$print',
        'POST /disputes/{id}/seal',
        'GET /disputes/{id}/inventory',
        'POST /access/grants',
        'GET /access/explain',
        'POST /fhir/{type}/{id}/$sign',
        'GET /governance/overdue',
        'GET /audit/access-report',
      ]),
    );
    expect(seen.filter((r) => r.includes('AuditEvent') || r.startsWith('GET /fhir/{type}/{id} ') || r.includes('/health'))).toEqual([]);
    expect(routes.length).toBeGreaterThanOrEqual(40);
  });

  it('the OperationOutcome schema is registered once, and the FHIR REST API stays out of the document', () => {
    const schema = doc.components.schemas.OperationOutcome;
    expect(schema.required).toEqual(['resourceType', 'issue']);
    expect(schema.properties.resourceType.enum).toEqual(['OperationOutcome']);
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/fhir') && !/\/\$[a-z-]+$/.test(p))).toEqual([]);
  });

  it('every workflow route is documented with its real success status and every error it can answer, each an OperationOutcome', () => {
    const problems: string[] = [];
    for (const route of routes) {
      const where = `${route.method} ${route.path} (${route.controller}.${route.name})`;
      const op = doc.paths[route.path]?.[route.method.toLowerCase()];
      if (!op) {
        problems.push(`${where}: not in the OpenAPI document`);
        continue;
      }
      if (!Reflect.getMetadata(API_ERRORS, route.handler)) problems.push(`${where}: declares no @ApiErrors`);
      const statuses = Object.keys(op.responses).map(Number);
      const errors = statuses.filter((s) => s >= 400);
      if (errors.length === 0) {
        problems.push(`${where}: lists no error response`);
        continue;
      }
      // The success: one 2xx; Nest's own status for a route that lets Nest answer, 201 only for a POST that creates.
      const success = statuses.filter((s) => s >= 200 && s < 300);
      if (success.length !== 1) problems.push(`${where}: lists ${success.length} success responses`);
      if (!sendsItself(route) && success[0] !== nestStatus(route)) problems.push(`${where}: documents ${success[0]}, Nest answers ${nestStatus(route)}`);
      if (route.method !== 'POST' && success[0] === 201) problems.push(`${where}: a ${route.method} answering 201`);
      // What every route answers before its handler, and a body's refusals.
      for (const s of [401, 400, 431, 503]) if (!errors.includes(s)) problems.push(`${where}: does not list ${s}`);
      if (route.method === 'POST') for (const s of [413, 415]) if (!errors.includes(s)) problems.push(`${where}: a POST that does not list ${s}`);
      if (route.path.startsWith('/fhir/') && !errors.includes(406)) problems.push(`${where}: under /fhir but does not list 406`);
      // A route the policy's workflow rule decides lists that refusal, with its own code.
      const permission = Reflect.getMetadata(ROUTE_PERMISSION, route.handler) as RoutePermission | undefined;
      if (permission?.kind === 'workflow') {
        const refusal = permission.refuse('');
        const listed = op.responses['403']?.['x-chartwarden-codes'] ?? [];
        if (!listed.some((c) => c.code === refusal.code)) problems.push(`${where}: its permission refuses with ${refusal.code}, not listed under 403`);
      }
      for (const status of errors) problems.push(...errorResponseProblems(`${where} ${status}`, op.responses[String(status)]));
    }
    expect(problems).toEqual([]);
  });

  it('files and reports list their media types: PDF for copies and prints, CSV for the access report', () => {
    const media = (method: string, path: string, status = '200') => Object.keys(operation(method, path).responses[status].content ?? {}).sort();
    expect(media('GET', '/fhir/{type}/{id}/$print')).toEqual(['application/pdf']);
    expect(media('GET', '/copy-requests/{id}/copies/{file}')).toEqual(['application/fhir+json', 'application/pdf']);
    expect(media('GET', '/audit/access-report')).toEqual(['application/fhir+json', 'text/csv']);
    expect(media('POST', '/copy-requests', '201')).toEqual(['application/json']);
    expect(media('POST', '/fhir/{type}/{id}/$sign')).toEqual(['application/fhir+json']);
  });

  it('R-30, R-34: copy-request refusals provoked over HTTP are answered as the document lists them for their route', async () => {
    const r = await inpatient();
    const id = await copyRequest(r.patient);
    // No such request (the bullet's example): 404 copy.not-found.
    await expectDocumented(await call(approver, 'POST', `/copy-requests/${randomUUID()}/approve`, {}), 'POST', '/copy-requests/{id}/approve', 404, 'copy.not-found');
    // Not the record room: the permission's own 403.
    await expectDocumented(await call(nurse, 'POST', `/copy-requests/${id}/approve`, {}), 'POST', '/copy-requests/{id}/approve', 403, 'copy.forbidden');
    // Evidence in a media type the body parser does not take (415 before the handler), or bytes that are no PNG (415 of the use case).
    await expectDocumented(await call(clerk, 'POST', `/copy-requests/${id}/evidence?proves=id-card`, 'plain text', { 'content-type': 'text/plain' }), 'POST', '/copy-requests/{id}/evidence', 415, 'fhir.unsupported-media-type');
    await expectDocumented(await upload(id, Buffer.from('not a png at all')), 'POST', '/copy-requests/{id}/evidence', 415, 'copy.evidence-type');
    // Nothing presented yet: 422 listing what is missing.
    await expectDocumented(await call(clerk, 'POST', `/copy-requests/${id}/verify`, { identityChecked: true }), 'POST', '/copy-requests/{id}/verify', 422, 'copy.evidence-missing');
    // The clerk who verified may not approve (R-34, separation of duties); the request stays verified.
    expectStatus(await upload(id, PNG), 201);
    expectStatus(await call(clerk, 'POST', `/copy-requests/${id}/verify`, { identityChecked: true }), 200);
    await expectDocumented(await call(clerk, 'POST', `/copy-requests/${id}/approve`, {}), 'POST', '/copy-requests/{id}/approve', 403, 'copy.separation-of-duties');
    expect((await call<{ status: string }>(clerk, 'GET', `/copy-requests/${id}`)).body.status).toBe('verified');
    // A delivery that names nobody; a JSON body that is not JSON.
    await expectDocumented(await call(clerk, 'POST', `/copy-requests/${id}/deliver`, {}), 'POST', '/copy-requests/{id}/deliver', 400, 'copy.invalid');
    await expectDocumented(await call(clerk, 'POST', `/copy-requests/${id}/close`, '{"reason":'), 'POST', '/copy-requests/{id}/close', 400, 'fhir.malformed-body');
    // Approving twice: the second finds it approved (409).
    expectStatus(await call(approver, 'POST', `/copy-requests/${id}/approve`, {}), 200);
    await expectDocumented(await call(approver, 'POST', `/copy-requests/${id}/approve`, {}), 'POST', '/copy-requests/{id}/approve', 409, 'copy.wrong-state');
    await expectDocumented(await call(clerk, 'GET', `/copy-requests/${id}/copies/1.pdf`), 'GET', '/copy-requests/{id}/copies/{file}', 404, 'copy.not-found');
  });

  it('R-01, R-20, R-40…R-43: disputes, print, grants, the access report and explain refuse as documented', async () => {
    const r = await inpatient();
    await expectDocumented(await call(undefined, 'GET', '/disputes'), 'GET', '/disputes', 401, 'identity.missing-token');
    await expectDocumented(await call(clerk, 'GET', '/disputes'), 'GET', '/disputes', 403, 'disputes.forbidden');
    await expectDocumented(await call(officer, 'GET', `/disputes/${randomUUID()}`), 'GET', '/disputes/{id}', 404, 'disputes.not-found');
    await expectDocumented(await call(officer, 'POST', '/disputes', { patient: `Patient/${r.patient}` }), 'POST', '/disputes', 400, 'disputes.invalid');
    await expectDocumented(await call(officer, 'POST', '/disputes', { patient: `Patient/nobody-${run}`, reason: '医疗纠纷' }), 'POST', '/disputes', 404, 'store.not-found');
    // $print: the record must exist and be the clinician's to print; only PDF or JSON is produced.
    await expectDocumented(await call(attending, 'GET', `/fhir/Composition/nothing-${run}/$print`), 'GET', '/fhir/{type}/{id}/$print', 404, 'store.not-found');
    await expectDocumented(await call(nurse, 'GET', `/fhir/Composition/${r.draft}/$print`), 'GET', '/fhir/{type}/{id}/$print', 403, 'access.forbidden');
    await expectDocumented(await call(attending, 'GET', `/fhir/Composition/${r.draft}/$print`, undefined, { accept: 'text/html' }), 'GET', '/fhir/{type}/{id}/$print', 406, 'fhir.not-acceptable');
    await expectDocumented(
      await call(attending, 'GET', `/fhir/Composition/${r.draft}/$print`, undefined, { category: 'http://terminology.hl7.org/CodeSystem/v3-ActReason#BTG' }),
      'GET',
      '/fhir/{type}/{id}/$print',
      400,
      'fhir.break-glass-reason-missing',
    );
    await expectDocumented(await call(medicalAffairs, 'POST', `/access/grants/${randomUUID()}/approve`, {}), 'POST', '/access/grants/{id}/approve', 404, 'grant.not-found');
    await expectDocumented(await call(nurse, 'GET', '/access/break-glass'), 'GET', '/access/break-glass', 403, 'grant.forbidden');
    await expectDocumented(await call(auditor, 'GET', '/audit/access-report'), 'GET', '/audit/access-report', 400, 'fhir.invalid-request');
    await expectDocumented(await call(nurse, 'GET', `/audit/access-report?patient=Patient/${r.patient}`), 'GET', '/audit/access-report', 403, 'access.forbidden');
    await expectDocumented(
      await call(nurse, 'GET', `/access/explain?actor=x&roles=nurse&action=read&resource=Patient/${r.patient}`),
      'GET',
      '/access/explain',
      403,
      'access.forbidden',
    );
  });

  it('R-11, R-13, R-15, R-41: governance refusals, a sealed record\'s 423 among them, are answered as documented; nothing is written', async () => {
    const r = await inpatient();
    await expectDocumented(await call(attending, 'POST', `/fhir/Patient/${r.patient}/$sign`), 'POST', '/fhir/{type}/{id}/$sign', 400, 'governance.not-governed');
    await expectDocumented(await call(medicalAffairs, 'POST', `/governance/amendments/${randomUUID()}/approve`, {}), 'POST', '/governance/amendments/{id}/approve', 404, 'governance.amendment-not-found');
    await expectDocumented(await call(attending, 'GET', `/fhir/Composition/${r.draft}/$changes?from=1`), 'GET', '/fhir/{type}/{id}/$changes', 400, 'fhir.invalid-request');
    // A public-opinion incident seals the record at once, the doctor on its case team: archiving the finished visit writes a sealed record.
    const visit = await seed<Encounter>({
      resourceType: 'Encounter',
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
      subject: { reference: `Patient/${r.patient}` },
      serviceProvider: { reference: `Organization/${DEPT}` },
      participant: [{ individual: { reference: DR } }],
    });
    const opened = await call<{ status: string }>(officer, 'POST', '/disputes', { patient: `Patient/${r.patient}`, trigger: 'public-incident', reason: '舆情事件', team: [DR] });
    expectStatus(opened, 201);
    expect(opened.body.status).toBe('sealed');
    await expectDocumented(await call(attending, 'POST', `/fhir/Encounter/${visit.id}/$archive`), 'POST', '/fhir/{type}/{id}/$archive', 423, 'disputes.sealed');
    // Read by its team's doctor: a public incident's records are withheld from everyone else.
    const stored = await httpRequest<Encounter>(`${server.fhirBase}/Encounter/${visit.id}`, 'GET', { token: attending });
    expect({ version: stored.body.meta?.versionId, tags: stored.body.meta?.tag ?? [] }).toEqual({ version: '1', tags: [] });
  });

  it('success answers come with the documented status and media type', async () => {
    const r = await inpatient();
    const created = await call(clerk, 'POST', '/copy-requests', { patient: `Patient/${r.patient}`, requesterType: 'patient', requester: { name: '王小明', idNumber: ID_NUMBER }, purpose: '复印', scope: { all: true } });
    expectStatus(created, 201);
    expect(created.headers.get('content-type')).toMatch(/^application\/json/);
    expect(operation('POST', '/copy-requests').responses['201']).toBeDefined();
    const printed = await fetch(`${server.fhirBase}/Composition/${r.draft}/$print`, { headers: { authorization: `Bearer ${attending}` } });
    expect({ status: printed.status, type: printed.headers.get('content-type') }).toEqual({ status: 200, type: 'application/pdf' });
    expect((await printed.arrayBuffer()).byteLength).toBeGreaterThan(0);
    const csv = await call(auditor, 'GET', `/audit/access-report?patient=Patient/${r.patient}`, undefined, { accept: 'text/csv' });
    expect({ status: csv.status, type: csv.headers.get('content-type') }).toEqual({ status: 200, type: 'text/csv; charset=utf-8' });
    const amendment = await call(attending, 'POST', `/fhir/Composition/${r.draft}/$amend-request`, { reason: '补充' });
    expect(amendment.status).toBe(201);
    expect(Object.keys(operation('POST', '/fhir/{type}/{id}/$amend-request').responses).filter((s) => s.startsWith('2'))).toEqual(['201']);
  });

  async function upload(id: string, bytes: Buffer): Promise<HttpResult<unknown>> {
    const res = await fetch(`${server.root}/copy-requests/${id}/evidence?proves=id-card`, { method: 'POST', headers: { authorization: `Bearer ${clerk}`, 'content-type': 'image/png' }, body: bytes });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: JSON.parse(text) as unknown, text };
  }

  it('the page at /docs is Swagger UI over the same document (a server on Express; the Fastify server\'s page: scripts/smoke.sh)', async () => {
    // Jest on Node 20 cannot load @fastify/static (its content-disposition is ES modules only): the suites' Fastify servers serve the documents alone.
    const express = await startTestServer({ platform: 'express' });
    try {
      const page = await fetch(`${express.root}/docs`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await page.text()).toContain('swagger-ui');
      const styles = await fetch(`${express.root}/docs/swagger-ui.css`);
      expect(styles.status).toBe(200);
      const same = await httpRequest<OpenApi>(`${express.root}/docs-json`, 'GET', { headers: { accept: 'application/json' } });
      expect(Object.keys(same.body.paths).sort()).toEqual(Object.keys(doc.paths).sort());
    } finally {
      await express.close();
    }
  });
});

/** The ChartWarden code of an OperationOutcome answer. */
function outcomeCode(res: HttpResult<unknown>): string | undefined {
  const coding = (res.body as { issue?: { details?: { coding?: { system: string; code: string }[] } }[] } | undefined)?.issue?.[0]?.details?.coding ?? [];
  return coding.find((c) => c.system === ERROR_CODE_SYSTEM)?.code;
}

/** What is wrong with one documented error response: not the OperationOutcome schema, no codes, examples that disagree with the codes. */
function errorResponseProblems(where: string, response: ErrorResponse | undefined): string[] {
  if (!response) return [`${where}: missing`];
  const codes = response['x-chartwarden-codes'] ?? [];
  const media = Object.entries(response.content ?? {});
  if (codes.length === 0) return [`${where}: lists no ChartWarden code`];
  if (media.length !== 1 || media[0][0] !== 'application/fhir+json') return [`${where}: not answered as application/fhir+json`];
  const [, { schema, examples }] = media[0];
  const problems = schema.$ref === OUTCOME_REF ? [] : [`${where}: schema is not ${OUTCOME_REF}`];
  for (const { code, issue } of codes) {
    const example = examples[code]?.value.issue[0];
    if (example?.code !== issue || example.details.coding[0].code !== code) problems.push(`${where}: the example of ${code} does not say ${issue} / ${code}`);
  }
  return problems;
}

/** The routes of the workflow API, as Nest registered them (not what the document says). */
function workflowRoutes(server: TestServer): Route[] {
  const routes: Route[] = [];
  for (const module of server.app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const type = wrapper.metatype as { name: string; prototype: Record<string, unknown> } | null;
      if (!type?.prototype || NOT_WORKFLOW[type.name]) continue;
      const prefix = Reflect.getMetadata(PATH_METADATA, type) as string | undefined;
      for (const name of Object.getOwnPropertyNames(type.prototype)) {
        const handler = type.prototype[name] as object;
        if (name === 'constructor' || typeof handler !== 'function' || !Reflect.hasMetadata(METHOD_METADATA, handler)) continue;
        const path = `/${[prefix, Reflect.getMetadata(PATH_METADATA, handler) as string].map((p) => (p ?? '').replace(/^\/+|\/+$/g, '')).filter(Boolean).join('/')}`.replace(/:([A-Za-z]+)/g, '{$1}');
        if (FHIR_AUDIT_TRAIL.test(path)) continue;
        routes.push({ controller: type.name, type, name, method: RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod], path, handler });
      }
    }
  }
  return routes;
}

/** A handler that writes its own answer (`@Res()` without passthrough): its status is its use case's, checked by provoking it. */
function sendsItself(route: Route): boolean {
  const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, route.type, route.name) ?? {}) as Record<string, unknown>;
  const takesResponse = Object.keys(args).some((key) => key.split(':')[0] === String(RouteParamtypes.RESPONSE));
  return takesResponse && !Reflect.getMetadata(RESPONSE_PASSTHROUGH_METADATA, route.type, route.name);
}

/** The status Nest answers a handler's success with: its `@HttpCode`, else 201 for POST and 200 otherwise. */
function nestStatus(route: Route): number {
  return (Reflect.getMetadata(HTTP_CODE_METADATA, route.handler) as number | undefined) ?? (route.method === 'POST' ? 201 : 200);
}
