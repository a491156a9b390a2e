import { HttpException, Logger } from '@nestjs/common';
import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';
import { ChartWardenError, type ErrorAnswer, type IssueType } from '../common/chartwarden.error.js';
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

const logger = new Logger('FhirErrors');

/**
 * The one place that turns any thrown error into an HTTP status and an OperationOutcome
 * (R4 operationoutcome.html; issue codes from http://hl7.org/fhir/issue-type). A
 * `ChartWardenError` answers as it declares (`answer`: each feature's errors file maps every
 * code of its enum, exhaustively), so this knows no feature. Unknown errors, and errors that
 * declare no answer, become a 500 that reveals nothing of the internals.
 */
export function toErrorResponse(error: unknown): ErrorResponse {
  if (error instanceof BundleEntryError) {
    const inner = toErrorResponse(error.cause);
    for (const issue of inner.outcome.issue ?? []) {
      issue.expression = [`Bundle.entry[${error.entryIndex}]`, ...(issue.expression ?? [])];
    }
    return inner;
  }
  if (error instanceof ChartWardenError && error.answer) {
    const mapped = fromAnswer(error, error.answer);
    // Every issue (e.g. each validation problem) carries ChartWarden's code too, as every error does.
    if (error instanceof FhirRequestError && error.issues?.length) {
      mapped.outcome.issue = error.issues.map((issue) => ({
        ...issue,
        details: { ...issue.details, coding: [...(issue.details?.coding ?? []), { system: ERROR_CODE_SYSTEM, code: error.code }] },
      }));
    }
    return mapped;
  }
  if (error instanceof AuditUnavailableError) {
    return { status: 503, outcome: outcome('transient', error.message, 'audit.unavailable'), headers: { 'Retry-After': '5' } };
  }
  if (error instanceof HttpException) {
    const status = error.getStatus();
    const code: IssueType = status === 404 ? 'not-found' : status === 405 ? 'not-supported' : status < 500 ? 'invalid' : 'exception';
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
    return toErrorResponse(
      new FhirRequestError(FhirRequestErrorCode.QueryTimeout, 'The request took longer than the server allows for one statement and was cancelled; nothing was written. Narrow the search (fewer values, a patient, a date range) and try again.'),
    );
  }
  logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  return { status: 500, outcome: outcome('exception', 'Internal error; nothing was changed by the failed step. The server log has the details.') };
}

/** The response an error's declared answer gives: one issue with its code (or the code it answers as), where it points, and the answer's headers. */
function fromAnswer(error: ChartWardenError, answer: ErrorAnswer): ErrorResponse {
  const o = outcome(answer.issue, error.message, answer.answersAs ?? error.code);
  // An error answering as another's says nothing the other would not: not where it looked.
  if (error.expression?.length && !answer.answersAs) o.issue![0].expression = error.expression;
  return answer.headers ? { status: answer.status, outcome: o, headers: { ...answer.headers } } : { status: answer.status, outcome: o };
}

/** A one-issue OperationOutcome. */
export function outcome(code: IssueType, text: string, chartwardenCode?: string, severity: OperationOutcomeIssue['severity'] = 'error'): OperationOutcome {
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
