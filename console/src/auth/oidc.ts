import type { ConsoleConfig } from '../app/config';
import { jwtClaims, randomToken, s256Challenge } from './pkce';
import type { Session } from './session';
import { handBackWitnessAnswer } from './witness-callback';

/**
 * Sign-in at the hospital's identity provider: OpenID Connect authorization code with PKCE
 * (S256), a public client, all in the browser. `beginSignIn` goes to the provider;
 * the provider sends the browser back to `/console/callback`, where `completeSignIn` checks the
 * state and trades the code and verifier for tokens. The access token is what the API is
 * called with; the API decides what it allows.
 */
export type Oidc = NonNullable<ConsoleConfig['signIn']['oidc']>;

export interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  end_session_endpoint?: string;
}

const PENDING = 'chartwarden.console.oidc';

/** Where the provider sends the browser back. */
export const redirectUri = () => `${window.location.origin}/console/callback`;

/** The provider's OpenID configuration; its issuer must be the one configured (OIDC Discovery §4.3). */
export async function discover(oidc: Oidc): Promise<Discovery> {
  const res = await fetch(`${oidc.issuer}/.well-known/openid-configuration`, { headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`${oidc.issuer}/.well-known/openid-configuration: ${res.status}`);
  const d = (await res.json()) as Discovery;
  if (d.issuer?.replace(/\/+$/, '') !== oidc.issuer) throw new Error(`The identity provider says it is ${d.issuer}, not ${oidc.issuer}`);
  if (!d.authorization_endpoint || !d.token_endpoint) throw new Error('The identity provider publishes no authorization or token endpoint');
  return d;
}

/** Sends the browser to the provider's sign-in, remembering the verifier, state and nonce for the way back. */
export async function beginSignIn(oidc: Oidc, returnTo: string): Promise<void> {
  const discovery = await discover(oidc);
  const verifier = randomToken(32);
  const state = randomToken(16);
  const nonce = randomToken(16);
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, nonce, returnTo }));
  const url = new URL(discovery.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: oidc.clientId,
    redirect_uri: redirectUri(),
    scope: oidc.scope,
    state,
    nonce,
    code_challenge: await s256Challenge(verifier),
    code_challenge_method: 'S256',
  }).toString();
  window.location.assign(url.toString());
}

/** What the token endpoint answers for a code. */
export interface TokenAnswer {
  access_token: string;
  id_token?: string;
  expires_in?: number;
}

/**
 * Trades an authorization code and its PKCE verifier for tokens at the provider's token endpoint,
 * and checks the ID token carries the request's nonce. Used by the officer's sign-in and by the
 * witness who signs in on the officer's screen.
 */
export async function exchangeCode(oidc: Oidc, discovery: Discovery, code: string, verifier: string, nonce: string): Promise<{ tokens: TokenAnswer; idClaims: Record<string, unknown> }> {
  const res = await fetch(discovery.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri(), client_id: oidc.clientId, code_verifier: verifier }),
  });
  const tokens = (await res.json().catch(() => ({}))) as Partial<TokenAnswer> & { error?: string; error_description?: string };
  if (!res.ok || !tokens.access_token) throw new Error(tokens.error_description ?? tokens.error ?? `token endpoint: ${res.status}`);
  const idClaims = tokens.id_token ? jwtClaims(tokens.id_token) : {};
  if (tokens.id_token && idClaims.nonce !== nonce) throw new Error('The ID token does not carry this sign-in\'s nonce');
  return { tokens: { access_token: tokens.access_token, id_token: tokens.id_token, expires_in: tokens.expires_in }, idClaims };
}

/** Back from the provider: checks the state, trades the code for tokens, and returns the session and where to go. */
export async function completeSignIn(oidc: Oidc, search: URLSearchParams): Promise<{ session: Session; returnTo: string }> {
  // A witness's sign-in in the popup the officer's screen opened: its answer goes back to that
  // screen and this window closes; it never becomes this tab's session.
  if (handBackWitnessAnswer(search)) return new Promise<never>(() => undefined);
  const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? 'null') as { verifier: string; state: string; nonce: string; returnTo: string } | null;
  sessionStorage.removeItem(PENDING);
  const error = search.get('error');
  if (error) throw new Error(`${error}${search.get('error_description') ? `: ${search.get('error_description')}` : ''}`);
  const code = search.get('code');
  if (!pending || !code || search.get('state') !== pending.state) throw new Error('This sign-in answer does not belong to a sign-in begun here (state)');
  const discovery = await discover(oidc);
  const { tokens, idClaims } = await exchangeCode(oidc, discovery, code, pending.verifier, pending.nonce);
  const access = jwtClaims(tokens.access_token);
  const exp = typeof access.exp === 'number' ? access.exp * 1000 : Date.now() + (tokens.expires_in ?? 300) * 1000;
  const text = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  const session: Session = {
    token: tokens.access_token,
    expiresAt: new Date(exp).toISOString(),
    user: {
      id: text(access.sub) ?? text(idClaims.sub) ?? '?',
      name: text(idClaims.name) ?? text(access.name),
      roles: Array.isArray(access.roles) ? access.roles.filter((r): r is string => typeof r === 'string') : [],
    },
    via: 'oidc',
    ...(discovery.end_session_endpoint ? { endSession: { url: discovery.end_session_endpoint, idToken: tokens.id_token } } : {}),
  };
  return { session, returnTo: pending.returnTo || '/' };
}

/** Signs out at the provider too, coming back to the console's sign-in page. */
export function endSessionUrl(session: Session): string | undefined {
  if (!session.endSession) return undefined;
  const url = new URL(session.endSession.url);
  url.searchParams.set('post_logout_redirect_uri', `${window.location.origin}/console/`);
  if (session.endSession.idToken) url.searchParams.set('id_token_hint', session.endSession.idToken);
  return url.toString();
}
