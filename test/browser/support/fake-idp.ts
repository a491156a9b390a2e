import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

/** Who the provider has signed in (its login screen is out of scope: it answers as if the person just signed in). */
export interface IdpUser {
  sub: string;
  name: string;
  roles: string[];
}

/** What the provider saw, for the test to check the console's side of the protocol. */
export interface IdpLog {
  authorize: Record<string, string>[];
  /** Each token request: its form, and whether its verifier's S256 matched the code's challenge. */
  token: { form: Record<string, string>; pkce: 'verified' | 'mismatch' | 'no-code' }[];
  logout: Record<string, string>[];
  /** The tokens issued, to compare with what the console sends. */
  issued: { accessToken: string; idToken: string }[];
}

/**
 * A small OpenID Connect provider for the console's sign-in test: discovery, an authorization
 * endpoint that answers at once with a code (PKCE S256 required), a token endpoint checking
 * the verifier against the challenge, a JWKS (ChartWarden verifies the access tokens with it)
 * and an end-session endpoint. Access tokens carry ChartWarden's claims (`roles`) and audience.
 */
export class FakeIdp {
  readonly log: IdpLog = { authorize: [], token: [], logout: [], issued: [] };
  private readonly codes = new Map<string, { challenge: string; clientId: string; redirectUri: string; nonce: string }>();
  private server?: Server;
  private key?: { privateKey: CryptoKey; jwk: JWK };
  issuer = '';

  constructor(
    readonly clientId: string,
    readonly user: IdpUser,
  ) {}

  async start(): Promise<this> {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    this.key = { privateKey, jwk: { ...(await exportJWK(publicKey)), kid: 'idp-1', alg: 'ES256', use: 'sig' } };
    this.server = createServer((req, res) => void this.handle(req, res).catch((e: unknown) => res.writeHead(500).end(String(e))));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.issuer = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** An access token as the provider issues them, with `overrides` (a wrong audience, an expiry…). */
  accessToken(overrides: Record<string, unknown> = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const { sub, name, roles } = this.user;
    return this.sign({ iss: this.issuer, aud: 'chartwarden', sub, name, roles, iat: now, exp: now + 600, ...overrides });
  }

  private sign(claims: Record<string, unknown>): Promise<string> {
    return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'idp-1', typ: 'JWT' }).sign(this.key?.privateKey as CryptoKey);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.issuer);
    const json = (status: number, body: unknown): void => void res.writeHead(status, { 'content-type': 'application/json', 'access-control-allow-origin': '*' }).end(JSON.stringify(body));
    const query = Object.fromEntries(url.searchParams);
    switch (url.pathname) {
      case '/.well-known/openid-configuration':
        return json(200, {
          issuer: this.issuer,
          authorization_endpoint: `${this.issuer}/authorize`,
          token_endpoint: `${this.issuer}/token`,
          jwks_uri: `${this.issuer}/jwks`,
          end_session_endpoint: `${this.issuer}/logout`,
          code_challenge_methods_supported: ['S256'],
        });
      case '/jwks':
        return json(200, { keys: [this.key?.jwk] });
      case '/authorize': {
        this.log.authorize.push(query);
        const ok = query.response_type === 'code' && query.client_id === this.clientId && query.code_challenge_method === 'S256' && query.code_challenge;
        const back = new URL(query.redirect_uri);
        if (!ok) back.searchParams.set('error', 'invalid_request');
        else {
          const code = randomUUID();
          this.codes.set(code, { challenge: query.code_challenge, clientId: query.client_id, redirectUri: query.redirect_uri, nonce: query.nonce });
          back.searchParams.set('code', code);
        }
        back.searchParams.set('state', query.state ?? '');
        return void res.writeHead(302, { location: back.toString() }).end();
      }
      case '/token': {
        const form = Object.fromEntries(new URLSearchParams(await body(req)));
        const pending = this.codes.get(form.code ?? '');
        this.codes.delete(form.code ?? '');
        const verified = pending && createHash('sha256').update(form.code_verifier ?? '').digest('base64url') === pending.challenge;
        this.log.token.push({ form, pkce: !pending ? 'no-code' : verified ? 'verified' : 'mismatch' });
        if (!pending || !verified || form.client_id !== pending.clientId || form.redirect_uri !== pending.redirectUri || form.grant_type !== 'authorization_code') {
          return json(400, { error: 'invalid_grant', error_description: 'code, verifier, client or redirect URI do not match' });
        }
        const accessToken = await this.accessToken();
        const now = Math.floor(Date.now() / 1000);
        const idToken = await this.sign({ iss: this.issuer, aud: this.clientId, sub: this.user.sub, name: this.user.name, nonce: pending.nonce, iat: now, exp: now + 600 });
        this.log.issued.push({ accessToken, idToken });
        return json(200, { access_token: accessToken, id_token: idToken, token_type: 'Bearer', expires_in: 600 });
      }
      case '/logout':
        this.log.logout.push(query);
        return void res.writeHead(302, { location: query.post_logout_redirect_uri }).end();
      default:
        return json(404, { error: 'not_found' });
    }
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
