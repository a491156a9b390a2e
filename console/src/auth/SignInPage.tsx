import { Alert, Button, Card, Container, Group, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { errorOf } from '../api/client';
import { useConfig } from '../app/config';
import { RefusalAlert } from '../common/RefusalAlert';
import { LanguageSwitch } from '../common/LanguageSwitch';
import { useLabel } from '../i18n';
import { beginSignIn } from './oidc';
import type { Session, SignOutReason } from './session';

interface DemoUser {
  id: string;
  name: string;
  roles: string[];
  title: string;
}

/**
 * Signing in. With the hospital's identity provider configured: one button to it (OIDC, PKCE).
 * In dev key mode: the demo users by role, each a button; the server signs a short token for the
 * one chosen (the route does not exist in JWKS mode). Says why a previous session ended.
 */
export function SignInPage({ onSignedIn, ended }: { onSignedIn: (session: Session) => void; ended?: { reason: SignOutReason; detail?: string } }) {
  const { t } = useTranslation();
  const config = useConfig();
  const { dev, oidc } = config.signIn;
  const [error, setError] = useState<unknown>();
  return (
    <Container size="md" py="xl">
      <Stack gap="lg">
        <Group justify="space-between">
          <Stack gap={0}>
            <Title order={1}>{t('app.title')}</Title>
            <Text>{config.hospitalName}</Text>
          </Stack>
          <LanguageSwitch />
        </Group>
        {ended ? (
          <Alert role="status" color={ended.reason === 'signed-out' ? 'blue' : 'orange'} title={t(`signIn.ended.${ended.reason}`)}>
            {ended.detail}
          </Alert>
        ) : null}
        <RefusalAlert error={error} />
        {oidc ? (
          <Card withBorder>
            <Title order={2} size="h3" mb="xs">
              {t('signIn.oidcTitle')}
            </Title>
            <Text size="sm" mb="sm">
              {t('signIn.oidcHint', { issuer: oidc.issuer })}
            </Text>
            <Button onClick={() => beginSignIn(oidc, `${window.location.pathname.replace(/^\/console/, '') || '/'}${window.location.search}`).catch(setError)}>{t('signIn.oidcButton')}</Button>
          </Card>
        ) : null}
        {dev ? <DevSignIn onSignedIn={onSignedIn} onError={setError} /> : null}
        {!dev && !oidc ? <Alert color="orange" title={t('signIn.notConfiguredTitle')}>{t('signIn.notConfigured')}</Alert> : null}
      </Stack>
    </Container>
  );
}

/** The demo users (dev key mode), grouped by their first role. */
function DevSignIn({ onSignedIn, onError }: { onSignedIn: (session: Session) => void; onError: (e: unknown) => void }) {
  const { t } = useTranslation();
  const label = useLabel();
  const users = useQuery({
    queryKey: ['demo-users'],
    queryFn: async () => {
      const res = await fetch('/console/api/demo-users', { headers: { accept: 'application/json' } });
      if (!res.ok) throw await errorOf(res);
      return (await res.json()) as DemoUser[];
    },
  });
  const [busy, setBusy] = useState<string | undefined>();
  const signIn = async (user: DemoUser) => {
    setBusy(user.id);
    try {
      const res = await fetch(`/console/api/demo-users/${encodeURIComponent(user.id)}/token`, { method: 'POST', headers: { accept: 'application/json' } });
      if (!res.ok) throw await errorOf(res);
      const signed = (await res.json()) as { token: string; expiresAt: string; user: DemoUser };
      onSignedIn({ token: signed.token, expiresAt: signed.expiresAt, user: { id: signed.user.id, name: signed.user.name, title: signed.user.title, roles: signed.user.roles }, via: 'dev' });
    } catch (e) {
      onError(e);
    } finally {
      setBusy(undefined);
    }
  };
  const roles = [...new Set((users.data ?? []).map((u) => u.roles[0]))];
  return (
    <Card withBorder>
      <Title order={2} size="h3" mb="xs">
        {t('signIn.devTitle')}
      </Title>
      <Text size="sm" mb="md">
        {t('signIn.devHint')}
      </Text>
      <RefusalAlert error={users.error} />
      <Stack gap="md">
        {roles.map((role) => (
          <section key={role} aria-labelledby={`role-${role}`}>
            <Title order={3} size="h5" id={`role-${role}`} mb={6}>
              {label('roles', role)}
            </Title>
            <SimpleGrid cols={{ base: 1, sm: 2, md: 3 }} spacing="xs">
              {(users.data ?? [])
                .filter((u) => u.roles[0] === role)
                .map((u) => (
                  <Button key={u.id} variant="default" h="auto" py={8} justify="flex-start" onClick={() => void signIn(u)} loading={busy === u.id} aria-label={t('signIn.signInAs', { name: u.name, title: u.title })} data-user={u.id}>
                    <Stack gap={0} align="flex-start">
                      <Text fw={700}>{u.name}</Text>
                      <Text size="xs">{u.title}</Text>
                    </Stack>
                  </Button>
                ))}
            </SimpleGrid>
          </section>
        ))}
      </Stack>
    </Card>
  );
}
