import { HttpException, Logger } from '@nestjs/common';
import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';
import { assertNever, ChartWardenError } from '../common/chartwarden.error.js';
import { GrantError, GrantErrorCode } from '../access/access.errors.js';
import { GovernanceError, GovernanceErrorCode } from '../governance/governance.errors.js';
import { DisputeError, DisputeErrorCode } from '../disputes/disputes.errors.js';
import { ReleaseError, ReleaseErrorCode } from '../release/release.errors.js';
import { IdentityError, IdentityErrorCode } from '../identity/identity.errors.js';
import { AccessError, AccessErrorCode } from '../policy/policy.errors.js';
import { StoreError, StoreErrorCode } from '../store/store.errors.js';
import { AuditUnavailableError } from '../audit/audit-recorder.js';
import { BundleEntryError, FhirRequestError, FhirRequestErrorCode } from './fhir.errors.js';

/** An error as the HTTP response it becomes. */
export interface ErrorResponse {
  status: number;
  outcome: OperationOutcome;
  headers?: Record<string, string>;
}

/** Code system for ChartWarden's own error codes, carried in `issue.details.coding`. */
export const ERROR_CODE_SYSTEM = 'https://chartwarden.dev/fhir/CodeSystem/error-code';

type IssueCode = OperationOutcomeIssue['code'];

const logger = new Logger('FhirErrors');

/**
 * The one place that turns any thrown error into an HTTP status and an OperationOutcome
 * (R4 operationoutcome.html; issue codes from http://hl7.org/fhir/issue-type). Each
 * feature's codes are mapped by an exhaustive switch: an unmapped code does not compile.
 * Unknown errors become a 500 that reveals nothing of the internals.
 */
export function toErrorResponse(error: unknown): ErrorResponse {
  if (error instanceof BundleEntryError) {
    const inner = toErrorResponse(error.cause);
    for (const issue of inner.outcome.issue ?? []) {
      issue.expression = [`Bundle.entry[${error.entryIndex}]`, ...(issue.expression ?? [])];
    }
    return inner;
  }
  if (error instanceof StoreError) return fromCode(error, ...storeStatus(error.code));
  // A record or version the policy hides answers exactly as one that does not exist: same status, code and words (docs/decisions/0005, 0010).
  if (error instanceof AccessError && error.code === AccessErrorCode.Hidden) {
    return fromCode(new StoreError(StoreErrorCode.NotFound, error.message), ...storeStatus(StoreErrorCode.NotFound));
  }
  if (error instanceof AccessError) return fromCode(error, ...accessStatus(error.code));
  if (error instanceof GrantError) return fromCode(error, ...grantStatus(error.code));
  if (error instanceof GovernanceError) return fromCode(error, ...governanceStatus(error.code));
  if (error instanceof DisputeError) return fromCode(error, ...disputeStatus(error.code));
  if (error instanceof ReleaseError) return fromCode(error, ...releaseStatus(error.code));
  if (error instanceof IdentityError) {
    return { ...fromCode(error, ...identityStatus(error.code)), headers: { 'WWW-Authenticate': 'Bearer realm="chartwarden"' } };
  }
  if (error instanceof FhirRequestError) {
    const mapped = fromCode(error, ...fhirStatus(error.code));
    // Every issue (e.g. each validation problem) carries ChartWarden's code too, as every error does.
    if (error.issues?.length) {
      mapped.outcome.issue = error.issues.map((issue) => ({
        ...issue,
        details: { ...issue.details, coding: [...(issue.details?.coding ?? []), { system: ERROR_CODE_SYSTEM, code: error.code }] },
      }));
    }
    if (error.code === FhirRequestErrorCode.DeleteRefused || error.code === FhirRequestErrorCode.MethodNotSupported) {
      mapped.headers = { Allow: 'GET, HEAD, POST, PUT' };
    }
    return mapped;
  }
  if (error instanceof AuditUnavailableError) {
    return { status: 503, outcome: outcome('transient', error.message, 'audit.unavailable'), headers: { 'Retry-After': '5' } };
  }
  if (error instanceof HttpException) {
    const status = error.getStatus();
    const code: IssueCode = status === 404 ? 'not-found' : status === 405 ? 'not-supported' : status < 500 ? 'invalid' : 'exception';
    return { status, outcome: outcome(code, error.message) };
  }
  // PostgreSQL gave up on a transaction to let another through (deadlock, serialization):
  // nothing was written, and the same request will most likely pass when tried again.
  const sqlState = (error as { code?: unknown } | undefined)?.code;
  if (sqlState === '40P01' || sqlState === '40001') {
    return { status: 503, outcome: outcome('transient', 'A concurrent change got in the way (e.g. a record being sealed); nothing was written: try again', 'database.retry'), headers: { 'Retry-After': '1' } };
  }
  // The statement ran past the configured statement timeout (57014, query_canceled): the
  // transaction rolled back and the connection is free again.
  if (sqlState === '57014') {
    return fromCode(
      new FhirRequestError(FhirRequestErrorCode.QueryTimeout, 'The request took longer than the server allows for one statement and was cancelled; nothing was written. Narrow the search (fewer values, a patient, a date range) and try again.'),
      ...fhirStatus(FhirRequestErrorCode.QueryTimeout),
    );
  }
  logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  return { status: 500, outcome: outcome('exception', 'Internal error; nothing was changed by the failed step. The server log has the details.') };
}

function storeStatus(code: StoreErrorCode): [number, IssueCode] {
  switch (code) {
    case StoreErrorCode.NotFound:
      return [404, 'not-found'];
    case StoreErrorCode.VersionConflict:
      return [412, 'conflict'];
    case StoreErrorCode.MultipleMatches:
      return [412, 'multiple-matches'];
    case StoreErrorCode.Conflict:
      return [409, 'conflict'];
    case StoreErrorCode.UnknownSearchParameter:
      return [400, 'not-supported'];
    case StoreErrorCode.InvalidSearch:
      return [400, 'invalid'];
    case StoreErrorCode.InvalidResource:
      return [400, 'invalid'];
    default:
      return assertNever(code);
  }
}

function accessStatus(code: AccessErrorCode): [number, IssueCode] {
  switch (code) {
    case AccessErrorCode.Forbidden:
    case AccessErrorCode.BreakGlassNotAllowed:
      return [403, 'forbidden'];
    case AccessErrorCode.Hidden:
      return [404, 'not-found'];
    case AccessErrorCode.BreakGlassReasonMissing:
      return [400, 'required'];
    case AccessErrorCode.BreakGlassNeedsPatient:
      return [400, 'invalid'];
    default:
      return assertNever(code);
  }
}

function releaseStatus(code: ReleaseErrorCode): [number, IssueCode] {
  switch (code) {
    case ReleaseErrorCode.Invalid:
      return [400, 'invalid'];
    case ReleaseErrorCode.EvidenceMissing:
    case ReleaseErrorCode.SubjectiveRefused:
    case ReleaseErrorCode.NothingToProduce:
    case ReleaseErrorCode.RecipientMismatch:
    case ReleaseErrorCode.RequesterMismatch:
      return [422, 'business-rule'];
    case ReleaseErrorCode.EvidenceType:
      return [415, 'not-supported'];
    case ReleaseErrorCode.Forbidden:
    case ReleaseErrorCode.Withheld:
    case ReleaseErrorCode.SeparationOfDuties:
      return [403, 'forbidden'];
    case ReleaseErrorCode.WrongState:
      return [409, 'conflict'];
    case ReleaseErrorCode.NotFound:
      return [404, 'not-found'];
    default:
      return assertNever(code);
  }
}

/** A sealed record answers 423 Locked, not 409: a HIS retries a 409 after re-reading, and no re-read lifts a legal hold (decision 0008). */
function disputeStatus(code: DisputeErrorCode): [number, IssueCode] {
  switch (code) {
    case DisputeErrorCode.Sealed:
      return [423, 'business-rule'];
    case DisputeErrorCode.Invalid:
      return [400, 'invalid'];
    case DisputeErrorCode.ConfirmationMissing:
    case DisputeErrorCode.UnsealNotAllowed:
    case DisputeErrorCode.SelfWitness:
      return [422, 'business-rule'];
    case DisputeErrorCode.WitnessRejected:
    case DisputeErrorCode.Forbidden:
      return [403, 'forbidden'];
    case DisputeErrorCode.WrongState:
    case DisputeErrorCode.InventoryChanged:
      return [409, 'conflict'];
    case DisputeErrorCode.NotFound:
      return [404, 'not-found'];
    default:
      return assertNever(code);
  }
}

function governanceStatus(code: GovernanceErrorCode): [number, IssueCode] {
  switch (code) {
    case GovernanceErrorCode.ReasonRequired:
    case GovernanceErrorCode.EditWindowClosed:
    case GovernanceErrorCode.CosignRequired:
    case GovernanceErrorCode.Archived:
    case GovernanceErrorCode.CopiedFromOtherPatient:
      return [422, 'business-rule'];
    case GovernanceErrorCode.NotArchivable:
      return [409, 'conflict'];
    case GovernanceErrorCode.SeniorReviewRequired:
      return [403, 'forbidden'];
    case GovernanceErrorCode.NotAuthor:
    case GovernanceErrorCode.CosignerNotLicensed:
    case GovernanceErrorCode.AmendmentForbidden:
      return [403, 'forbidden'];
    case GovernanceErrorCode.AlreadySigned:
    case GovernanceErrorCode.NotAwaitingCosign:
    case GovernanceErrorCode.AwaitingCosign:
    case GovernanceErrorCode.AmendmentWrongState:
      return [409, 'conflict'];
    case GovernanceErrorCode.ReasonMissing:
      return [400, 'required'];
    case GovernanceErrorCode.AmendmentNotFound:
      return [404, 'not-found'];
    case GovernanceErrorCode.NotGoverned:
      return [400, 'not-supported'];
    case GovernanceErrorCode.VersionNotFound:
      return [404, 'not-found'];
    default:
      return assertNever(code);
  }
}

function grantStatus(code: GrantErrorCode): [number, IssueCode] {
  switch (code) {
    case GrantErrorCode.NotFound:
      return [404, 'not-found'];
    case GrantErrorCode.WrongState:
      return [409, 'conflict'];
    case GrantErrorCode.Invalid:
      return [400, 'invalid'];
    case GrantErrorCode.Forbidden:
      return [403, 'forbidden'];
    default:
      return assertNever(code);
  }
}

function identityStatus(code: IdentityErrorCode): [number, IssueCode] {
  switch (code) {
    case IdentityErrorCode.MissingToken:
    case IdentityErrorCode.InvalidToken:
    case IdentityErrorCode.ExpiredToken:
    case IdentityErrorCode.NoExpiry:
    case IdentityErrorCode.LifetimeTooLong:
      return [401, 'login'];
    default:
      return assertNever(code);
  }
}

function fhirStatus(code: FhirRequestErrorCode): [number, IssueCode] {
  switch (code) {
    case FhirRequestErrorCode.UnsupportedMediaType:
      return [415, 'not-supported'];
    case FhirRequestErrorCode.PayloadTooLarge:
      return [413, 'too-long'];
    case FhirRequestErrorCode.MalformedBody:
      return [400, 'structure'];
    case FhirRequestErrorCode.ResourceTypeMismatch:
    case FhirRequestErrorCode.IdMismatch:
    case FhirRequestErrorCode.InvalidRequest:
      return [400, 'invalid'];
    case FhirRequestErrorCode.ValidationFailed:
      return [400, 'structure'];
    case FhirRequestErrorCode.UnknownResourceType:
      return [404, 'not-supported'];
    case FhirRequestErrorCode.DeleteRefused:
    case FhirRequestErrorCode.MethodNotSupported:
      return [405, 'not-supported'];
    case FhirRequestErrorCode.RouteNotFound:
      return [404, 'not-found'];
    case FhirRequestErrorCode.BreakGlassReasonMissing:
      return [400, 'required'];
    case FhirRequestErrorCode.TooCostly:
    case FhirRequestErrorCode.QueryTimeout:
      return [400, 'too-costly'];
    case FhirRequestErrorCode.InvalidCharacters:
      return [400, 'invalid'];
    case FhirRequestErrorCode.TooDeep:
    case FhirRequestErrorCode.BadEncoding:
      return [400, 'structure'];
    case FhirRequestErrorCode.HeadersTooLarge:
      return [431, 'too-long'];
    default:
      return assertNever(code);
  }
}

function fromCode(error: ChartWardenError, status: number, code: IssueCode): ErrorResponse {
  const o = outcome(code, error.message, error.code);
  if (error.expression?.length) o.issue![0].expression = error.expression;
  return { status, outcome: o };
}

/** A one-issue OperationOutcome. */
export function outcome(code: IssueCode, text: string, chartwardenCode?: string, severity: OperationOutcomeIssue['severity'] = 'error'): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [
      {
        severity,
        code,
        details: chartwardenCode ? { coding: [{ system: ERROR_CODE_SYSTEM, code: chartwardenCode }], text } : { text },
        diagnostics: text,
      },
    ],
  };
}
