import { Injectable, type NestMiddleware } from '@nestjs/common';
import bodyParser from 'body-parser';
import { FhirSettings } from './fhir.settings.js';
import { FhirRequestError, FhirRequestErrorCode } from './fhir.errors.js';
import { sendRecordedError } from './fhir-response.js';
import { AuditRecorder } from '../audit/audit-recorder.js';
import { ChartWardenError } from '../common/chartwarden.error.js';
import { requestPath, type HttpRequest, type HttpResponse, type Next } from '../common/http-exchange.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { assertValidForm, invalidCharacters } from './input-characters.js';
import { assertValidJsonValue, parseJsonBody } from './json-body.js';
import { JSON_MEDIA_TYPES, mediaType } from './format-negotiation.js';
import { JSON_PATCH } from './json-patch.js';

/** Scans of presented documents (copy requests, R-30): taken as they are, checked by their bytes later. */
const EVIDENCE_TYPES = ['application/pdf', 'image/jpeg', 'image/png', 'application/octet-stream'];
const EVIDENCE_PATH = /\/copy-requests\/[^/]+\/evidence$/;
const UTF8 = new TextDecoder('utf-8', { fatal: true });
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)/i;

/**
 * Parses FHIR request bodies for ChartWarden's routes only (a host app keeps its own parsers):
 * JSON in the FHIR media types, form data for `_search`, and a scanned document for a copy
 * request's `/evidence` (PDF, JPEG, PNG; up to the policy's `copyRequests.maxEvidenceBytes`). Oversized bodies get 413, other
 * media types 415, unparseable JSON 400 — each as an OperationOutcome, before any handler runs.
 *
 * Every workflow route's JSON goes through here too, so the input rules hold once for all
 * a refused body stores nothing; R-20: the refusal is audited): JSON is strict UTF-8,
 * at most `FhirSettings.maxJsonDepth` deep, and no string or key holds a NUL or a lone
 * surrogate (`json-body.ts`); form fields are decoded strictly (`input-characters.ts`).
 * `Content-Encoding` gzip, deflate and br (and zstd where Node has it) are decoded, the limit
 * applying to the decoded size (a gzip bomb stops at `maxBodyBytes`: 413); a body that does
 * not decode is 400 `fhir.bad-encoding`; any other coding is 415 (RFC 9110 §15.5.16).
 * A body an embedding host's parser already read is checked as parsed. The bytes are read here,
 * by body-parser on node's own request, never by the platform's parsers (decision 0021): the same
 * limits and refusals on Express and on Fastify.
 */
@Injectable()
export class FhirBodyMiddleware implements NestMiddleware {
  private readonly json: BodyReader;
  private readonly form: BodyReader;
  private readonly raw: BodyReader;

  private readonly maxJsonDepth: number;

  constructor(
    options: FhirSettings,
    private readonly recorder: AuditRecorder,
    policy: LoadedPolicy,
  ) {
    this.maxJsonDepth = options.maxJsonDepth;
    // JSON is read as bytes and parsed here (`parseJsonBody`): strict UTF-8, depth checked before parsing.
    // A PATCH body (RFC 6902 JSON Patch, R4 http.html#patch) is JSON, read and checked as any JSON body.
    this.json = bodyParser.raw({ type: [...JSON_MEDIA_TYPES, JSON_PATCH], limit: options.maxBodyBytes });
    this.raw = bodyParser.raw({ type: EVIDENCE_TYPES, limit: policy.maxEvidenceBytes });
    // Kept as text: a parsed object would fold repeated parameters (AND) into one list (OR), and
    // body-parser's field limit would answer 500; the search parser bounds the parameters instead.
    this.form = bodyParser.text({ type: 'application/x-www-form-urlencoded', limit: options.maxBodyBytes, verify: verifyForm });
  }

  use(req: HttpRequest, res: HttpResponse, next: Next): void {
    if (req.method !== 'POST' && req.method !== 'PUT' && req.method !== 'PATCH') return next();
    const { type } = mediaType(req.headers['content-type'] ?? '');
    const json = JSON_MEDIA_TYPES.includes(type) || (req.method === 'PATCH' && type === JSON_PATCH);
    if ((req as HttpRequest & { _body?: boolean })._body) {
      // Already parsed by the host application (body-parser 1.x marks it): checked as parsed.
      if (json) {
        try {
          assertValidJsonValue(req.body, this.maxJsonDepth);
        } catch (e) {
          return void sendRecordedError(this.recorder, res, e);
        }
      }
      return next();
    }
    const charset = CHARSET.exec(req.headers['content-type'] ?? '')?.[1].toLowerCase();
    if (charset && charset !== 'utf-8' && charset !== 'utf8' && json) {
      const error = new FhirRequestError(FhirRequestErrorCode.UnsupportedMediaType, `charset "${charset}" is not accepted: FHIR JSON is UTF-8`);
      return void sendRecordedError(this.recorder, res, error);
    }
    const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
    const path = requestPath(req);
    const isSearch = path.endsWith('/_search');
    let parser: BodyReader | undefined;
    if (json) parser = this.json;
    else if (EVIDENCE_PATH.test(path) && EVIDENCE_TYPES.includes(type)) parser = this.raw;
    else if (isSearch && type === 'application/x-www-form-urlencoded') parser = this.form;
    else if (!hasBody && (isSearch || type === '')) return next();
    if (!parser) {
      void sendRecordedError(
        this.recorder,
        res,
        new FhirRequestError(
          FhirRequestErrorCode.UnsupportedMediaType,
          `Content-Type "${type || '(none)'}" is not accepted; send application/fhir+json`,
        ),
      );
      return;
    }
    const fail = (e: unknown) => void sendRecordedError(this.recorder, res, bodyError(e, req.headers['content-encoding']));
    parser(req, res, (err?: unknown) => {
      if (err) return fail(err);
      if (parser === this.json) {
        try {
          if (Buffer.isBuffer(req.body)) req.body = parseJsonBody(req.body, this.maxJsonDepth);
          else if (req.body !== undefined) assertValidJsonValue(req.body, this.maxJsonDepth);
        } catch (e) {
          return fail(e);
        }
      }
      next();
    });
  }
}

/** One of body-parser's readers: reads the request's bytes into `req.body`, or calls back with why not. */
type BodyReader = (req: HttpRequest, res: HttpResponse, next: (error?: unknown) => void) => void;

/** A form body (`_search`) is decoded strictly before the parser sees it (body-parser keeps a bad escape as text). */
function verifyForm(_req: unknown, _res: unknown, bytes: Buffer): void {
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw invalidCharacters('request body', 'is not valid UTF-8');
  }
  assertValidForm(text, 'form parameter');
}

function bodyError(err: unknown, contentEncoding: string | undefined): unknown {
  // Ours, thrown from a parser's `verify` (body-parser sets a status on it, which the mapper ignores).
  if (err instanceof ChartWardenError) return err;
  const type = (err as { type?: string }).type;
  const status = (err as { status?: number }).status;
  // The body did not decode as its Content-Encoding says (garbage gzip, a truncated stream).
  if (status === 400 && type === undefined && (contentEncoding ?? 'identity').toLowerCase() !== 'identity') {
    return new FhirRequestError(FhirRequestErrorCode.BadEncoding, `The request body could not be decoded as Content-Encoding: ${contentEncoding}`);
  }
  if (type === 'entity.too.large') {
    return new FhirRequestError(FhirRequestErrorCode.PayloadTooLarge, `The request body is larger than the configured limit (${(err as { limit?: number }).limit} bytes)`);
  }
  if (type === 'entity.parse.failed') {
    return new FhirRequestError(FhirRequestErrorCode.MalformedBody, 'The request body is not valid JSON');
  }
  if (type === 'charset.unsupported' || type === 'encoding.unsupported') {
    return new FhirRequestError(FhirRequestErrorCode.UnsupportedMediaType, (err as Error).message);
  }
  return err;
}
