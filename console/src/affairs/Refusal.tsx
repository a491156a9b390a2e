import { Stack } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../api/client';
import { RefusalAlert } from '../common/RefusalAlert';
import { medicalAffairsZh } from './messages';

/**
 * A refusal in words: the console's RefusalAlert (the server's own text and code), with medical
 * affairs' explanation of the code where it has one: `grant.*` and `governance.*`, which the
 * shared catalogue does not explain yet, and `disputes.*` as they read at an unseal approval
 * (the shared explanations are the disputes office's).
 */
export function Refusal({ error }: { error: unknown }) {
  const { t } = useTranslation();
  if (!error) return null;
  const code = error instanceof ApiError ? error.code : undefined;
  const [prefix, rest] = code?.split(/\.(.*)/s) ?? [];
  const group = (medicalAffairsZh.errorCodes as Record<string, Record<string, string>>)[prefix ?? ''];
  const explained = group && rest && Object.hasOwn(group, rest) ? t(`medicalAffairs.errorCodes.${prefix}.${rest}` as never) : undefined;
  return (
    <Stack gap={4} data-testid="affairs-refusal">
      <RefusalAlert error={error} explanation={explained} />
    </Stack>
  );
}
