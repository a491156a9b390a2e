import type { INestApplication } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject, type OperationObject } from '@nestjs/swagger';
import { AuditUnavailableError } from './audit/audit-recorder.js';
import {
  API_ERRORS,
  errorResponse,
  OPERATION_OUTCOME_SCHEMA,
  OPERATION_OUTCOME_SCHEMA_NAME,
  type DeclaredErrors,
  type DocumentedError,
  type ErrorGroup,
} from './common/api-errors.js';
import { DisputeError, DisputeErrorCode } from './disputes/disputes.errors.js';
import { NotAcceptableError } from './fhir/format-negotiation.js';
import { FhirRequestError, FhirRequestErrorCode } from './fhir/fhir.errors.js';
import { ERROR_CODE_SYSTEM, toErrorResponse } from './fhir/operation-outcome.mapper.js';
import { ROUTE_PERMISSION, type RoutePermission } from './fhir/route-permission.js';
import { IdentityError, IdentityErrorCode } from './identity/identity.errors.js';
import { AccessError, AccessErrorCode } from './policy/policy.errors.js';
import { StoreError, StoreErrorCode } from './store/store.errors.js';

/** The controllers' tags that make the workflow API; untagged routes (the FHIR API, health, the console) are not documented here. */
const WORKFLOW_TAGS = ['copy-requests', 'disputes', 'access', 'governance', 'audit', 'print'] as const;

/**
 * The workflow APIs (`/copy-requests`, `/disputes`, `/access`, `/governance`, the access report,
 * and the record operations `$print`, `$sign`, `$cosign`, `$archive`, `$amend-request`,
 * `$changes`) as OpenAPI 3, served at `/docs` (Swagger UI) and `/docs-json`, every error each
 * route can answer listed with the OperationOutcome schema (issue #18). The FHIR REST API is
 * described by its CapabilityStatement (`/fhir/metadata`), not here. A host application
 * embedding the module calls this on its own app if it wants the page. `ui: false` serves the
 * documents only (on Fastify the page's files need `@fastify/static`, which jest on Node 20
 * cannot load: its `content-disposition` is ES modules only).
 */
export function setupOpenApi(app: INestApplication, path = 'docs', { ui = true }: { ui?: boolean } = {}): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('ChartWarden workflow API')
    .setDescription(
      'Record-room copy requests (R-30…R-34), dispute sealing (R-40…R-44), access grants and break-the-glass review (R-04, R-05), ' +
        'edit governance (R-10…R-15) and the patient\'s access report (R-20). Every call needs a bearer token; every step is recorded ' +
        'in the audit trail (GET /fhir/AuditEvent). Errors are FHIR OperationOutcomes (application/fhir+json) with ChartWarden codes in ' +
        `issue.details.coding (system ${ERROR_CODE_SYSTEM}); each response lists its codes in x-chartwarden-codes. The FHIR API itself: GET /fhir/metadata.`,
    )
    .setVersion('1')
    .addBearerAuth()
    .build();
  const document = SwaggerModule.createDocument(app, config, { operationIdFactory: operationId });
  const handlers = routeHandlers(app);
  document.paths = Object.fromEntries(
    Object.entries(document.paths).flatMap(([route, item]) => {
      const kept = Object.fromEntries(Object.entries(item).filter(([, op]) => isWorkflow(op)));
      for (const [method, op] of Object.entries(kept)) documentErrors(route, method, op as OperationObject, handlers.get((op as OperationObject).operationId ?? ''));
      return Object.keys(kept).length ? [[route, kept]] : [];
    }),
  );
  document.components = { ...document.components, schemas: { ...document.components?.schemas, [OPERATION_OUTCOME_SCHEMA_NAME]: OPERATION_OUTCOME_SCHEMA } };
  SwaggerModule.setup(path, app, document, { jsonDocumentUrl: `${path}-json`, ui });
  return document;
}

const operationId = (controller: string, method: string) => `${controller}_${method}`;

function isWorkflow(op: unknown): boolean {
  const tags = (op as OperationObject | undefined)?.tags ?? [];
  return tags.some((t) => (WORKFLOW_TAGS as readonly string[]).includes(t));
}

/** Every route handler of the application, by its operation id (`Controller_method`). */
function routeHandlers(app: INestApplication): Map<string, object> {
  const handlers = new Map<string, object>();
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const type = wrapper.metatype as { name: string; prototype: Record<string, unknown> } | null;
      if (!type?.prototype) continue;
      for (const name of Object.getOwnPropertyNames(type.prototype)) {
        const handler = type.prototype[name];
        if (name !== 'constructor' && typeof handler === 'function') handlers.set(operationId(type.name, name), handler);
      }
    }
  }
  return handlers;
}

/**
 * The error responses of one operation: what its handler declares (`@ApiErrors`), its groups,
 * its workflow permission's refusal, and what every route answers before its handler runs. A
 * route that declares nothing is left without errors, so the omission shows (and fails the test).
 */
function documentErrors(route: string, method: string, op: OperationObject, handler: object | undefined): void {
  const declared = handler && (Reflect.getMetadata(API_ERRORS, handler) as DeclaredErrors | undefined);
  if (!declared) return;
  const permission = Reflect.getMetadata(ROUTE_PERMISSION, handler) as RoutePermission | undefined;
  const errors = [
    ...declared.errors,
    ...declared.groups.flatMap((g) => GROUPS[g]),
    ...(permission?.kind === 'workflow' ? [answerOf(permission.refuse(''))] : []),
    ...EVERY_ROUTE,
    ...(['post', 'put', 'patch'].includes(method) ? WITH_BODY : []),
    ...(route.startsWith('/fhir/') ? UNDER_FHIR : []),
    ...(route.startsWith('/access/') ? [] : WITH_CONTEXT),
  ];
  const byStatus = new Map<number, DocumentedError[]>();
  for (const e of errors) byStatus.set(e.status, [...(byStatus.get(e.status) ?? []), e]);
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) op.responses[String(status)] = errorResponse(list, ERROR_CODE_SYSTEM);
}

/** An error as the one mapper answers it (status, issue type, code): what a caller would receive. */
function answerOf(error: unknown): DocumentedError {
  const { status, outcome } = toErrorResponse(error);
  const issue = outcome.issue?.[0];
  const code = issue?.details?.coding?.[0]?.code;
  if (!issue || !code || (status >= 500 && status !== 503)) throw new Error(`An error documented for the workflow API has no ChartWarden code: ${String(error)}`);
  return { status, issue: issue.code, code };
}

const sqlState = (code: string) => Object.assign(new Error(`SQLSTATE ${code}`), { code });

/**
 * Before any handler: no or a bad token (401, `bearerAuthMiddleware`, R-01), bad characters in
 * the URL or headers (400, the input guard), headers too large (431), a statement past the
 * timeout (400); after it, the audit trail or the database unavailable (503: nothing answered unrecorded, R-20).
 */
const EVERY_ROUTE: DocumentedError[] = [
  ...Object.values(IdentityErrorCode).map((c) => answerOf(new IdentityError(c, ''))),
  ...[FhirRequestErrorCode.InvalidCharacters, FhirRequestErrorCode.InvalidRequest, FhirRequestErrorCode.HeadersTooLarge, FhirRequestErrorCode.QueryTimeout].map((c) =>
    answerOf(new FhirRequestError(c, '')),
  ),
  answerOf(new AuditUnavailableError(undefined)),
  answerOf(sqlState('40001')),
];

/** A request with a body (`FhirBodyMiddleware`): unreadable JSON (400), too large (413), a media type not taken (415). */
const WITH_BODY: DocumentedError[] = [
  FhirRequestErrorCode.MalformedBody,
  FhirRequestErrorCode.TooDeep,
  FhirRequestErrorCode.BadEncoding,
  FhirRequestErrorCode.PayloadTooLarge,
  FhirRequestErrorCode.UnsupportedMediaType,
].map((c) => answerOf(new FhirRequestError(c, '')));

/** Under `/fhir`: `_format` or `Accept` asking for what the route does not produce (406, `FormatNegotiation`). */
const UNDER_FHIR: DocumentedError[] = [answerOf(new NotAcceptableError(''))];

/**
 * Every route but `/access`'s reads the request as a `FhirContext` (`fhirContext`), which refuses a
 * break-the-glass `Category` sent without `X-Break-Glass-Reason` (400, R-04); `/access` reads only the actor.
 */
const WITH_CONTEXT: DocumentedError[] = [answerOf(new FhirRequestError(FhirRequestErrorCode.BreakGlassReasonMissing, ''))];

/** What each group of `@ApiErrors` stands for. */
const GROUPS: Record<ErrorGroup['group'], DocumentedError[]> = {
  'policy-refusal': [answerOf(new AccessError(AccessErrorCode.Forbidden, ''))],
  // `FhirAccess.requireStored` with existence hidden: refused (403) or, as the policy says, not found (404 like a missing record);
  // break-the-glass by a role the policy does not name (403), or for a record of no patient (400).
  'record-access': [
    answerOf(new AccessError(AccessErrorCode.Forbidden, '')),
    answerOf(new AccessError(AccessErrorCode.Hidden, '')),
    answerOf(new StoreError(StoreErrorCode.NotFound, '')),
    answerOf(new AccessError(AccessErrorCode.BreakGlassNotAllowed, '')),
    answerOf(new AccessError(AccessErrorCode.BreakGlassNeedsPatient, '')),
  ],
  // The write chain: a record sealed under a dispute (423, R-41, decision 0008), a version changed since it was read (412).
  'record-write': [answerOf(new DisputeError(DisputeErrorCode.Sealed, '')), answerOf(new StoreError(StoreErrorCode.VersionConflict, ''))],
};
