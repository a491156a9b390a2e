import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpAdapterHost } from '@nestjs/core';
import type { Logger as Pino } from 'pino';
import { requestIdFor, type AuditedRequest } from '../audit/audit-recorder.js';
import { requestPath, type HttpRequest, type HttpResponse, type Next } from '../common/http-exchange.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { interactionLabel, policyRuleIds, ruleLabel } from './metric-labels.js';
import { ChartWardenMetrics } from './metrics.service.js';

const STARTED = Symbol('chartwarden.request-started');
const LINE = Symbol('chartwarden.access-line');

type ObservedRequest = AuditedRequest & { [STARTED]?: number; [LINE]?: AccessLine };

/** What one access-log line says about a request. Never a token, a body, a query string or record content. */
export interface AccessLine {
  /** The audit trail's request id (the response's `X-Request-Id`). */
  requestId: string;
  /** The operator's token `sub`, once identified. */
  sub?: string;
  interaction: string;
  method: string;
  /** The path without its query (search parameters may name a patient). */
  path: string;
  status: number;
  durationMs: number;
  /** The client went away before the response was complete. */
  aborted?: true;
}

/**
 * Observes every HTTP request once it has been answered or abandoned (issue #14): one
 * access-log line (when logging is configured) and the request metrics (always). Installed in
 * front of the router, so requests refused before any route (input guard, unknown path) are
 * seen too. It reads what the audit trail already knows: the request id, the actor, the
 * interaction, the decision. The line is one pino call with a small object: the request is
 * never serialised (its headers hold the token), and no per-request child logger is made
 * (one less object per request than pino-http).
 */
export class RequestObserver {
  private rules?: { document: unknown; ids: ReadonlySet<string> };

  constructor(
    private readonly metrics: ChartWardenMetrics,
    private readonly policy: LoadedPolicy,
    private readonly adapterHost: HttpAdapterHost | undefined,
    private readonly logger: Pino | undefined,
  ) {}

  /** Puts the observer first of all on the HTTP application (before the input guard and the router). */
  install(): void {
    this.adapterHost?.httpAdapter?.use(this.use);
  }

  /** The middleware (node's request and response, on either platform). */
  readonly use = (req: HttpRequest, res: HttpResponse, next: Next): void => {
    const observed = req as ObservedRequest;
    observed[STARTED] = performance.now();
    requestIdOf(observed, res);
    // 'close' comes after 'finish' for an answered request, and alone for an abandoned one.
    res.once('close', () => this.ended(observed, res));
    next();
  };

  private ended(req: ObservedRequest, res: ServerResponse): void {
    const line = this.line(req, res);
    this.metrics.requestEnded(line.interaction, line.status, line.durationMs / 1000);
    const decision = req.audit?.decision;
    if (decision) this.metrics.decided(ruleLabel(decision.rule, this.ruleIds()), decision.allowed);
    if (!this.logger) return;
    const level = res.statusCode >= 500 ? 'error' : quiet(req) && res.statusCode < 400 ? 'debug' : 'info';
    if (this.logger.isLevelEnabled(level)) this.logger[level](line, message(line));
  }

  /** The request's line, computed once when it ended (the metrics, the log line and its message agree). */
  private line(req: ObservedRequest, res: ServerResponse): AccessLine {
    return (req[LINE] ??= this.describe(req, res));
  }

  private describe(req: ObservedRequest, res: ServerResponse): AccessLine {
    const path = requestPath(req);
    const started = req[STARTED] ?? performance.now();
    const line: AccessLine = {
      requestId: req.audit?.requestId ?? String(res.getHeader('x-request-id') ?? ''),
      sub: (req.audit?.actor ?? req.actor)?.id,
      interaction: interactionLabel(req.audit?.interaction?.subtype, path),
      method: req.method ?? '',
      path,
      status: res.statusCode,
      durationMs: Math.round((performance.now() - started) * 10) / 10,
    };
    if (!res.writableFinished) line.aborted = true;
    return line;
  }

  /** The policy's rule ids, recomputed only when the policy document changes (a reload). */
  private ruleIds(): ReadonlySet<string> {
    const document = this.policy.document;
    if (this.rules?.document !== document) this.rules = { document, ids: policyRuleIds(document) };
    return this.rules.ids;
  }
}

/** The id the response carries: the caller's when it is sane, else a new one (`requestIdFor`); the audit recorder then records the request under it. */
function requestIdOf(req: ObservedRequest, res: ServerResponse): string {
  const given = req.headers['x-request-id'];
  const id = requestIdFor(typeof given === 'string' ? given : undefined);
  if (!res.headersSent) res.setHeader('X-Request-Id', id);
  return id;
}

/** Probes and scrapes are logged at debug unless they fail: a kubelet probing every few seconds would drown the log. */
function quiet(req: IncomingMessage): boolean {
  const url = req.url ?? '';
  return url.startsWith('/health/') || url === '/metrics' || url.startsWith('/metrics?');
}

function message(line: AccessLine): string {
  return `${line.method} ${line.path} ${line.status} ${line.durationMs} ms`;
}
