import { randomUUID } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import type { AuditRecorder, AuditedRequest } from '../audit/audit-recorder.js';
import { storedText } from '../common/fhir-json-text.js';
import { rawResponse, setHeaders, type PlatformResponse } from '../common/http-exchange.js';
import { toErrorResponse } from './operation-outcome.mapper.js';

/** What a FHIR use case answers: status, headers and a resource (or nothing). */
export interface FhirResponse {
  status: number;
  body?: Resource;
  /** The body as JSON text already (a stored version served as stored): sent without re-serialising. */
  json?: string;
  headers?: Record<string, string>;
}

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

/**
 * Writes a FHIR response (controllers use `@Res()` so status and headers are ours alone), on node's
 * response under the platform's (`rawResponse`): every writer here takes either.
 */
export function sendFhir(platformResponse: PlatformResponse, response: FhirResponse): void {
  const res = rawResponse(platformResponse);
  res.statusCode = response.status;
  if (response.headers) setHeaders(res, response.headers);
  if (response.body === undefined && response.json === undefined) {
    res.end();
    return;
  }
  const json = Buffer.from(response.json ?? fhirJson(response.body));
  if (!response.headers?.['Content-Type']) res.setHeader('Content-Type', FHIR_JSON);
  res.setHeader('Content-Length', String(json.length));
  res.end(json);
}

/**
 * JSON text of a response body, with each resource that carries its stored text (a read, a
 * Bundle's entries: `withStoredText`) written as that text, the sender's key order and number
 * lexemes kept (issue #16), instead of re-serialised: a Bundle is serialised around its entries'
 * texts, which are spliced in as they are.
 *
 * Each text is first put in as a placeholder string holding a nonce of this call, so no string of
 * the data can be taken for one (`withPlaceholders`), and the Bundle is serialised without a
 * replacer: a replacer is a call back into JavaScript for every key of the Bundle, which made this
 * function 7.7 % of a search's server CPU (35 µs for 20 entries; 16 µs this way, issue #13).
 */
export function fhirJson(body: unknown): string {
  const own = storedText(body);
  if (own !== undefined) return own;
  if ((body as { resourceType?: string } | undefined)?.resourceType !== 'Bundle') return JSON.stringify(body);
  const mark = `"cw-stored-text-${randomUUID()}-`;
  const texts: string[] = [];
  const json = JSON.stringify(withPlaceholders(body, mark.slice(1), texts));
  let out = '';
  let at = 0;
  for (let i = json.indexOf(mark); i >= 0; i = json.indexOf(mark, at)) {
    // A placeholder is `"<mark><n>"`: JSON.stringify writes it as it is (it holds nothing to escape).
    const end = json.indexOf('"', i + mark.length);
    out += json.slice(at, i) + texts[Number(json.slice(i + mark.length, end))];
    at = end + 1;
  }
  return at === 0 ? json : out + json.slice(at);
}

/**
 * `value` with each object that carries its stored text replaced by `<mark><n>`, `texts[n]` being
 * that text; the containers on the way to one are copied, nothing is changed in place. Walks own
 * enumerable string keys, as JSON.stringify writes them.
 */
function withPlaceholders(value: unknown, mark: string, texts: string[]): unknown {
  if (value === null || typeof value !== 'object') return value;
  const text = storedText(value);
  if (text !== undefined) return `${mark}${texts.push(text) - 1}`;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let n = 0; n < value.length; n++) {
      const swapped = withPlaceholders(value[n], mark, texts);
      if (swapped !== value[n]) (copy ??= [...value])[n] = swapped;
    }
    return copy ?? value;
  }
  let copy: Record<string, unknown> | undefined;
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    const swapped = withPlaceholders(record[key], mark, texts);
    if (swapped !== record[key]) (copy ??= { ...record })[key] = swapped;
  }
  return copy ?? value;
}

/** Writes any error as its OperationOutcome response. */
export function sendError(res: PlatformResponse, error: unknown): void {
  const { status, outcome, headers } = toErrorResponse(error);
  sendFhir(res, { status, body: outcome, headers });
}

/**
 * Records the request in the audit trail, then writes its response: nothing leaves before
 * its entry is durable. When the trail cannot record, the answer is a 503
 * OperationOutcome instead of what the request would have returned.
 */
export async function sendRecorded(recorder: AuditRecorder, platformResponse: PlatformResponse, response: FhirResponse): Promise<void> {
  const res = rawResponse(platformResponse);
  try {
    await recorder.record(res.req as AuditedRequest, { status: response.status, headers: response.headers, body: response.status >= 400 ? response.body : undefined });
  } catch (e) {
    sendError(res, e);
    return;
  }
  sendFhir(res, response);
}

/** `sendRecorded` for an error. */
export function sendRecordedError(recorder: AuditRecorder, res: PlatformResponse, error: unknown): Promise<void> {
  const { status, outcome, headers } = toErrorResponse(error);
  return sendRecorded(recorder, res, { status, body: outcome, headers });
}

/** A workflow API's answer (not a FHIR resource): plain JSON with its status. */
export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): FhirResponse {
  return { status, json: JSON.stringify(body), headers: { 'Content-Type': 'application/json; charset=utf-8', ...headers } };
}

/** A stored copy's route name, `{n}.pdf` or `{n}.json`: its number and format, or undefined. */
export function copyFileName(file: string): { n: number; format: 'pdf' | 'json' } | undefined {
  const m = /^(\d{1,6})\.(pdf|json)$/.exec(file);
  return m ? { n: Number(m[1]), format: m[2] as 'pdf' | 'json' } : undefined;
}

/** Content types of a stored copy: the certified PDF, or the electronic FHIR document Bundle. */
export const COPY_CONTENT_TYPES = { pdf: 'application/pdf', json: 'application/fhir+json; charset=utf-8' } as const;

/** `ETag`, `Last-Modified` (and optionally `Location`) for a stored version. */
export function versionHeaders(resource: Pick<Resource, 'meta'>, location?: string): Record<string, string> {
  const headers: Record<string, string> = {};
  if (resource.meta?.versionId) headers.ETag = `W/"${resource.meta.versionId}"`;
  if (resource.meta?.lastUpdated) headers['Last-Modified'] = new Date(resource.meta.lastUpdated).toUTCString();
  if (location) headers.Location = location;
  return headers;
}

/** A response carrying a stored version as its JSON text (the read path: no parse, no stringify). */
export function storedResponse(stored: { json: string; versionId: string; lastUpdated: string }): FhirResponse {
  return { status: 200, json: stored.json, headers: versionHeaders({ meta: { versionId: stored.versionId, lastUpdated: stored.lastUpdated } }) };
}

/** A file (a PDF, a sealed copy) as a response: recorded first like every response, then sent as is with its SHA-256. */
export async function sendRecordedFile(
  recorder: AuditRecorder,
  platformResponse: PlatformResponse,
  file: { body: Buffer | string; contentType: string; filename: string; sha256: string },
): Promise<void> {
  const res = rawResponse(platformResponse);
  try {
    await recorder.record(res.req as AuditedRequest, { status: 200 });
  } catch (e) {
    sendError(res, e);
    return;
  }
  const bytes = typeof file.body === 'string' ? Buffer.from(file.body, 'utf8') : file.body;
  res.statusCode = 200;
  setHeaders(res, {
    'Content-Type': file.contentType,
    'Content-Disposition': `attachment; filename="${file.filename}"`,
    'Content-Length': String(bytes.length),
    // The copy's own hash, so a recipient can compare it with the manifest without trusting the transport.
    Digest: `sha-256=${Buffer.from(file.sha256, 'hex').toString('base64')}`,
    'X-Content-SHA256': file.sha256,
  });
  res.end(bytes);
}
