import { Injectable } from '@nestjs/common';
import { FHIR_ID } from '../common/fhir-reference.js';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { FhirStore, type HistoryPage, type StoredJson } from '../store/fhir-store.port.js';
import { loadR4Definitions } from '../store/fhir-definitions.js';
import { SearchParameterRegistry } from '../store/search/search-parameter.registry.js';
import { parseSearchRequest, shapesResult, type SearchRequest } from '../store/search/search-request.js';
import { fullUrl, historyBundle, pagingLinks, searchsetBundle } from './bundle.builder.js';
import { FhirRequestError, FhirRequestErrorCode } from './fhir.errors.js';
import { storedResponse, versionHeaders, type FhirResponse } from './fhir-response.js';
import { parseIfMatch, parsePrefer, queryPairs, type FhirContext, type FhirHeaders } from './fhir-request.js';
import { FhirSettings } from './fhir.settings.js';
import { ResourceValidator } from './resource.validator.js';
import { FhirAccess } from './fhir-access.port.js';
import { WriteChain } from './write-chain.js';
import { bodyNumbers } from './json-body.js';
import { subsetResult, subsetStored, subsettingOf } from './subsetting.js';
import type { NumberLexemes } from '../common/fhir-json-text.js';
import { StoreError, StoreErrorCode } from '../store/store.errors.js';
import { validatedResource, validationOutcome } from './validate-operation.js';
import { AccessError, AccessErrorCode } from '../policy/policy.errors.js';
import { CarriedTotals } from './paging-total.js';
import { copyJson } from './json-copy.js';

/** Versions of one resource judged at once for instance history (beyond: the newest this many). */
const INSTANCE_HISTORY_LIMIT = 1000;

/** The one patient a search is about (`patient=`, `subject=Patient/…`, or Patient `_id`), for break-the-glass. */
function patientOfSearch(request: SearchRequest): string | undefined {
  const ids = new Set<string>();
  for (const c of request.criteria) {
    const code = typeof c.param === 'string' ? c.param : c.param.code;
    for (const v of c.values) {
      if (v.kind === 'reference' && (code === 'patient' || code === 'subject') && (v.targetType ?? 'Patient') === 'Patient') ids.add(v.targetId);
      if (v.kind === 'id' && request.resourceType === 'Patient') ids.add(v.id);
    }
  }
  return ids.size === 1 ? [...ids][0] : undefined;
}

/**
 * The FHIR R4 RESTful interactions (https://hl7.org/fhir/R4/http.html) over the `FhirStore`
 * port: checks the request, validates resources, calls the store, shapes the response.
 * Knows nothing of SQL or of HTTP frameworks.
 */
@Injectable()
export class FhirService {
  private readonly resourceTypes = loadR4Definitions();

  constructor(
    private readonly store: FhirStore,
    private readonly registry: SearchParameterRegistry,
    private readonly validator: ResourceValidator,
    private readonly settings: FhirSettings,
    private readonly access: FhirAccess,
    private readonly chain: WriteChain,
    /** `_total=accurate` counted once per search (issue #13). */
    private readonly carriedTotals: CarriedTotals,
  ) {}

  /** `read`: only what the policy allows (403, or 404 where it hides existence). */
  async read(ctx: FhirContext, type: string, id: string, store = this.store, query = ''): Promise<FhirResponse> {
    this.checkType(type);
    const ref = { type, id: this.checkId(id) };
    const subsetting = subsettingOf(queryPairs(query));
    return storedResponse(subsetStored((await this.access.requireStored(ctx, 'read', ref, store, { hideExistence: true, withContent: true })) as StoredJson, subsetting));
  }

  /** `vread`: the version rule (docs/decisions/0010): the record's current version and this version, each by its own facts. */
  async vread(ctx: FhirContext, type: string, id: string, versionId: string, store = this.store): Promise<FhirResponse> {
    this.checkType(type);
    const resource = await this.access.requireVersion(ctx, 'read', { type, id: this.checkId(id), versionId }, store, { hideExistence: true });
    return { status: 200, body: resource, headers: versionHeaders(resource) };
  }

  /**
   * `via` lets a transaction run the create on its own store and choose the id that its
   * other entries' `urn:uuid` references were rewritten to.
   */
  async create(
    ctx: FhirContext,
    type: string,
    body: unknown,
    headers: FhirHeaders,
    via: { store?: FhirStore; assignedId?: string; numbers?: NumberLexemes } = {},
  ): Promise<FhirResponse & { created: boolean }> {
    const resource = this.checkBody(type, body);
    delete (resource as { id?: string }).id; // R4: the server assigns the id of a created resource
    this.validator.validate(resource);
    const store = via.store ?? this.store;
    const facts = await store.accessFactsOf(resource, this.access.factOptionsFor(ctx, 'create', type));
    await this.access.require(ctx, 'create', facts);
    const ifNoneExist = headers.ifNoneExist ? await this.conditionFor(ctx, type, headers.ifNoneExist) : undefined;
    // Checked by the write guards, then stored with its ledger and audit entries, together (R-51).
    const outcome = await store.transaction((tx, unit) =>
      this.chain.create(ctx, tx, unit, resource, { ifNoneExist, assignedId: via.assignedId, numbers: via.numbers ?? bodyNumbers(body), onMatches: (patients) => ctx.audit?.concerns(patients), patient: facts.patient }),
    );
    // A conditional create matched what the caller may search: answered with the match only if they may read it too.
    if (!outcome.created) await this.access.requireStored(ctx, 'read', { type, id: outcome.resource.id as string }, store);
    return { ...this.writeResponse(ctx, outcome.resource, outcome.created ? 201 : 200, headers.prefer), created: outcome.created };
  }

  async update(ctx: FhirContext, type: string, id: string, body: unknown, headers: FhirHeaders, store = this.store, numbers = bodyNumbers(body)): Promise<FhirResponse> {
    const resource = this.checkBody(type, body);
    this.checkId(id);
    if (resource.id === undefined) {
      throw new FhirRequestError(FhirRequestErrorCode.IdMismatch, `The body of PUT ${type}/${id} must carry "id": "${id}"`, ['id']);
    }
    if (resource.id !== id) {
      throw new FhirRequestError(FhirRequestErrorCode.IdMismatch, `The body's id "${resource.id}" does not match the URL's "${id}"`, ['id']);
    }
    this.validator.validate(resource);
    // Both versions must be within reach: nobody moves a record into or out of someone's reach (issue #3).
    const action = (await this.reachable(ctx, 'update', { type, id }, store)) ? 'update' : 'create';
    const facts = await store.accessFactsOf(resource, this.access.factOptionsFor(ctx, action, type));
    await this.access.require(ctx, action, facts);
    const ifMatch = parseIfMatch(headers.ifMatch);
    // Checked by the write guards, then stored with its ledger and audit entries, together (R-51).
    const outcome = await store.transaction((tx, unit) => this.chain.update(ctx, tx, unit, { ...resource, id }, { ifMatch, numbers, patient: facts.patient }));
    return this.writeResponse(ctx, outcome.resource, outcome.created ? 201 : 200, headers.prefer);
  }

  /**
   * Conditional update (`PUT /Type?identifier=…`, R4 http.html#cond-update): an update of the
   * record `conditionalTarget` names, else a create serialised on the condition (a match that
   * appeared meanwhile is not overwritten blindly: 409, retry).
   */
  async conditionalUpdate(ctx: FhirContext, type: string, search: string, body: unknown, headers: FhirHeaders, numbers = bodyNumbers(body)): Promise<FhirResponse> {
    const resource = this.checkBody(type, body);
    ctx.audit?.as({ action: 'U', subtype: 'update', lifecycle: 'amend', entity: { type } });
    const { id } = await this.conditionalTarget(ctx, type, search, resource, this.store);
    if (id !== undefined) return this.update(ctx, type, id, { ...resource, id }, headers, this.store, numbers);
    ctx.audit?.as({ action: 'C', subtype: 'create', lifecycle: 'originate', entity: { type } });
    const { created, ...response } = await this.create(ctx, type, resource, { ifNoneExist: search, prefer: headers.prefer }, { numbers });
    if (!created) throw new StoreError(StoreErrorCode.Conflict, `A ${type} matching the condition was created by another request meanwhile; retry`);
    return response;
  }

  /**
   * The record a conditional update writes. The condition is a search under the caller's own
   * filter (`conditionFor`): records they may not see never match, so the answer tells nothing
   * a search would not (docs/decisions/0015). One match: it (a body id must name it). More than
   * one: 412. None: the body's id (an update-as-create; 409 when that record exists, since it
   * did not match), else undefined: a create. The condition comes back with it, so a caller
   * that creates on it need not parse and search it again.
   */
  async conditionalTarget(ctx: FhirContext, type: string, search: string, resource: Resource, store: FhirStore): Promise<{ id?: string; condition: SearchRequest }> {
    const { condition, match } = await this.matchCondition(ctx, type, search, 'The conditional update', store);
    if (match !== undefined && resource.id !== undefined && resource.id !== match) {
      throw new FhirRequestError(FhirRequestErrorCode.IdMismatch, `The body's id "${resource.id}" is not ${type}/${match}, which the condition matched`, ['id']);
    }
    if (match !== undefined || resource.id === undefined) return { id: match, condition };
    if (await this.reachable(ctx, 'update', { type, id: this.checkId(resource.id) }, store)) {
      throw new StoreError(StoreErrorCode.Conflict, `${type}/${resource.id} exists and does not match the condition; update it by its id`);
    }
    return { id: resource.id, condition };
  }

  /**
   * The one record a condition matches (conditional update and patch), searched under the
   * caller's own filter (`conditionFor`, decision 0015); several: 412. The patients the search
   * touched are noted for the audit, as for any search.
   */
  async matchCondition(ctx: FhirContext, type: string, search: string, what: string, store = this.store): Promise<{ condition: SearchRequest; match?: string }> {
    const condition = await this.conditionFor(ctx, type, search, what);
    const found = await store.search({ ...condition, total: 'none' });
    ctx.audit?.concerns(found.patients ?? []);
    if (found.matches.length > 1) {
      throw new StoreError(StoreErrorCode.MultipleMatches, `The condition matched ${found.matches.length} or more ${type} resources; be more specific`);
    }
    return { condition, match: found.matches[0]?.id };
  }

  /**
   * `$validate` (R4 resource-operation-validate): the validator every write runs, answered as an
   * OperationOutcome; nothing is stored. Type level: for whoever the policy lets create that
   * type; instance level (`id`): for whoever may update that record.
   */
  async validate(ctx: FhirContext, type: string, id: string | undefined, body: unknown): Promise<FhirResponse> {
    this.checkType(type);
    ctx.audit?.as({ action: 'E', subtype: 'validate', entity: { type, ...(id !== undefined ? { id } : {}) } });
    if (id !== undefined) {
      await this.access.requireStored(ctx, 'update', { type, id: this.checkId(id) }, this.store, { hideExistence: true });
    } else if ((await this.access.filter(ctx, 'create', [type])).condition === null) {
      throw new AccessError(AccessErrorCode.Forbidden, `${type}: the policy lets roles ${ctx.actor.roles.join(', ') || '(none)'} create no ${type}, so it validates none for them`);
    }
    const resource = this.checkBody(type, validatedResource(body, type));
    if (id !== undefined && resource.id !== undefined && resource.id !== id) {
      throw new FhirRequestError(FhirRequestErrorCode.IdMismatch, `The body's id "${resource.id}" does not match the URL's "${id}"`, ['id']);
    }
    return { status: 200, body: validationOutcome(this.validator.issues(resource)) };
  }

  /** R-17: records are never destroyed through the API. */
  delete(type: string): never {
    this.checkType(type);
    throw new FhirRequestError(
      FhirRequestErrorCode.DeleteRefused,
      'Deleting is refused: medical records are never destroyed through the API (R-17). Every version stays readable; record an amendment or mark the resource entered-in-error instead.',
    );
  }

  /**
   * Instance and type history: only versions the version rule lets the caller read
   * (docs/decisions/0010). Instance history of a record the caller may not read is refused
   * as its read is; type history is narrowed in SQL to records readable now, then judged
   * version by version.
   */
  async history(ctx: FhirContext, type: string, id: string | undefined, search: string): Promise<FhirResponse> {
    this.checkType(type);
    const { count, offset, params, since } = this.pageParams(search, ['_since']);
    const readable = async (entries: HistoryPage['entries']) => {
      const allowed = await this.access.permitsVersions(ctx, 'read', entries.map((e) => e.resource), this.store);
      return entries.filter((_, i) => allowed[i]);
    };
    let page: HistoryPage;
    let total: number | undefined;
    let full: boolean;
    if (id !== undefined) {
      await this.access.requireStored(ctx, 'read', { type, id: this.checkId(id) }, this.store, { hideExistence: true });
      // The whole history is judged so pages and total are exact.
      const shown = await readable((await this.store.history(type, id, { count: INSTANCE_HISTORY_LIMIT, offset: 0, since })).entries);
      page = { total: shown.length, entries: shown.slice(offset, offset + count) };
      total = shown.length;
      full = offset + count < shown.length;
    } else {
      // The total would count hidden versions, so it is left out unless every version of the page is shown.
      const raw = await this.store.history(type, undefined, { count, offset, since, access: await this.access.filter(ctx, 'read', [type]) });
      const shown = await readable(raw.entries);
      page = { total: raw.total, entries: shown };
      full = raw.entries.length === count;
      total = shown.length === raw.entries.length ? raw.total : undefined;
    }
    const url = `${ctx.baseUrl}/${type}${id ? `/${id}` : ''}/_history`;
    const links = pagingLinks({ url, params, count, offset, total, full });
    return { status: 200, body: historyBundle(ctx.baseUrl, page, links, total) };
  }

  async search(ctx: FhirContext, type: string, search: string, headers: FhirHeaders): Promise<FhirResponse> {
    return { status: 200, body: await this.searchBundle(ctx, this.searchRequest(type, search, headers.prefer)) };
  }

  /** Parses a search query for `type` with this server's paging limits. */
  searchRequest(type: string, search: string, prefer: string | undefined): SearchRequest {
    this.checkType(type);
    const request = parseSearchRequest(type, queryPairs(search), this.registry, {
      defaultCount: this.settings.defaultPageSize,
      maxCount: this.settings.maxPageSize,
      lenient: parsePrefer(prefer).lenient,
      maxValuesPerParameter: this.settings.maxValuesPerParameter,
      maxSearchParameters: this.settings.maxSearchParameters,
    });
    return { ...request, countUpTo: this.settings.countTotalUpTo };
  }

  /**
   * Runs a parsed search restricted to what the caller may see (the policy pushed into the
   * query: full pages, honest totals), and shapes it as a `searchset` Bundle with paging
   * links. `_include`/`_revinclude` results are checked one by one.
   */
  async searchBundle(ctx: FhirContext, request: SearchRequest, store = this.store): Promise<Bundle> {
    if (ctx.breakGlass) await this.access.openBreakGlass(ctx, patientOfSearch(request));
    const access = await this.access.filter(ctx, 'search', [request.resourceType]);
    // The count a verified `_total-token` carries, else none: nothing else ever sets `knownTotal`.
    const carried = this.carriedTotals.forSearch(ctx.actor, access, request);
    const found = await store.search({ ...request, access, knownTotal: carried.known?.total });
    ctx.audit?.concerns(found.patients ?? []);
    const included = await Promise.all(
      found.included.map(async (r) => ((await this.access.permitsStored(ctx, 'read', { type: r.resourceType, id: r.id as string }, store)) ? r : undefined)),
    );
    const result = { ...found, included: included.filter((r): r is NonNullable<typeof r> => r !== undefined) };
    const params = request.used.filter(([k]) => k !== '_count' && k !== '_offset');
    const links = pagingLinks({
      url: `${ctx.baseUrl}/${request.resourceType}`,
      params,
      count: request.count,
      offset: request.offset,
      total: result.total,
      full: result.matches.length === request.count,
      totalToken: carried.tokenFor(result.total),
    });
    return searchsetBundle(ctx.baseUrl, subsetResult(result, request), links);
  }

  /**
   * `Patient/$everything` is an export of the record (R-20, R-22: recorded as a disclosure):
   * needs `export` on the patient, then returns only what the caller may read of the compartment.
   */
  async everything(ctx: FhirContext, id: string, search: string): Promise<FhirResponse> {
    this.checkId(id);
    const { count, offset, params, since } = this.pageParams(search, ['_since']);
    await this.access.requireStored(ctx, 'export', { type: 'Patient', id }, this.store, { hideExistence: true });
    const types = [...new Set(['Patient', ...this.registry.indexedTypes()])];
    const result = await this.store.everything(id, { count, offset, since, access: await this.access.filter(ctx, 'read', types) });
    ctx.audit?.concerns([id]);
    // The export names every version this page handed out (R-20, R-22).
    const exported = [...result.matches, ...result.included];
    ctx.audit?.as({ disclosed: exported.map((r) => ({ type: r.resourceType, id: r.id as string, version: r.meta?.versionId ?? '' })) });
    const links = pagingLinks({ url: `${ctx.baseUrl}/Patient/${id}/$everything`, params, count, offset, total: result.total, full: result.matches.length === count });
    return { status: 200, body: searchsetBundle(ctx.baseUrl, result, links) };
  }

  /**
   * A conditional-create condition (`If-None-Exist: identifier=sys|123`) as a search restricted
   * to what the caller may search: a record they may not see never matches, so the answer
   * does not depend on it (docs/decisions/0010). Every conditional probe is built here. It
   * must filter: at least one criterion, and no parameter that shapes a result rather than
   * choosing records (`_count`, `_sort`, `_format`…), or it would match whatever the caller sees.
   */
  async conditionFor(ctx: FhirContext, type: string, query: string, what = 'If-None-Exist'): Promise<SearchRequest> {
    const pairs = queryPairs(query.replace(/^[A-Za-z]*\?/, ''), `${what} parameter`);
    // A parameter that shapes a result has no place in a condition: refused with its own message.
    const shaping = pairs.map(([k]) => k.split(':')[0]).find(shapesResult);
    if (shaping !== undefined) throw new FhirRequestError(FhirRequestErrorCode.InvalidRequest, `${what} chooses records; ${shaping} shapes a result and has no place in it`, [shaping]);
    const condition = parseSearchRequest(type, pairs, this.registry, {
      defaultCount: 2,
      maxCount: 2,
      lenient: false,
      maxValuesPerParameter: this.settings.maxValuesPerParameter,
      maxSearchParameters: this.settings.maxSearchParameters,
    });
    if (condition.criteria.length === 0) throw new FhirRequestError(FhirRequestErrorCode.InvalidRequest, `${what} must carry search criteria, e.g. identifier=system|value`);
    return { ...condition, access: await this.access.filter(ctx, 'search', [type]) };
  }

  checkType(type: string): void {
    if (!this.resourceTypes.has(type)) {
      throw new FhirRequestError(FhirRequestErrorCode.UnknownResourceType, `"${type}" is not a FHIR R4 resource type`);
    }
  }

  checkId(id: string): string {
    if (!FHIR_ID.test(id)) throw new FhirRequestError(FhirRequestErrorCode.InvalidRequest, `"${id}" is not a valid FHIR id`);
    return id;
  }

  /** The body is a JSON object whose resourceType matches the URL. */
  checkBody(type: string, body: unknown): Resource {
    this.checkType(type);
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      throw new FhirRequestError(FhirRequestErrorCode.MalformedBody, `The body must be a ${type} resource as a JSON object`);
    }
    const resourceType = (body as { resourceType?: unknown }).resourceType;
    if (resourceType !== type) {
      throw new FhirRequestError(
        FhirRequestErrorCode.ResourceTypeMismatch,
        `The body's resourceType "${String(resourceType)}" does not match the URL's "${type}"`,
        ['resourceType'],
      );
    }
    // A copy the write may change (ids, meta), as `structuredClone` makes it (`copyJson`: the same copy, made faster for JSON).
    return copyJson(body) as Resource;
  }

  /** Whether the record exists for this caller: throws as `requireStored` when they may not `action` it (404 where the policy hides it). */
  private async reachable(ctx: FhirContext, action: 'update', ref: { type: string; id: string }, store: FhirStore): Promise<boolean> {
    return this.access.requireStored(ctx, action, ref, store, { hideExistence: true }).then(
      () => true,
      (e: unknown) => {
        if (e instanceof StoreError && e.code === StoreErrorCode.NotFound) return false;
        throw e;
      },
    );
  }

  writeResponse(ctx: FhirContext, resource: Resource, status: number, prefer: string | undefined): FhirResponse {
    const headers = versionHeaders(resource, `${fullUrl(ctx.baseUrl, resource)}/_history/${resource.meta?.versionId}`);
    return parsePrefer(prefer).return === 'minimal' ? { status, headers } : { status, body: resource, headers };
  }

  private pageParams(search: string, allowed: string[]): { count: number; offset: number; since?: string; params: [string, string][] } {
    let count = this.settings.defaultPageSize;
    let offset = 0;
    let since: string | undefined;
    const params: [string, string][] = [];
    for (const [k, v] of queryPairs(search)) {
      if (k === '_count' || k === '_offset') {
        if (!/^\d{1,9}$/.test(v)) throw new FhirRequestError(FhirRequestErrorCode.InvalidRequest, `${k} must be a non-negative integer`, [k]);
        if (k === '_count') count = Math.min(Number(v), this.settings.maxPageSize);
        else offset = Number(v);
      } else if (k === '_since' && allowed.includes(k)) {
        if (Number.isNaN(Date.parse(v))) throw new FhirRequestError(FhirRequestErrorCode.InvalidRequest, '_since must be an instant', [k]);
        since = new Date(v).toISOString();
        params.push([k, v]);
      } else if (k !== '_format' && k !== '_pretty') {
        throw new FhirRequestError(FhirRequestErrorCode.InvalidRequest, `Parameter ${k} is not supported here`, [k]);
      }
    }
    return { count, offset, since, params };
  }
}
