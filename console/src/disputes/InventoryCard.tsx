import { Alert, Button, List, Paper, Stack, Table, Text, Title, VisuallyHidden } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { useTimes } from '../common/time';
import { useDisputeStep, useInventory, type DisputeView, type InventoryLine, type InventoryView } from './disputes.api';
import { Digest, DisputeRefusal } from './parts';

/** A record's own date as people read it: a plain date as sent, an instant in the hospital's zone; a visit as its days. */
function useRecordDate() {
  const times = useTimes();
  const one = (v: string) => (/^\d{4}(-\d{2}(-\d{2})?)?$/.test(v) ? v : times.dateTime(v));
  return (d?: { date?: string; end?: string }) => (d?.date ? (d.end ? `${one(d.date)} – ${one(d.end)}` : one(d.date)) : '—');
}

/**
 * The inventory (封存清单) as both sides read it before sealing, and as it stands after (R-40,
 * 文书名称, 日期, 版本, 页数 (of a sealed record: its pages on the sealed copy), its state, and the
 * start of each version's SHA-256; then the digest both sides compare digit by digit. For a
 * sealed case, pending records completed since are named, with the supplement that seals them.
 */
export function InventoryCard({ dispute }: { dispute: DisputeView }) {
  const { t } = useTranslation();
  const inventory = useInventory(dispute.id);
  if (inventory.error) return <DisputeRefusal error={inventory.error} />;
  if (!inventory.data) return <Text>{t('app.loading')}</Text>;
  const inv = inventory.data;
  const completed = inv.lines.filter((l) => l.status === 'pending' && inv.described?.[`${l.type}/${l.id}`]?.completedSince);
  return (
    <Paper withBorder p="md" data-testid="inventory">
      <Stack gap="sm">
        <Title order={3} size="h4">
          {dispute.status === 'open' ? t('disputesOffice.inventory.titleOpen') : t('disputesOffice.inventory.title')}
        </Title>
        <Text size="sm">{t('disputesOffice.inventory.counts', { sealed: inv.lines.filter((l) => l.status === 'sealed').length, pending: inv.lines.filter((l) => l.status === 'pending').length })}</Text>
        <InventoryTable inventory={inv} sealed={dispute.status !== 'open'} />
        <Text size="sm" fw={600}>
          {dispute.status === 'open' ? t('disputesOffice.inventory.digestOpen') : t('disputesOffice.inventory.digest')}
        </Text>
        <Digest value={inv.digest} label={t('disputesOffice.inventory.digestLabel')} />
        {dispute.status === 'sealed' && completed.length > 0 ? <SupplementAlert dispute={dispute} inventory={inv} completed={completed} /> : null}
      </Stack>
    </Paper>
  );
}

function InventoryTable({ inventory: inv, sealed }: { inventory: InventoryView; sealed: boolean }) {
  const { t } = useTranslation();
  const date = useRecordDate();
  return (
    <Table.ScrollContainer minWidth={560}>
      <Table withTableBorder striped aria-label={t('disputesOffice.inventory.title')} data-testid="inventory-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t('disputesOffice.inventory.columns.no')}</Table.Th>
            <Table.Th>{t('disputesOffice.inventory.columns.name')}</Table.Th>
            <Table.Th>{t('disputesOffice.inventory.columns.date')}</Table.Th>
            <Table.Th style={{ whiteSpace: 'nowrap' }}>{t('disputesOffice.inventory.columns.version')}</Table.Th>
            <Table.Th style={{ whiteSpace: 'nowrap' }}>{t('disputesOffice.inventory.columns.pages')}</Table.Th>
            <Table.Th>{t('disputesOffice.inventory.columns.state')}</Table.Th>
            <Table.Th>{t('disputesOffice.inventory.columns.hash')}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {inv.lines.map((l, i) => {
            const d = inv.described?.[`${l.type}/${l.id}`];
            return (
              <Table.Tr key={`${l.type}/${l.id}`} data-line={`${l.type}/${l.id}`} data-state={l.status}>
                <Table.Td>{i + 1}</Table.Td>
                <Table.Td title={`${l.type}/${l.id}`}>{d?.name ?? l.type}</Table.Td>
                <Table.Td>{date(d)}</Table.Td>
                <Table.Td>{l.version}</Table.Td>
                <Table.Td style={{ whiteSpace: 'nowrap' }} data-column="pages">
                  <Pages line={l} sealed={sealed} />
                </Table.Td>
                <Table.Td miw={72}>
                  <LineState line={l} completed={Boolean(d?.completedSince)} />
                </Table.Td>
                <Table.Td>
                  <Text ff="monospace" size="xs">
                    {l.sha256 ? l.sha256.slice(0, 16) : '—'}
                  </Text>
                </Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

/**
 * 页数: the pages a sealed record occupies on its sealed copy, as the API states them; a record
 * not sealed yet (the case still open, or a pending line) has none: they are counted when its
 * copy is made, which the dash says to a pointer (title) and to a screen reader (hidden text).
 */
function Pages({ line, sealed }: { line: InventoryLine; sealed: boolean }) {
  const { t } = useTranslation();
  if (line.pages !== undefined) return <>{line.pages}</>;
  // A line of a sealed case with no count is a server that does not state them: the PDF does.
  const why = sealed && line.status === 'sealed' ? t('disputesOffice.inventory.pagesOnPaper') : t('disputesOffice.inventory.pagesAtSealing');
  return (
    <span title={why} data-testid="pages-unknown">
      <span aria-hidden>—</span>
      <VisuallyHidden>{why}</VisuallyHidden>
    </span>
  );
}

function LineState({ line, completed }: { line: InventoryLine; completed: boolean }) {
  const { t } = useTranslation();
  if (line.status === 'sealed') return <Text size="sm">{t('disputesOffice.inventory.sealedLine')}</Text>;
  return (
    <Text size="sm" fw={700} c={completed ? 'orange.9' : undefined}>
      {completed ? t('disputesOffice.inventory.completedSince') : t('disputesOffice.inventory.pendingLine')}
    </Text>
  );
}

/** pending records completed since sealing, and the supplement that seals them as a further copy. */
function SupplementAlert({ dispute, inventory, completed }: { dispute: DisputeView; inventory: InventoryView; completed: InventoryLine[] }) {
  const { t } = useTranslation();
  const step = useDisputeStep(dispute.id);
  return (
    <Alert color="orange" variant="light" title={t('disputesOffice.supplement.title', { count: completed.length })} data-testid="supplement-alert">
      <Stack gap="xs">
        <List size="sm">
          {completed.map((l) => (
            <List.Item key={`${l.type}/${l.id}`}>{inventory.described?.[`${l.type}/${l.id}`]?.name ?? `${l.type}/${l.id}`}</List.Item>
          ))}
        </List>
        <Text size="sm">{t('disputesOffice.supplement.hint')}</Text>
        <DisputeRefusal error={step.error} />
        <Button onClick={() => step.mutate({ step: 'supplement' })} loading={step.isPending} w="fit-content">
          {t('disputesOffice.supplement.button')}
        </Button>
      </Stack>
    </Alert>
  );
}
