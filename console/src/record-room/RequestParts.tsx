import { Badge, Code, Group, List, Paper, Stack, Table, Text, Timeline, Title } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { useConfig } from '../app/config';
import { useTimes } from '../common/time';
import { useLabel } from '../i18n';
import { CopyPreview } from './CopyPreview';
import { usePeopleNames } from '../api/names';
import { peopleOf, type CopyRequestView, type LeftOut } from './copy-requests.api';

/** A document type or part by its name in the console's language (the shipped CodeSystem's, from config.json). */
export function useDocumentType(): (code: string | undefined) => string {
  const { i18n } = useTranslation();
  const { documentTypes } = useConfig();
  return (code) => {
    const type = documentTypes.find((d) => d.code === code);
    return (i18n.language === 'en' ? type?.display : (type?.zh ?? type?.display)) ?? code ?? '?';
  };
}

/** The R-30 checklist against what was presented, and each document kept with its hash. */
export function ChecklistCard({ request }: { request: CopyRequestView }) {
  const { t } = useTranslation();
  const label = useLabel();
  const times = useTimes();
  const kinds = (item: string) => item.split(' or ').map((k) => label('evidence', k)).join(t('intake.or'));
  return (
    <Paper withBorder p="md">
      <Title order={3} size="h4" mb="sm">
        {t('request.checklist')}
      </Title>
      <List spacing={4} data-testid="checklist-status">
        {request.checklist.required.map((item) => {
          const missing = request.checklist.missing.includes(item);
          return (
            <List.Item key={item} icon={<Badge color={missing ? 'red.9' : 'teal.9'} size="sm">{missing ? t('request.missing') : t('request.presented')}</Badge>}>
              {kinds(item)}
            </List.Item>
          );
        })}
      </List>
      <Title order={4} size="h5" mt="md" mb="xs">
        {t('request.evidence')}
      </Title>
      {request.evidence.length === 0 ? (
        <Text c="dimmed">{t('request.evidenceEmpty')}</Text>
      ) : (
        <Table withTableBorder aria-label={t('request.evidence')}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('request.proves')}</Table.Th>
              <Table.Th>{t('request.file')}</Table.Th>
              <Table.Th>{t('request.uploadedAt')}</Table.Th>
              <Table.Th>SHA-256</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {request.evidence.map((e) => (
              <Table.Tr key={e.id}>
                <Table.Td>{label('evidence', e.proves)}</Table.Td>
                <Table.Td>
                  {e.filename ?? '—'} ({e.contentType}, {Math.ceil(e.size / 1024)} KB)
                </Table.Td>
                <Table.Td>{times.dateTime(e.uploadedAt)}</Table.Td>
                <Table.Td>
                  <Code title={e.sha256}>{e.sha256.slice(0, 12)}…</Code>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Paper>
  );
}

/** Each production: what it copied, what waits, what is left out, and its PDF. */
export function ProductionsCard({ request }: { request: CopyRequestView }) {
  const { t } = useTranslation();
  const times = useTimes();
  const docType = useDocumentType();
  const person = usePeopleNames(peopleOf(request));
  if (request.productions.length === 0) return null;
  const leftOut = (items: LeftOut[], title: string, testid: string) =>
    items.length ? (
      <div data-testid={testid}>
        <Text fw={600} size="sm">
          {title}
        </Text>
        <List size="sm">
          {items.map((i) => (
            <List.Item key={i.ref}>
              {docType(i.documentType)} — {i.reason}
            </List.Item>
          ))}
        </List>
      </div>
    ) : null;
  return (
    <Paper withBorder p="md">
      <Title order={3} size="h4" mb="sm">
        {t('request.productions')}
      </Title>
      <Stack gap="lg">
        {request.productions.map((p) => (
          <Stack key={p.n} gap="xs" data-production={p.n}>
            <Group gap="sm">
              <Text fw={700}>{t('request.copyNo', { n: p.n })}</Text>
              <Text size="sm">{times.dateTime(p.createdAt)}</Text>
              <Text size="sm">{t('request.pages', { count: p.pages })}</Text>
              <Text size="sm">{t('request.by', { who: person(p.createdBy) })}</Text>
            </Group>
            <Text size="sm" fw={600}>
              {t('request.manifest')}
            </Text>
            <List size="sm">
              {p.manifest.map((m) => (
                <List.Item key={`${m.type}/${m.id}`}>
                  {docType(m.documentType)} · {t('request.version', { version: m.version })}
                </List.Item>
              ))}
            </List>
            {leftOut(p.pending, t('request.pending'), 'pending')}
            {leftOut(p.excluded, t('request.excluded'), 'excluded')}
            <CopyPreview requestId={request.id} production={p} />
          </Stack>
        ))}
      </Stack>
    </Paper>
  );
}

/** The request's whole life, oldest first, times in the hospital's zone. */
export function HistoryCard({ request }: { request: CopyRequestView }) {
  const { t } = useTranslation();
  const label = useLabel();
  const times = useTimes();
  const person = usePeopleNames(peopleOf(request));
  const detail = (e: CopyRequestView['events'][number]) => {
    const to = e.to as { name?: string } | undefined;
    return [
      typeof e.proves === 'string' ? label('evidence', e.proves) : '',
      e.reason ?? '',
      to?.name ? t('request.deliveredTo', { name: to.name }) : '',
      typeof e.method === 'string' ? label('deliveryMethod', e.method) : '',
    ].filter(Boolean).join(' · ');
  };
  return (
    <Paper withBorder p="md">
      <Title order={3} size="h4" mb="sm">
        {t('request.history')}
      </Title>
      <Timeline active={request.events.length - 1} bulletSize={14} lineWidth={2} data-testid="history">
        {request.events.map((e, i) => (
          <Timeline.Item key={i} title={label('step', e.step)}>
            <Text size="sm">
              {times.dateTime(e.at)} · {t('request.by', { who: person(e.by) })}
            </Text>
            {detail(e) ? <Text size="sm">{detail(e)}</Text> : null}
          </Timeline.Item>
        ))}
      </Timeline>
    </Paper>
  );
}
