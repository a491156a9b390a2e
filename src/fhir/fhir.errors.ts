import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { ChartWardenError } from '../common/chartwarden.error.js';

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
  /** A search beyond the configured limits (values per parameter, parameters per search): 400 `too-costly`, naming the limit. */
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
}

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
