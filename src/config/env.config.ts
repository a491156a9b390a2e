import { resolve } from 'node:path';
import { z } from 'zod';
import {
  DEFAULT_AUDIENCE,
  DEFAULT_CHECKPOINT_INTERVAL_MINUTES,
  DEFAULT_LOG_LEVEL,
  DEFAULT_MAX_TOKEN_LIFETIME_MINUTES,
  DEFAULT_STATEMENT_TIMEOUT_MS,
  DEV_ISSUER,
  FHIR_DEFAULTS,
  OAUTH_GRANT_TYPES,
  REMOTE_DEFAULTS,
  type ChartWardenOptions,
  type RemoteStoreOptions,
  type UpstreamAuth,
} from './chartwarden.options.js';

/**
 * The standalone server's and CLI's settings, read from the environment. Every variable is
 * described in `envSchema` (docs/configuration.md is generated from it); a bad value stops start-up with its name.
 */
export interface ServerSettings {
  port: number;
  /** Unset: the standalone server starts embedded PostgreSQL in `dataDir`. */
  databaseUrl?: string;
  dataDir: string;
  /** Port for embedded PostgreSQL; 0 picks a free one at each start. */
  embeddedPostgresPort: number;
  options: ChartWardenOptions;
}

/**
 * A comma-separated list, blanks dropped, each item checked by `item`. The documentation is put
 * on the text as given (the generated reference reads the input side, where a pipe keeps no default).
 */
const commaList = <T extends z.ZodType<unknown, string>>(item: T, meta: { description: string; default?: string }) =>
  z.string().meta(meta).transform((s) => s.split(',').map((v) => v.trim()).filter(Boolean)).pipe(z.array(item).min(1)).optional();

/** A browser origin exactly as a browser sends it: scheme, host and port, nothing else (RFC 6454). */
const origin = z.string().refine(
  (value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === value && !value.includes('*');
    } catch {
      return false;
    }
  },
  { message: 'an origin is scheme://host[:port], with no path, no trailing slash and no wildcard' },
);

/** The environment variables, each with its description (docs/configuration.md is generated from these). */
export const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080).describe('HTTP port the standalone server listens on.'),
  DATABASE_URL: z.string().url().optional().meta({
    description: 'PostgreSQL for ChartWarden\'s tables and the embedded FHIR store. Unset: the server starts embedded PostgreSQL in the data dir.',
  }),
  CHARTWARDEN_DATA_DIR: z.string().min(1).default('./.data').describe(
    'Local state: the dev signing key and, when embedded, the PostgreSQL cluster (`pg/`) and its password. '
      + 'A relative path is resolved from the current directory, by the server and by the `chartwarden` CLI alike.',
  ),
  CHARTWARDEN_EMBEDDED_PG_PORT: z.coerce.number().int().min(0).max(65535).default(0).describe(
    'Port for embedded PostgreSQL; `0` picks a free port at each start.',
  ),
  CHARTWARDEN_DB_POOL_SIZE: z.coerce.number().int().min(1).max(500).default(20).describe('Database connections per instance.'),
  CHARTWARDEN_JWKS_URL: z.string().url().optional().meta({
    description: 'Production: verify tokens against this JWKS (needs CHARTWARDEN_ISSUER). Unset: dev mode, tokens signed with the key in the data dir.',
  }),
  CHARTWARDEN_ISSUER: z.string().min(1).optional().meta({
    description: 'Expected `iss` claim; required with CHARTWARDEN_JWKS_URL (the default applies in dev mode only).',
    default: DEV_ISSUER,
  }),
  CHARTWARDEN_AUDIENCE: z.string().min(1).optional().meta({ description: 'Expected `aud` claim.', default: DEFAULT_AUDIENCE }),
  CHARTWARDEN_AUTHORIZATION_ENDPOINT: z.string().url().optional().meta({
    description: 'The identity provider\'s OAuth 2.0 authorization endpoint, published to SMART apps (`/.well-known/smart-configuration`, `/metadata`); needs CHARTWARDEN_JWKS_URL.',
  }),
  CHARTWARDEN_TOKEN_ENDPOINT: z.string().url().optional().meta({
    description: 'The identity provider\'s OAuth 2.0 token endpoint, published like the authorization endpoint; needs CHARTWARDEN_JWKS_URL.',
  }),
  CHARTWARDEN_GRANT_TYPES: commaList(z.enum(OAUTH_GRANT_TYPES), {
    description: `Comma-separated OAuth 2.0 grants the identity provider issues ChartWarden's tokens through (${OAUTH_GRANT_TYPES.map((g) => `\`${g}\``).join(', ')}), published to SMART apps; needs CHARTWARDEN_JWKS_URL.`,
    default: '`authorization_code` with an authorization endpoint, `client_credentials` with a token endpoint',
  }),
  CHARTWARDEN_BASE_URL: z.string().url().optional().meta({
    description: 'Absolute FHIR base for `fullUrl`, `Location` and paging links; set it behind a proxy.',
    default: 'from the request',
  }),
  CHARTWARDEN_CORS_ORIGINS: commaList(origin, {
    description: 'Comma-separated browser origins (e.g. `https://app.example`) allowed to call ChartWarden cross-origin (CORS); each is answered by name, never `*`.',
    default: 'none: no CORS headers',
  }),
  CHARTWARDEN_MAX_BODY_BYTES: z.coerce.number().int().min(1024).optional().meta({
    description: 'Largest request body in bytes (413 beyond).',
    default: FHIR_DEFAULTS.maxBodyBytes,
  }),
  CHARTWARDEN_POLICY: z.string().min(1).optional().meta({
    description: 'The access policy file (YAML or JSON; see the policy settings below); reloaded on SIGHUP or `npx chartwarden policy reload`.',
    default: 'policy/default.policy.yaml',
  }),
  CHARTWARDEN_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(0).optional().meta({
    description: 'Longest one SQL statement of a request may run, in milliseconds; past it 400 `too-costly` (`fhir.query-timeout`). `0`: no limit.',
    default: DEFAULT_STATEMENT_TIMEOUT_MS,
  }),
  CHARTWARDEN_MAX_VALUES_PER_PARAMETER: z.coerce.number().int().min(1).optional().meta({
    description: 'Most comma-separated (OR) values in one search parameter (400 `too-costly` beyond).',
    default: FHIR_DEFAULTS.maxValuesPerParameter,
  }),
  CHARTWARDEN_MAX_SEARCH_PARAMETERS: z.coerce.number().int().min(1).optional().meta({
    description: 'Most parameters in one search, every occurrence counted (400 `too-costly` beyond).',
    default: FHIR_DEFAULTS.maxSearchParameters,
  }),
  CHARTWARDEN_MAX_JSON_DEPTH: z.coerce.number().int().min(8).optional().meta({
    description: 'Deepest nesting of a JSON body (400 `fhir.too-deep` beyond).',
    default: FHIR_DEFAULTS.maxJsonDepth,
  }),
  CHARTWARDEN_MAX_TOKEN_LIFETIME_MINUTES: z.coerce.number().int().min(1).optional().meta({
    description: 'Longest token lifetime accepted (`exp − iat`, or `exp −` now without `iat`), in minutes; tokens without `exp` are always refused (R-01).',
    default: DEFAULT_MAX_TOKEN_LIFETIME_MINUTES,
  }),
  CHARTWARDEN_APP_DATABASE_URL: z.string().url().optional().meta({
    description: 'The role requests run as. Unset: ChartWarden provisions `<database>_app` (the owner needs CREATEROLE; decision 0011).',
  }),
  CHARTWARDEN_CHECKPOINT_DIR: z.string().min(1).optional().meta({
    description: 'Where the server writes signed audit checkpoints (R-21). Unset: none scheduled.',
  }),
  CHARTWARDEN_CHECKPOINT_INTERVAL_MINUTES: z.coerce.number().int().min(1).optional().meta({
    description: 'Minutes between audit checkpoints, with a checkpoint dir.',
    default: DEFAULT_CHECKPOINT_INTERVAL_MINUTES,
  }),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default(DEFAULT_LOG_LEVEL).describe(
    'Least severe level logged: `fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`; access-log lines are `info`, 5xx `error`.',
  ),
  LOG_FORMAT: z.enum(['json', 'pretty']).optional().meta({
    description: '`json` (one object per line) or `pretty`.',
    default: '`pretty` on a terminal, else `json`',
  }),
  CHARTWARDEN_CONSOLE: z.enum(['off', 'on']).optional().meta({
    description: 'The staff console at `/console` (and `GET /` sent there); `off`: not served.',
    default: 'on',
  }),
  CHARTWARDEN_OIDC_ISSUER: z.string().url('a URL').optional().meta({
    description: "The hospital identity provider's issuer URL, where the console signs staff in (authorization code + PKCE); https, http only on localhost. Needs CHARTWARDEN_OIDC_CLIENT_ID.",
  }),
  CHARTWARDEN_OIDC_CLIENT_ID: z.string().min(1).optional().meta({
    description: "The console's client id (a public client) at the identity provider; its redirect URI is `<server>/console/callback`.",
  }),
  CHARTWARDEN_OIDC_SCOPE: z.string().min(1).optional().meta({
    description: 'Scopes the console asks the identity provider for (`openid` is always asked).',
    default: 'openid profile',
  }),
  CHARTWARDEN_UPSTREAM_FHIR_URL: z.string().url({ protocol: /^https?$/, message: 'an http(s) URL' }).optional().meta({
    description: "An existing FHIR R4 server's base URL: ChartWarden stands in front of it (the remote store, issue #17) instead of its embedded store.",
  }),
  CHARTWARDEN_UPSTREAM_TOKEN: z.string().min(1).optional().meta({
    description: 'A static bearer token ChartWarden sends the upstream FHIR server.',
  }),
  CHARTWARDEN_UPSTREAM_TOKEN_URL: z.string().url({ protocol: /^https?$/, message: 'an http(s) URL' }).optional().meta({
    description: "The upstream's OAuth2 token endpoint: ChartWarden signs in with client credentials and refreshes the token before it expires. Needs the client id and secret.",
  }),
  CHARTWARDEN_UPSTREAM_CLIENT_ID: z.string().min(1).optional().meta({ description: "ChartWarden's client id at the upstream's token endpoint." }),
  CHARTWARDEN_UPSTREAM_CLIENT_SECRET: z.string().min(1).optional().meta({ description: "ChartWarden's client secret at the upstream's token endpoint." }),
  CHARTWARDEN_UPSTREAM_SCOPE: z.string().min(1).optional().meta({ description: 'Scopes asked of the upstream\'s token endpoint (none when unset).' }),
  CHARTWARDEN_UPSTREAM_SYNC_INTERVAL_SECONDS: z.coerce.number().int().min(0).optional().meta({
    description: "Seconds between syncs from the upstream's history (writes that bypass ChartWarden); 0: no sync.",
    default: REMOTE_DEFAULTS.syncIntervalSeconds,
  }),
  CHARTWARDEN_UPSTREAM_TIMEOUT_MS: z.coerce.number().int().min(100).optional().meta({
    description: 'Longest an upstream request may take, in milliseconds.',
    default: REMOTE_DEFAULTS.timeoutMs,
  }),
  CHARTWARDEN_METRICS: z.enum(['off', 'on']).optional().meta({
    description: '`on`: serve `GET /metrics` (to whoever reaches the port unless a token is set).',
    default: 'off',
  }),
  // A scraper's secret: long enough not to be guessed.
  CHARTWARDEN_METRICS_TOKEN: z.string().min(16, 'at least 16 characters').optional().meta({
    description: 'Turns metrics on behind `Authorization: Bearer <token>` (at least 16 characters).',
  }),
});

/** Thrown when an environment variable has a value ChartWarden cannot use. */
export class ConfigurationError extends Error {}

/**
 * Reads settings from `env`. The database URL is left empty when unset so the caller can
 * decide to start embedded PostgreSQL.
 */
export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): ServerSettings {
  const blanksRemoved = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(blanksRemoved);
  if (!parsed.success) {
    const reasons = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigurationError(`Invalid configuration: ${reasons}`);
  }
  const e = parsed.data;
  if (e.CHARTWARDEN_JWKS_URL && !e.CHARTWARDEN_ISSUER) {
    throw new ConfigurationError('Invalid configuration: CHARTWARDEN_ISSUER is required with CHARTWARDEN_JWKS_URL');
  }
  // The dev key signs its own tokens (`npx chartwarden token`): no identity provider's endpoint issues them.
  const oauth = ['CHARTWARDEN_AUTHORIZATION_ENDPOINT', 'CHARTWARDEN_TOKEN_ENDPOINT', 'CHARTWARDEN_GRANT_TYPES'] as const;
  const withoutJwks = oauth.filter((name) => e[name] !== undefined && !e.CHARTWARDEN_JWKS_URL);
  if (withoutJwks.length > 0) {
    throw new ConfigurationError(`Invalid configuration: ${withoutJwks.join(', ')} describe an identity provider and need CHARTWARDEN_JWKS_URL`);
  }
  if (e.CHARTWARDEN_METRICS === 'off' && e.CHARTWARDEN_METRICS_TOKEN) {
    throw new ConfigurationError('Invalid configuration: CHARTWARDEN_METRICS=off contradicts CHARTWARDEN_METRICS_TOKEN (unset one of them)');
  }
  if (Boolean(e.CHARTWARDEN_OIDC_ISSUER) !== Boolean(e.CHARTWARDEN_OIDC_CLIENT_ID)) {
    throw new ConfigurationError('Invalid configuration: CHARTWARDEN_OIDC_ISSUER and CHARTWARDEN_OIDC_CLIENT_ID are set together (the console signs in at the issuer as the client)');
  }
  if (e.CHARTWARDEN_OIDC_ISSUER && !isSecureIssuer(e.CHARTWARDEN_OIDC_ISSUER)) {
    throw new ConfigurationError('Invalid configuration: CHARTWARDEN_OIDC_ISSUER is an https URL (http only on localhost)');
  }
  const dataDir = resolve(e.CHARTWARDEN_DATA_DIR);
  const store = upstreamStoreOf(e);
  return {
    port: e.PORT,
    databaseUrl: e.DATABASE_URL,
    dataDir,
    embeddedPostgresPort: e.CHARTWARDEN_EMBEDDED_PG_PORT,
    options: {
      databaseUrl: e.DATABASE_URL ?? '',
      applicationDatabaseUrl: e.CHARTWARDEN_APP_DATABASE_URL,
      checkpoint: e.CHARTWARDEN_CHECKPOINT_DIR ? { dir: resolve(e.CHARTWARDEN_CHECKPOINT_DIR), intervalMinutes: e.CHARTWARDEN_CHECKPOINT_INTERVAL_MINUTES } : undefined,
      databasePoolSize: e.CHARTWARDEN_DB_POOL_SIZE,
      statementTimeoutMs: e.CHARTWARDEN_STATEMENT_TIMEOUT_MS,
      dataDir,
      identity: {
        jwksUrl: e.CHARTWARDEN_JWKS_URL,
        issuer: e.CHARTWARDEN_ISSUER,
        audience: e.CHARTWARDEN_AUDIENCE,
        maxTokenLifetimeMinutes: e.CHARTWARDEN_MAX_TOKEN_LIFETIME_MINUTES,
        authorizationEndpoint: e.CHARTWARDEN_AUTHORIZATION_ENDPOINT,
        tokenEndpoint: e.CHARTWARDEN_TOKEN_ENDPOINT,
        grantTypes: e.CHARTWARDEN_GRANT_TYPES,
      },
      fhir: {
        baseUrl: e.CHARTWARDEN_BASE_URL,
        maxBodyBytes: e.CHARTWARDEN_MAX_BODY_BYTES,
        maxValuesPerParameter: e.CHARTWARDEN_MAX_VALUES_PER_PARAMETER,
        maxSearchParameters: e.CHARTWARDEN_MAX_SEARCH_PARAMETERS,
        maxJsonDepth: e.CHARTWARDEN_MAX_JSON_DEPTH,
      },
      policy: e.CHARTWARDEN_POLICY ? resolve(e.CHARTWARDEN_POLICY) : undefined,
      logging: { level: e.LOG_LEVEL, format: e.LOG_FORMAT },
      cors: e.CHARTWARDEN_CORS_ORIGINS ? { origins: e.CHARTWARDEN_CORS_ORIGINS } : undefined,
      store,
      // A token alone turns metrics on (behind it); `on` alone serves them to whoever reaches the port.
      metrics: { enabled: e.CHARTWARDEN_METRICS === 'on' || Boolean(e.CHARTWARDEN_METRICS_TOKEN), token: e.CHARTWARDEN_METRICS_TOKEN },
      console: {
        enabled: e.CHARTWARDEN_CONSOLE !== 'off',
        redirectRoot: true,
        oidc:
          e.CHARTWARDEN_OIDC_ISSUER && e.CHARTWARDEN_OIDC_CLIENT_ID
            ? { issuer: e.CHARTWARDEN_OIDC_ISSUER, clientId: e.CHARTWARDEN_OIDC_CLIENT_ID, scope: e.CHARTWARDEN_OIDC_SCOPE }
            : undefined,
      },
    },
  };
}

/** The remote store the `CHARTWARDEN_UPSTREAM_*` variables describe (none without the URL); contradictions are refused. */
function upstreamStoreOf(e: z.infer<typeof envSchema>): RemoteStoreOptions | undefined {
  const client = [e.CHARTWARDEN_UPSTREAM_TOKEN_URL, e.CHARTWARDEN_UPSTREAM_CLIENT_ID, e.CHARTWARDEN_UPSTREAM_CLIENT_SECRET];
  const named = ['CHARTWARDEN_UPSTREAM_TOKEN', 'CHARTWARDEN_UPSTREAM_TOKEN_URL', 'CHARTWARDEN_UPSTREAM_CLIENT_ID', 'CHARTWARDEN_UPSTREAM_CLIENT_SECRET', 'CHARTWARDEN_UPSTREAM_SCOPE', 'CHARTWARDEN_UPSTREAM_SYNC_INTERVAL_SECONDS', 'CHARTWARDEN_UPSTREAM_TIMEOUT_MS'] as const;
  if (!e.CHARTWARDEN_UPSTREAM_FHIR_URL) {
    const stray = named.filter((n) => e[n] !== undefined);
    if (stray.length > 0) throw new ConfigurationError(`Invalid configuration: ${stray.join(', ')} need CHARTWARDEN_UPSTREAM_FHIR_URL`);
    return undefined;
  }
  const clientSet = (['CHARTWARDEN_UPSTREAM_TOKEN_URL', 'CHARTWARDEN_UPSTREAM_CLIENT_ID', 'CHARTWARDEN_UPSTREAM_CLIENT_SECRET'] as const).filter((n) => e[n] !== undefined);
  // The contradiction first: asked to complete the client credentials, the operator would then be told they contradict the token.
  if (e.CHARTWARDEN_UPSTREAM_TOKEN && clientSet.length > 0) {
    throw new ConfigurationError(`Invalid configuration: CHARTWARDEN_UPSTREAM_TOKEN (a static token) contradicts ${clientSet.join(', ')} (client credentials): unset one`);
  }
  if (client.some(Boolean) && !client.every(Boolean)) {
    throw new ConfigurationError('Invalid configuration: CHARTWARDEN_UPSTREAM_TOKEN_URL, CHARTWARDEN_UPSTREAM_CLIENT_ID and CHARTWARDEN_UPSTREAM_CLIENT_SECRET are set together (OAuth2 client credentials)');
  }
  if (e.CHARTWARDEN_UPSTREAM_SCOPE && !e.CHARTWARDEN_UPSTREAM_TOKEN_URL) {
    throw new ConfigurationError('Invalid configuration: CHARTWARDEN_UPSTREAM_SCOPE is asked of the token endpoint and needs CHARTWARDEN_UPSTREAM_TOKEN_URL');
  }
  const auth: UpstreamAuth = e.CHARTWARDEN_UPSTREAM_TOKEN
    ? { kind: 'bearer', token: e.CHARTWARDEN_UPSTREAM_TOKEN }
    : e.CHARTWARDEN_UPSTREAM_TOKEN_URL
      ? {
          kind: 'client-credentials',
          tokenUrl: e.CHARTWARDEN_UPSTREAM_TOKEN_URL,
          clientId: e.CHARTWARDEN_UPSTREAM_CLIENT_ID as string,
          clientSecret: e.CHARTWARDEN_UPSTREAM_CLIENT_SECRET as string,
          scope: e.CHARTWARDEN_UPSTREAM_SCOPE,
        }
      : { kind: 'none' };
  return { kind: 'remote', url: e.CHARTWARDEN_UPSTREAM_FHIR_URL, auth, syncIntervalSeconds: e.CHARTWARDEN_UPSTREAM_SYNC_INTERVAL_SECONDS, timeoutMs: e.CHARTWARDEN_UPSTREAM_TIMEOUT_MS };
}

/** An identity provider the console may send staff to: https, or http on this machine (development). */
function isSecureIssuer(issuer: string): boolean {
  const url = new URL(issuer);
  return url.protocol === 'https:' || (url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname));
}
