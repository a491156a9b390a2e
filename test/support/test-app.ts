import 'reflect-metadata';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { AddressInfo } from 'node:net';
import { ChartWardenModule } from '../../src/chartwarden.module.js';
import type { ChartWardenOptions } from '../../src/config/chartwarden.options.js';
import { issueDevToken, type DevTokenRequest } from '../../src/identity/dev-token.issuer.js';
import { Clock } from '../../src/common/clock.js';
import { setupOpenApi } from '../../src/openapi.js';

/** The run's PostgreSQL, provided by `test/setup/global-setup.js`. */
export function testDatabaseUrl(): string {
  const url = process.env.CHARTWARDEN_TEST_DATABASE_URL;
  if (!url) throw new Error('CHARTWARDEN_TEST_DATABASE_URL is unset: run tests through jest (global setup provides the database)');
  return url;
}

/** A running ChartWarden on a random port, over real HTTP, with its own data dir (and dev key). */
export interface TestServer {
  app: INestApplication;
  /** e.g. `http://127.0.0.1:41234/fhir` */
  fhirBase: string;
  dataDir: string;
  token(request?: Partial<DevTokenRequest>): Promise<string>;
  close(): Promise<void>;
}

/**
 * `clock`: the server's "now" (edit windows, grant expiry, versions' lastUpdated), for tests
 * that move time instead of waiting for it.
 */
export async function startTestServer(options: Partial<ChartWardenOptions> & { clock?: Clock } = {}): Promise<TestServer> {
  const { clock, ...moduleOptions } = options;
  const dataDir = moduleOptions.dataDir ?? (await mkdtemp(join(tmpdir(), 'chartwarden-test-')));
  let builder = Test.createTestingModule({
    imports: [ChartWardenModule.forRoot({ databaseUrl: testDatabaseUrl(), dataDir, databasePoolSize: 5, ...moduleOptions })],
  });
  if (clock) builder = builder.overrideProvider(Clock).useValue(clock);
  const moduleRef = await builder.compile();
  const app = moduleRef.createNestApplication({ bodyParser: false, logger: ['error'] });
  setupOpenApi(app);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return {
    app,
    fhirBase: `http://127.0.0.1:${port}/fhir`,
    dataDir,
    token: (request = {}) => issueDevToken(dataDir, { sub: 'his-test', roles: ['his-system'], ttl: '1h', ...request }),
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
}
