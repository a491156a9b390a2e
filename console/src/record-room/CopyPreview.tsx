import { Anchor, Button, Group, Stack, Text } from '@mantine/core';
import { useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useApi } from '../api/ApiProvider';
import { RefusalAlert } from '../common/RefusalAlert';
import { copyPdfPath, type ProductionView } from './copy-requests.api';

/**
 * A produced copy's certified PDF, read with the token (each reading is in the audit trail) and
 * shown from a blob URL in a frame: previewed, printed from the frame, or saved.
 */
export function CopyPreview({ requestId, production }: { requestId: string; production: ProductionView }) {
  const { t } = useTranslation();
  const api = useApi();
  const frame = useRef<HTMLIFrameElement>(null);
  const [url, setUrl] = useState<string | undefined>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  // The blob URL is revoked when the preview goes (or shows another copy).
  useEffect(() => (url ? () => URL.revokeObjectURL(url) : undefined), [url]);

  const open = async () => {
    setBusy(true);
    setError(undefined);
    try {
      setUrl(URL.createObjectURL(await api.blob(copyPdfPath(production))));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const print = () => {
    const view = frame.current?.contentWindow;
    if (view) {
      view.focus();
      view.print();
    }
  };
  const title = t('request.previewTitle', { n: production.n });
  return (
    <Stack gap="xs">
      <Group gap="xs">
        {url ? null : (
          <Button variant="light" onClick={() => void open()} loading={busy} aria-label={t('request.previewOf', { n: production.n })}>
            {t('request.preview')}
          </Button>
        )}
        {url ? (
          <>
            <Button onClick={print} aria-label={t('request.printOf', { n: production.n })}>
              {t('request.print')}
            </Button>
            <Anchor href={url} download={`copy-${requestId}-${production.n}.pdf`}>
              {t('request.download')}
            </Anchor>
          </>
        ) : null}
      </Group>
      <RefusalAlert error={error} />
      {url ? <iframe ref={frame} src={url} title={title} data-testid={`preview-${production.n}`} style={{ width: '100%', height: 560, border: '1px solid var(--mantine-color-gray-4)' }} /> : null}
      {url ? <Text size="xs">{t('request.previewHint')}</Text> : null}
    </Stack>
  );
}
