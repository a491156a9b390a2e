import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { AddressInfo } from 'node:net';
import { ChartWardenModule } from '../chartwarden.module.js';
import type { ServerSettings } from '../config/env.config.js';
import { ApplicationRoleError } from '../database/application-role.js';
import { DataDirInUseError, DataDirLock, DataDirUnusableError } from '../database/data-dir-lock.js';
import { DatabaseUnreachableError, explainConnectionError, probeDatabase } from '../database/database-unreachable.js';
import { EmbeddedPostgresError, EmbeddedPostgresLauncher } from '../database/embedded-postgres.launcher.js';
import { FASTIFY_SERVER_OPTIONS } from '../fhir/fastify-server.js';
import { createLogger, PinoNestLogger } from '../observability/logger.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { PolicyLoadError } from '../policy/policy.errors.js';
import { DemoSeedError } from './demo-api.js';

/** The ChartWarden the seed writes through: its root URL, its database, its policy, and how to stop it. */
export interface DemoServer {
  root: string;
  databaseUrl: string;
  /** True when the database is the data dir's embedded PostgreSQL (no DATABASE_URL). */
  embedded: boolean;
  policy: LoadedPolicy;
  /** Stops the server, its embedded PostgreSQL and releases the data dir; safe to call twice. */
  close(): Promise<void>;
  /** Says a stop is coming (a signal): embedded PostgreSQL exiting is then not restarted. */
  expectStop(): void;
}

/**
 * Starts ChartWarden in this process on 127.0.0.1 (a free port) against the data dir's database,
 * as `npm start` would (src/main.ts): DATABASE_URL when set, else the data dir's embedded
 * PostgreSQL, with the data dir's lock held throughout, so no server starts on the data dir while
 * the seed writes and the seed never writes beside a running server (it refuses, naming it).
 * In JWKS mode the server accepts only the identity provider's tokens: the seed refuses.
 */
export async function startDemoServer(settings: ServerSettings, progress: (line: string) => void): Promise<DemoServer> {
  const { dataDir } = settings;
  if (settings.options.identity?.jwksUrl) {
    throw new DemoSeedError(
      'CHARTWARDEN_JWKS_URL is set: the server accepts only the identity provider\'s tokens, and the demo users sign in with the data dir\'s dev key. ' +
        'Seed a development data dir (without CHARTWARDEN_JWKS_URL) instead',
    );
  }
  const lock = await DataDirLock.acquire(dataDir, settings.databaseUrl ? 'external' : 'embedded').catch((e: unknown) => {
    if (e instanceof DataDirInUseError) {
      throw new DemoSeedError(
        `a ChartWarden server (pid ${e.owner.pid}, started ${e.owner.startedAt}) is running on ${dataDir}; nothing was changed. ` +
          'The seed writes through a server of its own: stop that server (Ctrl-C), run `npx chartwarden demo seed` again, then `npm start`',
      );
    }
    throw e instanceof DataDirUnusableError ? new DemoSeedError(e.message) : e;
  });
  let launcher: EmbeddedPostgresLauncher | undefined;
  let app: INestApplication | undefined;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    launcher?.expectStop();
    await app?.close().catch(() => undefined);
    await launcher?.stop();
    await lock.release();
  };
  let databaseUrl = settings.databaseUrl;
  try {
    if (databaseUrl) {
      await probeDatabase(databaseUrl, 'DATABASE_URL');
    } else {
      progress(`starting the embedded PostgreSQL of ${dataDir}`);
      launcher = new EmbeddedPostgresLauncher({ dataDir, port: settings.embeddedPostgresPort, log: { log: () => undefined, warn: progress } });
      databaseUrl = await launcher.start();
    }
    // Only errors are worth a line: the seed's progress and summary are its own. No access log, metrics, CORS or checkpoints.
    const { checkpoint: _checkpoint, logging: _logging, metrics: _metrics, cors: _cors, ...options } = settings.options;
    // On Fastify, as the server that will serve the seeded data (src/main.ts).
    app = await NestFactory.create(ChartWardenModule.forRoot({ ...options, databaseUrl }), new FastifyAdapter(FASTIFY_SERVER_OPTIONS), {
      bodyParser: false,
      logger: new PinoNestLogger(createLogger({ level: 'error', format: 'json' }, process.stderr)),
      abortOnError: false,
    });
    await app.listen(0, '127.0.0.1');
  } catch (e) {
    await close();
    const known = explainConnectionError(e, databaseUrl ?? '', launcher ? `the embedded PostgreSQL of ${dataDir}` : 'DATABASE_URL');
    const message = known instanceof Error ? known.message : String(known);
    const expected = [DatabaseUnreachableError, EmbeddedPostgresError, PolicyLoadError, ApplicationRoleError].some((type) => known instanceof type);
    throw expected ? new DemoSeedError(message) : known;
  }
  const { port } = app.getHttpServer().address() as AddressInfo;
  return {
    root: `http://127.0.0.1:${port}`,
    databaseUrl,
    embedded: launcher !== undefined,
    policy: app.get(LoadedPolicy),
    close,
    expectStop: () => launcher?.expectStop(),
  };
}
