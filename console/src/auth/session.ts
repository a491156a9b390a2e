import { createContext, useContext } from 'react';

/** Who is signed in, with the token the API is called with. Kept in sessionStorage: gone when the tab closes. */
export interface Session {
  token: string;
  /** ISO 8601: the token stops working then; the console signs out. */
  expiresAt: string;
  user: { id: string; name?: string; title?: string; roles: string[] };
  via: 'dev' | 'oidc';
  /** OIDC: where signing out at the identity provider happens (`end_session_endpoint`), with the id token as hint. */
  endSession?: { url: string; idToken?: string };
}

const KEY = 'chartwarden.console.session';

/** The session of this tab, unless it has expired. */
export function loadSession(now = Date.now()): Session | undefined {
  try {
    const raw = sessionStorage.getItem(KEY);
    const session = raw ? (JSON.parse(raw) as Session) : undefined;
    if (!session?.token || !(Date.parse(session.expiresAt) > now)) return undefined;
    return session;
  } catch {
    return undefined;
  }
}

export function saveSession(session: Session): void {
  sessionStorage.setItem(KEY, JSON.stringify(session));
}

export function clearSession(): void {
  sessionStorage.removeItem(KEY);
}

/** Why the sign-in page is shown again. */
export type SignOutReason = 'signed-out' | 'expired' | 'refused';

export interface SessionState {
  session: Session;
  signOut: (reason?: SignOutReason, detail?: string) => void;
}

export const SessionContext = createContext<SessionState | null>(null);

/** The signed-in session (pages are only shown signed in). */
export function useSession(): SessionState {
  const state = useContext(SessionContext);
  if (!state) throw new Error('useSession outside a signed-in app');
  return state;
}
