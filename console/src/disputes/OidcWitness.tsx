import { Alert, Button, Stack, Text, Textarea } from '@mantine/core';
import { useCallback, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Oidc } from '../auth/oidc';
import { prepareWitnessSignIn, signInWitness, WitnessSignInError, type WitnessRequest } from '../auth/witness-sign-in';
import { confirmAs, type Confirmation } from './disputes.api';
import { DisputeRefusal } from './parts';
import type { Confirmed } from './WitnessSignIn';

/**
 * With the hospital's identity provider: the witness signs in in a popup (prompt=login, their own
 * credentials, a fresh PKCE request each time). Their access token is used for this one
 * confirmation and then forgotten; the officer's session stays. A popup closed without signing
 * in, or blocked, is said in words and the button works again.
 */
export function OidcWitness({ oidc, caseId, confirmation, onConfirmed }: { oidc: Oidc; caseId: string; confirmation: Confirmation; onConfirmed: (c: Confirmed) => void }) {
  const { t } = useTranslation();
  const [request, setRequest] = useState<WitnessRequest | undefined>();
  const [waiting, setWaiting] = useState(false);
  const [error, setError] = useState<unknown>();
  const [notice, setNotice] = useState<string | undefined>();

  // A fresh verifier, state and nonce for every attempt, made before the click so the popup opens in it.
  const prepare = useCallback(() => {
    setRequest(undefined);
    prepareWitnessSignIn(oidc).then(setRequest, setError);
  }, [oidc]);
  useEffect(prepare, [prepare]);

  const start = (prepared: WitnessRequest) => {
    setError(undefined);
    setNotice(undefined);
    setWaiting(true);
    signInWitness(oidc, prepared)
      .then(async (witness) => {
        // The witness's token lives only for this request.
        const view = await confirmAs(witness.token, caseId, confirmation);
        onConfirmed({ name: witness.name ?? witness.id, view });
      })
      .catch((e: unknown) => {
        if (e instanceof WitnessSignInError) setNotice(e.reason === 'provider' ? t('disputesOffice.witness.oidcFailed', { detail: e.message }) : t(e.reason === 'closed' ? 'disputesOffice.witness.oidcClosed' : 'disputesOffice.witness.oidcBlocked'));
        else setError(e);
      })
      .finally(() => {
        setWaiting(false);
        prepare();
      });
  };

  return (
    <Stack gap="sm" data-testid="witness-dialog">
      <Text size="sm">{t('disputesOffice.witness.oidcHint')}</Text>
      {confirmation.step === 'unseal' && confirmation.reason ? <Textarea label={t('disputesOffice.witness.approvalReason')} value={confirmation.reason} readOnly autosize /> : null}
      {notice ? (
        <Alert role="alert" color="orange" variant="light" data-testid="witness-popup-notice">
          {notice}
        </Alert>
      ) : null}
      {waiting ? (
        <Text size="sm" role="status">
          {t('disputesOffice.witness.oidcWaiting')}
        </Text>
      ) : null}
      <DisputeRefusal error={error} />
      <Button onClick={() => request && start(request)} loading={waiting} disabled={!request}>
        {request ? t('disputesOffice.witness.oidcButton') : t('disputesOffice.witness.oidcPreparing')}
      </Button>
    </Stack>
  );
}
