import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { ChartWardenError, type ErrorAnswer, type ErrorAnswers } from '../common/chartwarden.error.js';

/** What is wrong with a FHIR request itself, before any store or policy looks at it. */
export enum FhirRequestErrorCode {
  UnsupportedMediaType = 'fhir.unsupported-media-type',
  PayloadTooLarge = 'fhir.payload-too-large',
  MalformedBody = 'fhir.malformed-body',
  ResourceTypeMismatch = 'fhir.resource-type-mismatch',
  IdMismatch = 'fhir.id-mismatch',
  /** The resource breaks the R4 structure definitions; `issues` lists every problem. */
  ValidationFailed = 'fhir.validation-failed',
  UnknownResourceType = 'fhir.unknown-resource-type',
  /** clinical content is never destroyed through the API. */
  DeleteRefused = 'fhir.delete-refused',
  MethodNotSupported = 'fhir.method-not-supported',
  InvalidRequest = 'fhir.invalid-request',
  RouteNotFound = 'fhir.route-not-found',
  /** break-the-glass must say why. */
  BreakGlassReasonMissing = 'fhir.break-glass-reason-missing',
  /**
   * A search beyond the configured limits (values per parameter, parameters per search): 400 `too-costly`, naming the limit.
   * @deprecated Never thrown since issue #15: the store's search parsing refuses such a search as
   * `StoreErrorCode.SearchTooCostly`, with this same wire code (`fhir.too-costly`). Kept because
   * it is public API; match on the code string, or on `StoreErrorCode.SearchTooCostly`.
   */
  TooCostly = 'fhir.too-costly',
  /** A statement ran past the configured statement timeout and was cancelled: 400 `too-costly`; nothing was written. */
  QueryTimeout = 'fhir.query-timeout',
  /** A NUL byte or a lone UTF-16 surrogate in the URL, a parameter, a header or a JSON string: 400 `invalid`. */
  InvalidCharacters = 'fhir.invalid-characters',
  /** JSON nested deeper than the configured limit: 400 `structure`. */
  TooDeep = 'fhir.too-deep',
  /** A body whose Content-Encoding cannot be decoded (garbage gzip), or an encoding not supported: 400 `structure`. */
  BadEncoding = 'fhir.bad-encoding',
  /** Request headers larger than the server accepts: 431 `too-long`. */
  HeadersTooLarge = 'fhir.headers-too-large',
  /** A PATCH body that is not an RFC 6902 JSON Patch document (not an array, an unknown `op`, a bad pointer): 400 `structure`. */
  PatchMalformed = 'fhir.patch-malformed',
  /** A patch that would change what the server owns (`id`, `resourceType`, `meta.versionId`, `meta.lastUpdated`): 400 `invalid`. */
  PatchProtectedElement = 'fhir.patch-protected-element',
  /**
   * A well-formed patch that cannot be applied to the current version (a `test` that fails, a
   * path that is not there): 422 `processing`; nothing is written (docs/decisions/0015).
   */
  PatchNotApplicable = 'fhir.patch-not-applicable',
  /** A patch format this server does not take (FHIRPath Patch, XML Patch): 400 `not-supported`. */
  PatchFormatNotSupported = 'fhir.patch-format-not-supported',
}

/** A refused method names the methods the FHIR endpoints take (RFC 9110 §15.5.6). */
const NOT_ALLOWED: ErrorAnswer = { status: 405, issue: 'not-supported', headers: { Allow: 'GET, HEAD, POST, PUT, PATCH' } };

/** How each request code answers (R4 http.html, issue types from http://hl7.org/fhir/issue-type). */
const FHIR_REQUEST_ANSWERS: ErrorAnswers<FhirRequestErrorCode> = {
  [FhirRequestErrorCode.UnsupportedMediaType]: { status: 415, issue: 'not-supported' },
  [FhirRequestErrorCode.PayloadTooLarge]: { status: 413, issue: 'too-long' },
  [FhirRequestErrorCode.MalformedBody]: { status: 400, issue: 'structure' },
  [FhirRequestErrorCode.ResourceTypeMismatch]: { status: 400, issue: 'invalid' },
  [FhirRequestErrorCode.IdMismatch]: { status: 400, issue: 'invalid' },
  [FhirRequestErrorCode.InvalidRequest]: { status: 400, issue: 'invalid' },
  [FhirRequestErrorCode.ValidationFailed]: { status: 400, issue: 'structure' },
  [FhirRequestErrorCode.UnknownResourceType]: { status: 404, issue: 'not-supported' },
  [FhirRequestErrorCode.DeleteRefused]: NOT_ALLOWED,
  [FhirRequestErrorCode.MethodNotSupported]: NOT_ALLOWED,
  [FhirRequestErrorCode.RouteNotFound]: { status: 404, issue: 'not-found' },
  [FhirRequestErrorCode.BreakGlassReasonMissing]: { status: 400, issue: 'required' },
  [FhirRequestErrorCode.TooCostly]: { status: 400, issue: 'too-costly' },
  [FhirRequestErrorCode.QueryTimeout]: { status: 400, issue: 'too-costly' },
  [FhirRequestErrorCode.InvalidCharacters]: { status: 400, issue: 'invalid' },
  [FhirRequestErrorCode.TooDeep]: { status: 400, issue: 'structure' },
  [FhirRequestErrorCode.BadEncoding]: { status: 400, issue: 'structure' },
  [FhirRequestErrorCode.HeadersTooLarge]: { status: 431, issue: 'too-long' },
  [FhirRequestErrorCode.PatchMalformed]: { status: 400, issue: 'structure' },
  [FhirRequestErrorCode.PatchProtectedElement]: { status: 400, issue: 'invalid' },
  [FhirRequestErrorCode.PatchNotApplicable]: { status: 422, issue: 'processing' },
  [FhirRequestErrorCode.PatchFormatNotSupported]: { status: 400, issue: 'not-supported' },
};

/** Thrown by the FHIR facade for requests it cannot accept. */
export class FhirRequestError extends ChartWardenError<FhirRequestErrorCode> {
  constructor(
    code: FhirRequestErrorCode,
    message: string,
    expression?: string[],
    /** Detailed issues (validation), returned as they are. */
    readonly issues?: OperationOutcomeIssue[],
  ) {
    super(code, message, expression);
  }

  override get answer(): ErrorAnswer {
    return FHIR_REQUEST_ANSWERS[this.code];
  }
}

/** An error in one entry of a transaction: the whole transaction fails with the entry's status. */
export class BundleEntryError extends ChartWardenError<'fhir.bundle-entry'> {
  constructor(
    readonly entryIndex: number,
    override readonly cause: unknown,
  ) {
    super('fhir.bundle-entry', `Bundle.entry[${entryIndex}]: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}
