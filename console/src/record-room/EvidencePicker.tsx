import { ActionIcon, Badge, Button, FileButton, Group, Image, Paper, Select, Stack, Text } from '@mantine/core';
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useLabel } from '../i18n';

/** One presented document picked at the desk: what it proves and the file (a camera photo or an upload). */
export interface PickedEvidence {
  key: string;
  proves: string;
  file: File;
}

/** A thumbnail of a picked file: the picture itself, or a PDF's name. */
export function Thumbnail({ file, alt }: { file: File; alt: string }) {
  const [url, setUrl] = useState<string | undefined>();
  // Made and revoked by the same effect: a blob URL lives exactly as long as the thumbnail shows.
  useEffect(() => {
    if (!file.type.startsWith('image/')) return;
    const made = URL.createObjectURL(file);
    setUrl(made);
    return () => URL.revokeObjectURL(made);
  }, [file]);
  if (!file.type.startsWith('image/')) {
    return (
      <Paper withBorder w={128} h={80} p={4} role="img" aria-label={alt}>
        <Text size="xs" fw={700}>PDF</Text>
        <Text size="xs" truncate>{file.name}</Text>
      </Paper>
    );
  }
  return url ? <Image src={url} alt={alt} w={128} h={80} fit="contain" radius="sm" bd="1px solid var(--mantine-color-gray-4)" /> : null;
}

/**
 * The R-30 checklist of a requester type as the desk works through it: each item (one kind of
 * evidence, or any one of several) with a photo from the tablet's camera
 * (`capture="environment"`) or an uploaded scan, shown as thumbnails before anything is sent.
 */
export function EvidencePicker({ checklist, picked, onChange }: { checklist: string[][]; picked: PickedEvidence[]; onChange: (next: PickedEvidence[]) => void }) {
  const { t } = useTranslation();
  const add = (proves: string, file: File | null) => {
    if (file) onChange([...picked, { key: `${proves}-${Date.now()}-${file.name}`, proves, file }]);
  };
  return (
    <Stack gap="sm" data-testid="checklist">
      {checklist.map((item) => (
        <ChecklistItem key={item.join('|')} item={item} picked={picked.filter((p) => item.includes(p.proves))} onAdd={add} onRemove={(key) => onChange(picked.filter((p) => p.key !== key))} />
      ))}
      {checklist.length === 0 ? <Text c="dimmed">{t('intake.noChecklist')}</Text> : null}
      <Text size="sm" c="dimmed">
        {t('intake.evidenceHint')} {picked.length > 0 ? t('intake.pickedCount', { count: picked.length }) : ''}
      </Text>
    </Stack>
  );
}

function ChecklistItem({ item, picked, onAdd, onRemove }: { item: string[]; picked: PickedEvidence[]; onAdd: (proves: string, file: File | null) => void; onRemove: (key: string) => void }) {
  const { t } = useTranslation();
  const label = useLabel();
  const names = item.map((k) => label('evidence', k));
  const title = item.length > 1 ? t('intake.anyOf', { list: names.join(t('intake.or')) }) : names[0];
  const kindSelect = item.length > 1;
  // With alternatives, the desk says which one was brought; the first until then.
  const chosen = picked.at(-1)?.proves ?? item[0];
  return (
    <Paper withBorder p="sm" role="group" aria-label={title}>
      <Group justify="space-between" align="flex-start" wrap="wrap">
        <Stack gap={4}>
          <Group gap="xs">
            <Text fw={600}>{title}</Text>
            {picked.length > 0 ? <Badge color="teal.9">{t('intake.picked')}</Badge> : <Badge color="gray" variant="outline">{t('intake.notPicked')}</Badge>}
          </Group>
          {kindSelect ? <AlternativeSelect item={item} value={chosen} onPick={(kind, file) => onAdd(kind, file)} /> : null}
        </Stack>
        {kindSelect ? null : <PickButtons kind={item[0]} what={title} onPick={(file) => onAdd(item[0], file)} />}
      </Group>
      {picked.length > 0 ? (
        <Group mt="sm" gap="sm">
          {picked.map((p) => (
            <Stack key={p.key} gap={2} align="center">
              <Thumbnail file={p.file} alt={t('intake.thumbnail', { kind: label('evidence', p.proves) })} />
              <ActionIcon variant="subtle" color="red" size="sm" aria-label={t('intake.remove', { name: p.file.name })} onClick={() => onRemove(p.key)}>
                ×
              </ActionIcon>
            </Stack>
          ))}
        </Group>
      ) : null}
    </Paper>
  );
}

function AlternativeSelect({ item, value, onPick }: { item: string[]; value: string; onPick: (kind: string, file: File | null) => void }) {
  const { t } = useTranslation();
  const label = useLabel();
  const [kind, setKind] = useState(value);
  const data = item.map((k) => ({ value: k, label: label('evidence', k) }));
  return (
    <Group gap="xs" align="flex-end">
      <Select label={t('intake.whichOne')} data={data} value={kind} onChange={(v) => setKind(v ?? item[0])} allowDeselect={false} w={220} />
      <PickButtons kind={kind} what={label('evidence', kind)} onPick={(file) => onPick(kind, file)} />
    </Group>
  );
}

/** A camera button (the tablet's back camera) and an upload button, each naming the document it is for. */
function PickButtons({ kind, what, onPick }: { kind: string; what: string; onPick: (file: File | null) => void }) {
  const { t } = useTranslation();
  return (
    <Group gap="xs" data-kind={kind}>
      <FileButton onChange={onPick} accept="image/*" capture="environment" inputProps={{ 'aria-label': t('intake.photoOf', { what }) }}>
        {(props) => (
          <Button {...props} variant="light" aria-label={t('intake.photoOf', { what })}>
            {t('intake.photo')}
          </Button>
        )}
      </FileButton>
      <FileButton onChange={onPick} accept="image/jpeg,image/png,application/pdf" inputProps={{ 'aria-label': t('intake.uploadOf', { what }) }}>
        {(props) => (
          <Button {...props} variant="default" aria-label={t('intake.uploadOf', { what })}>
            {t('intake.upload')}
          </Button>
        )}
      </FileButton>
    </Group>
  );
}
