/**
 * The console's one way to the server: every call goes through `ApiClient`, with the signed-in
 * person's token. The console decides nothing itself: whatever the API refuses becomes an
 * `ApiError` carrying the server's own words (the OperationOutcome's text) and its
 * ChartWarden code, which pages show as the refusal.
 */

/** ChartWarden's error codes in `OperationOutcome.issue.details.coding`. */
const ERROR_CODE_SYSTEM = 'https://chartwarden.dev/fhir/CodeSystem/error-code';

/** A refusal or failure as the server stated it. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    /** The server's own words (OperationOutcome `details.text` or `diagnostics`). */
    readonly text: string,
    /** ChartWarden's code, e.g. `copy.separation-of-duties`. */
    readonly code?: string,
    /** The FHIR issue type, e.g. `forbidden`. */
    readonly issue?: string,
  ) {
    super(text);
    this.name = 'ApiError';
  }
}

interface OperationOutcomeLike {
  resourceType?: string;
  issue?: { code?: string; diagnostics?: string; details?: { text?: string; coding?: { system?: string; code?: string }[] } }[];
  message?: string | string[];
}

/** The error a failed response stands for, in the server's words. */
export async function errorOf(res: Response): Promise<ApiError> {
  const text = await res.text();
  let body: OperationOutcomeLike | undefined;
  try {
    body = text ? (JSON.parse(text) as OperationOutcomeLike) : undefined;
  } catch {
    body = undefined;
  }
  const issues = body?.resourceType === 'OperationOutcome' ? (body.issue ?? []) : [];
  if (issues.length > 0) {
    const words = issues.map((i) => i.details?.text ?? i.diagnostics).filter((w): w is string => Boolean(w));
    const code = issues.flatMap((i) => i.details?.coding ?? []).find((c) => c.system === ERROR_CODE_SYSTEM)?.code;
    return new ApiError(res.status, words.join('\n') || res.statusText, code, issues[0].code);
  }
  const message = Array.isArray(body?.message) ? body.message.join('; ') : body?.message;
  return new ApiError(res.status, message ?? (text.slice(0, 500) || `${res.status} ${res.statusText}`));
}

export interface ApiClientOptions {
  /** The signed-in person's token, read at each call. */
  token: () => string | undefined;
  /** Called on 401: the token expired or was refused; the app signs out and says why. */
  onUnauthorized?: (error: ApiError) => void;
}

/** Calls the server's API as the signed-in person. */
export class ApiClient {
  constructor(private readonly options: ApiClientOptions) {}

  get<T>(path: string, accept = 'application/json'): Promise<T> {
    return this.json<T>(path, { method: 'GET', headers: { accept } });
  }

  /** A FHIR read or search (`/fhir/…`), answered as application/fhir+json. */
  fhir<T>(path: string): Promise<T> {
    return this.get<T>(`/fhir/${path}`, 'application/fhir+json');
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.json<T>(path, {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/json' },
      body: JSON.stringify(body ?? {}),
    });
  }

  /** Sends a file as the request body (its own type), e.g. a photo of an ID card. */
  upload<T>(path: string, file: Blob): Promise<T> {
    return this.json<T>(path, { method: 'POST', headers: { accept: 'application/json', 'content-type': file.type || 'application/octet-stream' }, body: file });
  }

  /** A file (a produced PDF) as a Blob, read with the token: pages show it through a blob URL. */
  async blob(path: string): Promise<Blob> {
    const res = await this.send(path, { method: 'GET' });
    return res.blob();
  }

  private async json<T>(path: string, init: RequestInit): Promise<T> {
    const res = await this.send(path, init);
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  private async send(path: string, init: RequestInit): Promise<Response> {
    const token = this.options.token();
    const headers = new Headers(init.headers);
    if (token) headers.set('authorization', `Bearer ${token}`);
    const res = await fetch(path, { ...init, headers });
    if (res.ok) return res;
    const error = await errorOf(res);
    if (res.status === 401) this.options.onUnauthorized?.(error);
    throw error;
  }
}
