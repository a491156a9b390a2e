import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { ChartWardenModule } from './chartwarden.module.js';
import { ConfigurationError, settingsFromEnv } from './config/env.config.js';
import { EmbeddedPostgresError, EmbeddedPostgresLauncher } from './database/embedded-postgres.launcher.js';
import { loadR4Definitions } from './store/fhir-definitions.js';
import { PolicyLoadError } from './policy/policy.errors.js';
import { setupOpenApi } from './openapi.js';

/**
 * The standalone ChartWarden server: `npm start`. Uses `DATABASE_URL` when set, otherwise
 * starts embedded PostgreSQL in `CHARTWARDEN_DATA_DIR`. Stops cleanly on SIGTERM/SIGINT.
 */
async function main(): Promise<void> {
  const logger = new Logger('ChartWarden');
  const started = Date.now();
  const settings = settingsFromEnv();
  let launcher: EmbeddedPostgresLauncher | undefined;
  let databaseUrl = settings.databaseUrl;
  if (!databaseUrl) {
    launcher = new EmbeddedPostgresLauncher({
      dataDir: settings.dataDir,
      port: settings.embeddedPostgresPort,
      log: { log: (m) => logger.log(m), warn: (m) => logger.warn(m) },
    });
    const ready = launcher.start();
    // Parse the FHIR definitions (CPU-bound, ~1 s) while PostgreSQL initialises in its own process.
    loadR4Definitions();
    databaseUrl = await ready;
  }
  let app: NestExpressApplication | undefined;
  const stop = async (signal: string) => {
    logger.log(`${signal} received: stopping`);
    await app?.close().catch((e: unknown) => logger.error(`while closing: ${String(e)}`));
    await launcher?.stop();
    logger.log('Stopped cleanly');
    process.exit(0);
  };
  // A signal may arrive twice (to the process group, and forwarded by `npm start`): stop once, ignore repeats.
  let stopping = false;
  const onSignal = (signal: string) => {
    if (stopping) return;
    stopping = true;
    void stop(signal);
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  try {
    app = await NestFactory.create<NestExpressApplication>(
      ChartWardenModule.forRoot({ ...settings.options, databaseUrl }),
      { bodyParser: false, logger: ['log', 'warn', 'error'] },
    );
    app.set('trust proxy', 'loopback');
    setupOpenApi(app);
    await app.listen(settings.port);
  } catch (e) {
    await launcher?.stop();
    throw e;
  }
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : settings.port;
  logger.log(`FHIR R4 endpoint: http://localhost:${port}/fhir (started in ${Date.now() - started} ms; data: ${settings.dataDir})`);
}

main().catch((e: unknown) => {
  const known = e instanceof ConfigurationError || e instanceof EmbeddedPostgresError || e instanceof PolicyLoadError;
  console.error(`ChartWarden could not start: ${known ? (e as Error).message : e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exit(1);
});
