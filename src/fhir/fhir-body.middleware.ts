import { Injectable, type NestMiddleware } from '@nestjs/common';
import express, { type NextFunction, type Request, type Response } from 'express';
import { FhirSettings } from './fhir.settings.js';
import { FhirRequestError, FhirRequestErrorCode } from './fhir.errors.js';
import { sendRecordedError } from './fhir-response.js';
import { AuditRecorder } from '../audit/audit-recorder.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';

const JSON_TYPES = ['application/fhir+json', 'application/json', 'application/json+fhir'];
/** Scans of presented documents (copy requests, R-30): taken as they are, checked by their bytes later. */
const EVIDENCE_TYPES = ['application/pdf', 'image/jpeg', 'image/png', 'application/octet-stream'];
const EVIDENCE_PATH = /\/copy-requests\/[^/]+\/evidence$/;

/**
 * Parses FHIR request bodies for ChartWarden's routes only (a host app keeps its own parsers):
 * JSON in the FHIR media types, form data for `_search`, and a scanned document for a copy
 * request's `/evidence` (PDF, JPEG, PNG; up to the policy's `copyRequests.maxEvidenceBytes`). Oversized bodies get 413, other
 * media types 415, unparseable JSON 400 — each as an OperationOutcome, before any handler runs.
 */
@Injectable()
export class FhirBodyMiddleware implements NestMiddleware {
  private readonly json: express.RequestHandler;
  private readonly form: express.RequestHandler;
  private readonly raw: express.RequestHandler;

  constructor(
    options: FhirSettings,
    private readonly recorder: AuditRecorder,
    policy: LoadedPolicy,
  ) {
    this.json = express.json({ type: JSON_TYPES, limit: options.maxBodyBytes, strict: false });
    this.raw = express.raw({ type: EVIDENCE_TYPES, limit: policy.maxEvidenceBytes });
    this.form = express.urlencoded({ type: 'application/x-www-form-urlencoded', limit: options.maxBodyBytes, extended: false });
  }

  use(req: Request, res: Response, next: NextFunction): void {
    // PATCH is not supported at all: let the route answer 405 whatever the patch format.
    if (req.method !== 'POST' && req.method !== 'PUT') return next();
    if ((req as Request & { _body?: boolean })._body) return next(); // already parsed by the host application
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
    const isSearch = req.path.endsWith('/_search');
    let parser: express.RequestHandler | undefined;
    if (JSON_TYPES.includes(type)) parser = this.json;
    else if (EVIDENCE_PATH.test(req.path) && EVIDENCE_TYPES.includes(type)) parser = this.raw;
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
    parser(req, res, (err?: unknown) => (err ? void sendRecordedError(this.recorder, res, bodyError(err)) : next()));
  }
}

function bodyError(err: unknown): unknown {
  const type = (err as { type?: string }).type;
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
