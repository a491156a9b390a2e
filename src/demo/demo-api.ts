import type { Bundle, BundleEntry, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { issueDevToken } from '../identity/dev-token.issuer.js';
import { DEMO_USERS, demoTokenRequest } from './demo-users.js';

/** Why a demo seed stopped: the step and the server's answer, or the data dir's state. Printed as it is. */
export class DemoSeedError extends Error {}

/** The data dir holds the demo hospital already: nothing to do, which is not a failure (`demo seed && npm start` may be run again). */
export class DemoAlreadySeeded extends DemoSeedError {}

/** The HIS integration client that registers patients and sends the ancillary systems' results. */
export const DEMO_HIS = 'his-demo';

/**
 * The demo seed's HTTP client (issue #18): every call goes through ChartWarden's public API as
 * one identified operator (R-01), with a dev token signed by the data dir's key, so the audit
 * trail, the edit ledger, the access facts and the workflows' states are what real use makes.
 * A call answered otherwise than expected stops the seed, naming the step and the server's words.
 */
export class DemoApi {
  private constructor(
    readonly root: string,
    private readonly tokens: ReadonlyMap<string, string>,
  ) {}

  /** Signs a token for every demo user and for the HIS (an hour, ample for a seed, or the server's shorter maximum). */
  static async connect(root: string, dataDir: string, maxLifetimeMinutes?: number): Promise<DemoApi> {
    const ttl = `${Math.min(60, maxLifetimeMinutes ?? 60)}m`;
    const tokens = new Map<string, string>();
    for (const user of DEMO_USERS) tokens.set(user.id, await issueDevToken(dataDir, demoTokenRequest(user, ttl), maxLifetimeMinutes));
    tokens.set(DEMO_HIS, await issueDevToken(dataDir, { sub: DEMO_HIS, roles: ['his-system'], ttl }, maxLifetimeMinutes));
    return new DemoApi(root, tokens);
  }

  /** A FHIR interaction (`path` under /fhir) as `who`; the body as returned. */
  async fhir<T = Resource>(who: string, step: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const res = await this.send(who, method, `/fhir/${path}`, body === undefined ? undefined : JSON.stringify(body), { 'content-type': 'application/fhir+json', accept: 'application/fhir+json', ...headers });
    return this.expectOk<T>(res, step, method, `/fhir/${path}`);
  }

  /** A FHIR read that may find nothing: the resource, or undefined on 404/410. */
  async find<T = Resource>(who: string, path: string): Promise<T | undefined> {
    const res = await this.send(who, 'GET', `/fhir/${path}`, undefined, { accept: 'application/fhir+json' });
    if (res.status === 404 || res.status === 410) return undefined;
    return this.expectOk<T>(res, `reading ${path}`, 'GET', `/fhir/${path}`);
  }

  /** A transaction of `entries` as `who`: the ids the server gave each entry, in order. */
  async transaction(who: string, step: string, entries: BundleEntry[]): Promise<string[]> {
    if (entries.length === 0) return [];
    const answer = await this.fhir<Bundle>(who, step, 'POST', '', { resourceType: 'Bundle', type: 'transaction', entry: entries });
    // Each entry's id: from the resource returned, else from its Location (`…/Type/id/_history/n`, absolute or not).
    return (answer.entry ?? []).map((e) => e.resource?.id ?? /([A-Za-z0-9\-.]{1,64})\/_history\/[^/]+$/.exec(e.response?.location ?? '')?.[1] ?? '');
  }

  /** A workflow call (`/copy-requests`, `/disputes`, `/access`…) with a JSON body, as `who`. */
  async workflow<T>(who: string, step: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const res = await this.send(who, method, path, body === undefined ? undefined : JSON.stringify(body), { 'content-type': 'application/json', accept: 'application/json', ...headers });
    return this.expectOk<T>(res, step, method, path);
  }

  /** A file (evidence scan) posted as its own body, as `who`. */
  async upload<T>(who: string, step: string, path: string, bytes: Buffer, contentType: string): Promise<T> {
    const res = await this.send(who, 'POST', path, bytes, { 'content-type': contentType, accept: 'application/json' });
    return this.expectOk<T>(res, step, 'POST', path);
  }

  private async send(who: string, method: string, path: string, body: string | Buffer | undefined, headers: Record<string, string>): Promise<{ status: number; text: string }> {
    const token = this.tokens.get(who);
    if (!token) throw new Error(`no demo token for ${who}`);
    const res = await fetch(`${this.root}${path}`, { method, headers: { ...headers, authorization: `Bearer ${token}` }, body });
    return { status: res.status, text: await res.text() };
  }

  private expectOk<T>(res: { status: number; text: string }, step: string, method: string, path: string): T {
    if (res.status >= 200 && res.status < 300) return (res.text ? JSON.parse(res.text) : undefined) as T;
    throw new DemoSeedError(`${step}: ${method} ${path} was answered ${res.status}: ${outcomeText(res.text)}`);
  }
}

/** What an OperationOutcome says, or the start of whatever else came back. */
function outcomeText(text: string): string {
  try {
    const outcome = JSON.parse(text) as OperationOutcome;
    const issue = outcome.issue?.[0];
    if (issue) return issue.details?.text ?? issue.diagnostics ?? issue.code;
  } catch {
    // Not JSON: shown as it came.
  }
  return text.slice(0, 300);
}
