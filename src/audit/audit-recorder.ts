import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Clock } from '../common/clock.js';
import { header, queryString, requestPath, type HttpRequest } from '../common/http-exchange.js';
import type { Actor } from '../identity/actor.js';
import { entriesFor, type AuditedResponse } from './audit-entries.js';
import { AuditLog } from './audit-log.js';
import { interactionOf } from './domain/interaction.js';
import { RequestAudit } from './request-audit.js';

/** A request as ChartWarden's middleware leaves it: its audit record, and its verified actor. */
export type AuditedRequest = HttpRequest & { audit?: RequestAudit; actor?: Actor };

/** A caller's `X-Request-Id` is kept when it is a sane token; otherwise the server makes one. */
const REQUEST_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

/** The id a request is recorded and answered under: the caller's `X-Request-Id` when it is a sane token, else a new one. */
export function requestIdFor(given: string | undefined): string {
  return given !== undefined && REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * A call that did not come over HTTP (the embedding client, `src/embedding`), described as the
 * HTTP request it stands for so the trail records it as that interaction.
 */
export interface DirectCall {
  /** What made the call, e.g. `embedded`: recorded as the scheme of the entry's path and in its user agent. */
  source: string;
  /** The HTTP method and `/fhir/...` path the call stands for (path segments percent-encoded). */
  method: string;
  path: string;
  /** The search's query string, kept for searches (BALP `entity.query`). */
  query?: string;
  /** The host's own request id, kept when it is a sane token (like `X-Request-Id`); otherwise one is made. */
  requestId?: string;
}

/** Thrown when the trail could not record a request: its response must not be sent. */
export class AuditUnavailableError extends Error {
  constructor(cause: unknown) {
    super('The access could not be recorded in the audit trail; nothing was returned or changed by this response', { cause });
  }
}

/**
 * Starts each request's audit record (`begin`, first middleware; `beginCall` for a call made in
 * process) and records it when its response is ready (`record`, `recordCall`): the response is
 * sent only after its entries are durable.
 */
@Injectable()
export class AuditRecorder {
  private static readonly logger = new Logger('Audit');

  constructor(
    private readonly log: AuditLog,
    private readonly clock: Clock,
  ) {}

  /** Middleware: gives the request its id (echoed as `X-Request-Id`) and its audit record. */
  readonly begin = (req: AuditedRequest, res: { setHeader(name: string, value: string): unknown; getHeader?(name: string): unknown }, next: () => void): void => {
    // The access log, first of all on HTTP, has already given the response its id by the same rule: kept.
    const answered = res.getHeader?.('x-request-id');
    const id = typeof answered === 'string' && REQUEST_ID.test(answered) ? answered : requestIdFor(header(req, 'x-request-id'));
    if (id !== answered) res.setHeader('X-Request-Id', id);
    const path = requestPath(req);
    req.audit = new RequestAudit(id, req.method, path, queryString(req), req.ip, header(req, 'user-agent'), interactionOf(req.method, path));
    next();
  };

  /**
   * Records what the request did and how it ended; resolves once durable. Throws
   * `AuditUnavailableError` when the trail cannot record: the caller then answers 503
   * instead of the response it had.
   */
  async record(req: AuditedRequest, response: AuditedResponse): Promise<void> {
    const audit = req.audit;
    if (!audit) return;
    audit.actor ??= req.actor;
    await this.recordCall(audit, response);
  }

  /**
   * Starts the audit record of a call made in process, not over HTTP (`begin` for a host's
   * `chartwarden.as(actor)` call). Its entry carries no network address, `<source>:` before its
   * path (an HTTP path always starts with `/`, so no request can pass for one) and
   * `chartwarden-<source>` as its user agent: an auditor tells embedded calls from HTTP requests.
   */
  beginCall(call: DirectCall): RequestAudit {
    const id = requestIdFor(call.requestId);
    const interaction = interactionOf(call.method, call.path);
    return new RequestAudit(id, call.method, `${call.source}:${call.path}`, call.query ?? '', undefined, `chartwarden-${call.source}`, interaction);
  }

  /** `record` for an audit record of any origin (an HTTP request's, or a call's from `beginCall`). */
  async recordCall(audit: RequestAudit, response: AuditedResponse): Promise<void> {
    const entries = entriesFor(audit, response, this.clock.now());
    try {
      await this.log.append(entries);
    } catch (e) {
      AuditRecorder.logger.error(`request ${audit.requestId}: ${(e as Error).message}`);
      throw new AuditUnavailableError(e);
    }
  }
}
