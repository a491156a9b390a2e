import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import type { Operation } from 'fast-json-patch';
import { FhirStore, type SearchResult } from '../store/fhir-store.port.js';
import type { SearchRequest } from '../store/search/search-request.js';
import { StoreError, StoreErrorCode } from '../store/store.errors.js';
import { BundleEntryError, FhirRequestError, FhirRequestErrorCode } from './fhir.errors.js';
import { FhirSettings } from './fhir.settings.js';
import { jsonPatchOfBinary } from './json-patch.js';
import type { FhirResponse } from './fhir-response.js';
import type { FhirContext } from './fhir-request.js';
import { FhirService } from './fhir.service.js';
import { FhirPatchService } from './fhir-patch.service.js';
import { toErrorResponse } from './operation-outcome.mapper.js';
import { bodyNumbers } from './json-body.js';
import { rewriteReferences, withReferencesRewritten } from './bundle-references.js';
import { entryLexemes, type EntryLexemes } from './entry-lexemes.js';
import { withStoredText, type NumberLexemes } from '../common/fhir-json-text.js';

/** One Bundle entry's request, parsed. */
interface EntryPlan {
  index: number;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH';
  type: string;
  /** Absent for a conditional update (`PUT Type?identifier=…`) until its condition is resolved. */
  id?: string;
  versionId?: string;
  query: string;
  resource?: Resource;
  fullUrl?: string;
  ifMatch?: string;
  /** The entry resource's number lexemes (`lexemesUnder` the Bundle's). */
  numbers?: NumberLexemes;
  /** A conditional create's condition; also a conditional update's that matched nothing in a transaction (it then creates). */
  ifNoneExist?: string;
  /** A PATCH entry's JSON Patch (from its Binary). */
  patch?: Operation[];
}

/** Transaction processing order (R4 http.html#trules): DELETE, POST, PUT/PATCH, GET. */
const ORDER = { POST: 0, PUT: 1, PATCH: 1, GET: 2 } as const;

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
    private readonly patcher: FhirPatchService,
    private readonly store: FhirStore,
    private readonly settings: FhirSettings,
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
    const numbers = entryLexemes(bodyNumbers(body));
    return bundle.type === 'transaction' ? this.transaction(ctx, entries, numbers) : this.batch(ctx, entries, numbers);
  }

  /**
   * Conditions are resolved first, against the store as it was before the transaction: a
   * conditional create (or a conditional update matching nothing) that matches a record is
   * answered with it; entries with the same condition that match nothing create one resource
   * together (the first creates, the others are answered with it, their `urn:uuid`s naming it);
   * two PUT or PATCH entries writing one resource (by id, or by conditions resolving to it)
   * are refused (400).
   * An entry whose condition only a resource created earlier in this transaction matches is
   * refused (400: conditions overlap, R4 http.html#trules); one matched by another request's
   * record committed meanwhile fails the transaction with 409, to be retried.
   */
  private async transaction(ctx: FhirContext, entries: BundleEntry[], numbers: EntryLexemes): Promise<FhirResponse> {
    const plans = entries.map((e, i) => this.plan(ctx, e, i, numbers));
    const responses = await this.store.transaction(async (tx) => {
      const targets = new Map<string, string>(); // urn:uuid -> Type/id
      const assigned = new Map<number, string>();
      const matched = new Set<number>();
      const creators = new Map<string, number>(); // method + condition -> the entry that creates for it
      const sameAs = new Map<number, number>();
      const written = new Map<string, number>(); // Type/id -> the PUT or PATCH entry that writes it
      for (const p of plans) {
        // A conditional PUT that matched nothing creates on its condition, already searched here.
        let unmatched: SearchRequest | undefined;
        if (p.method === 'PUT' && p.id === undefined) {
          const { id, condition } = await this.run(p, () => this.fhir.conditionalTarget(ctx, p.type, p.query, this.fhir.checkBody(p.type, p.resource), tx));
          if (id === undefined) [p.ifNoneExist, unmatched] = [p.query, condition];
          // The plan's resource is the request's own (`plan`): the id goes on a copy.
          else if (p.resource) p.resource = { ...p.resource, id: (p.id = id) };
        }
        if (p.ifNoneExist) {
          // Under the caller's search filter, as a conditional create on its own: a hidden record never matches.
          const { found, key } = await this.run(p, async () => {
            const condition = unmatched ?? (await this.fhir.conditionFor(ctx, p.type, p.ifNoneExist as string));
            const used = condition.used.map(([k, v]) => `${k}=${v}`).sort().join('&');
            const found: Pick<SearchResult, 'matches' | 'patients'> = unmatched ? { matches: [] } : await tx.search({ ...condition, count: 2, total: 'none' });
            return { found, key: `${p.method} ${p.type}?${used}` };
          });
          ctx.audit?.concerns(found.patients ?? []);
          if (found.matches.length > 1) {
            throw new BundleEntryError(p.index, new FhirRequestError(FhirRequestErrorCode.InvalidRequest, `If-None-Exist matched more than one ${p.type}`));
          }
          if (found.matches.length === 1) {
            matched.add(p.index);
            assigned.set(p.index, found.matches[0].id as string);
          } else if (creators.has(key)) {
            // Two PUTs would both write the one resource the condition creates: only repeated POSTs are answered together.
            if (p.method !== 'POST') throw touchedTwice(p, creators.get(key) as number, `the ${p.type} its condition creates`);
            sameAs.set(p.index, creators.get(key) as number);
            assigned.set(p.index, assigned.get(creators.get(key) as number) as string);
          } else {
            creators.set(key, p.index);
          }
          if (!assigned.has(p.index)) assigned.set(p.index, randomUUID());
        } else if (p.method === 'POST') {
          assigned.set(p.index, randomUUID());
        } else if (p.id !== undefined && p.method !== 'GET') {
          const record = `${p.type}/${p.id}`;
          if (written.has(record)) throw touchedTwice(p, written.get(record) as number, record);
          written.set(record, p.index);
        }
        const id = assigned.get(p.index) ?? p.id;
        if (p.fullUrl?.startsWith('urn:uuid:') && id !== undefined) targets.set(p.fullUrl, `${p.type}/${id}`);
      }
      for (const p of plans) {
        if (p.resource) p.resource = withReferencesRewritten(p.resource, targets);
        else if (p.patch) rewriteReferences(p.patch, targets);
      }
      const out = new Map<number, BundleEntry>();
      const createdBy = new Map<string, number>(); // Type/id -> the entry that created it
      for (const p of [...plans].sort((a, b) => ORDER[a.method] - ORDER[b.method] || a.index - b.index)) {
        if (matched.has(p.index) || sameAs.has(p.index)) {
          // The match is answered only if the caller may read it (a 403 fails the transaction).
          const existing = await this.run(p, () => this.fhir.read(ctx, p.type, assigned.get(p.index) as string, tx));
          out.set(p.index, responseEntry(ctx, existing));
          continue;
        }
        const response = await this.run(p, async () => {
          const r = await this.execute(ctx, p, tx, assigned.get(p.index));
          if (p.ifNoneExist && 'created' in r && r.created === false) throw matchedMeanwhile(p, r.body as Resource, createdBy);
          return r;
        });
        if (response.status === 201 && response.body) createdBy.set(`${p.type}/${(response.body as Resource).id}`, p.index);
        out.set(p.index, responseEntry(ctx, response));
      }
      return plans.map((p) => out.get(p.index) as BundleEntry);
    });
    return { status: 200, body: { resourceType: 'Bundle', type: 'transaction-response', entry: responses } };
  }

  private async batch(ctx: FhirContext, entries: BundleEntry[], numbers: EntryLexemes): Promise<FhirResponse> {
    const out: BundleEntry[] = [];
    for (let i = 0; i < entries.length; i++) {
      try {
        out.push(responseEntry(ctx, await this.execute(ctx, this.plan(ctx, entries[i], i, numbers), this.store)));
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
        return this.fhir.create(ctx, p.type, p.resource, { ifNoneExist: p.ifNoneExist }, { store, assignedId, numbers: p.numbers });
      case 'PUT':
        if (p.ifNoneExist) return this.fhir.create(ctx, p.type, p.resource, { ifNoneExist: p.ifNoneExist }, { store, assignedId, numbers: p.numbers });
        if (p.id === undefined) return this.fhir.conditionalUpdate(ctx, p.type, p.query, p.resource, { ifMatch: p.ifMatch }, p.numbers);
        return this.fhir.update(ctx, p.type, p.id, p.resource, { ifMatch: p.ifMatch }, store, p.numbers);
      case 'PATCH':
        return this.patcher.patch(ctx, p.type, p.id as string, p.patch, { ifMatch: p.ifMatch }, store);
      case 'GET':
        if (p.id === undefined) {
          const request = this.fhir.searchRequest(p.type, p.query, undefined);
          return { status: 200, body: await this.fhir.searchBundle(ctx, request, store) };
        }
        if (p.versionId !== undefined) return this.fhir.vread(ctx, p.type, p.id, p.versionId, store);
        return this.fhir.read(ctx, p.type, p.id, store);
    }
  }

  private plan(ctx: FhirContext, entry: BundleEntry, index: number, numbers: EntryLexemes): EntryPlan {
    try {
      const request = entry?.request;
      if (!request?.method || !request.url) {
        throw new FhirRequestError(FhirRequestErrorCode.InvalidRequest, 'every entry needs request.method and request.url');
      }
      const method = request.method;
      if (method === 'DELETE') this.fhir.delete(request.url.split(/[/?]/)[0]);
      if (method !== 'GET' && method !== 'POST' && method !== 'PUT' && method !== 'PATCH') {
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
      // A PUT names its record, or is a conditional update (`Type?identifier=…`); a PATCH names its record.
      if (method === 'PUT' && segments.length !== 2 && !(segments.length === 1 && query !== '')) throw bad();
      if (method === 'PATCH' && segments.length !== 2) throw bad();
      if (method === 'GET' && !(segments.length <= 2 || (segments.length === 4 && history === '_history'))) throw bad();
      if (id !== undefined) this.fhir.checkId(id);
      if (method !== 'GET' && (!entry.resource || typeof entry.resource !== 'object')) {
        throw new FhirRequestError(FhirRequestErrorCode.InvalidRequest, `${method} entries need a resource`);
      }
      const patch = method === 'PATCH' ? jsonPatchOfBinary(entry.resource, this.settings.maxJsonDepth) : undefined;
      return {
        index,
        method,
        type,
        id,
        versionId,
        query,
        // The request's own object, never changed here: a rewrite or an id goes on a copy, and the writes copy what they take (`FhirService.checkBody`).
        resource: entry.resource && !patch ? entry.resource : undefined,
        fullUrl: entry.fullUrl,
        numbers: numbers(index),
        ifMatch: request.ifMatch,
        ifNoneExist: method === 'POST' ? request.ifNoneExist : undefined,
        patch,
      };
    } catch (e) {
      throw new BundleEntryError(index, e);
    }
  }
}

/** R4 http.html#trules: the identities a transaction writes (conditional ones resolved) must not overlap, so neither write is silently lost. */
function touchedTwice(p: EntryPlan, earlier: number, what: string): BundleEntryError {
  return new BundleEntryError(
    p.index,
    new FhirRequestError(FhirRequestErrorCode.InvalidRequest, `Bundle.entry[${earlier}] and Bundle.entry[${p.index}] both write ${what}: a transaction writes each resource once (R4 http.html#trules)`),
  );
}

/**
 * A transaction entry's condition matched at its write though nothing matched when the
 * transaction began: a resource an earlier entry created (the entries' conditions overlap, which
 * a retry cannot mend: 400), or another request's, committed meanwhile (409: retry).
 */
function matchedMeanwhile(p: EntryPlan, match: Resource | undefined, createdBy: ReadonlyMap<string, number>): Error {
  const earlier = match ? createdBy.get(`${match.resourceType}/${match.id}`) : undefined;
  if (earlier !== undefined) {
    return new FhirRequestError(
      FhirRequestErrorCode.InvalidRequest,
      `The condition "${p.ifNoneExist}" matches ${p.type}/${match?.id}, which Bundle.entry[${earlier}] of this transaction creates: conditions of one transaction must not overlap (R4 http.html#trules)`,
    );
  }
  return new StoreError(StoreErrorCode.Conflict, `A concurrent request created a ${p.type} matching "${p.ifNoneExist}"; retry the transaction`);
}

function responseEntry(ctx: FhirContext, r: FhirResponse): BundleEntry {
  const resource = r.body ?? (r.json !== undefined ? withStoredText(JSON.parse(r.json) as Resource, r.json) : undefined);
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
