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
