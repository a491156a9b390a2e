import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { header, queryString, rawRequest, rawResponse, requestPath, requestTarget, sendJson, setResponseHeader, type HttpRequest, type HttpResponse } from './http-exchange.js';

/** A real node:http server answering each request with `handle`. */
async function serve(handle: (req: HttpRequest, res: HttpResponse) => void): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => handle(req as HttpRequest, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('the HTTP exchange on node\'s own request and response (decision 0021)', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  it('reads headers case-insensitively, the first of a repeated one, and the target as sent', async () => {
    let seen: Record<string, unknown> = {};
    const started = await serve((req, res) => {
      // A middleware mounted on a path sees `url` without its mount; `originalUrl` is the target as sent.
      req.originalUrl = req.url;
      req.url = '/Patient/1';
      seen = {
        accept: header(req, 'Accept'),
        missing: header(req, 'x-none'),
        target: requestTarget(req),
        path: requestPath(req),
        query: queryString(req),
      };
      res.end();
    });
    server = started.server;
    await fetch(`${started.url}/fhir/Patient/1?_format=json&a=1&a=2`, { headers: { accept: 'application/fhir+json' } });
    expect(seen).toEqual({ accept: 'application/fhir+json', missing: undefined, target: '/fhir/Patient/1?_format=json&a=1&a=2', path: '/fhir/Patient/1', query: '_format=json&a=1&a=2' });
  });

  it('falls back to `url` when no platform set `originalUrl`, and has no query without a `?`', async () => {
    let seen: Record<string, unknown> = {};
    const started = await serve((req, res) => {
      seen = { path: requestPath(req), query: queryString(req) };
      res.end();
    });
    server = started.server;
    await fetch(`${started.url}/health/live`);
    expect(seen).toEqual({ path: '/health/live', query: '' });
  });

  it('writes JSON with its status, type and length', async () => {
    const started = await serve((_req, res) => sendJson(res, 201, { ok: '好' }, { 'Cache-Control': 'no-store' }));
    server = started.server;
    const res = await fetch(`${started.url}/x`);
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength('{"ok":"好"}')));
    expect(await res.json()).toEqual({ ok: '好' });
  });

  it('unwraps Fastify\'s request and reply, telling the reply the handler answers; node\'s own pass through', () => {
    const node = { headers: {} } as HttpRequest;
    const response = { setHeader: () => undefined } as unknown as HttpResponse;
    const hijacked: string[] = [];
    const reply = { raw: response, hijack: () => hijacked.push('hijack') };
    expect(rawRequest({ raw: node })).toBe(node);
    expect(rawRequest(node)).toBe(node);
    expect(rawResponse(response)).toBe(response);
    expect(hijacked).toEqual([]);
    expect(rawResponse(reply)).toBe(response);
    expect(hijacked).toEqual(['hijack']);
  });

  it('sets a header on a reply the platform still sends, without taking the reply over', () => {
    const set: [string, string][] = [];
    const response = { setHeader: (name: string, value: string) => set.push([name, value]) } as unknown as HttpResponse;
    const hijacked: string[] = [];
    setResponseHeader({ raw: response, hijack: () => hijacked.push('hijack') }, 'Location', '/disputes/1');
    setResponseHeader(response, 'Location', '/disputes/2');
    expect(set).toEqual([
      ['Location', '/disputes/1'],
      ['Location', '/disputes/2'],
    ]);
    expect(hijacked).toEqual([]);
  });
});
