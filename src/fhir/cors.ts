import { Inject, Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import cors, { type CorsOptions as PreflightAnswer } from 'cors';
import vary from 'vary';
import { requestPath, type HttpRequest, type HttpResponse, type Next } from '../common/http-exchange.js';
import type { ChartWardenOptions } from '../config/chartwarden.options.js';
import { CHARTWARDEN_OPTIONS } from '../config/module-options.js';
import { CHARTWARDEN_PATHS } from './input-guard.middleware.js';

/** Where CORS applies: ChartWarden's routes and its SMART configuration, nothing of a host's. */
const CORS_PATHS = [...CHARTWARDEN_PATHS, '/.well-known/smart-configuration'];

/**
 * The methods ChartWarden's routes take. DELETE is left out: it is refused by design (405, R-17),
 * and a browser app told so by the preflight never sends it.
 */
export const CORS_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH'];

/** The request headers ChartWarden reads (beyond the CORS-safelisted ones). */
export const CORS_REQUEST_HEADERS = [
  'Authorization',
  'Content-Type',
  'Content-Encoding',
  'If-Match',
  'If-None-Exist',
  'Prefer',
  // Break-the-glass: the purpose of use and its reason.
  'Category',
  'X-Break-Glass-Reason',
  // A change past its first version says why.
  'X-Edit-Reason',
  'X-Request-Id',
];

/** The response headers a browser app needs to read (versions, where a write went, the request's audit id, files). */
export const CORS_EXPOSED_HEADERS = [
  'ETag',
  'Location',
  'Content-Location',
  'Last-Modified',
  'X-Request-Id',
  'Retry-After',
  'WWW-Authenticate',
  'Content-Disposition',
  'Digest',
  'X-Content-SHA256',
];

/** How long a browser may reuse a preflight's answer, in seconds: short, so a changed origin list applies soon. */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

const underCorsPaths = (path: string) => CORS_PATHS.some((p) => path === p || path.startsWith(`${p}/`));

/**
 * CORS for the configured origins (`ChartWardenOptions.cors`, `CHARTWARDEN_CORS_ORIGINS`), with
 * the `cors` middleware (the one Nest's Express adapter carries), installed as ChartWarden's own
 * middleware on node's request and response: the same answers on Express and on Fastify, whose
 * `enableCors` is another plugin (decision 0021). A preflight (`OPTIONS`) from an allowed
 * origin is answered 204 here, before identity: it carries no token by design (Fetch §3.2.5), and
 * reads and records nothing. Any other request of an allowed origin goes on with the allow and
 * expose headers set, so a browser can read its answer, refusals included. An origin not listed,
 * or a request without one, gets no CORS header at all; a preflight of one goes on to identity
 * (401), as without CORS. The allowed origin is named, never `*`: requests carry Authorization.
 * No `Allow-Credentials`: tokens travel in a header, never in cookies.
 *
 * Installed on the HTTP application ahead of every route and Nest middleware (from the FHIR
 * module's `configure`), on ChartWarden's paths as mounted at the root; a host serving
 * ChartWarden under a global prefix enables CORS itself (`app.enableCors`).
 */
@Injectable()
export class CorsPolicy {
  private readonly origins: ReadonlySet<string>;

  constructor(
    @Inject(CHARTWARDEN_OPTIONS) options: ChartWardenOptions,
    private readonly adapterHost: HttpAdapterHost,
  ) {
    this.origins = new Set(options.cors?.origins ?? []);
  }

  private readonly cors = cors((req, callback) => callback(null, this.answer(req as HttpRequest)));

  /** The middleware: CORS on ChartWarden's paths, nothing on a host's. */
  readonly use = (req: HttpRequest, res: HttpResponse, next: Next): void => {
    if (!underCorsPaths(requestPath(req))) return next();
    // The answer depends on Origin: a cache must not hand one origin's answer to another.
    vary(res, 'Origin');
    this.cors(req, res, next);
  };

  /** The answer for one request on ChartWarden's paths: the allow headers for an allowed origin, else none (`origin: false`). */
  private answer(req: HttpRequest): PreflightAnswer {
    const origin = req.headers.origin;
    if (origin === undefined || !this.origins.has(origin)) return { origin: false };
    return {
      origin,
      methods: CORS_METHODS,
      allowedHeaders: CORS_REQUEST_HEADERS,
      exposedHeaders: CORS_EXPOSED_HEADERS,
      maxAge: PREFLIGHT_MAX_AGE_SECONDS,
      optionsSuccessStatus: 204,
    };
  }

  /** Puts CORS in front of the HTTP application (nothing when no origin is configured, or there is no HTTP server). */
  install(): void {
    const adapter = this.adapterHost?.httpAdapter;
    if (!adapter || this.origins.size === 0) return;
    adapter.use(this.use);
  }
}
