import { AppShell, Burger, Button, Group, NavLink, Stack, Text, Title } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useEffect, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { useSession } from '../auth/session';
import { LanguageSwitch } from '../common/LanguageSwitch';
import { useLabel } from '../i18n';
import { useConfig } from './config';
import { Link, usePath } from './router';
import { ROUTES, SECTIONS, type PageRoute } from './routes';

/** The frame around every page once signed in: the hospital, the navigation of each office, the language, who is signed in and signing out. */
export function Shell({ current, children }: { current?: PageRoute; children: ReactNode }) {
  const { t, i18n } = useTranslation();
  const label = useLabel();
  const config = useConfig();
  const { session, signOut } = useSession();
  const path = usePath();
  const [opened, { toggle }] = useDisclosure();
  useEffect(() => {
    document.title = `${current ? t(current.title) : t('app.notFound')} · ${t('app.title')}`;
  }, [current, t, i18n.language]);
  const user = session.user;
  return (
    <AppShell header={{ height: 60 }} navbar={{ width: 230, breakpoint: 'sm', collapsed: { mobile: !opened } }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label={t('app.menu')} />
            <Title order={1} size="h4">
              {t('app.title')}
            </Title>
            <Text size="sm" visibleFrom="md">
              {config.hospitalName}
            </Text>
          </Group>
          <Group gap="sm" wrap="nowrap">
            <LanguageSwitch />
            <Text size="sm" data-testid="signed-in-as" visibleFrom="sm">
              {t('app.signedInAs', { name: user.name ?? user.id, roles: user.roles.map((r) => label('roles', r)).join('、') })}
            </Text>
            <Button variant="default" size="xs" onClick={() => signOut('signed-out')}>
              {t('app.signOut')}
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label={t('app.navigation')} component="nav">
        <Stack gap={4}>
          {SECTIONS.filter((section) => ROUTES.some((r) => r.section === section.id && r.nav)).map((section) => (
            <NavLink key={section.id} label={t(section.title)} defaultOpened childrenOffset={12}>
              {ROUTES.filter((r) => r.section === section.id && r.nav).map((r) => (
                <NavLink key={r.path} component={Link} to={r.path} label={t(r.title)} active={path === r.path} aria-current={path === r.path ? 'page' : undefined} />
              ))}
            </NavLink>
          ))}
        </Stack>
        <Text size="xs" mt="auto" p="xs">
          {t('app.timesIn', { zone: config.timeZone })}
        </Text>
      </AppShell.Navbar>
      <AppShell.Main id="main">{children}</AppShell.Main>
    </AppShell>
  );
}
