import { Module } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { AccessModule } from '../access/access.module.js';
import { AuditModule } from '../audit/audit.module.js';
import type { ChartWardenOptions } from '../config/chartwarden.options.js';
import { CHARTWARDEN_OPTIONS } from '../config/module-options.js';
import { DisputesModule } from '../disputes/disputes.module.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { StoreModule } from '../store/store.module.js';
import { RequestObserver } from './access-log.js';
import { HealthController } from './health.controller.js';
import { createLogger } from './logger.js';
import { MetricsEndpoint } from './metrics.endpoint.js';
import { ChartWardenMetrics } from './metrics.service.js';
import { MetricsSettings } from './metrics.settings.js';
import { OperationalCounts } from './operational-counts.js';
import { ReadinessIndicators } from './readiness.indicators.js';

/** Health probes, Prometheus metrics and the access log (issue #14). */
@Module({
  // A failing probe is reported by its 503 and the access log, not by terminus's own log.
  imports: [TerminusModule.forRoot({ logger: false }), AuditModule, StoreModule, AccessModule, DisputesModule],
  controllers: [HealthController],
  providers: [
    { provide: MetricsSettings, inject: [CHARTWARDEN_OPTIONS], useFactory: (o: ChartWardenOptions) => new MetricsSettings(o.metrics) },
    OperationalCounts,
    ChartWardenMetrics,
    MetricsEndpoint,
    ReadinessIndicators,
    {
      provide: RequestObserver,
      inject: [ChartWardenMetrics, LoadedPolicy, HttpAdapterHost, CHARTWARDEN_OPTIONS],
      useFactory: (metrics: ChartWardenMetrics, policy: LoadedPolicy, adapterHost: HttpAdapterHost, o: ChartWardenOptions) =>
        new RequestObserver(metrics, policy, adapterHost, o.logging ? createLogger(o.logging) : undefined),
    },
  ],
  exports: [RequestObserver],
})
export class ObservabilityModule {}
