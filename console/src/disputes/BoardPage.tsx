import { Button, Group, Stack, Table, Tabs, Text, Title } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { nameOf, usePatients } from '../api/names';
import { Link, navigate, useSearchParams } from '../app/router';
import { useTimes } from '../common/time';
import { DISPUTE_STATUSES, useDisputes, type DisputeStatus, type DisputeView } from './disputes.api';
import { DisputeRefusal, DisputeStatusBadge, useDisputeLabel } from './parts';

type Filter = DisputeStatus | 'all';

/** The disputes office's board (R-40…R-44): cases by status, newest first, with the patient's name and where each stands. */
export function BoardPage() {
  const { t } = useTranslation();
  const label = useDisputeLabel();
  const params = useSearchParams();
  const filter = ((params.get('status') ?? 'open') as Filter);
  const cases = useDisputes(filter);
  const rows = cases.data ?? [];
  const patients = usePatients(rows.map((c) => c.patient));
  return (
    <Stack gap="md">
      <Group justify="space-between">
        <Title order={2}>{t('disputesOffice.board.title')}</Title>
        <Group gap="xs">
          <Button variant="default" onClick={() => void cases.refetch()} loading={cases.isFetching}>
            {t('disputesOffice.board.refresh')}
          </Button>
          <Button component={Link} to="/disputes/new">
            {t('disputesOffice.board.newCase')}
          </Button>
        </Group>
      </Group>
      <Tabs value={filter} onChange={(v) => navigate(`/disputes?status=${v ?? 'open'}`, { replace: true })} aria-label={t('disputesOffice.board.statusFilter')}>
        <Tabs.List>
          {[...DISPUTE_STATUSES, 'all' as const].map((f) => (
            <Tabs.Tab key={f} value={f}>
              {f === 'all' ? t('disputesOffice.board.all') : label('status', f)}
            </Tabs.Tab>
          ))}
        </Tabs.List>
      </Tabs>
      <DisputeRefusal error={cases.error} />
      {cases.isPending ? <Text>{t('app.loading')}</Text> : null}
      {cases.data && rows.length === 0 ? <Text>{t('disputesOffice.board.empty')}</Text> : null}
      {rows.length > 0 ? <BoardTable rows={rows} name={(id) => nameOf(patients.data?.get(id)) ?? id} /> : null}
    </Stack>
  );
}

function BoardTable({ rows, name }: { rows: DisputeView[]; name: (patient: string) => string }) {
  const { t } = useTranslation();
  const label = useDisputeLabel();
  const times = useTimes();
  return (
    <Table striped highlightOnHover withTableBorder aria-label={t('disputesOffice.board.title')} data-testid="board">
      <Table.Thead>
        <Table.Tr>
          <Table.Th>{t('disputesOffice.board.columns.opened')}</Table.Th>
          <Table.Th>{t('disputesOffice.board.columns.patient')}</Table.Th>
          <Table.Th>{t('disputesOffice.board.columns.trigger')}</Table.Th>
          <Table.Th>{t('disputesOffice.board.columns.reason')}</Table.Th>
          <Table.Th>{t('disputesOffice.board.columns.status')}</Table.Th>
          <Table.Th>{t('disputesOffice.board.columns.sealed')}</Table.Th>
          <Table.Th>{t('disputesOffice.board.columns.inventory')}</Table.Th>
          <Table.Th>
            <span className="visually-hidden">{t('disputesOffice.board.columns.action')}</span>
          </Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {rows.map((c) => (
          <Table.Tr key={c.id} data-case={c.id}>
            <Table.Td>{times.dateTime(c.openedAt)}</Table.Td>
            <Table.Td>{name(c.patient)}</Table.Td>
            <Table.Td>{label('trigger', c.trigger)}</Table.Td>
            <Table.Td>{c.reason}</Table.Td>
            <Table.Td>
              <DisputeStatusBadge status={c.status} />
            </Table.Td>
            <Table.Td>{c.sealedAt ? times.dateTime(c.sealedAt) : '—'}</Table.Td>
            <Table.Td>{c.status === 'open' ? '—' : t('disputesOffice.board.counts', { sealed: c.inventory.sealed, pending: c.inventory.pending })}</Table.Td>
            <Table.Td>
              <Button component={Link} to={`/disputes/${c.id}`} size="xs" variant="light" aria-label={t('disputesOffice.board.openCase', { name: name(c.patient), time: times.dateTime(c.openedAt) })}>
                {t('disputesOffice.board.openShort')}
              </Button>
            </Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}
