import { Badge, Button, Group, Stack, Table, Tabs, Text, Title } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { Link, navigate, useSearchParams } from '../app/router';
import { RefusalAlert } from '../common/RefusalAlert';
import { useTimes } from '../common/time';
import { useLabel } from '../i18n';
import { COPY_REQUEST_STATUSES, OPEN_STATUSES, pendingParts, useCopyRequests, type CopyRequestView } from './copy-requests.api';
import { nameOf, usePatients } from '../api/names';
import { StatusBadge } from './StatusBadge';

type Filter = 'open' | 'all' | CopyRequestView['status'];

/**
 * The record room's queue: requests by status, oldest first, with how long each has
 * waited (to now, or to its closing) and the parts still pending after a copy.
 */
export function QueuePage() {
  const { t } = useTranslation();
  const label = useLabel();
  const params = useSearchParams();
  const filter = (params.get('status') ?? 'open') as Filter;
  const queue = useCopyRequests();
  const all = queue.data ?? [];
  const count = (f: Filter) => all.filter((r) => matches(r, f)).length;
  const shown = all.filter((r) => matches(r, filter));
  const patients = usePatients(shown.map((r) => r.patient));
  const filters: Filter[] = ['open', ...COPY_REQUEST_STATUSES, 'all'];

  return (
    <Stack gap="md">
      <Group justify="space-between">
        <Title order={2}>{t('queue.title')}</Title>
        <Group gap="xs">
          <Button variant="default" onClick={() => void queue.refetch()} loading={queue.isFetching}>
            {t('queue.refresh')}
          </Button>
          <Button component={Link} to="/copy-requests/new">
            {t('queue.newRequest')}
          </Button>
        </Group>
      </Group>
      <Tabs value={filter} onChange={(v) => navigate(`/copy-requests?status=${v ?? 'open'}`, { replace: true })} aria-label={t('queue.statusFilter')}>
        <Tabs.List>
          {filters.map((f) => (
            <Tabs.Tab key={f} value={f} rightSection={<Badge size="sm" variant="light" color="gray">{count(f)}</Badge>}>
              {f === 'open' ? t('queue.open') : f === 'all' ? t('queue.all') : label('status', f)}
            </Tabs.Tab>
          ))}
        </Tabs.List>
      </Tabs>
      <RefusalAlert error={queue.error} />
      {queue.isPending ? <Text c="dimmed">{t('app.loading')}</Text> : null}
      {queue.data && shown.length === 0 ? <Text c="dimmed">{t('queue.empty')}</Text> : null}
      {shown.length > 0 ? <QueueTable rows={shown} names={(id) => nameOf(patients.data?.get(id))} /> : null}
    </Stack>
  );
}

function matches(r: CopyRequestView, f: Filter): boolean {
  return f === 'all' ? true : f === 'open' ? OPEN_STATUSES.includes(r.status) : r.status === f;
}

function QueueTable({ rows, names }: { rows: CopyRequestView[]; names: (patient: string) => string | undefined }) {
  const { t } = useTranslation();
  const label = useLabel();
  const times = useTimes();
  return (
    <Table striped highlightOnHover withTableBorder aria-label={t('queue.title')} data-testid="queue">
      <Table.Thead>
        <Table.Tr>
          <Table.Th>{t('queue.columns.received')}</Table.Th>
          <Table.Th>{t('queue.columns.waited')}</Table.Th>
          <Table.Th>{t('queue.columns.patient')}</Table.Th>
          <Table.Th>{t('queue.columns.requester')}</Table.Th>
          <Table.Th>{t('queue.columns.status')}</Table.Th>
          <Table.Th>{t('queue.columns.pending')}</Table.Th>
          <Table.Th>
            <span className="visually-hidden">{t('queue.columns.action')}</span>
          </Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {rows.map((r) => {
          const pending = pendingParts(r);
          return (
            <Table.Tr key={r.id} data-request={r.id}>
              <Table.Td>{times.dateTime(r.receivedAt)}</Table.Td>
              <Table.Td>{times.waited(r.receivedAt, r.closedAt)}</Table.Td>
              <Table.Td>{names(r.patient) ?? r.patient}</Table.Td>
              <Table.Td>
                {r.requester.name} · {label('requesterType', r.requesterType)}
              </Table.Td>
              <Table.Td>
                <StatusBadge status={r.status} />
              </Table.Td>
              <Table.Td>{pending.length ? t('queue.pendingParts', { count: pending.length }) : t('queue.none')}</Table.Td>
              <Table.Td>
                <Button component={Link} to={`/copy-requests/${r.id}`} size="xs" variant="light" aria-label={t('queue.openRequest', { name: r.requester.name, time: times.dateTime(r.receivedAt) })}>
                  {t('queue.openShort')}
                </Button>
              </Table.Td>
            </Table.Tr>
          );
        })}
      </Table.Tbody>
    </Table>
  );
}
