import 'reflect-metadata';
import { Test } from '@nestjs/testing';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AuditLog } from '../src/audit/audit-log.js';
import { ChartWardenModule } from '../src/chartwarden.module.js';
import { settingsFromEnv } from '../src/config/env.config.js';

/**
 * The comparator for the audit benchmark (issue #5): the ChartWarden server, same build and
 * settings, with the audit log replaced by one that records nothing. It exists only here:
 * the product has no switch that turns auditing off.
 *
 * Env: as the server (PORT, DATABASE_URL, CHARTWARDEN_DATA_DIR).
 */
class DiscardingAuditLog {
  readonly chains = 16;
  async onModuleInit(): Promise<void> {}
  async append(): Promise<void> {}
  async appendWithin(): Promise<void> {}
}

const settings = settingsFromEnv();
if (!settings.databaseUrl) {
  console.error('unaudited-server: DATABASE_URL is required');
  process.exit(1);
}
const moduleRef = await Test.createTestingModule({ imports: [ChartWardenModule.forRoot({ ...settings.options, databaseUrl: settings.databaseUrl })] })
  .overrideProvider(AuditLog)
  .useValue(new DiscardingAuditLog())
  .compile();
const app = moduleRef.createNestApplication<NestExpressApplication>({ bodyParser: false, logger: ['warn', 'error'] });
app.set('trust proxy', 'loopback');
await app.listen(settings.port);
console.log(`unaudited ChartWarden listening on ${settings.port}`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
