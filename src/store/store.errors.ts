import { ChartWardenError } from '../common/chartwarden.error.js';

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
}

/** Thrown by `FhirStore` adapters. */
export class StoreError extends ChartWardenError<StoreErrorCode> {
  constructor(code: StoreErrorCode, message: string, expression?: string[]) {
    super(code, message, expression);
  }
}
