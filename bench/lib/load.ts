import autocannon from 'autocannon';

/** One load scenario: a request shape, varied per request by `next` when given. */
export interface LoadSpec {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  method: 'GET' | 'POST' | 'PUT';
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** Called before every request: the path (and body) to send this time. */
  next?: () => { path: string; body?: string };
  connections: number;
  durationSec: number;
  warmupSec: number;
}

export interface LoadResult {
  reqPerSec: number;
  /** All responses in the measured window (warm-up excluded). */
  requests: number;
  /** Requests sent in the measured window: up to `connections` more than answered (cut off at the end). */
  sent: number;
  latencyMs: { p50: number; p90: number; p99: number; avg: number; max: number };
  non2xx: number;
  statusCodes: Record<string, number>;
  /** Connection errors, including timeouts. */
  errors: number;
  timeouts: number;
  durationSec: number;
  /** Responses of the warm-up run (they change the data too: creates, updates). */
  warmup: { requests: number; sent: number; non2xx: number; errors: number };
}

/**
 * Runs a warm-up (unreported) and then the measured run, both with the same settings;
 * `around` is called just before and just after the measured run.
 */
export async function runLoad(spec: LoadSpec, around?: { before(): Promise<void>; after(): Promise<void> }): Promise<LoadResult> {
  const warm = spec.warmupSec > 0 ? await fire(spec, spec.warmupSec) : undefined;
  await around?.before();
  const r = await fire(spec, spec.durationSec);
  await around?.after();
  const statusCodes: Record<string, number> = {};
  for (const [code, s] of Object.entries(r.statusCodeStats ?? {})) statusCodes[code] = s.count ?? 0;
  return {
    reqPerSec: r.requests.average,
    requests: r.requests.total,
    sent: r.requests.sent,
    latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, avg: r.latency.average, max: r.latency.max },
    non2xx: r.non2xx,
    statusCodes,
    errors: r.errors,
    timeouts: r.timeouts,
    durationSec: r.duration,
    warmup: { requests: warm?.requests.total ?? 0, sent: warm?.requests.sent ?? 0, non2xx: warm?.non2xx ?? 0, errors: warm?.errors ?? 0 },
  };
}

function fire(spec: LoadSpec, durationSec: number): Promise<autocannon.Result> {
  const request: autocannon.Request = { method: spec.method, path: spec.path, headers: spec.headers, body: spec.body };
  const next = spec.next;
  if (next) {
    request.setupRequest = (req) => {
      const n = next();
      return { ...req, path: n.path, ...(n.body !== undefined ? { body: n.body } : {}) };
    };
  }
  return autocannon({
    url: spec.origin,
    connections: spec.connections,
    duration: durationSec,
    pipelining: 1,
    timeout: 10,
    requests: [request],
  });
}
