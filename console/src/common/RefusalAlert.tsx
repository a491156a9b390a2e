import { Alert, Text } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../api/client';
import { useLabel } from '../i18n';

/**
 * What the server refused, in its own words: a title by the kind of answer, the catalogue's
 * explanation of ChartWarden's code when it has one (`errorCodes.<feature>.<code>`; an office
 * may pass its own `explanation` of the code where it means something narrower there), and the
 * server's text as sent. Read out by screen readers when it appears (role="alert").
 */
export function RefusalAlert({ error, explanation }: { error: unknown; explanation?: string }) {
  const { t } = useTranslation();
  const label = useLabel();
  if (!error) return null;
  const api = error instanceof ApiError ? error : undefined;
  const refused = api && api.status >= 400 && api.status < 500;
  const catalogued = api?.code ? label('errorCodes', api.code) : undefined;
  const explained = explanation ?? (catalogued !== api?.code ? catalogued : undefined);
  return (
    <Alert role="alert" color={refused ? 'orange.9' : 'red.9'} variant="light" title={refused ? t('errors.refused', { status: api.status }) : t('errors.failed')} data-testid="refusal">
      {explained ? (
        <Text fw={600} data-testid="refusal-explained">
          {explained}
        </Text>
      ) : null}
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
