import { request as nodeRequest } from 'node:http';
import type { OperationOutcome, Resource } from '@medplum/fhirtypes';

/** A response as the e2e suites inspect it: status, headers, parsed body (undefined when not JSON), raw text. */
export interface HttpResult<T = OperationOutcome> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** What to send. A string body is sent as is (malformed-JSON tests); anything else as JSON. */
export interface HttpOptions {
  token?: string;
  body?: unknown;
  /** Content-Type of a body, unless `headers` names one: default `application/fhir+json`. */
  contentType?: string;
  headers?: Record<string, string>;
}

/**
 * One raw HTTP call for the e2e suites, for what a FHIR client hides (statuses, headers,
 * media types, OperationOutcomes of refusals).
 */
export async function httpRequest<T = OperationOutcome>(url: string, method: string, options: HttpOptions = {}): Promise<HttpResult<T>> {
  const headers: Record<string, string> = { accept: 'application/fhir+json', ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] ??= options.contentType ?? 'application/fhir+json';
  }
  const res = await fetch(url, { method, headers, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: parseJson(text) as T, text };
}

/**
 * One raw HTTP/1.1 request with node:http, for what `fetch` would change: the path, the method
 * (`OPTIONS`), the headers (`Origin`, `Accept`) and the body bytes go out exactly as given.
 */
export function rawRequest<T = OperationOutcome>(
  base: string,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<HttpResult<T>> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = nodeRequest({ host: url.hostname, port: url.port, path, method: options.method ?? 'GET', headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const headers = new Headers();
        for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
        resolve({ status: res.statusCode ?? 0, headers, body: parseJson(text) as T, text });
      });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** The body as JSON; undefined when empty or not JSON (the assertions then fail on its fields). */
function parseJson(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

/** Creates `resource` over HTTP as `token` (a HIS seeding data for a test) and returns it as stored; anything but 201 fails the test's setup. */
export async function seedAs<T extends Resource>(fhirBase: string, token: string, resource: T): Promise<T & { id: string }> {
  const res = await httpRequest<T & { id: string }>(`${fhirBase}/${resource.resourceType}`, 'POST', { token, body: resource });
  if (res.status !== 201) throw new Error(`seeding ${resource.resourceType}: ${res.status} ${res.text}`);
  return res.body;
}

/** A call as the suites write it: as whom, which method, where, and what body (and headers) to send. */
export type ApiCall<Default = OperationOutcome> = <T = Default>(
  token: string,
  method: string,
  path: string,
  body?: unknown,
  headers?: Record<string, string>,
) => Promise<HttpResult<T>>;

/**
 * FHIR REST calls against `base()` (read at each call: the server starts in `beforeAll`, after
 * the suite's helpers are written). `path` is relative to the base (`Patient/1`, `Observation?…`);
 * an absolute URL (a Bundle's `next` link) is followed as is, and `''` is the base itself (batch
 * and transaction).
 */
export function fhirApi(base: () => string): ApiCall {
  return <T = OperationOutcome>(token: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    httpRequest<T>(path.startsWith('http') ? path : path ? `${base()}/${path}` : base(), method, { token, body, headers });
}

/**
 * Calls to a workflow API under `base()` (`${server.root}/governance/`, `/disputes`…): JSON sent
 * as `application/json`, JSON accepted, `path` appended to the base as written.
 */
export function jsonApi<Default = unknown>(base: () => string): ApiCall<Default> {
  return <T = Default>(token: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    httpRequest<T>(`${base()}${path}`, method, { token, body, contentType: 'application/json', headers: { accept: 'application/json', ...headers } });
}
