import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeIdp, type IdpUser } from './fake-idp.js';

/**
 * The FakeIdp with several people and a login screen, for a second person signing in on the
 * same browser (the disputes witness). A front server takes the provider's address: an
 * authorization request with `prompt=login` (or before anyone signed in) shows a login page
 * where the test picks who signs in; other requests go to the FakeIdp behind it, which issues
 * tokens for the person the code was given to. Without `prompt=login` the provider answers at
 * once for whoever signed in last (its session), as a real provider does; at first that is
 * `users[0]`.
 */
export class FakeIdpWithLogin extends FakeIdp {
  /** Who signed in at the login page, with the authorization request's prompt. */
  readonly logins: { sub: string; prompt?: string }[] = [];
  private front?: Server;
  private inner = '';
  private sessionUser: IdpUser;
  private readonly codeUsers = new Map<string, IdpUser>();

  constructor(
    clientId: string,
    readonly users: readonly IdpUser[],
  ) {
    // The FakeIdp signs for `this.user`: this object, set to the code's person before each token request.
    super(clientId, { ...users[0], roles: [...users[0].roles] });
    this.sessionUser = users[0];
  }

  override async start(): Promise<this> {
    await super.start();
    this.inner = this.issuer;
    this.front = createServer((req, res) => void this.handleFront(req, res).catch((e: unknown) => res.writeHead(500).end(String(e))));
    await new Promise<void>((resolve) => this.front?.listen(0, '127.0.0.1', resolve));
    this.issuer = `http://127.0.0.1:${(this.front.address() as AddressInfo).port}`;
    return this;
  }

  override async close(): Promise<void> {
    await new Promise<void>((resolve) => (this.front ? this.front.close(() => resolve()) : resolve()));
    await super.close();
  }

  private async handleFront(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.issuer);
    if (url.pathname === '/authorize' && req.method === 'GET') {
      if (url.searchParams.get('prompt') === 'login') return this.loginPage(res, url.searchParams);
      return this.authorize(res, url.searchParams, this.sessionUser);
    }
    if (url.pathname === '/login' && req.method === 'POST') {
      const form = new URLSearchParams(await body(req));
      const user = this.users.find((u) => u.sub === form.get('user'));
      if (!user) return this.loginPage(res, new URLSearchParams(form.get('request') ?? ''));
      const request = new URLSearchParams(form.get('request') ?? '');
      this.logins.push({ sub: user.sub, prompt: request.get('prompt') ?? undefined });
      this.sessionUser = user;
      return this.authorize(res, request, user);
    }
    const text = req.method === 'POST' ? await body(req) : undefined;
    if (url.pathname === '/token' && text !== undefined) {
      const person = this.codeUsers.get(new URLSearchParams(text).get('code') ?? '');
      if (person) Object.assign(this.user, { ...person, roles: [...person.roles] });
    }
    const answer = await fetch(`${this.inner}${url.pathname}${url.search}`, {
      method: req.method,
      headers: { 'content-type': req.headers['content-type'] ?? 'application/octet-stream' },
      body: text,
      redirect: 'manual',
    });
    const headers: Record<string, string> = {};
    answer.headers.forEach((value, key) => {
      if (key !== 'content-length' && key !== 'transfer-encoding' && key !== 'connection') headers[key] = value;
    });
    res.writeHead(answer.status, headers).end(Buffer.from(await answer.arrayBuffer()));
  }

  /** The FakeIdp's authorization answer, its code remembered as given to `user`. */
  private async authorize(res: ServerResponse, request: URLSearchParams, user: IdpUser): Promise<void> {
    const answer = await fetch(`${this.inner}/authorize?${request.toString()}`, { redirect: 'manual' });
    const location = answer.headers.get('location') ?? '';
    const code = location ? new URL(location).searchParams.get('code') : null;
    if (code) this.codeUsers.set(code, user);
    res.writeHead(answer.status, { location }).end();
  }

  private loginPage(res: ServerResponse, request: URLSearchParams): void {
    const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
    const people = this.users
      .map((u, i) => `<p><input type="radio" name="user" id="u${i}" value="${escape(u.sub)}"><label for="u${i}">${escape(u.name)}</label></p>`)
      .join('');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(
      `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>统一身份认证</title></head><body><h1>统一身份认证登录</h1>` +
        `<form method="post" action="/login"><input type="hidden" name="request" value="${escape(request.toString())}">${people}<button type="submit">登录</button></form></body></html>`,
    );
  }
}

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
