import type { Type } from '@nestjs/common';
import type { WriteGuard } from '../fhir/write-chain.port.js';
import type { FhirStore } from '../store/fhir-store.port.js';

/**
 * Everything a host application (or the standalone server) tells ChartWarden. Passed to
 * `ChartWardenModule.forRoot()` / `forRootAsync()`; `optionsFromEnv()` builds it from the
 * environment for the standalone server (see the configuration table in README.md).
 */
export interface ChartWardenOptions {
  /** PostgreSQL connection string for ChartWarden's own tables and the embedded FHIR store. */
  databaseUrl: string;
  /**
   * The role requests run as (R-17, R-21; decision 0011): one that owns nothing and may not
   * disable triggers. Unset: `databaseUrl`'s role creates `<database>_app` (needs CREATEROLE).
   */
  applicationDatabaseUrl?: string;
  /** Connection pool size (per instance). */
  databasePoolSize?: number;
  /**
   * Longest a single SQL statement of a request may run, in milliseconds (default 5000); past
   * it PostgreSQL cancels it and the request answers 400 `too-costly`. 0 turns the limit off.
   */
  statementTimeoutMs?: number;
  /** Directory for local state: the dev signing key (and, standalone, embedded PostgreSQL). */
  dataDir: string;
  identity?: IdentityOptions;
  fhir?: FhirOptions;
  /**
   * The access policy: a YAML/JSON file path, or the document itself. Default: the shipped
   * `policy/default.policy.yaml` (R-01…R-07 of docs/rules.md). Validated at start-up.
   */
  policy?: string | Record<string, unknown>;
  audit?: AuditOptions;
  /** Signed audit checkpoints written on a schedule (R-21; decision 0011). Unset: none. */
  checkpoint?: CheckpointOptions;
  /** Structured logs: one access-log line per request. Unset: the module writes no access log (the host logs its own way). */
  logging?: LoggingOptions;
  /** `GET /metrics` (Prometheus). Unset: disabled (404). */
  metrics?: MetricsOptions;
  /** Browsers of these origins may call ChartWarden's routes (CORS). Unset: no CORS headers at all. */
  cors?: CorsOptions;
  /** The FHIR store ChartWarden guards. Unset: the embedded store (`{ kind: 'embedded' }`). */
  store?: StoreOptions;
  /**
   * The staff console at `/console` (issue #18, decision 0019). Unset: not served (a host that
   * embeds the module opts in); the standalone server serves it unless `CHARTWARDEN_CONSOLE=off`.
   */
  console?: ConsoleOptions;
  /**
   * The hospital's own write guards, run before every write after ChartWarden's (the legal hold
   * R-41, archive R-15, edit window R-11, reason R-12, copy-paste R-16), inside the write's
   * transaction: a class (built by Nest's injector, so it may inject ChartWarden's exports)
   * or an instance. A guard refuses by throwing a `ChartWardenError`.
   */
  writeGuards?: (Type<WriteGuard> | WriteGuard)[];
}

/**
 * Which FHIR store ChartWarden wraps. `embedded`: its own tables in `databaseUrl` (the default).
 * `remote`: a hospital's existing FHIR R4 server (issue #17, decision 0017). `custom`: an adapter
 * of your own, a `FhirStore` subclass (built by Nest's injector) or instance; it must pass
 * `test/contract/fhir-store.contract.ts`.
 */
export type StoreOptions = { kind: 'embedded' } | RemoteStoreOptions | { kind: 'custom'; store: Type<FhirStore> | FhirStore };

/**
 * ChartWarden in front of an existing FHIR server. Its own database still holds every version
 * ChartWarden wrote or adopted with its index, the grants, ledger, audit, copies and disputes.
 */
export interface RemoteStoreOptions {
  kind: 'remote';
  /** The upstream's FHIR base URL (`https://fhir.example/fhir`). */
  url: string;
  /** How ChartWarden authenticates to it. Default: none. */
  auth?: UpstreamAuth;
  /** Seconds between syncs from the upstream's history (writes that bypass ChartWarden). Default 60; 0: no sync. */
  syncIntervalSeconds?: number;
  /** Longest an upstream request may take, in milliseconds. Default 10000. */
  timeoutMs?: number;
}

/**
 * How ChartWarden authenticates to the upstream FHIR server (issue #17). Secrets come from the
 * environment or the host's own options, never from the repository.
 */
export type UpstreamAuth =
  | { kind: 'none' }
  | { kind: 'bearer'; token: string }
  | { kind: 'client-credentials'; tokenUrl: string; clientId: string; clientSecret: string; scope?: string };

/** Defaults of `RemoteStoreOptions`. */
export const REMOTE_DEFAULTS = { syncIntervalSeconds: 60, timeoutMs: 10_000 } as const;

/** pino's levels; `silent` writes nothing. */
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** `json`: one JSON object per line (log collectors); `pretty`: coloured, readable lines (a terminal). */
export type LogFormat = 'json' | 'pretty';

/** How ChartWarden logs (issue #14). Never logged: tokens, request and response bodies, record content, query strings. */
export interface LoggingOptions {
  /** Least severe level written (default `info`; access-log lines are `info`, 5xx `error`). */
  level?: LogLevel;
  /** Default: `pretty` when stdout is a terminal, `json` otherwise. */
  format?: LogFormat;
}

/** Default log level (`LoggingOptions.level`, `LOG_LEVEL`). */
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';

/** Who may read `GET /metrics`. */
export interface MetricsOptions {
  /** Serve `/metrics` at all (default false: 404). */
  enabled?: boolean;
  /** When set, `/metrics` requires `Authorization: Bearer <token>` (compared in constant time); unset: open to whoever reaches the port. */
  token?: string;
}

/** The staff console (decision 0019): served or not, and how staff sign in to it. */
export interface ConsoleOptions {
  /** Serve `/console` (its page, files, config and, in dev key mode, the demo sign-in). */
  enabled: boolean;
  /** Send `GET /` to `/console/` (the standalone server does; a host keeps its own root). */
  redirectRoot?: boolean;
  /**
   * The hospital's identity provider, where the console signs staff in (authorization code +
   * PKCE, as a public client). Unset: only the dev sign-in, and only in dev key mode.
   */
  oidc?: ConsoleOidcOptions;
}

/** The console as an OpenID Connect public client of the hospital's identity provider. */
export interface ConsoleOidcOptions {
  /** The provider's issuer (https; http only on localhost): discovery is `<issuer>/.well-known/openid-configuration`. */
  issuer: string;
  /** The console's client id; its redirect URI is `<server>/console/callback`. */
  clientId: string;
  /** Scopes asked for (default `openid profile`; `openid` is always asked). */
  scope?: string;
}

/**
 * Cross-origin requests from browser applications (https://fetch.spec.whatwg.org/#http-cors-protocol):
 * a SMART app served from another origin calls ChartWarden with its bearer token.
 */
export interface CorsOptions {
  /**
   * The exact origins allowed (`https://app.example`, scheme, host and port; no path, no
   * wildcard: requests carry an Authorization header, so the allowed origin is named, never `*`).
   */
  origins: readonly string[];
}

/** Where and how often the server writes a signed checkpoint of the audit chain heads and the ledger. */
export interface CheckpointOptions {
  /** Directory the checkpoint files are written to (created if missing). */
  dir: string;
  /** Minutes between checkpoints (default 60). */
  intervalMinutes?: number;
}

/** Default minutes between scheduled checkpoints (`CheckpointOptions.intervalMinutes`). */
export const DEFAULT_CHECKPOINT_INTERVAL_MINUTES = 60;

/** The audit trail's storage (what is recorded and kept is policy: ). */
export interface AuditOptions {
  /** Number of hash chains entries are spread over (decision 0006). More chains, less waiting on one head. */
  chains?: number;
  /** Most entries committed in one group-commit transaction. */
  maxBatch?: number;
  /** Group-commit lanes (statements in flight at once): more lower latency on an idle database, fewer cost less CPU per entry. */
  lanes?: number;
}

export const AUDIT_DEFAULTS: Required<AuditOptions> = { chains: 16, maxBatch: 2000, lanes: 1 };

/** How bearer tokens are verified and how their claims become an `Actor`. */
export interface IdentityOptions {
  /** Production: verify tokens against this JWKS. When unset, the dev key in `dataDir` is used. */
  jwksUrl?: string;
  /** Expected `iss`. Defaults to `chartwarden-dev` in dev mode; required with a JWKS. */
  issuer?: string;
  /** Expected `aud`. Defaults to `chartwarden`. */
  audience?: string;
  /** Claim names, when an identity provider uses its own. */
  claims?: Partial<ClaimNames>;
  /** Longest token lifetime accepted (`exp` − `iat`, or `exp` − now without `iat`), in minutes (default 720). Tokens without `exp` are always refused. */
  maxTokenLifetimeMinutes?: number;
  /**
   * The identity provider's OAuth 2.0 authorization endpoint, published for SMART apps in
   * `/.well-known/smart-configuration` and `/metadata` (JWKS mode only: the dev key has none).
   */
  authorizationEndpoint?: string;
  /** The identity provider's OAuth 2.0 token endpoint, published like `authorizationEndpoint`. */
  tokenEndpoint?: string;
  /**
   * The grants the identity provider issues ChartWarden's tokens through. Default:
   * `authorization_code` with an authorization endpoint, `client_credentials` (a HIS, a system
   * client) with a token endpoint.
   */
  grantTypes?: readonly OAuthGrantType[];
}

/** OAuth 2.0 grants a SMART client may use (SMART App Launch 2: user-facing apps and backend services). */
export const OAUTH_GRANT_TYPES = ['authorization_code', 'client_credentials'] as const;
export type OAuthGrantType = (typeof OAUTH_GRANT_TYPES)[number];

/** Names of the token claims that carry the actor's attributes. */
export interface ClaimNames {
  roles: string;
  department: string;
  specialty: string;
  licence: string;
  fhirUser: string;
  scope: string;
}

/** FHIR facade settings. */
export interface FhirOptions {
  /** Absolute base used in `fullUrl`, `Location` and paging links, e.g. `https://emr.example/fhir`.
   *  When unset, derived from each request's host. */
  baseUrl?: string;
  /** Largest accepted request body, in bytes (413 beyond). */
  maxBodyBytes?: number;
  /** Search page size when `_count` is absent. */
  defaultPageSize?: number;
  /** Largest `_count` honoured (larger values are reduced to it). */
  maxPageSize?: number;
  /**
   * A search's `total` is exact when at most this many match; beyond, it is left out (the `next`
   * link says there is more) unless the search asks `_total=accurate` (decision 0018): a page
   * then costs what the page asks for, not a count of a patient's whole record.
   */
  countTotalUpTo?: number;
  /** Most comma-separated (OR) values one search parameter may carry (400 `too-costly` beyond). */
  maxValuesPerParameter?: number;
  /** Most parameters (repeats included) one search may carry (400 `too-costly` beyond). */
  maxSearchParameters?: number;
  /** Deepest nesting of a JSON body (objects and arrays) accepted (400 `structure` beyond). */
  maxJsonDepth?: number;
}

/** Defaults applied by the module; documented in README.md's configuration table. */
export const FHIR_DEFAULTS: Required<Omit<FhirOptions, 'baseUrl'>> = {
  maxBodyBytes: 5 * 1024 * 1024,
  defaultPageSize: 20,
  maxPageSize: 1000,
  countTotalUpTo: 500,
  maxValuesPerParameter: 100,
  maxSearchParameters: 50,
  maxJsonDepth: 64,
};

/** Default statement timeout (`ChartWardenOptions.statementTimeoutMs`), in milliseconds. */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 5000;

/** Default longest token lifetime (`IdentityOptions.maxTokenLifetimeMinutes`): 12 hours, one shift. */
export const DEFAULT_MAX_TOKEN_LIFETIME_MINUTES = 720;

export const DEFAULT_CLAIM_NAMES: ClaimNames = {
  roles: 'roles',
  department: 'dept',
  specialty: 'specialty',
  licence: 'licence',
  fhirUser: 'fhirUser',
  scope: 'scope',
};

export const DEV_ISSUER = 'chartwarden-dev';
export const DEFAULT_AUDIENCE = 'chartwarden';
