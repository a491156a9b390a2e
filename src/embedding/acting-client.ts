import type { Bundle, ExtractResource, Resource, ResourceType } from '@medplum/fhirtypes';
import type { Actor } from '../identity/actor.js';
import type { FhirResponse } from '../fhir/fhir-response.js';
import { FhirRequestError, FhirRequestErrorCode } from '../fhir/fhir.errors.js';
import type { ActingOptions, EmbeddedCall, EmbeddedCalls } from './embedded-calls.js';

/**
 * Search parameters: the query string as a FHIR client would send it (`identifier=sys|1&_count=10`),
 * or name → value. An array repeats the parameter (repeats are AND: `date=ge2024&date=lt2025`);
 * for OR, separate values with a comma in one string (`code=a,b`), as in any FHIR query.
 */
export type SearchQuery = string | Readonly<Record<string, string | readonly string[]>>;

/** Options of `create`, as HTTP's headers give them. */
export interface CreateCallOptions {
  /** Conditional create (`If-None-Exist`): the existing match is returned instead when the search matches one the actor may read. */
  ifNoneExist?: SearchQuery;
}

/** Options of `update`, as HTTP's headers give them. */
export interface UpdateCallOptions {
  /** The version the caller last saw (`If-Match`: `3` or `W/"3"`); a different current version refuses the write (412). */
  ifMatch?: string;
  /** Why this document changes, instead of the client's `reason`. */
  editReason?: string;
}

/**
 * ChartWarden acting as one actor (`chartwarden.as(actor)`): the FHIR interactions a host
 * calls in process, each running exactly the pipeline an HTTP request runs and leaving its
 * audit entry (marked as an embedded call). Results are FHIR resources and Bundles; refusals
 * are the `ChartWardenError`s HTTP turns into OperationOutcomes (`toErrorResponse` gives the
 * status and outcome HTTP would answer).
 */
export class ActingClient {
  constructor(
    /** Who acts: every decision and audit entry of these calls names them. */
    readonly actor: Actor,
    private readonly options: ActingOptions,
    private readonly calls: EmbeddedCalls,
  ) {}

  /** `read`: the current version, if the policy lets the actor read it. */
  async read<K extends ResourceType>(type: K, id: string): Promise<ExtractResource<K>> {
    return resourceOf(await this.call({ method: 'GET', segments: [type, id] }, (fhir, ctx) => fhir.read(ctx, type, id)));
  }

  /** `vread`: one version, readable by its own facts and the current version's (docs/decisions/0010). */
  async vread<K extends ResourceType>(type: K, id: string, versionId: string): Promise<ExtractResource<K>> {
    return resourceOf(await this.call({ method: 'GET', segments: [type, id, '_history', versionId] }, (fhir, ctx) => fhir.vread(ctx, type, id, versionId)));
  }

  /** `search-type`: a `searchset` Bundle of what the actor may see (the policy pushed into the query: full pages, honest totals). */
  async search(type: ResourceType, query: SearchQuery = ''): Promise<Bundle> {
    let text = '';
    const call = { method: 'GET', segments: [type], query: () => (text = queryText(query, 'search query')) } as const;
    return resourceOf(await this.call(call, (fhir, ctx) => fhir.search(ctx, type, text, {})));
  }

  /** `create`: the stored resource, with its server-assigned id and `meta.versionId`. */
  async create<T extends Resource>(resource: T, options: CreateCallOptions = {}): Promise<T> {
    return resourceOf(
      await this.call({ method: 'POST', segments: [typeOf(resource)] }, async (fhir, ctx) => {
        const ifNoneExist = options.ifNoneExist === undefined ? undefined : queryText(options.ifNoneExist, 'ifNoneExist');
        return fhir.create(ctx, resource.resourceType, this.calls.bodyOf(resource), { ifNoneExist });
      }),
    );
  }

  /** `update` (PUT to `resource.id`, creating it when it does not exist yet): the stored version. */
  async update<T extends Resource>(resource: T, options: UpdateCallOptions = {}): Promise<T> {
    const id = (field(resource, 'id') as string | undefined) ?? '';
    return resourceOf(
      await this.call({ method: 'PUT', segments: [typeOf(resource), id], editReason: options.editReason }, async (fhir, ctx) =>
        fhir.update(ctx, resource.resourceType, id, this.calls.bodyOf(resource), { ifMatch: options.ifMatch }),
      ),
    );
  }

  /** Instance history (`id` given) or type history: a `history` Bundle of the versions the actor may read. */
  async history(type: ResourceType, id?: string, query: SearchQuery = ''): Promise<Bundle> {
    let text = '';
    const segments = id === undefined ? [type, '_history'] : [type, id, '_history'];
    const call = { method: 'GET', segments, query: () => (text = queryText(query, 'history query')) } as const;
    return resourceOf(await this.call(call, (fhir, ctx) => fhir.history(ctx, type, id, text)));
  }

  /** `Patient/$everything`: an export of the record (R-20, R-22: audited as a disclosure), what the actor may read of it. */
  async everything(patientId: string, query: SearchQuery = ''): Promise<Bundle> {
    let text = '';
    const call = { method: 'GET', segments: ['Patient', patientId, '$everything'], query: () => (text = queryText(query, '$everything query')) } as const;
    return resourceOf(await this.call(call, (fhir, ctx) => fhir.everything(ctx, patientId, text)));
  }

  /** Runs one call through `EmbeddedCalls`: the segments and query are checked inside its audited part, never before it. */
  private call(call: EmbeddedCall, work: Parameters<EmbeddedCalls['run']>[3]): Promise<FhirResponse> {
    return this.calls.run(this.actor, this.options, call, work);
  }
}

/** The type a resource names, read without trusting the host's value to be an object (checked inside the audited call). */
function typeOf(resource: unknown): unknown {
  return field(resource, 'resourceType');
}

/** A field of what the host passed, read without letting a throwing getter escape the audited call (it is refused inside it). */
function field(value: unknown, name: 'resourceType' | 'id'): unknown {
  try {
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The query string of `query` (without a leading `?`). Anything but a string or a record of
 * name → text (or array of text) is refused: a conditional create with a number for its search
 * must not run as a search with no criteria.
 */
function queryText(query: SearchQuery, where: string): string {
  if (typeof query === 'string') return query.startsWith('?') ? query.slice(1) : query;
  if (typeof query !== 'object' || query === null || Array.isArray(query)) throw malformedQuery(where, `got ${query === null ? 'null' : Array.isArray(query) ? 'an array' : typeof query}`);
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    const values: unknown[] = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [value];
    if (values.some((v) => typeof v !== 'string')) throw malformedQuery(where, `parameter ${name} is not text (or an array of text)`);
    for (const v of values as string[]) params.append(name, v);
  }
  return params.toString();
}

function malformedQuery(where: string, problem: string): FhirRequestError {
  return new FhirRequestError(FhirRequestErrorCode.InvalidRequest, `The ${where} must be a query string or a record of name → text (or an array of text): ${problem}`);
}

/** The resource a use case answered with (a read's stored JSON text is parsed here, once). */
function resourceOf<T>(response: FhirResponse): T {
  return (response.body ?? JSON.parse(response.json as string)) as T;
}
