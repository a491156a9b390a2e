import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { AuditLog } from '../audit/audit-log.js';
import type { ChartWardenOptions } from '../config/chartwarden.options.js';
import { CHARTWARDEN_OPTIONS } from '../config/module-options.js';
import { ChartWardenDatabase } from '../database/chartwarden-database.js';
import { FhirStore } from '../store/fhir-store.port.js';

/** Longest the database may take to answer the readiness query before the instance is reported not ready. */
const DATABASE_TIMEOUT_MS = 2000;
/**
 * How long one readiness answer is reused: probes from several load balancers and the
 * kubelet then cost at most one `SELECT 1` a second, whatever their number.
 */
const CACHE_MS = 1000;
/**
 * How long a failed audit commit keeps the instance not ready when nothing has committed
 * since. Past it the database check speaks for the writer: a not-ready instance receives no
 * traffic, so it would otherwise never commit again to prove it recovered.
 */
export const AUDIT_FAILURE_WINDOW_MS = 30_000;

/** A store that can say whether it answers (a remote FHIR server); the PostgreSQL store answers when the database does. */
interface StoreWithReadiness {
  ready(options: { signal: AbortSignal }): Promise<Record<string, unknown> | void>;
}

/**
 * What `GET /health/ready` checks (issue #14): the database answers a trivial query, the audit
 * writer is not failing its commits (R-20, R-51: a request that cannot be recorded is not
 * answered, so an instance whose trail fails is useless), and the store answers.
 */
@Injectable()
export class ReadinessIndicators {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly db: ChartWardenDatabase,
    private readonly audit: AuditLog,
    private readonly fhirStore: FhirStore,
    @Inject(CHARTWARDEN_OPTIONS) private readonly options: ChartWardenOptions,
  ) {}

  /** `SELECT 1` through the request pool, within `DATABASE_TIMEOUT_MS`. */
  database(): PromiseLike<HealthIndicatorResult<'database'>> {
    return this.indicators
      .check('database')
      .attempt(async () => {
        await this.db.query('SELECT 1');
      })
      .withTimeout(DATABASE_TIMEOUT_MS)
      .cacheFor(CACHE_MS);
  }

  /** Down while the writer's last commit failed and nothing committed since, for `AUDIT_FAILURE_WINDOW_MS`. No query. */
  auditWriter(): HealthIndicatorResult<'audit'> {
    const { lastSuccessAt, lastFailureAt } = this.audit.health;
    const check = this.indicators.check('audit');
    const queued = this.audit.queueDepth;
    if (lastFailureAt > lastSuccessAt && Date.now() - lastFailureAt < AUDIT_FAILURE_WINDOW_MS) {
      return check.down({ message: 'the last audit commits failed', failedAt: new Date(lastFailureAt).toISOString(), queued });
    }
    return check.up({ queued });
  }

  /**
   * The store's own readiness when it has one (a remote store); the embedded PostgreSQL store is
   * the database above, reported as `postgres` (the options say which store is configured: this
   * knows the port, not the adapter behind it).
   */
  store(): PromiseLike<HealthIndicatorResult<'store'>> | HealthIndicatorResult<'store'> {
    const store = this.fhirStore as FhirStore & Partial<StoreWithReadiness>;
    if (typeof store.ready === 'function') {
      const ready = store.ready.bind(store);
      return this.indicators
        .check('store')
        .attempt(async ({ signal }) => ready({ signal }))
        .withTimeout(DATABASE_TIMEOUT_MS)
        .cacheFor(CACHE_MS);
    }
    const embedded = (this.options.store ?? { kind: 'embedded' }).kind === 'embedded';
    return this.indicators.check('store').up({ kind: embedded ? 'postgres' : this.fhirStore.constructor.name });
  }
}
