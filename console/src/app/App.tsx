import { Alert, Anchor, Container, Loader, Stack, Text } from '@mantine/core';
import { useEffect, useMemo, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { QueryClient } from '@tanstack/react-query';
import { ApiClient, type ApiError } from '../api/client';
import { ApiContext } from '../api/ApiProvider';
import { completeSignIn, endSessionUrl } from '../auth/oidc';
import { clearSession, loadSession, saveSession, SessionContext, type Session, type SignOutReason } from '../auth/session';
import { SignInPage } from '../auth/SignInPage';
import { useConfig } from './config';
import { Link, navigate, usePath } from './router';
import { findRoute, homeFor } from './routes';
import { Shell } from './Shell';

/**
 * The console once its configuration is read: the sign-in page until someone is signed in,
 * then the shell around the page the path names. Signing out (or a token the API no longer
 * accepts, or its expiry) clears the session and shows the sign-in page again, saying why.
 */
export function App() {
  const [session, setSession] = useState<Session | undefined>(() => loadSession());
  const [ended, setEnded] = useState<{ reason: SignOutReason; detail?: string } | undefined>();
  const path = usePath();

  const signOut = useMemo(
    () => (reason: SignOutReason = 'signed-out', detail?: string) => {
      const current = loadSession();
      clearSession();
      setSession(undefined);
      setEnded({ reason, detail });
      queries.clear();
      const idp = reason === 'signed-out' && current ? endSessionUrl(current) : undefined;
      if (idp) window.location.assign(idp);
    },
    [],
  );
  const signIn = (next: Session, to?: string) => {
    saveSession(next);
    setSession(next);
    setEnded(undefined);
    navigate(to && to !== '/' ? to : homeFor(next.user.roles), { replace: true });
  };

  // The token's expiry ends the session, said as such.
  useEffect(() => {
    if (!session) return;
    const timer = window.setTimeout(() => signOut('expired'), Math.max(0, Date.parse(session.expiresAt) - Date.now()));
    return () => window.clearTimeout(timer);
  }, [session, signOut]);

  const api = useMemo(() => new ApiClient({ token: () => loadSession()?.token, onUnauthorized: (e: ApiError) => signOut('refused', e.text) }), [signOut]);

  // The root is where each role lands.
  useEffect(() => {
    if (session && path === '/') navigate(homeFor(session.user.roles), { replace: true });
  }, [session, path]);

  if (path === '/callback') return <Callback onSignedIn={signIn} />;
  if (!session) return <SignInPage onSignedIn={(s) => signIn(s, `${path}${window.location.search}`)} ended={ended} />;
  if (path === '/') return null;
  const found = findRoute(path);
  const Page = found?.route.component;
  return (
    <SessionContext.Provider value={{ session, signOut }}>
      <ApiContext.Provider value={api}>
        <Shell current={found?.route}>{Page ? <Page params={found.params} /> : <NotFound />}</Shell>
      </ApiContext.Provider>
    </SessionContext.Provider>
  );
}

/** One cache of API answers; a session's answers are dropped when it ends. */
export const queries = new QueryClient({ defaultOptions: { queries: { retry: false, refetchOnWindowFocus: true, staleTime: 5_000 } } });

function NotFound() {
  const { t } = useTranslation();
  return (
    <Stack>
      <Text>{t('app.notFound')}</Text>
      <Anchor component={Link} to="/">
        {t('app.home')}
      </Anchor>
    </Stack>
  );
}

/** Back from the identity provider (`/console/callback`): trades the code for the session. */
function Callback({ onSignedIn }: { onSignedIn: (session: Session, to: string) => void }) {
  const { t } = useTranslation();
  const { signIn } = useConfig();
  const [error, setError] = useState<string | undefined>();
  const started = useRef(false);
  useEffect(() => {
    if (started.current) return;
    started.current = true;
    if (!signIn.oidc) {
      setError(t('signIn.oidcOff'));
      return;
    }
    completeSignIn(signIn.oidc, new URLSearchParams(window.location.search)).then(
      ({ session, returnTo }) => onSignedIn(session, returnTo),
      (e: unknown) => setError(e instanceof Error ? e.message : String(e)),
    );
  }, [signIn.oidc, onSignedIn, t]);
  return (
    <Container size="sm" py="xl">
      {error ? (
        <Alert role="alert" color="red" title={t('signIn.callbackFailed')}>
          <Text>{error}</Text>
          <Anchor href="/console/">{t('signIn.again')}</Anchor>
        </Alert>
      ) : (
        <Stack align="center">
          <Loader aria-label={t('signIn.completing')} />
          <Text>{t('signIn.completing')}</Text>
        </Stack>
      )}
    </Container>
  );
}
