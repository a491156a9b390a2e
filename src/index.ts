/**
 * ChartWarden's public API: everything a host application may import. Anything not
 * exported here is internal and may change without notice. Development helpers (dev
 * tokens) are in `chartwarden/dev` (`src/dev.ts`).
 */

// The module and its options.
export { ChartWardenModule, CHARTWARDEN_OPTIONS } from './chartwarden.module.js';
export type {
  ChartWardenOptions,
  StoreOptions,
  IdentityOptions,
  FhirOptions,
  ClaimNames,
  AuditOptions,
  CheckpointOptions,
  LoggingOptions,
  LogLevel,
  LogFormat,
  MetricsOptions,
} from './config/chartwarden.options.js';
export { PolicyReloader } from './policy/policy-reloader.js';
export { ApplicationRoleError } from './database/application-role.js';
export { EmbeddedPostgresLauncher } from './database/embedded-postgres.launcher.js';
export { setupOpenApi } from './openapi.js';
/** Fastify's server options for a host that embeds the module on Fastify (decision 0021). */
export { FASTIFY_SERVER_OPTIONS } from './fhir/fastify-server.js';
export { Clock, SystemClock } from './common/clock.js';

// Who acts: identity, and how a host's routes declare and check it.
export type { Actor, LicenceStatus } from './identity/actor.js';
export { CurrentActor, Public } from './identity/bearer-auth.guard.js';
export { TokenVerifier } from './identity/token.verifier.js';
export { Permission, type RoutePermission } from './fhir/route-permission.js';

// The embedding client: reads and writes as an actor, through the same pipeline as HTTP.
export { ChartWarden } from './embedding/chartwarden.client.js';
export { ActingClient, type SearchQuery, type CreateCallOptions, type UpdateCallOptions } from './embedding/acting-client.js';
export { EMBEDDED_BASE_URL, type ActingOptions } from './embedding/embedded-calls.js';

// What a refusal is, and how HTTP would answer it.
export { ChartWardenError, type ErrorAnswer, type ErrorAnswers, type IssueType } from './common/chartwarden.error.js';
export { toErrorResponse, type ErrorResponse } from './fhir/operation-outcome.mapper.js';
export { AccessError, AccessErrorCode } from './policy/policy.errors.js';
export { FhirRequestError, FhirRequestErrorCode } from './fhir/fhir.errors.js';
export { GovernanceError, GovernanceErrorCode } from './governance/governance.errors.js';
export { DisputeError, DisputeErrorCode } from './disputes/disputes.errors.js';
export { IdentityError, IdentityErrorCode } from './identity/identity.errors.js';
export { AuditUnavailableError } from './audit/audit-recorder.js';

// The write chain a hospital extends (`forRoot({ writeGuards })`).
export { WriteGuard, WriteRecorder } from './fhir/write-chain.port.js';
export type { WriteAttempt, JournaledWrite, WriteStep } from './fhir/write-chain.port.js';
export type { FhirContext } from './fhir/fhir-request.js';

// A store adapter of your own (`store: { kind: 'custom', store }`): the port to implement and every type it speaks.
export { FhirStore, notFoundError } from './store/fhir-store.port.js';
export type { CreateOptions, UpdateOptions, WriteOutcome, HistoryPage, PageRequest, SearchResult, StoredJson } from './store/fhir-store.port.js';
export { PatientRecordIndex } from './store/patient-record-index.port.js';
export type { WriteScope, RecordRef, VersionRef, IndexedRecord, PatientVisits } from './store/patient-record-index.port.js';
export { CONFIDENTIALITY_ORDER, CONFIDENTIALITY_SYSTEM, CONTEXT_FACTS } from './store/access-facts.js';
export type { AccessFacts, AccessCondition, AccessFilter, AccessFactOptions } from './store/access-facts.js';
export type { SearchRequest, Criterion, CriterionValue, DatePrefix, IncludeSpec, SortRule } from './store/search/search-request.js';
export type { SearchParamDef, IndexedParamType } from './store/search/search-parameter.registry.js';
export type { DateRange } from './store/search/date-range.js';
export { StoreError, StoreErrorCode } from './store/store.errors.js';
// A guard's or a store's signature names the unit of work; only ChartWarden opens one or reaches its connection.
export type { UnitOfWork } from './database/unit-of-work.js';
export type { Queryable } from './database/chartwarden-database.js';
