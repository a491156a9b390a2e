import { Alert, Button, Group, Modal, Paper, Select, Stack, Text, Textarea, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { errorOf } from '../api/client';
import { useConfig } from '../app/config';
import { useSession } from '../auth/session';
import { useTimes } from '../common/time';
import { confirmAs, type Confirmation, type ConfirmationView } from './disputes.api';
import { OidcWitness } from './OidcWitness';
import { DisputeRefusal } from './parts';

interface DemoUser {
  id: string;
  name: string;
  roles: string[];
  title: string;
}

/** A confirmation given at this screen: by whom, until when the officer's step may use it. */
export interface Confirmed {
  name: string;
  view: ConfirmationView;
}

/**
 * The hospital side's witness (or medical affairs approving a unilateral unseal) confirms on the
 * officer's screen with THEIR OWN sign-in: in dev key mode they pick themselves from
 * the demo users and the server signs their token; with the hospital's identity provider they sign
 * in in a popup (OidcWitness). Either way the token is used for this one confirmation and then
 * forgotten (never stored, never the officer's session). Whoever
 * confirms, the API decides: the officer who opened the case is refused (422 disputes.self-witness),
 * a role the policy does not name 403.
 */
export function WitnessConfirm({ caseId, confirmation, title, hint, confirmed, onConfirmed, testId }: {
  caseId: string;
  confirmation: Confirmation;
  title: string;
  hint: string;
  confirmed?: Confirmed;
  onConfirmed: (c: Confirmed) => void;
  testId: string;
}) {
  const { t } = useTranslation();
  const times = useTimes();
  const { signIn } = useConfig();
  const { session } = useSession();
  const [opened, setOpened] = useState(false);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const approval = confirmation.step === 'unseal' && confirmation.basis !== undefined && confirmation.basis !== 'both-sides';

  const asSignedIn = async () => {
    setBusy(true);
    setError(undefined);
    try {
      onConfirmed({ name: session.user.name ?? session.user.id, view: await confirmAs(session.token, caseId, confirmation) });
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Paper withBorder p="md" data-testid={testId}>
      <Stack gap="sm">
        <Title order={4}>{title}</Title>
        <Text size="sm">{hint}</Text>
        {confirmed ? (
          <Alert color="blue" variant="light" title={t(approval ? 'disputesOffice.witness.approvedBy' : 'disputesOffice.witness.confirmedBy', { name: confirmed.name })} data-testid="witness-confirmed">
            {t('disputesOffice.witness.validUntil', { time: times.dateTime(confirmed.view.validUntil) })}
          </Alert>
        ) : null}
        <Group gap="xs">
          <Button onClick={() => setOpened(true)} variant={confirmed ? 'default' : 'filled'}>
            {approval ? t('disputesOffice.witness.approverSignsIn') : t('disputesOffice.witness.signsIn')}
          </Button>
          <Button variant="default" onClick={() => void asSignedIn()} loading={busy}>
            {t('disputesOffice.witness.asMe', { name: session.user.name ?? session.user.id })}
          </Button>
        </Group>
        <DisputeRefusal error={error} />
      </Stack>
      {/* lockScroll off: its scroll lock injects a <style> without the CSP nonce. */}
      <Modal opened={opened} onClose={() => setOpened(false)} lockScroll={false} closeButtonProps={{ 'aria-label': t('disputesOffice.witness.closeDialog') }} title={approval ? t('disputesOffice.witness.approverDialog') : t('disputesOffice.witness.dialog')} size="lg">
        {signIn.dev ? (
          <DevWitness
            caseId={caseId}
            confirmation={confirmation}
            onConfirmed={(c) => {
              onConfirmed(c);
              setOpened(false);
            }}
          />
        ) : signIn.oidc ? (
          <OidcWitness
            oidc={signIn.oidc}
            caseId={caseId}
            confirmation={confirmation}
            onConfirmed={(c) => {
              onConfirmed(c);
              setOpened(false);
            }}
          />
        ) : null}
      </Modal>
    </Paper>
  );
}

/** Dev key mode: the witness picks themselves; the server signs their token, used once for the confirmation and dropped. */
function DevWitness({ caseId, confirmation, onConfirmed }: { caseId: string; confirmation: Confirmation; onConfirmed: (c: Confirmed) => void }) {
  const { t } = useTranslation();
  const [who, setWho] = useState<string | null>(null);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const users = useQuery({
    queryKey: ['demo-users'],
    queryFn: async () => {
      const res = await fetch('/console/api/demo-users', { headers: { accept: 'application/json' } });
      if (!res.ok) throw await errorOf(res);
      return (await res.json()) as DemoUser[];
    },
  });
  const confirm = async () => {
    if (!who) return;
    setBusy(true);
    setError(undefined);
    try {
      const res = await fetch(`/console/api/demo-users/${encodeURIComponent(who)}/token`, { method: 'POST', headers: { accept: 'application/json' } });
      if (!res.ok) throw await errorOf(res);
      const signed = (await res.json()) as { token: string; user: DemoUser };
      // The witness's token lives only for this request.
      const view = await confirmAs(signed.token, caseId, confirmation);
      onConfirmed({ name: signed.user.name, view });
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Stack gap="sm" data-testid="witness-dialog">
      <Text size="sm">{t('disputesOffice.witness.devHint')}</Text>
      <DisputeRefusal error={users.error} />
      <Select
        label={t('disputesOffice.witness.who')}
        data={(users.data ?? []).map((u) => ({ value: u.id, label: `${u.name} · ${u.title}` }))}
        value={who}
        onChange={setWho}
        searchable
      />
      {confirmation.step === 'unseal' && confirmation.reason ? <Textarea label={t('disputesOffice.witness.approvalReason')} value={confirmation.reason} readOnly autosize /> : null}
      <DisputeRefusal error={error} />
      <Button onClick={() => void confirm()} loading={busy} disabled={!who}>
        {t('disputesOffice.witness.signInAndConfirm')}
      </Button>
    </Stack>
  );
}
