/**
 * The popup side of a witness's sign-in (see witness-sign-in.ts). The officer's screen opens the
 * identity provider in a popup, having written the request's `state` under WITNESS_PENDING
 * (a popup starts with a copy of its opener's sessionStorage). The provider sends the popup back
 * to `/console/callback`; when the answer's state is that one, the callback hands the code back
 * to the opener, only to this origin, and closes: it does not sign anyone in here.
 */
export const WITNESS_PENDING = 'chartwarden.console.oidc.witness';

/** The message the popup posts to its opener. */
export const WITNESS_MESSAGE = 'chartwarden.witness-sign-in';

export interface WitnessAnswer {
  type: typeof WITNESS_MESSAGE;
  state: string;
  code?: string;
  error?: string;
}

/** In the popup at `/console/callback`: true when this answer was a witness's and was handed back. */
export function handBackWitnessAnswer(search: URLSearchParams, win: Window = window): boolean {
  let pending: { state?: unknown } | null;
  try {
    pending = JSON.parse(win.sessionStorage.getItem(WITNESS_PENDING) ?? 'null') as { state?: unknown } | null;
  } catch {
    pending = null;
  }
  const state = search.get('state');
  if (!pending || typeof pending.state !== 'string' || !state || state !== pending.state) return false;
  win.sessionStorage.removeItem(WITNESS_PENDING);
  const opener = win.opener as Window | null;
  if (!opener) return false;
  const error = search.get('error');
  const answer: WitnessAnswer = {
    type: WITNESS_MESSAGE,
    state,
    ...(error ? { error: `${error}${search.get('error_description') ? `: ${search.get('error_description')}` : ''}` } : { code: search.get('code') ?? '' }),
  };
  opener.postMessage(answer, win.location.origin);
  win.close();
  return true;
}
