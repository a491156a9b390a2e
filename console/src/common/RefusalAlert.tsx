import { Alert, Text } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../api/client';
import { useLabel } from '../i18n';

/**
 * What the server refused, in its own words: a title by the kind of answer, the catalogue's
 * explanation of ChartWarden's code when it has one, and the server's text as sent. Read out
 * by screen readers when it appears (role="alert").
 */
export function RefusalAlert({ error }: { error: unknown }) {
  const { t } = useTranslation();
  const label = useLabel();
  if (!error) return null;
  const api = error instanceof ApiError ? error : undefined;
  const refused = api && api.status >= 400 && api.status < 500;
  const explained = api?.code ? label('errorCodes', api.code) : undefined;
  return (
    <Alert role="alert" color={refused ? 'orange.9' : 'red.9'} variant="light" title={refused ? t('errors.refused', { status: api.status }) : t('errors.failed')} data-testid="refusal">
      {explained && explained !== api?.code ? <Text fw={600}>{explained}</Text> : null}
      <Text size="sm">
        {t('errors.serverSays')}
        <span data-testid="server-message" lang="en">
          {api ? api.text : String(error instanceof Error ? error.message : error)}
        </span>
      </Text>
      {api?.code ? (
        <Text size="xs" c="dimmed">
          {t('errors.code', { code: api.code })}
        </Text>
      ) : null}
    </Alert>
  );
}
