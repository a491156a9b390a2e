import 'reflect-metadata';
import { Test } from '@nestjs/testing';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { AuditLog } from '../src/audit/audit-log.js';
import { ChartWardenModule } from '../src/chartwarden.module.js';
import { AUDIT_DEFAULTS } from '../src/config/chartwarden.options.js';
import { settingsFromEnv } from '../src/config/env.config.js';
import { FASTIFY_SERVER_OPTIONS } from '../src/fhir/fastify-server.js';
import { ChartWardenDatabase } from '../src/database/chartwarden-database.js';

/**
 * The comparator for the audit benchmark (issue #5): the ChartWarden server, same build and
 * settings, with the audit log replaced by one that records nothing. It exists only here:
 * the product has no switch that turns auditing off.
 *
 * Env: as the server (PORT, DATABASE_URL, CHARTWARDEN_DATA_DIR).
 */
class DiscardingAuditLog extends AuditLog {
  // A subclass, not a look-alike: whatever else the module asks of the log (its observer, its
  // health, its queue depth) is the real log's. A look-alike missed `observe` when the metrics
  // began to call it, and the full bench stopped at this server's start.
  override async onModuleInit(): Promise<void> {}
  override async append(): Promise<void> {}
  override async appendWithin(): Promise<void> {}
  // A write's entries go with its COMMIT as this statement (decision 0022): none to send.
  override appendStatement(): undefined {
    return undefined;
  }
}

const settings = settingsFromEnv();
if (!settings.databaseUrl) {
  console.error('unaudited-server: DATABASE_URL is required');
  process.exit(1);
}
const moduleRef = await Test.createTestingModule({ imports: [ChartWardenModule.forRoot({ ...settings.options, databaseUrl: settings.databaseUrl })] })
  .overrideProvider(AuditLog)
  .useFactory({ factory: (db: ChartWardenDatabase) => new DiscardingAuditLog(db, AUDIT_DEFAULTS.chains, AUDIT_DEFAULTS.maxBatch), inject: [ChartWardenDatabase] })
  .compile();
// The platform the server runs on (src/main.ts), so that the comparison is of the audit alone.
const app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(FASTIFY_SERVER_OPTIONS), { bodyParser: false, logger: ['warn', 'error'] });
await app.listen(settings.port, '127.0.0.1');
console.log(`unaudited ChartWarden listening on ${settings.port}`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
