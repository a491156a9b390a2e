import { resolve } from 'node:path';
import { z } from 'zod';
import type { ChartWardenOptions } from './chartwarden.options.js';

/**
 * The standalone server's and CLI's settings, read from the environment. Every variable is
 * listed in README.md's configuration table; a bad value stops start-up with its name.
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

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  DATABASE_URL: z.string().url().optional(),
  CHARTWARDEN_DATA_DIR: z.string().min(1).default('./.data'),
  CHARTWARDEN_EMBEDDED_PG_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  CHARTWARDEN_DB_POOL_SIZE: z.coerce.number().int().min(1).max(500).default(20),
  CHARTWARDEN_JWKS_URL: z.string().url().optional(),
  CHARTWARDEN_ISSUER: z.string().min(1).optional(),
  CHARTWARDEN_AUDIENCE: z.string().min(1).optional(),
  CHARTWARDEN_BASE_URL: z.string().url().optional(),
  CHARTWARDEN_MAX_BODY_BYTES: z.coerce.number().int().min(1024).optional(),
  CHARTWARDEN_POLICY: z.string().min(1).optional(),
  CHARTWARDEN_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(0).optional(),
  CHARTWARDEN_MAX_VALUES_PER_PARAMETER: z.coerce.number().int().min(1).optional(),
  CHARTWARDEN_MAX_SEARCH_PARAMETERS: z.coerce.number().int().min(1).optional(),
  CHARTWARDEN_MAX_JSON_DEPTH: z.coerce.number().int().min(8).optional(),
  CHARTWARDEN_MAX_TOKEN_LIFETIME_MINUTES: z.coerce.number().int().min(1).optional(),
  CHARTWARDEN_APP_DATABASE_URL: z.string().url().optional(),
  CHARTWARDEN_CHECKPOINT_DIR: z.string().min(1).optional(),
  CHARTWARDEN_CHECKPOINT_INTERVAL_MINUTES: z.coerce.number().int().min(1).optional(),
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
  const dataDir = resolve(e.CHARTWARDEN_DATA_DIR);
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
      },
      fhir: {
        baseUrl: e.CHARTWARDEN_BASE_URL,
        maxBodyBytes: e.CHARTWARDEN_MAX_BODY_BYTES,
        maxValuesPerParameter: e.CHARTWARDEN_MAX_VALUES_PER_PARAMETER,
        maxSearchParameters: e.CHARTWARDEN_MAX_SEARCH_PARAMETERS,
        maxJsonDepth: e.CHARTWARDEN_MAX_JSON_DEPTH,
      },
      policy: e.CHARTWARDEN_POLICY ? resolve(e.CHARTWARDEN_POLICY) : undefined,
    },
  };
}
