import { Badge, Button, Code, Stack } from '@mantine/core';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useApi } from '../api/ApiProvider';
import { RefusalAlert } from '../common/RefusalAlert';
import { disputesOfficeEn, disputesOfficeZh } from './messages';
import { pathOf, type DisputeStatus } from './disputes.api';

type Values = typeof disputesOfficeZh.values;

/** The label of a value the server sends (a status, a relationship…), from this office's catalogue; an unknown value as sent. */
export function useDisputeLabel(): (group: keyof Values, value: string) => string {
  const { i18n } = useTranslation();
  return (group, value) => {
    const labels = (i18n.language === 'en' ? disputesOfficeEn : disputesOfficeZh).values[group] as Record<string, string>;
    return Object.hasOwn(labels, value) ? labels[value] : value;
  };
}

const COLOURS: Record<DisputeStatus, string> = { open: 'blue.8', sealed: 'red.9', unsealed: 'teal.9' };

/** A case's status in words (shades dark enough for white text). */
export function DisputeStatusBadge({ status }: { status: DisputeStatus }) {
  const label = useDisputeLabel();
  return (
    <Badge color={COLOURS[status] ?? 'gray.7'} variant="filled" autoContrast data-status={status}>
      {label('status', status)}
    </Badge>
  );
}

/** A refusal on the disputes office's pages: the shared alert (the catalogue's `errorCodes.disputes`, the server's own text, the code). */
export function DisputeRefusal({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <Stack gap={4} data-testid="dispute-refusal">
      <RefusalAlert error={error} />
    </Stack>
  );
}

/** A digest people compare digit by digit: grouped in eights, monospaced. */
export function Digest({ value, label }: { value: string; label: string }) {
  return (
    <Code block aria-label={label} data-testid="digest" fz="sm" style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-word' }}>
      {value.match(/.{1,8}/g)?.join(' ') ?? value}
    </Code>
  );
}

/**
 * A file the API serves (a sealed copy, the unseal record, a signature), read with the token as
 * a blob (each reading is in the audit trail) and saved under `filename`.
 */
export function DownloadButton({ url, filename, children, label }: { url: string; filename: string; children: string; label?: string }) {
  const api = useApi();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const download = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const href = URL.createObjectURL(await api.blob(pathOf(url)));
      const a = document.createElement('a');
      a.href = href;
      a.download = filename;
      document.body.append(a);
      a.click();
      a.remove();
      window.setTimeout(() => URL.revokeObjectURL(href), 60_000);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Stack gap={4}>
      <Button variant="light" size="xs" onClick={() => void download()} loading={busy} aria-label={label ?? children}>
        {children}
      </Button>
      <DisputeRefusal error={error} />
    </Stack>
  );
}
