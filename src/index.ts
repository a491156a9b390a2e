/**
 * ChartWarden's public API: everything a host application may import. Anything not
 * exported here is internal and may change without notice.
 */
export { ChartWardenModule, CHARTWARDEN_OPTIONS } from './chartwarden.module.js';
export type {
  ChartWardenOptions,
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
export { Clock, SystemClock } from './common/clock.js';
export type { Actor, LicenceStatus } from './identity/actor.js';
export { CurrentActor, Public } from './identity/bearer-auth.guard.js';
export { TokenVerifier } from './identity/token.verifier.js';
export { issueDevToken, DevTokenError, type DevTokenRequest } from './identity/dev-token.issuer.js';
export { FhirStore } from './store/fhir-store.port.js';
export type { CreateOptions, UpdateOptions, WriteOutcome, HistoryPage, PageRequest, SearchResult } from './store/fhir-store.port.js';
export type { SearchRequest } from './store/search/search-request.js';
export { StoreError, StoreErrorCode } from './store/store.errors.js';
export { EmbeddedPostgresLauncher } from './database/embedded-postgres.launcher.js';
export { setupOpenApi } from './openapi.js';
