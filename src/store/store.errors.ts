import { ChartWardenError, type ErrorAnswer, type ErrorAnswers } from '../common/chartwarden.error.js';

/** What can go wrong in a `FhirStore` interaction, independent of HTTP. */
export enum StoreErrorCode {
  /** No such resource (or version). */
  NotFound = 'store.not-found',
  /** `If-Match` names a version that is not the current one. */
  VersionConflict = 'store.version-conflict',
  /** A conditional interaction matched more than one resource. */
  MultipleMatches = 'store.multiple-matches',
  /** Concurrent writers collided; retrying may succeed. */
  Conflict = 'store.conflict',
  /** A search parameter this server does not know (R4 search.html#errors). */
  UnknownSearchParameter = 'store.unknown-search-parameter',
  /** A search parameter value or modifier that cannot be parsed or is not supported. */
  InvalidSearch = 'store.invalid-search',
  /** The resource itself cannot be stored (e.g. an id that is not a FHIR id). */
  InvalidResource = 'store.invalid-resource',
  /**
   * A search beyond the configured limits (values per parameter, parameters per search; R-51):
   * 400 `too-costly`, naming the limit. Its code is the one HIS integrations have always seen.
   */
  SearchTooCostly = 'fhir.too-costly',
  /** A record that would belong to two patients' records at once (a Provenance signing both): 422 `business-rule`. */
  SpansPatients = 'store.spans-patients',
  /**
   * A resource whose search index would exceed the bounds of one write (composite rows of one
   * element, index rows of one resource, distinct units; `INDEX_LIMITS`): 422 `too-costly`,
   * naming the parameter. Such a resource could block the server while it is indexed.
   */
  IndexTooLarge = 'store.index-too-large',
  /**
   * The upstream FHIR server (the remote store, issue #17) lacks what the request needs, as its
   * CapabilityStatement says (a transaction): refused rather than degraded (a batch).
   */
  UpstreamNotSupported = 'store.upstream-not-supported',
  /** The upstream FHIR server did not answer, or answered with a server error: 503, try again. */
  UpstreamUnavailable = 'store.upstream-unavailable',
  /** The upstream FHIR server refused a write ChartWarden allowed (its own validation or rules): 422 with its words. */
  UpstreamRefused = 'store.upstream-refused',
}

/** How each store code answers (R4 http.html#return, search.html#errors). */
const STORE_ANSWERS: ErrorAnswers<StoreErrorCode> = {
  [StoreErrorCode.NotFound]: { status: 404, issue: 'not-found' },
  [StoreErrorCode.VersionConflict]: { status: 412, issue: 'conflict' },
  [StoreErrorCode.MultipleMatches]: { status: 412, issue: 'multiple-matches' },
  [StoreErrorCode.Conflict]: { status: 409, issue: 'conflict' },
  [StoreErrorCode.UnknownSearchParameter]: { status: 400, issue: 'not-supported' },
  [StoreErrorCode.InvalidSearch]: { status: 400, issue: 'invalid' },
  [StoreErrorCode.InvalidResource]: { status: 400, issue: 'invalid' },
  [StoreErrorCode.SearchTooCostly]: { status: 400, issue: 'too-costly' },
  [StoreErrorCode.SpansPatients]: { status: 422, issue: 'business-rule' },
  [StoreErrorCode.IndexTooLarge]: { status: 422, issue: 'too-costly' },
  [StoreErrorCode.UpstreamNotSupported]: { status: 400, issue: 'not-supported' },
  [StoreErrorCode.UpstreamUnavailable]: { status: 503, issue: 'transient' },
  [StoreErrorCode.UpstreamRefused]: { status: 422, issue: 'processing' },
};

/** Thrown by `FhirStore` adapters. */
export class StoreError extends ChartWardenError<StoreErrorCode> {
  constructor(code: StoreErrorCode, message: string, expression?: string[]) {
    super(code, message, expression);
  }

  override get answer(): ErrorAnswer {
    return STORE_ANSWERS[this.code];
  }
}
