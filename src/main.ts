import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { ChartWardenModule } from './chartwarden.module.js';
import { FASTIFY_SERVER_OPTIONS } from './fhir/fastify-server.js';
import { ConfigurationError, settingsFromEnv, type ServerSettings } from './config/env.config.js';
import { DataDirInUseError, DataDirLock, DataDirUnusableError } from './database/data-dir-lock.js';
import { DatabaseUnreachableError, explainConnectionError, probeDatabase } from './database/database-unreachable.js';
import { EmbeddedPostgresError, EmbeddedPostgresLauncher } from './database/embedded-postgres.launcher.js';
import { ApplicationRoleError } from './database/application-role.js';
import { loadR4Definitions } from './store/fhir-definitions.js';
import { PolicyLoadError } from './policy/policy.errors.js';
import { defaultPolicyPath, loadPolicy } from './policy/policy.loader.js';
import { setupOpenApi } from './openapi.js';
import { createLogger, PinoNestLogger } from './observability/logger.js';
import { reportStartup } from './observability/startup-report.js';

/** Exit code of a start refused because another live server holds the data dir (1: any other failure to start). */
export const EXIT_DATA_DIR_IN_USE = 3;

/** How often a server started by `npm start` checks that npm is still its parent. */
const PARENT_POLL_MS = 500;

/**
 * The standalone ChartWarden server: `npm start`. Uses `DATABASE_URL` when set, otherwise
 * starts embedded PostgreSQL in `CHARTWARDEN_DATA_DIR`. Stops cleanly on SIGTERM/SIGINT, and
 * when the npm that started it is gone.
 */
async function main(): Promise<void> {
  const logger = new Logger('ChartWarden');
  const started = Date.now();
  const settings = settingsFromEnv();
  // Structured logs (LOG_LEVEL, LOG_FORMAT): every Logger of ChartWarden and Nest writes through pino from here on.
  const root = createLogger(settings.options.logging);
  Logger.overrideLogger(new PinoNestLogger(root));
  // First of all, before anything reads or writes the data dir (issue #14): a second start on it refuses here.
  const lock = await lockDataDir(settings, logger);
  let launcher: EmbeddedPostgresLauncher | undefined;
  let databaseUrl = settings.databaseUrl;
  let app: NestFastifyApplication | undefined;
  const stop = async (reason: string) => {
    logger.log(`${reason}: stopping`);
    await app?.close().catch((e: unknown) => logger.error(`while closing: ${String(e)}`));
    await launcher?.stop();
    await lock?.release();
    logger.log('Stopped cleanly');
    process.exit(0);
  };
  // A signal may arrive twice (to the process group, and forwarded by `npm start`): stop once, ignore repeats.
  let stopping = false;
  const onSignal = (reason: string) => {
    if (stopping) return;
    stopping = true;
    launcher?.expectStop();
    void stop(reason);
  };
  process.on('SIGTERM', () => onSignal('SIGTERM received'));
  process.on('SIGINT', () => onSignal('SIGINT received'));
  // SIGHUP asks for a policy reload (the module's reloader listens): it must never end the process.
  process.on('SIGHUP', () => undefined);
  watchParent(() => onSignal('npm start, the parent process, is gone'));
  try {
    if (!databaseUrl) {
      launcher = new EmbeddedPostgresLauncher({
        dataDir: settings.dataDir,
        port: settings.embeddedPostgresPort,
        log: { log: (m) => logger.log(m), warn: (m) => logger.warn(m) },
      });
      const ready = launcher.start();
      ready.catch(() => undefined); // awaited below; a policy error first must not leave it unhandled
      // Parse the FHIR definitions (CPU-bound, ~1 s) while PostgreSQL initialises in its own process.
      checkPolicy(settings);
      databaseUrl = await ready;
    } else {
      checkPolicy(settings);
      await probeDatabase(databaseUrl, 'DATABASE_URL');
    }
    // abortOnError false: a failure reaches the catch below (which stops PostgreSQL) instead of process.abort().
    // On Fastify (decision 0021): the module is the same on Express, where most hosts embed it.
    app = await NestFactory.create<NestFastifyApplication>(
      ChartWardenModule.forRoot({ ...settings.options, databaseUrl }),
      new FastifyAdapter(FASTIFY_SERVER_OPTIONS),
      { bodyParser: false, logger: new PinoNestLogger(root), abortOnError: false },
    );
    setupOpenApi(app);
    await listenOnEveryAddress(app, settings.port);
  } catch (e) {
    launcher?.expectStop();
    await launcher?.stop();
    await lock?.release();
    throw databaseUrl ? explainConnectionError(e, databaseUrl, launcher ? `the embedded PostgreSQL of ${settings.dataDir}` : 'DATABASE_URL') : e;
  }
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : settings.port;
  reportStartup(root, app, { port, databaseUrl, embeddedDataDir: launcher ? settings.dataDir : undefined, startedAt: started });
}

/**
 * Takes the data dir's lock. With embedded PostgreSQL the lock is exclusive: another live
 * server on the dir ends this start. With DATABASE_URL the data dir holds only the dev signing
 * key, which instances on one host may share: the first holds the lock (the CLI finds it
 * there), later ones run without it.
 */
async function lockDataDir(settings: ServerSettings, logger: Logger): Promise<DataDirLock | undefined> {
  try {
    return await DataDirLock.acquire(settings.dataDir, settings.databaseUrl ? 'external' : 'embedded');
  } catch (e) {
    if (!(e instanceof DataDirInUseError) || !settings.databaseUrl || e.owner.mode !== 'external') throw e;
    logger.log(`The data dir ${settings.dataDir} is shared with the server pid ${e.owner.pid}, which holds its lock (both use DATABASE_URL)`);
    return undefined;
  }
}

/**
 * Listens on every address, as node's own `listen(port)` does (and the server on Express did):
 * IPv6 and IPv4 where the machine has IPv6, IPv4 alone where it has not. Fastify would listen on
 * `localhost` only.
 */
async function listenOnEveryAddress(app: NestFastifyApplication, port: number): Promise<void> {
  try {
    await app.listen(port, '::');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EAFNOSUPPORT' && (e as NodeJS.ErrnoException).code !== 'EADDRNOTAVAIL') throw e;
    await app.listen(port, '0.0.0.0');
  }
}

/** Validates the policy the module will load (CHARTWARDEN_POLICY or the shipped one) before anything starts. */
function checkPolicy(settings: ServerSettings): void {
  const policy = settings.options.policy;
  loadPolicy(typeof policy === 'string' ? policy : defaultPolicyPath(), loadR4Definitions());
}

/**
 * `npm start` forwards SIGTERM to its child (the start script execs node), but an npm killed
 * outright (SIGKILL, its terminal closed) forwards nothing: node is re-parented and would keep
 * running with its PostgreSQL. Started by npm, the server stops when npm is no longer its parent.
 */
function watchParent(onGone: () => void): void {
  if (!process.env.npm_lifecycle_event) return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer);
      onGone();
    }
  }, PARENT_POLL_MS);
  timer.unref();
}

main().catch((e: unknown) => {
  const known =
    e instanceof ConfigurationError ||
    e instanceof EmbeddedPostgresError ||
    e instanceof PolicyLoadError ||
    e instanceof DataDirInUseError ||
    e instanceof DataDirUnusableError ||
    e instanceof DatabaseUnreachableError ||
    e instanceof ApplicationRoleError;
  console.error(`ChartWarden could not start: ${known ? (e as Error).message : e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exit(e instanceof DataDirInUseError ? EXIT_DATA_DIR_IN_USE : 1);
});
