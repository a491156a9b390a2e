import { Controller, Get, Header } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { Permission } from '../fhir/route-permission.js';
import { ReadinessIndicators } from './readiness.indicators.js';

/**
 * Probes for load balancers and Kubernetes (issue #14). Public (no token) and never audited:
 * they touch no record, and the audit middleware is not applied to `/health`.
 * `live`: the process answers (no I/O). `ready`: the database, the audit writer and the
 * store are ready; 503 with terminus's body naming what is down otherwise.
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly readiness: ReadinessIndicators,
  ) {}

  @Get('live')
  @Permission.public('a liveness probe: the process answers, no record is touched')
  @HealthCheck()
  @Header('Cache-Control', 'no-store')
  live() {
    return this.health.check([() => this.indicators.check('process').up({ uptimeSeconds: Math.round(process.uptime()) })]);
  }

  @Get('ready')
  @Permission.public('a readiness probe: the database, the audit writer and the store are up, no record is touched')
  @HealthCheck()
  @Header('Cache-Control', 'no-store')
  ready() {
    return this.health.check([() => this.readiness.database(), () => this.readiness.auditWriter(), () => this.readiness.store()]);
  }
}
