import { discover, exchangeCode, redirectUri, type Discovery, type Oidc } from './oidc';
import { jwtClaims, randomToken, s256Challenge } from './pkce';
import { WITNESS_MESSAGE, WITNESS_PENDING, type WitnessAnswer } from './witness-callback';

/**
 * A second person signs in at the hospital's identity provider on the officer's screen (the
 * disputes office's witness, R-40): the provider opens in a popup with a fresh PKCE verifier,
 * state and nonce and `prompt=login`, so it asks for the witness's own credentials even though
 * the officer has a session there. The popup comes back to the registered `/console/callback`,
 * which hands the code to this window (witness-callback.ts); this window trades it for tokens.
 * The access token is returned to the caller for one request and never stored: the officer's
 * session is untouched. The verifier never leaves this window's memory.
 */
export interface WitnessRequest {
  url: string;
  state: string;
  nonce: string;
  verifier: string;
  discovery: Discovery;
}

/** Who signed in in the popup, with their token (for one request: the caller forgets it). */
export interface WitnessSignedIn {
  token: string;
  id: string;
  name?: string;
}

/** Why no witness came back from the popup. */
export class WitnessSignInError extends Error {
  constructor(
    readonly reason: 'closed' | 'blocked' | 'provider',
    message: string,
  ) {
    super(message);
  }
}

/** Prepares the provider's URL ahead of the click (the popup must open in the click itself, or browsers block it). */
export async function prepareWitnessSignIn(oidc: Oidc): Promise<WitnessRequest> {
  const discovery = await discover(oidc);
  const verifier = randomToken(32);
  const state = randomToken(16);
  const nonce = randomToken(16);
  const url = new URL(discovery.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: oidc.clientId,
    redirect_uri: redirectUri(),
    scope: oidc.scope,
    state,
    nonce,
    prompt: 'login',
    code_challenge: await s256Challenge(verifier),
    code_challenge_method: 'S256',
  }).toString();
  return { url: url.toString(), state, nonce, verifier, discovery };
}

/**
 * Opens the popup (call it in the click handler) and waits for the witness: resolves with their
 * token once the provider answered and the code was traded; rejects with WitnessSignInError
 * when the popup is blocked, closed without signing in, or the provider refused. Only a message
 * from this origin, from that popup, carrying this request's state is taken.
 */
export function signInWitness(oidc: Oidc, request: WitnessRequest, win: Window = window): Promise<WitnessSignedIn> {
  // Written before the popup exists: it starts with a copy of this sessionStorage.
  win.sessionStorage.setItem(WITNESS_PENDING, JSON.stringify({ state: request.state }));
  const popup = win.open(request.url, 'chartwarden-witness', 'popup,width=560,height=720');
  if (!popup) {
    win.sessionStorage.removeItem(WITNESS_PENDING);
    return Promise.reject(new WitnessSignInError('blocked', 'popup blocked'));
  }
  return new Promise<WitnessAnswer>((resolve, reject) => {
    let closedSince: number | undefined;
    const done = () => {
      win.removeEventListener('message', onMessage);
      win.clearInterval(timer);
      win.sessionStorage.removeItem(WITNESS_PENDING);
    };
    const onMessage = (event: MessageEvent) => {
      const data = event.data as Partial<WitnessAnswer> | null;
      if (event.origin !== win.location.origin || event.source !== popup || data?.type !== WITNESS_MESSAGE || data.state !== request.state) return;
      done();
      resolve(data as WitnessAnswer);
    };
    // A popup closed without an answer: the answer may still be on its way, so wait a moment.
    const timer = win.setInterval(() => {
      if (!popup.closed) return;
      closedSince ??= Date.now();
      if (Date.now() - closedSince < 600) return;
      done();
      reject(new WitnessSignInError('closed', 'popup closed'));
    }, 200);
    win.addEventListener('message', onMessage);
  }).then(async (answer) => {
    if (answer.error || !answer.code) throw new WitnessSignInError('provider', answer.error ?? 'no code');
    const { tokens, idClaims } = await exchangeCode(oidc, request.discovery, answer.code, request.verifier, request.nonce);
    const access = jwtClaims(tokens.access_token);
    const text = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
    return { token: tokens.access_token, id: text(access.sub) ?? text(idClaims.sub) ?? '?', name: text(idClaims.name) ?? text(access.name) };
  });
}
