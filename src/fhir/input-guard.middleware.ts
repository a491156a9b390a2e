import { Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { AuditRecorder, type AuditedRequest } from '../audit/audit-recorder.js';
import { requestPath, requestTarget, type HttpResponse, type Next } from '../common/http-exchange.js';
import { answerBadUrls } from '../common/http-platform.js';
import { PERCENT_ENCODED_HEADERS } from './fhir-request.js';
import { sendRecordedError } from './fhir-response.js';
import { FhirRequestError, FhirRequestErrorCode } from './fhir.errors.js';
import { assertValidHeaders, assertValidRequestTarget } from './input-characters.js';

/** ChartWarden's route prefixes: the guard runs for these and nothing of the host's. */
export const CHARTWARDEN_PATHS = ['/fhir', '/access', '/audit', '/governance', '/disputes', '/copy-requests'];

const CHECKED = Symbol('chartwarden.input-checked');
const noop = () => undefined;

/**
 * The input guard: refuses a request whose URL path, query parameters or
 * headers hold a NUL, a lone UTF-16 surrogate, bytes that are not UTF-8 once percent-decoded,
 * or a malformed percent-escape, with 400 `fhir.invalid-characters` (or `fhir.invalid-request`)
 * naming where, BEFORE identity, body parsing, routing or any query. The refusal is recorded
 * like every other (the writer escapes what PostgreSQL cannot store). JSON bodies are checked
 * where they are parsed (`FhirBodyMiddleware`).
 *
 * `install()` puts it in front of the Express router on ChartWarden's paths (called from the
 * module's `configure`, before Nest registers any middleware or route): the router decodes
 * route parameters itself and would otherwise answer a malformed `%zz` with its own error,
 * unaudited. `use` is also applied as ordinary Nest middleware, so it still runs under a
 * host's global prefix; each request is checked once.
 */
@Injectable()
export class InputGuard {
  constructor(
    private readonly recorder: AuditRecorder,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  readonly use = (req: AuditedRequest & { [CHECKED]?: true }, res: HttpResponse, next: Next): void => {
    if (req[CHECKED]) return next();
    req[CHECKED] = true;
    try {
      assertValidRequestTarget(requestTarget(req));
      assertValidHeaders(req.rawHeaders, PERCENT_ENCODED_HEADERS);
    } catch (e) {
      // At the edge the audit record does not exist yet: start it, so the refusal is recorded.
      if (!req.audit) this.recorder.begin(req, res, noop);
      void sendRecordedError(this.recorder, res, e);
      return;
    }
    next();
  };

  /** Puts the guard first on ChartWarden's paths of the HTTP application (none when there is no HTTP server). */
  install(): void {
    const adapter = this.adapterHost?.httpAdapter;
    if (!adapter) return;
    adapter.use(CHARTWARDEN_PATHS, this.use);
    // On Fastify, a URL its router cannot decode never reaches a middleware: it comes here instead.
    answerBadUrls(adapter, {
      applies: (req) => CHARTWARDEN_PATHS.some((p) => requestPath(req) === p || requestPath(req).startsWith(`${p}/`)),
      answer: (req, res) =>
        this.use(req, res, () => void sendRecordedError(this.recorder, res, new FhirRequestError(FhirRequestErrorCode.InvalidRequest, 'The request URL could not be decoded'))),
    });
  }
}
