import 'reflect-metadata';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { ChartWardenModule } from '../../src/chartwarden.module.js';
import type { ChartWardenOptions } from '../../src/config/chartwarden.options.js';
import { issueDevToken, type DevTokenRequest } from '../../src/identity/dev-token.issuer.js';
import { Clock } from '../../src/common/clock.js';
import { FASTIFY_SERVER_OPTIONS } from '../../src/fhir/fastify-server.js';
import { setupOpenApi } from '../../src/openapi.js';

/** The run's PostgreSQL, provided by `test/setup/global-setup.js`. */
export function testDatabaseUrl(): string {
  const url = process.env.CHARTWARDEN_TEST_DATABASE_URL;
  if (!url) throw new Error('CHARTWARDEN_TEST_DATABASE_URL is unset: run tests through jest (global setup provides the database)');
  return url;
}

/** A plain connection to the run's database: what a test reads as ground truth, past every policy. The suite ends it. */
export async function connectTestDatabase(): Promise<pg.Client> {
  const db = new pg.Client({ connectionString: testDatabaseUrl() });
  await db.connect();
  return db;
}

/**
 * A dev token signed with `dataDir`'s dev key (made there if missing): the HIS integration
 * client for an hour unless `request` says otherwise. The one place tests mint dev tokens.
 */
export function devToken(dataDir: string, request: Partial<DevTokenRequest> = {}): Promise<string> {
  return issueDevToken(dataDir, { sub: 'his-test', roles: ['his-system'], ttl: '1h', ...request });
}

/** What a dev token may claim (subject, roles, department, licence, fhirUser, ttl…). */
export type { DevTokenRequest };

/** What a suite opens in `beforeAll`: a server (`close`) or a database connection (`end`). */
export type Closable = { close(): Promise<unknown> } | { end(): Promise<unknown> };

/**
 * Closes what a suite opened, one after another in the order given (connections before the
 * server they watch), skipping what never opened because `beforeAll` failed first.
 */
export async function closeAll(...opened: (Closable | undefined)[]): Promise<void> {
  for (const resource of opened) {
    if (resource && 'end' in resource) await resource.end();
    else if (resource) await resource.close();
  }
}

/**
 * The HTTP platform the suites' servers run on (decision 0021): Fastify, as `npm start` serves,
 * unless the jest project says Express (`CHARTWARDEN_TEST_PLATFORM=express`, the `e2e-express`
 * project: the module as most hosts embed it).
 */
export function testPlatform(): 'express' | 'fastify' {
  return process.env.CHARTWARDEN_TEST_PLATFORM === 'express' ? 'express' : 'fastify';
}

/** A running ChartWarden on a random port, over real HTTP, with its own data dir (and dev key). */
export interface TestServer {
  app: INestApplication;
  /** e.g. `http://127.0.0.1:41234/fhir` */
  fhirBase: string;
  /** The server's root, where the workflow APIs live (`/governance`, `/disputes`, `/access`…): e.g. `http://127.0.0.1:41234` */
  root: string;
  dataDir: string;
  token(request?: Partial<DevTokenRequest>): Promise<string>;
  close(): Promise<void>;
}

/**
 * `clock`: the server's "now" (edit windows, grant expiry, versions' lastUpdated), for tests
 * that move time instead of waiting for it.
 */
export async function startTestServer(options: Partial<ChartWardenOptions> & { clock?: Clock; platform?: 'express' | 'fastify' } = {}): Promise<TestServer> {
  const { clock, platform = testPlatform(), ...moduleOptions } = options;
  const dataDir = moduleOptions.dataDir ?? (await mkdtemp(join(tmpdir(), 'chartwarden-test-')));
  let builder = Test.createTestingModule({
    imports: [ChartWardenModule.forRoot({ databaseUrl: testDatabaseUrl(), dataDir, databasePoolSize: 5, ...moduleOptions })],
  });
  if (clock) builder = builder.overrideProvider(Clock).useValue(clock);
  const moduleRef = await builder.compile();
  const app =
    platform === 'fastify'
      ? moduleRef.createNestApplication(new FastifyAdapter(FASTIFY_SERVER_OPTIONS), { bodyParser: false, logger: ['error'] })
      : moduleRef.createNestApplication({ bodyParser: false, logger: ['error'] });
  // The documents only on Fastify: its Swagger UI files need @fastify/static, which jest on Node 20 cannot load (the server smoke test reads the page).
  setupOpenApi(app, 'docs', { ui: platform === 'express' });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return {
    app,
    fhirBase: `http://127.0.0.1:${port}/fhir`,
    root: `http://127.0.0.1:${port}`,
    dataDir,
    token: (request = {}) => devToken(dataDir, request),
    // The data dir holds only the dev key: remove it when this helper made it.
    close: async () => {
      await app.close();
      if (!moduleOptions.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A clock a test moves by hand (starts at the real now). */
export class TestClock extends Clock {
  private offsetMs = 0;

  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }

  advance(ms: number): void {
    this.offsetMs += ms;
  }

  /** Moves on to `instant` (epoch ms), as waiting for it would; never back: a clock moved past it stays. */
  advanceTo(instant: number): void {
    this.advance(Math.max(0, instant - this.now().getTime()));
  }
}
