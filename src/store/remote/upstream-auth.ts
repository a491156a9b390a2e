import type { UpstreamAuth } from '../../config/chartwarden.options.js';
import { StoreError, StoreErrorCode } from '../store.errors.js';

export type { UpstreamAuth };

/** A token this close to its expiry is refreshed before it is sent. */
const REFRESH_MARGIN_MS = 60_000;
/** What a token without `expires_in` is assumed to last. */
const DEFAULT_LIFETIME_S = 300;

/**
 * The `Authorization` header for the next upstream request. For OAuth2 client credentials
 * (RFC 6749 §4.4), a token is fetched once and reused until a minute before it expires; one
 * fetch serves every request that needs it meanwhile.
 */
export class UpstreamCredentials {
  private token?: { value: string; expiresAt: number };
  private fetching?: Promise<string>;

  constructor(
    private readonly auth: UpstreamAuth,
    private readonly timeoutMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async header(): Promise<string | undefined> {
    switch (this.auth.kind) {
      case 'none':
        return undefined;
      case 'bearer':
        return `Bearer ${this.auth.token}`;
      case 'client-credentials':
        return `Bearer ${await this.clientToken(this.auth)}`;
    }
  }

  /** Forgets the token (the upstream answered 401: it may have been revoked). */
  invalidate(): void {
    this.token = undefined;
  }

  private clientToken(auth: Extract<UpstreamAuth, { kind: 'client-credentials' }>): Promise<string> {
    if (this.token && this.token.expiresAt - REFRESH_MARGIN_MS > this.now()) return Promise.resolve(this.token.value);
    this.fetching ??= this.fetchToken(auth).finally(() => (this.fetching = undefined));
    return this.fetching;
  }

  private async fetchToken(auth: Extract<UpstreamAuth, { kind: 'client-credentials' }>): Promise<string> {
    const form = new URLSearchParams({ grant_type: 'client_credentials', ...(auth.scope ? { scope: auth.scope } : {}) });
    const basic = Buffer.from(`${encodeURIComponent(auth.clientId)}:${encodeURIComponent(auth.clientSecret)}`).toString('base64');
    let response: Response;
    try {
      response = await fetch(auth.tokenUrl, {
        method: 'POST',
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      throw new StoreError(StoreErrorCode.UpstreamUnavailable, `the upstream's token endpoint ${auth.tokenUrl} did not answer: ${(e as Error).message}`);
    }
    const body = (await response.json().catch(() => ({}))) as { access_token?: unknown; expires_in?: unknown };
    if (!response.ok || typeof body.access_token !== 'string') {
      throw new StoreError(StoreErrorCode.UpstreamUnavailable, `the upstream's token endpoint ${auth.tokenUrl} gave no access token (HTTP ${response.status})`);
    }
    const lifetime = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : DEFAULT_LIFETIME_S;
    this.token = { value: body.access_token, expiresAt: this.now() + lifetime * 1000 };
    return body.access_token;
  }
}
