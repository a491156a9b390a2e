import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { rawRequest, rawResponse, sendJson, type HttpRequest, type HttpResponse, type PlatformRequest, type PlatformResponse } from '../common/http-exchange.js';
import { ChartWardenMetrics } from './metrics.service.js';
import { MetricsSettings } from './metrics.settings.js';

/** Prometheus text exposition format 0.0.4. */
const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * `GET /metrics` for Prometheus (issue #14). Registered only when enabled: disabled, the path
 * is nobody's (404 as any unknown route, or the host application's own `/metrics` when
 * ChartWarden is embedded). With a token configured, only `Authorization: Bearer <token>`
 * reads it (401 otherwise). Not the operators' identity: the scraper is no operator, its
 * token no JWT, and a scrape touches no record, so it is not audited.
 */
@Injectable()
export class MetricsEndpoint implements OnModuleInit {
  constructor(
    private readonly metrics: ChartWardenMetrics,
    private readonly settings: MetricsSettings,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  onModuleInit(): void {
    const adapter = this.adapterHost?.httpAdapter;
    if (!this.settings.enabled || !adapter) return;
    adapter.get('/metrics', (req: PlatformRequest, res: PlatformResponse) => void this.scrape(rawRequest(req), rawResponse(res)));
  }

  private async scrape(req: HttpRequest, res: HttpResponse): Promise<void> {
    res.setHeader('Cache-Control', 'no-store');
    if (!this.settings.admits(req.headers.authorization)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="chartwarden-metrics"');
      sendJson(res, 401, { statusCode: 401, error: 'Unauthorized', message: 'GET /metrics needs Authorization: Bearer <CHARTWARDEN_METRICS_TOKEN>' });
      return;
    }
    try {
      const text = await this.metrics.render();
      res.statusCode = 200;
      res.setHeader('Content-Type', CONTENT_TYPE);
      res.end(text);
    } catch (e) {
      sendJson(res, 500, { statusCode: 500, error: 'Internal Server Error', message: `metrics could not be collected: ${(e as Error).message}` });
    }
  }
}
