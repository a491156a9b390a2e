import { Injectable, type NestMiddleware } from '@nestjs/common';
import { AuditRecorder } from '../audit/audit-recorder.js';
import { ChartWardenError, type ErrorAnswer } from '../common/chartwarden.error.js';
import { header, requestPath, requestTarget, type HttpRequest, type HttpResponse, type Next } from '../common/http-exchange.js';
import { sendRecordedError } from './fhir-response.js';

/** The JSON media types ChartWarden reads and answers in; `application/json+fhir` is DSTU2's, still sent by older clients. */
export const JSON_MEDIA_TYPES: readonly string[] = ['application/fhir+json', 'application/json', 'application/json+fhir'];
/** What a `_format` or `Accept` may ask for to be answered in JSON: the JSON media types and the `_format` shorthand. */
const JSON_FORMATS = new Set(['json', ...JSON_MEDIA_TYPES]);
/** `$print` answers a PDF (its refusals stay OperationOutcomes). */
const PDF_FORMATS = new Set(['pdf', 'application/pdf']);
const PRINT_PATH = /\/\$print\/?$/;
/** The FHIR versions a `fhirVersion` media type parameter may name (R4 http.html#version-parameter). */
const FHIR_VERSION = /^4\.0(\.\d+)?$/;

/** A request for a format ChartWarden does not produce: 406 `not-supported` (R4 http.html#mime-type). */
export class NotAcceptableError extends ChartWardenError<'fhir.not-acceptable'> {
  constructor(message: string) {
    super('fhir.not-acceptable', message);
  }

  override get answer(): ErrorAnswer {
    return { status: 406, issue: 'not-supported' };
  }
}

/**
 * A media type (`Content-Type`, an `Accept` range) or `_format` value: the type lower-cased,
 * without its parameters, then its `fhirVersion` and `q` parameters if any. The one reading of
 * a media type for content negotiation, the body parser and PATCH.
 */
export function mediaType(value: string): { type: string; fhirVersion?: string; q: number } {
  const [type, ...params] = value.split(';').map((part) => part.trim());
  let q = 1;
  let fhirVersion: string | undefined;
  for (const param of params) {
    const [name, raw = ''] = param.split('=').map((s) => s.trim());
    const v = raw.replace(/^"(.*)"$/, '$1');
    if (name.toLowerCase() === 'q') q = Number(v);
    else if (name.toLowerCase() === 'fhirversion') fhirVersion = v;
  }
  return { type: type.toLowerCase(), fhirVersion, q: Number.isFinite(q) ? q : 0 };
}

const versionOk = (fhirVersion: string | undefined) => fhirVersion === undefined || FHIR_VERSION.test(fhirVersion);

/**
 * Why the request's `_format` or `Accept` asks for a format this route cannot produce, or
 * undefined when it may answer. `_format` decides when present (it overrides `Accept`, for
 * clients that cannot set headers); else `Accept` must admit JSON (`*\/*`, `application/*`,
 * a JSON type, with q > 0). No `Accept` admits anything. `path` is the request path (`$print`
 * produces a PDF); `formats` are the `_format` values as sent, already percent-decoded.
 */
export function refusedFormat(path: string, formats: readonly string[], accept: string | undefined): string | undefined {
  const produced = PRINT_PATH.test(path) ? new Set([...JSON_FORMATS, ...PDF_FORMATS]) : JSON_FORMATS;
  if (formats.length > 0) {
    // An unencoded `+` in a query string reads as a space (`application/fhir json`): take it back.
    const refused = formats.find((f) => {
      const m = mediaType(f.replace(/ /g, '+'));
      return !produced.has(m.type) || !versionOk(m.fhirVersion);
    });
    return refused === undefined ? undefined : `_format=${refused} is not produced here: ChartWarden answers in JSON (_format=json or application/fhir+json)`;
  }
  if (accept === undefined || accept.trim() === '') return undefined;
  const admits = accept.split(',').some((range) => {
    const m = mediaType(range);
    if (m.q <= 0 || !versionOk(m.fhirVersion)) return false;
    return m.type === '*/*' || m.type === 'application/*' || produced.has(m.type);
  });
  return admits ? undefined : `Accept: ${accept} admits no format produced here: ChartWarden answers in application/fhir+json`;
}

/** The `_format` values of a URL's query string, decoded (a repeated `_format` gives each). */
export function formatParameters(url: string): string[] {
  const q = url.indexOf('?');
  return q < 0 ? [] : new URLSearchParams(url.slice(q + 1)).getAll('_format');
}

/**
 * Content negotiation for every route under `/fhir` (R4 http.html#mime-type): a request for
 * XML, Turtle, HTML or anything else ChartWarden does not produce is refused with 406 and an
 * OperationOutcome before any handler runs, so no record is read for it. The refusal is
 * recorded like every other (R-20; the public `/metadata` leaves no entry, as when it answers).
 */
@Injectable()
export class FormatNegotiation implements NestMiddleware {
  constructor(private readonly recorder: AuditRecorder) {}

  use(req: HttpRequest, res: HttpResponse, next: Next): void {
    // The target as sent: a middleware mounted on a path sees `url` relative to its mount.
    const refusal = refusedFormat(requestPath(req), formatParameters(requestTarget(req)), header(req, 'accept'));
    if (refusal === undefined) return next();
    void sendRecordedError(this.recorder, res, new NotAcceptableError(refusal));
  }
}
