import type { IncomingMessage, ServerResponse } from 'node:http';
import { createParamDecorator, type ArgumentsHost, type ExecutionContext } from '@nestjs/common';

/*
 * The HTTP exchange as ChartWarden reads and writes it, on whichever platform its host runs
 * (decision 0021): node's own request and response, never Express's or Fastify's wrappers. Both
 * platforms hand these to middleware; a controller takes the request through `@HttpReq()` and
 * the response through Nest's `@Res()` (which tells Nest the handler answers), then `rawResponse`.
 */

/**
 * A request as both platforms give it to middleware: node's, with what they add to it.
 * `originalUrl` is the target as sent (a middleware mounted on a path may see `url` without its
 * mount); `ip` and `protocol` are the client's address and scheme under the platform's
 * trust-proxy setting (Express's `trust proxy`, Fastify's `trustProxy`: the same `proxy-addr`
 * rules); `body` is what ChartWarden's body middleware read (`FhirBodyMiddleware`).
 */
export interface HttpRequest extends IncomingMessage {
  /** Always set on a request a server received (node's type leaves it optional for client responses). */
  method: string;
  originalUrl?: string;
  ip?: string;
  protocol?: string;
  body?: unknown;
}

export type HttpResponse = ServerResponse;

/** A middleware's continuation. */
export type Next = (error?: unknown) => void;

/** A platform's request: node's (Express extends it in place), or Fastify's wrapper, which holds it as `raw`. */
export type PlatformRequest = HttpRequest | { raw: HttpRequest };
/** A platform's response: node's, or Fastify's reply, which holds it as `raw`. */
export type PlatformResponse = HttpResponse | { raw: HttpResponse; hijack(): unknown };

/** Node's request under the platform's. */
export function rawRequest(req: PlatformRequest): HttpRequest {
  return 'raw' in req ? req.raw : req;
}

/**
 * Node's response under the platform's, for a handler that writes it itself. Fastify is told so
 * (`hijack`): it then sends nothing of its own for the request.
 */
export function rawResponse(res: PlatformResponse): HttpResponse {
  if (!('raw' in res)) return res;
  res.hijack();
  return res.raw;
}

/** The request of a guard's, an interceptor's or a filter's context, as node's own. */
export function requestOf(context: ArgumentsHost): HttpRequest {
  return rawRequest(context.switchToHttp().getRequest<PlatformRequest>());
}

/** The request as node's own (`rawRequest`): a controller's parameter, on either platform. */
export const HttpReq = createParamDecorator((_data: unknown, context: ExecutionContext): HttpRequest => requestOf(context));

/** A request header's value (the first, when sent more than once), by its case-insensitive name. */
export function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** The request target as sent: path and query. */
export function requestTarget(req: HttpRequest): string {
  return req.originalUrl ?? req.url ?? '';
}

/** The request's path, without its query. */
export function requestPath(req: HttpRequest): string {
  const target = requestTarget(req);
  const q = target.indexOf('?');
  return q < 0 ? target : target.slice(0, q);
}

/** The raw query string of a request (after `?`, as sent: order and repeats kept), or ''. */
export function queryString(req: HttpRequest): string {
  const target = requestTarget(req);
  const q = target.indexOf('?');
  return q < 0 ? '' : target.slice(q + 1);
}

/** Sets each of `headers` on the response. */
export function setHeaders(res: HttpResponse, headers: Record<string, string>): void {
  for (const name of Object.keys(headers)) res.setHeader(name, headers[name]);
}

/** Writes `body` as JSON with `status` (the workflow APIs' and the console's plain answers). */
export function sendJson(res: HttpResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const json = Buffer.from(JSON.stringify(body));
  res.statusCode = status;
  setHeaders(res, headers);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', String(json.length));
  res.end(json);
}

/**
 * Sets a header on a response the platform still sends (a handler with `@Res({ passthrough: true })`):
 * on node's response, which both platforms' own headers are merged with when they write theirs.
 */
export function setResponseHeader(res: PlatformResponse, name: string, value: string): void {
  ('raw' in res ? res.raw : res).setHeader(name, value);
}
