import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { FhirStore } from '../store/fhir-store.port.js';
import { BundleEntryError, FhirRequestError, FhirRequestErrorCode } from './fhir.errors.js';
import type { FhirResponse } from './fhir-response.js';
import type { FhirContext } from './fhir-request.js';
import { FhirService } from './fhir.service.js';
import { toErrorResponse } from './operation-outcome.mapper.js';

/** One Bundle entry's request, parsed. */
interface EntryPlan {
  index: number;
  method: 'GET' | 'POST' | 'PUT';
  type: string;
  id?: string;
  versionId?: string;
  query: string;
  resource?: Resource;
  fullUrl?: string;
  ifMatch?: string;
  ifNoneExist?: string;
}

/** Transaction processing order (R4 http.html#trules): DELETE, POST, PUT/PATCH, GET. */
const ORDER = { POST: 0, PUT: 1, GET: 2 } as const;

const REASON: Record<number, string> = { 200: 'OK', 201: 'Created', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict', 412: 'Precondition Failed', 422: 'Unprocessable Entity', 500: 'Internal Server Error' };

/**
 * `batch` and `transaction` Bundles (https://hl7.org/fhir/R4/http.html#transaction).
 * A transaction is atomic: all entries commit together or nothing does, and `urn:uuid`
 * references between its entries are rewritten to the ids the server assigns. A batch
 * runs each entry on its own and reports each outcome.
 */
@Injectable()
export class FhirBundleService {
  constructor(
    private readonly fhir: FhirService,
    private readonly store: FhirStore,
  ) {}

  async process(ctx: FhirContext, body: unknown): Promise<FhirResponse> {
    const bundle = body as Bundle;
    if (!bundle || typeof bundle !== 'object' || bundle.resourceType !== 'Bundle') {
      throw new FhirRequestError(FhirRequestErrorCode.ResourceTypeMismatch, 'POST to the base URL takes a Bundle of type batch or transaction', ['resourceType']);
    }
    if (bundle.type !== 'batch' && bundle.type !== 'transaction') {
      throw new FhirRequestError(FhirRequestErrorCode.InvalidRequest, `Bundle.type must be batch or transaction, not "${String(bundle.type)}"`, ['Bundle.type']);
    }
    const entries = bundle.entry ?? [];
    if (!Array.isArray(entries)) throw new FhirRequestError(FhirRequestErrorCode.InvalidRequest, 'Bundle.entry must be an array', ['Bundle.entry']);
    ctx.audit?.as({ subtype: bundle.type });
    return bundle.type === 'transaction' ? this.transaction(ctx, entries) : this.batch(ctx, entries);
  }

  private async transaction(ctx: FhirContext, entries: BundleEntry[]): Promise<FhirResponse> {
    const plans = entries.map((e, i) => this.plan(ctx, e, i));
    const responses = await this.store.transaction(async (tx) => {
      const targets = new Map<string, string>(); // urn:uuid -> Type/id
      const assigned = new Map<number, string>();
      const matched = new Set<number>();
      for (const p of plans) {
        if (p.method === 'POST') {
          if (p.ifNoneExist) {
            // Under the caller's search filter, as a conditional create on its own: a hidden record never matches.
            const found = await this.run(p, async () => {
              const condition = await this.fhir.conditionFor(ctx, p.type, p.ifNoneExist as string);
              return tx.search({ ...condition, count: 2, total: 'none' });
            });
            ctx.audit?.concerns(found.patients ?? []);
            if (found.matches.length > 1) {
              throw new BundleEntryError(p.index, new FhirRequestError(FhirRequestErrorCode.InvalidRequest, `If-None-Exist matched more than one ${p.type}`));
            }
            if (found.matches.length === 1) {
              matched.add(p.index);
              assigned.set(p.index, found.matches[0].id as string);
            }
          }
          if (!assigned.has(p.index)) assigned.set(p.index, randomUUID());
          if (p.fullUrl?.startsWith('urn:uuid:')) targets.set(p.fullUrl, `${p.type}/${assigned.get(p.index)}`);
        } else if (p.method === 'PUT' && p.fullUrl?.startsWith('urn:uuid:')) {
          targets.set(p.fullUrl, `${p.type}/${p.id}`);
        }
      }
      for (const p of plans) if (p.resource) rewriteReferences(p.resource, targets);
      const out = new Map<number, BundleEntry>();
      for (const p of [...plans].sort((a, b) => ORDER[a.method] - ORDER[b.method] || a.index - b.index)) {
        if (matched.has(p.index)) {
          // The match is answered only if the caller may read it (a 403 fails the transaction).
          const existing = await this.run(p, () => this.fhir.read(ctx, p.type, assigned.get(p.index) as string, tx));
          out.set(p.index, responseEntry(ctx, existing));
          continue;
        }
        const response = await this.run(p, async () => {
          const r = await this.execute(ctx, p, tx, assigned.get(p.index));
          if (p.ifNoneExist && 'created' in r && r.created === false) {
            throw new FhirRequestError(FhirRequestErrorCode.InvalidRequest, 'A concurrent request created a matching resource; retry the transaction');
          }
          return r;
        });
        out.set(p.index, responseEntry(ctx, response));
      }
      return plans.map((p) => out.get(p.index) as BundleEntry);
    });
    return { status: 200, body: { resourceType: 'Bundle', type: 'transaction-response', entry: responses } };
  }

  private async batch(ctx: FhirContext, entries: BundleEntry[]): Promise<FhirResponse> {
    const out: BundleEntry[] = [];
    for (let i = 0; i < entries.length; i++) {
      try {
        out.push(responseEntry(ctx, await this.execute(ctx, this.plan(ctx, entries[i], i), this.store)));
      } catch (e) {
        const { status, outcome } = toErrorResponse(e);
        out.push({ response: { status: `${status} ${REASON[status] ?? ''}`.trim(), outcome } });
      }
    }
    return { status: 200, body: { resourceType: 'Bundle', type: 'batch-response', entry: out } };
  }

  private async run<T>(plan: EntryPlan, step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (e) {
      throw e instanceof BundleEntryError ? e : new BundleEntryError(plan.index, e);
    }
  }

  private async execute(ctx: FhirContext, p: EntryPlan, store: FhirStore, assignedId?: string): Promise<FhirResponse & { created?: boolean }> {
    switch (p.method) {
      case 'POST':
        return this.fhir.create(ctx, p.type, p.resource, { ifNoneExist: p.ifNoneExist }, { store, assignedId });
      case 'PUT':
        return this.fhir.update(ctx, p.type, p.id as string, p.resource, { ifMatch: p.ifMatch }, store);
      case 'GET':
        if (p.id === undefined) {
          const request = this.fhir.searchRequest(p.type, p.query, undefined);
          return { status: 200, body: await this.fhir.searchBundle(ctx, request, store) };
        }
        if (p.versionId !== undefined) return this.fhir.vread(ctx, p.type, p.id, p.versionId, store);
        return this.fhir.read(ctx, p.type, p.id, store);
    }
  }

  private plan(ctx: FhirContext, entry: BundleEntry, index: number): EntryPlan {
    try {
      const request = entry?.request;
      if (!request?.method || !request.url) {
        throw new FhirRequestError(FhirRequestErrorCode.InvalidRequest, 'every entry needs request.method and request.url');
      }
      const method = request.method;
      if (method === 'DELETE') this.fhir.delete(request.url.split(/[/?]/)[0]);
      if (method !== 'GET' && method !== 'POST' && method !== 'PUT') {
        throw new FhirRequestError(FhirRequestErrorCode.MethodNotSupported, `${method} is not supported in a Bundle entry`);
      }
      let url = request.url.startsWith(ctx.baseUrl) ? request.url.slice(ctx.baseUrl.length) : request.url;
      url = url.replace(/^\/+/, '');
      const [path, query = ''] = url.split('?', 2);
      const segments = path.split('/').filter(Boolean);
      const [type, id, history, versionId] = segments;
      this.fhir.checkType(type);
      const bad = () => new FhirRequestError(FhirRequestErrorCode.InvalidRequest, `${method} ${request.url} is not a supported entry request`);
      if (method === 'POST' && segments.length !== 1) throw bad();
      if (method === 'PUT' && segments.length !== 2) throw bad();
      if (method === 'GET' && !(segments.length <= 2 || (segments.length === 4 && history === '_history'))) throw bad();
      if (id !== undefined) this.fhir.checkId(id);
      if ((method === 'POST' || method === 'PUT') && (!entry.resource || typeof entry.resource !== 'object')) {
        throw new FhirRequestError(FhirRequestErrorCode.InvalidRequest, `${method} entries need a resource`);
      }
      return {
        index,
        method,
        type,
        id,
        versionId,
        query,
        resource: entry.resource ? (structuredClone(entry.resource) as Resource) : undefined,
        fullUrl: entry.fullUrl,
        ifMatch: request.ifMatch,
        ifNoneExist: request.ifNoneExist,
      };
    } catch (e) {
      throw new BundleEntryError(index, e);
    }
  }
}

function responseEntry(ctx: FhirContext, r: FhirResponse): BundleEntry {
  const resource = r.body ?? (r.json !== undefined ? (JSON.parse(r.json) as Resource) : undefined);
  return {
    ...(resource?.id && resource.resourceType !== 'Bundle' ? { fullUrl: `${ctx.baseUrl}/${resource.resourceType}/${resource.id}` } : {}),
    ...(resource ? { resource } : {}),
    response: {
      status: `${r.status} ${REASON[r.status] ?? ''}`.trim(),
      ...(r.headers?.Location ? { location: r.headers.Location } : {}),
      ...(r.headers?.ETag ? { etag: r.headers.ETag } : {}),
      ...(resource?.meta?.lastUpdated && resource.resourceType !== 'Bundle' ? { lastModified: resource.meta.lastUpdated } : {}),
    },
  };
}

/** Replaces every `reference` that names a transaction entry's `urn:uuid` with the entry's real `Type/id`. */
function rewriteReferences(node: unknown, targets: Map<string, string>): void {
  if (targets.size === 0 || !node || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    for (const item of node) rewriteReferences(item, targets);
    return;
  }
  const o = node as Record<string, unknown>;
  for (const [k, v] of Object.entries(o)) {
    if (k === 'reference' && typeof v === 'string' && targets.has(v)) o[k] = targets.get(v);
    else if (v && typeof v === 'object') rewriteReferences(v, targets);
  }
}
