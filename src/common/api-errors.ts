import { SetMetadata } from '@nestjs/common';
import { ApiResponse, type ResponseObject, type SchemaObject } from '@nestjs/swagger';
import type { ChartWardenError } from './chartwarden.error.js';

/**
 * How the workflow routes document their answers in OpenAPI (issue #18): each route states the
 * errors its own use case can answer (`@ApiErrors`), as the feature's error codes themselves, so
 * the status and FHIR issue type are those the one error mapper sends; `setupOpenApi` adds what
 * every route answers before its handler runs (token, input guard, body parser, audit trail, the
 * route's workflow permission) and writes each status once, with the OperationOutcome schema.
 */

/** The media type every error answers in (an OperationOutcome, R4 http.html). */
export const ERROR_MEDIA_TYPE = 'application/fhir+json';

/** Where the one OperationOutcome schema is registered in the document (`components.schemas`). */
export const OPERATION_OUTCOME_SCHEMA_NAME = 'OperationOutcome';

/** The FHIR R4 OperationOutcome as ChartWarden answers errors: one issue per problem, ChartWarden's code in `details.coding`. */
export const OPERATION_OUTCOME_SCHEMA: SchemaObject = {
  type: 'object',
  description: 'FHIR R4 OperationOutcome (https://hl7.org/fhir/R4/operationoutcome.html). ChartWarden\'s own error code is in issue.details.coding.',
  required: ['resourceType', 'issue'],
  properties: {
    resourceType: { type: 'string', enum: ['OperationOutcome'] },
    issue: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['severity', 'code'],
        properties: {
          severity: { type: 'string', enum: ['fatal', 'error', 'warning', 'information'] },
          code: { type: 'string', description: 'The FHIR issue type (http://hl7.org/fhir/valueset-issue-type.html), e.g. not-found, forbidden, business-rule' },
          details: {
            type: 'object',
            properties: {
              coding: {
                type: 'array',
                items: { type: 'object', properties: { system: { type: 'string' }, code: { type: 'string', description: 'ChartWarden\'s error code, e.g. copy.not-found' } } },
              },
              text: { type: 'string' },
            },
          },
          diagnostics: { type: 'string' },
          expression: { type: 'array', items: { type: 'string' } },
        },
      },
    },
  },
};

/** One error a route can answer, as the caller sees it: HTTP status, FHIR issue type, ChartWarden's code. */
export interface DocumentedError {
  status: number;
  issue: string;
  code: string;
}

/**
 * Errors documented by what they share rather than one by one, resolved by `setupOpenApi`
 * (which may know every feature, where a route's own layer may not): a refusal of the access
 * policy, deciding on a stored record through it, and writing a record through the write chain
 * (whose guards belong to several features).
 */
export type ErrorGroup = { group: 'policy-refusal' } | { group: 'record-access' } | { group: 'record-write' };

/** The access policy refuses the operator (403 `access.forbidden`): a department's list, the audit trail, an explanation. */
export const POLICY_REFUSAL: ErrorGroup = { group: 'policy-refusal' };
/** `FhirAccess.requireStored` on a record: refused (403), hidden or missing (404), break-the-glass refused. */
export const RECORD_ACCESS: ErrorGroup = { group: 'record-access' };
/** A record written through the write chain: its guards (a legal hold's 423…) and the store's version checks. */
export const RECORD_WRITE: ErrorGroup = { group: 'record-write' };

/** What `@ApiErrors` declares on a handler. */
export interface DeclaredErrors {
  errors: DocumentedError[];
  groups: ErrorGroup['group'][];
}

/** Metadata key of `@ApiErrors` on a route handler. */
export const API_ERRORS = 'chartwarden:api-errors';

/** An error as documented: its declared answer (the code it answers as, for one that must not say its own). */
export function documented(error: ChartWardenError): DocumentedError {
  const answer = error.answer;
  if (!answer) throw new Error(`${error.name} ${error.code} declares no answer: it would be a 500, not a documented error`);
  return { status: answer.status, issue: answer.issue, code: answer.answersAs ?? error.code };
}

/** The errors `codes` of a feature's error class, as documented (`errorsOf(ReleaseError, ReleaseErrorCode.NotFound)`). */
export function errorsOf<C extends string>(make: new (code: C, message: string) => ChartWardenError<C>, ...codes: C[]): DocumentedError[] {
  return codes.map((code) => documented(new make(code, '')));
}

/**
 * The errors this route's own use case can answer: the feature's error codes (`errorsOf`), or
 * a group (`RECORD_ACCESS`, `RECORD_WRITE`). Declared on every workflow route, even when empty
 * (a route whose use case refuses nothing of its own): a route without it is listed in the
 * OpenAPI document with no error at all, which the test of the document refuses.
 */
export function ApiErrors(...declared: (DocumentedError | ErrorGroup | readonly (DocumentedError | ErrorGroup)[])[]): MethodDecorator {
  const flat = declared.flat();
  const groups = flat.filter((d): d is ErrorGroup => 'group' in d).map((g) => g.group);
  const errors = flat.filter((d): d is DocumentedError => !('group' in d));
  return SetMetadata(API_ERRORS, { errors, groups } satisfies DeclaredErrors);
}

/**
 * A route's success answer: its real status (201 for what is created, 200 otherwise) and the
 * media types it is sent in (`application/pdf` for a file, `application/json` for the workflow's
 * JSON, `application/fhir+json` for a FHIR resource), with `schema` for the JSON ones.
 */
export function ApiSuccess(status: 200 | 201, description: string, media: Readonly<Record<string, SchemaObject>>): MethodDecorator {
  const content = Object.fromEntries(Object.entries(media).map(([type, schema]) => [type, { schema }]));
  return ApiResponse({ status, description, content });
}

/** Schemas for `ApiSuccess`: one JSON object, a list of them, a file's bytes. */
export const ANSWER_SCHEMA = {
  object: { type: 'object' } satisfies SchemaObject,
  list: { type: 'array', items: { type: 'object' } } satisfies SchemaObject,
  file: { type: 'string', format: 'binary' } satisfies SchemaObject,
  fhirResource: { type: 'object', required: ['resourceType'], properties: { resourceType: { type: 'string' } } } satisfies SchemaObject,
} as const;

/**
 * The OpenAPI response of one status, from the errors answering with it: the OperationOutcome
 * schema, each code as an example (issue type and ChartWarden code, in `codeSystem`), and the
 * codes listed in the description and in `x-chartwarden-codes` for client generators.
 */
export function errorResponse(errors: readonly DocumentedError[], codeSystem: string): ResponseObject & { 'x-chartwarden-codes': { code: string; issue: string }[] } {
  const codes = [...new Map(errors.map((e) => [e.code, e])).values()].sort((a, b) => a.code.localeCompare(b.code));
  const examples = Object.fromEntries(
    codes.map((e) => [
      e.code,
      {
        summary: `${e.issue}: ${e.code}`,
        value: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: e.issue, details: { coding: [{ system: codeSystem, code: e.code }] } }] },
      },
    ]),
  );
  return {
    description: codes.map((e) => `\`${e.code}\` (${e.issue})`).join(', '),
    'x-chartwarden-codes': codes.map(({ code, issue }) => ({ code, issue })),
    content: { [ERROR_MEDIA_TYPE]: { schema: { $ref: `#/components/schemas/${OPERATION_OUTCOME_SCHEMA_NAME}` }, examples } },
  };
}
