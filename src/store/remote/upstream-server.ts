import type { Bundle, BundleEntry, CapabilityStatement, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { FHIR_ID } from '../../common/fhir-reference.js';
import { Client, type FhirResource } from 'fhir-kit-client';
import { resourceText, type NumberLexemes } from '../../common/fhir-json-text.js';
import { StoreError, StoreErrorCode } from '../store.errors.js';
import { UpstreamCredentials, type UpstreamAuth } from './upstream-auth.js';

/** A version the upstream server assigned: its own (opaque) version id and time. */
export interface UpstreamVersion {
  versionId: string;
  lastUpdated?: string;
}

/** One write sent upstream: the resource as ChartWarden stored it, and the upstream version it replaces. */
export interface UpstreamWrite {
  resource: Resource & { id: string };
  /** The upstream version id the write expects to replace (`If-Match`); absent for a new record. */
  ifMatch?: string;
  /** The sender's number lexemes (decision 0014), so the upstream receives `1.50` as sent. */
  numbers?: NumberLexemes;
}

/** What the upstream says it can do (its CapabilityStatement). */
export interface UpstreamCapabilities {
  transactions: boolean;
  /** Client-assigned ids on PUT (ChartWarden chooses every id, decision 0017). */
  updateCreate: boolean;
  systemHistory: boolean;
  software?: string;
}

/** One entry of the upstream's system history. */
export interface UpstreamChange {
  type: string;
  id: string;
  versionId?: string;
  lastUpdated?: string;
  method: string;
  /** Absent for a delete. */
  resource?: Resource;
}

/** A resource type's name; with a FHIR id (`FHIR_ID`), all that is ever put in an upstream URL (no `../`, no query). */
const TYPE_NAME = /^[A-Z][A-Za-z]{1,63}$/;

/** `Type/id` for an upstream URL; anything else is refused before it is sent. */
function recordPath(type: string, id: string): string {
  if (!TYPE_NAME.test(type) || !FHIR_ID.test(id) || id === '.' || id === '..') {
    throw new StoreError(StoreErrorCode.InvalidResource, `"${type}/${id}" is not a FHIR resource type and id`);
  }
  return `${type}/${id}`;
}

/** Longest query string sent as GET; a longer `_id` list goes as POST `_search`. */
const MAX_GET_QUERY = 1500;

/**
 * The upstream FHIR server, over `fhir-kit-client`: the few interactions the remote store needs,
 * with the upstream's failures turned into `StoreError`s a client of ChartWarden can act on.
 * ChartWarden's own metadata (`meta.versionId`, `meta.lastUpdated`) is never sent: the upstream
 * assigns its own (decision 0017).
 */
export class UpstreamFhirServer {
  private readonly client: Client;
  private readonly credentials: UpstreamCredentials;

  constructor(
    readonly baseUrl: string,
    auth: UpstreamAuth,
    private readonly timeoutMs: number,
  ) {
    this.credentials = new UpstreamCredentials(auth, timeoutMs);
    this.client = new Client({
      baseUrl,
      customHeaders: { accept: 'application/fhir+json' },
      requestSigner: async (_url: string, init: RequestInit) => {
        const header = await this.credentials.header();
        // fhir-kit-client hands a `Headers` object (a spread of it copies nothing): set the one header on it, keeping If-Match and the media types.
        if (header) {
          const headers = new Headers(init.headers);
          headers.set('authorization', header);
          init.headers = headers;
        }
      },
    });
  }

  /** The upstream's CapabilityStatement, read as what ChartWarden relies on. */
  async capabilities(): Promise<UpstreamCapabilities> {
    const statement = (await this.call('GET metadata', () => this.client.request('metadata', { options: this.options() }), 'caller').catch((e: unknown) => {
      throw e instanceof UpstreamStatus ? new StoreError(StoreErrorCode.UpstreamNotSupported, `${this.baseUrl}/metadata answered HTTP ${e.status}: no CapabilityStatement`) : e;
    })) as Resource;
    if (statement?.resourceType !== 'CapabilityStatement') {
      throw new StoreError(StoreErrorCode.UpstreamNotSupported, `${this.baseUrl}/metadata is not a CapabilityStatement (it answered a ${statement?.resourceType ?? 'non-FHIR body'})`);
    }
    const rest = ((statement as CapabilityStatement).rest ?? []).filter((r) => r.mode === 'server');
    const system = new Set(rest.flatMap((r) => (r.interaction ?? []).map((i) => i.code)));
    const resources = rest.flatMap((r) => r.resource ?? []);
    return {
      transactions: system.has('transaction'),
      updateCreate: resources.length > 0 && resources.every((r) => r.updateCreate === true),
      systemHistory: system.has('history-system'),
      software: (statement as CapabilityStatement).software?.name,
    };
  }

  /** The current version, or undefined when the upstream has none (404, 410: deleted). */
  async read(type: string, id: string): Promise<Resource | undefined> {
    const path = recordPath(type, id);
    let answer: Resource;
    try {
      answer = (await this.call(`GET ${path}`, () => this.client.request(path, { options: this.options() }), 'caller')) as Resource;
    } catch (e) {
      if (e instanceof UpstreamStatus && (e.status === 404 || e.status === 410)) return undefined;
      throw e;
    }
    // Never adopted under another name: what comes back must be the record asked for.
    if (answer?.resourceType !== type || answer.id !== id) {
      throw new StoreError(StoreErrorCode.UpstreamRefused, `the upstream FHIR server answered GET ${type}/${id} with ${answer?.resourceType ?? 'no resource'}/${answer?.id ?? ''}`);
    }
    return answer;
  }

  /** The current versions of these records of one type, in one search (`_id`); missing ones are left out. */
  async readMany(type: string, asked: readonly string[]): Promise<Resource[]> {
    if (!TYPE_NAME.test(type)) throw new StoreError(StoreErrorCode.InvalidResource, `"${type}" is not a FHIR resource type`);
    // An id that is not a FHIR id names nothing upstream (and a comma in one would split the list).
    const ids = asked.filter((id) => FHIR_ID.test(id));
    if (ids.length === 0) return [];
    const query = new URLSearchParams({ _id: ids.join(','), _count: String(ids.length) });
    const long = query.toString().length > MAX_GET_QUERY;
    const bundle = (await this.call(`search ${type}?_id`, () =>
      long
        ? this.client.request(`${type}/_search`, { method: 'POST', body: query.toString(), options: this.options({ 'content-type': 'application/x-www-form-urlencoded' }) })
        : this.client.request(`${type}?${query}`, { options: this.options() }),
    )) as unknown as Bundle;
    const wanted = new Set(ids);
    return (bundle.entry ?? []).map((e) => e.resource).filter((r): r is Resource => r?.resourceType === type && wanted.has(r.id as string));
  }

  /** One write: `PUT Type/id` (a new record is created with ChartWarden's id), `If-Match` when it replaces a version. */
  async put(write: UpstreamWrite): Promise<UpstreamVersion> {
    const { resource } = write;
    const path = recordPath(resource.resourceType, resource.id);
    const headers = { 'content-type': 'application/fhir+json', ...(write.ifMatch ? { 'if-match': `W/"${write.ifMatch}"` } : {}) };
    const answer = await this.call(`PUT ${path}`, () => this.client.request(path, { method: 'PUT', body: upstreamText(write), options: this.options(headers) }));
    const etag = Client.httpFor(answer).response?.headers.get('etag') ?? undefined;
    const meta = (answer as Resource).meta;
    const versionId = meta?.versionId ?? versionOfEtag(etag);
    if (!versionId) throw new StoreError(StoreErrorCode.UpstreamRefused, `the upstream answered PUT ${resource.resourceType}/${resource.id} without a version id (no meta.versionId, no ETag)`);
    return { versionId, lastUpdated: meta?.lastUpdated };
  }

  /** Several writes as one upstream transaction: all or none (the caller checked that the upstream supports them). */
  async transaction(writes: readonly UpstreamWrite[]): Promise<UpstreamVersion[]> {
    const body = `{"resourceType":"Bundle","type":"transaction","entry":[${writes
      .map((w) => {
        const url = recordPath(w.resource.resourceType, w.resource.id);
        const request = JSON.stringify({ method: 'PUT', url, ...(w.ifMatch ? { ifMatch: `W/"${w.ifMatch}"` } : {}) });
        return `{"fullUrl":${JSON.stringify(`${this.baseUrl}/${url}`)},"resource":${upstreamText(w)},"request":${request}}`;
      })
      .join(',')}]}`;
    const answer = (await this.call(`transaction of ${writes.length}`, () =>
      this.client.request('', { method: 'POST', body, options: this.options({ 'content-type': 'application/fhir+json' }) }),
    )) as unknown as Bundle;
    const entries = answer.entry ?? [];
    if (entries.length !== writes.length) {
      throw new StoreError(StoreErrorCode.UpstreamRefused, `the upstream answered a transaction of ${writes.length} with ${entries.length} entries`);
    }
    return entries.map((e, n) => {
      const versionId = e.resource?.meta?.versionId ?? versionOfEtag(e.response?.etag);
      if (!versionId) throw new StoreError(StoreErrorCode.UpstreamRefused, `the upstream's transaction response gave no version for ${writes[n].resource.resourceType}/${writes[n].resource.id}`);
      return { versionId, lastUpdated: e.resource?.meta?.lastUpdated ?? e.response?.lastModified };
    });
  }

  /**
   * The system history since `since` (inclusive), following the upstream's `next` links, at
   * most `limit` versions; newest first as FHIR serves it.
   */
  async history(since: string | undefined, pageSize: number, limit: number): Promise<{ changes: UpstreamChange[]; complete: boolean }> {
    const changes: UpstreamChange[] = [];
    let url: string | undefined = `_history?${new URLSearchParams({ _count: String(pageSize), ...(since ? { _since: since } : {}) })}`;
    while (url && changes.length < limit) {
      const path = url;
      const page = (await this.call('GET _history', () => this.client.request(path, { options: this.options() }), 'caller').catch((e: unknown) => {
        throw e instanceof UpstreamStatus ? new StoreError(StoreErrorCode.UpstreamNotSupported, `${this.baseUrl}/_history answered HTTP ${e.status}: the upstream keeps no system history`) : e;
      })) as unknown as Bundle;
      changes.push(...(page.entry ?? []).map(changeOf).filter((c): c is UpstreamChange => c !== undefined));
      url = page.link?.find((l) => l.relation === 'next')?.url;
    }
    return { changes, complete: url === undefined };
  }

  private options(headers: Record<string, string> = {}): { headers: Record<string, string>; signal: AbortSignal } {
    return { headers, signal: AbortSignal.timeout(this.timeoutMs) };
  }

  /**
   * Runs one upstream call; its failures become `StoreError`s. `absent`: a 404 or 410 is the
   * caller's to answer (`UpstreamStatus`, a read); for any other call the record is gone under a
   * write or a search, a conflict, never an unexplained error.
   */
  private async call(what: string, request: () => Promise<FhirResource>, absent: 'caller' | 'conflict' = 'conflict'): Promise<FhirResource> {
    try {
      return await request();
    } catch (e) {
      const failure = this.failure(what, e);
      if (failure instanceof UpstreamStatus && absent === 'conflict') {
        throw new StoreError(StoreErrorCode.Conflict, `the upstream FHIR server answered ${what} with HTTP ${failure.status}: the record is gone there`);
      }
      throw failure;
    }
  }

  private failure(what: string, e: unknown): Error {
    if (e instanceof StoreError) return e;
    const response = (e as { response?: { status?: number; data?: unknown } }).response;
    const status = response?.status;
    if (status === undefined) return new StoreError(StoreErrorCode.UpstreamUnavailable, `the upstream FHIR server ${this.baseUrl} did not answer ${what}: ${(e as Error).message}`);
    const words = outcomeText(response?.data);
    if (status === 404 || status === 410) return new UpstreamStatus(status, `${what}: ${words}`);
    if (status === 412) return new StoreError(StoreErrorCode.VersionConflict, `the record changed on the upstream FHIR server since ChartWarden last saw it; read it again and reapply the change`);
    if (status === 409) return new StoreError(StoreErrorCode.Conflict, `the upstream FHIR server reports a conflict on ${what}; try again`);
    if (status === 401 || status === 403) {
      this.credentials.invalidate();
      return new StoreError(StoreErrorCode.UpstreamUnavailable, `the upstream FHIR server refused ChartWarden's credentials (HTTP ${status}) on ${what}`);
    }
    if (status >= 500) return new StoreError(StoreErrorCode.UpstreamUnavailable, `the upstream FHIR server failed on ${what} (HTTP ${status})`);
    return new StoreError(StoreErrorCode.UpstreamRefused, `the upstream FHIR server refused ${what} (HTTP ${status}): ${words}`);
  }
}

/** An upstream status the caller decides about (a read of a record the upstream does not have). */
export class UpstreamStatus extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The JSON text sent upstream: the resource without ChartWarden's version metadata, in the sender's number lexemes. */
function upstreamText(write: UpstreamWrite): string {
  const { meta, ...rest } = write.resource;
  const { versionId: _v, lastUpdated: _u, ...kept } = meta ?? {};
  const resource = Object.keys(kept).length > 0 ? { ...rest, meta: kept } : rest;
  return resourceText(resource as Resource, write.numbers);
}

function versionOfEtag(etag: string | undefined): string | undefined {
  return etag ? /^(?:W\/)?"([^"]+)"$/.exec(etag)?.[1] : undefined;
}

function changeOf(entry: BundleEntry): UpstreamChange | undefined {
  const resource = entry.resource;
  const url = entry.request?.url ?? (resource ? `${resource.resourceType}/${resource.id}` : undefined);
  const [type, id] = (url ?? '').replace(/\?.*$/, '').split('/').slice(-2);
  if (!type || !id) return undefined;
  return {
    type: resource?.resourceType ?? type,
    id: resource?.id ?? id,
    versionId: resource?.meta?.versionId ?? versionOfEtag(entry.response?.etag),
    lastUpdated: resource?.meta?.lastUpdated ?? entry.response?.lastModified,
    method: entry.request?.method ?? (resource ? 'PUT' : 'DELETE'),
    resource,
  };
}

/** The upstream's words, from its OperationOutcome, bounded (never more than a line of it in ours). */
function outcomeText(data: unknown): string {
  const outcome = (typeof data === 'string' ? safeJson(data) : data) as OperationOutcome | undefined;
  const text = outcome?.issue?.map((i) => i.diagnostics ?? i.details?.text ?? i.code).join('; ') ?? '';
  return (text || 'no details').slice(0, 300);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
