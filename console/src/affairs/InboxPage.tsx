import { Badge, Button, Drawer, Group, List, Paper, SegmentedControl, Stack, Table, Text, Title } from '@mantine/core';
import { useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { nameOf, usePatients, usePeopleNames } from '../api/names';
import { navigate, useSearchParams } from '../app/router';
import { useTimes } from '../common/time';
import { useAmendments, useBreakGlass, useDecision, useDocuments, useGrants, useSealedCases, useUnsealApprovals, type AccessGrant, type Confirmation } from './approvals.api';
import { Decisions, useGrantApprovedText, type Done } from './Decisions';
import { buildInbox, findItem, INBOX_KINDS, askedUntil, type InboxItem, type InboxKind } from './inbox';
import { ItemDetails, useKindLabel, type Names } from './ItemDetails';
import { Refusal } from './Refusal';

const COLOURS: Record<InboxKind, string> = { grant: 'blue.8', amendment: 'violet.9', unseal: 'red.9', 'break-glass': 'yellow.4' };

/**
 * Medical affairs' approvals inbox (issue #18): grants (R-05), amendments (R-11), unseal
 * approvals (R-43) and break-the-glass reviews (R-04) as one list, oldest first, each with who
 * raised it, for which patient, when (hospital time) and how long it has waited, its quick
 * action, and a drawer with everything the API says and every decision it can take. What the API
 * refuses is shown in its words; after a decision the item leaves the list (the API's lists no
 * longer hold it; a sealed case leaves while an unseal approval of it is still usable, as
 * `GET /disputes/{id}/confirmations` lists it).
 */
export function InboxPage() {
  const { t } = useTranslation();
  const params = useSearchParams();
  const kind = (params.get('kind') ?? 'all') as InboxKind | 'all';
  const selected = params.get('item');
  const grants = useGrants();
  const amendments = useAmendments();
  const breakGlass = useBreakGlass();
  const sealed = useSealedCases();
  const documents = useDocuments((amendments.data ?? []).filter((a) => a.status === 'requested').map((a) => a.document));
  // A sealed case whose unseal a colleague (or this person) already approved no longer waits.
  const given = useUnsealApprovals(sealed.data);
  const hidden = new Set(given.map((c) => `unseal:${c.dispute}`));
  const all = buildInbox({ grants: grants.data, amendments: amendments.data, breakGlass: breakGlass.data, sealed: sealed.data, documents: documents.data, hidden });
  const shown = kind === 'all' ? all : all.filter((i) => i.kind === kind);
  const patients = usePatients([...all.map((i) => i.patient ?? ''), ...given.map((c) => c.patient ?? '')]);
  const person = usePeopleNames(all.flatMap((i) => [i.requester, ...(i.kind === 'grant' ? [i.grant.grantee] : []), ...(i.kind === 'unseal' ? [i.dispute.openedBy] : [])]));
  const names: Names = { patient: (id) => (id ? (nameOf(patients.data?.get(id)) ?? id) : '—'), person };
  const sources = [
    { kind: 'grant' as const, q: grants },
    { kind: 'amendment' as const, q: amendments },
    { kind: 'unseal' as const, q: sealed },
    { kind: 'break-glass' as const, q: breakGlass },
  ];
  const loading = sources.some((s) => s.q.isPending);
  const [notice, setNotice] = useState<string>();
  const open = (key?: string) => {
    const query = new URLSearchParams(kind === 'all' ? {} : { kind });
    if (key) query.set('item', key);
    navigate(`/approvals${query.size ? `?${query}` : ''}`, { replace: !key });
  };

  return (
    <Stack gap="md">
      <Group justify="space-between">
        <Title order={2}>{t('medicalAffairs.inbox.title')}</Title>
        <Button variant="default" onClick={() => sources.forEach((s) => void s.q.refetch())} loading={sources.some((s) => s.q.isFetching)}>
          {t('medicalAffairs.inbox.refresh')}
        </Button>
      </Group>
      <Text size="sm">{t('medicalAffairs.inbox.intro')}</Text>
      <SegmentedControl
        aria-label={t('medicalAffairs.inbox.kindFilter')}
        value={kind}
        onChange={(v) => navigate(v === 'all' ? '/approvals' : `/approvals?kind=${v}`, { replace: true })}
        data={[{ value: 'all', label: `${t('medicalAffairs.inbox.all')} ${all.length}` }, ...INBOX_KINDS.map((k) => ({ value: k, label: `${t(`medicalAffairs.kinds.${k}`)} ${all.filter((i) => i.kind === k).length}` }))]}
      />
      {sources.map((s) =>
        s.q.error ? (
          <Stack key={s.kind} gap={4}>
            <Text fw={600}>{t('medicalAffairs.inbox.listFailed', { kind: t(`medicalAffairs.kinds.${s.kind}`) })}</Text>
            <Refusal error={s.q.error} />
          </Stack>
        ) : null,
      )}
      {notice ? <Decided testId="notice">{notice}</Decided> : null}
      <RecentUnseals given={given} names={names} />
      {loading ? <Text c="dimmed">{t('medicalAffairs.inbox.loading')}</Text> : null}
      {!loading && shown.length === 0 ? <Text c="dimmed">{t('medicalAffairs.inbox.empty')}</Text> : null}
      {shown.length > 0 ? <InboxTable items={shown} names={names} onOpen={open} onNotice={setNotice} /> : null}
      <ItemDrawer
        items={all}
        selected={selected}
        names={names}
        onClose={() => open()}
        onDone={(done) => setNotice(done.message)}
      />
    </Stack>
  );
}

function InboxTable({ items, names, onOpen, onNotice }: { items: InboxItem[]; names: Names; onOpen: (key: string) => void; onNotice: (m: string | undefined) => void }) {
  const { t } = useTranslation();
  const times = useTimes();
  const kindOf = useKindLabel();
  const decision = useDecision();
  const [failed, setFailed] = useState<string>();
  const grantText = useGrantApprovedText();
  const quick = (item: InboxItem) => {
    setFailed(item.key);
    onNotice(undefined);
    const done = (answer: unknown) => {
      setFailed(undefined);
      onNotice(item.kind === 'grant' ? grantText(askedUntil(item.grant), answer as AccessGrant) : t(item.kind === 'break-glass' ? 'medicalAffairs.decide.reviewed' : 'medicalAffairs.decide.approved'));
    };
    if (item.kind === 'grant' || item.kind === 'amendment') decision.mutate({ kind: item.kind, id: item.id, approve: true }, { onSuccess: done });
    else if (item.kind === 'break-glass') decision.mutate({ kind: 'break-glass', id: item.id }, { onSuccess: done });
    else onOpen(item.key);
  };
  return (
    <Stack gap="xs">
      {failed && decision.error ? <Refusal error={decision.error} /> : null}
      <Text size="sm" c="dimmed">
        {t('medicalAffairs.inbox.count', { count: items.length })}
      </Text>
      <Table striped highlightOnHover withTableBorder aria-label={t('medicalAffairs.inbox.title')} data-testid="inbox">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t('medicalAffairs.inbox.columns.kind')}</Table.Th>
            <Table.Th>{t('medicalAffairs.inbox.columns.asked')}</Table.Th>
            <Table.Th>{t('medicalAffairs.inbox.columns.waited')}</Table.Th>
            <Table.Th>{t('medicalAffairs.inbox.columns.requester')}</Table.Th>
            <Table.Th>{t('medicalAffairs.inbox.columns.patient')}</Table.Th>
            <Table.Th>{t('medicalAffairs.inbox.columns.subject')}</Table.Th>
            <Table.Th>{t('medicalAffairs.inbox.columns.action')}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {items.map((item) => {
            const kind = kindOf(item);
            const patient = names.patient(item.patient);
            const time = times.dateTime(item.at);
            const primary =
              item.kind === 'unseal'
                ? { label: t('medicalAffairs.inbox.unsealShort'), aria: t('medicalAffairs.inbox.unsealOf', { patient, time }) }
                : item.kind === 'break-glass'
                  ? { label: t('medicalAffairs.decide.review'), aria: t('medicalAffairs.inbox.reviewOf', { patient, time }) }
                  : { label: t('medicalAffairs.decide.approve'), aria: t('medicalAffairs.inbox.approveOf', { kind, patient, time }) };
            return (
              <Table.Tr key={item.key} data-item={item.key} data-kind={item.kind}>
                <Table.Td>
                  <Badge color={COLOURS[item.kind]} variant="filled" autoContrast>
                    {kind}
                  </Badge>
                </Table.Td>
                <Table.Td>{time}</Table.Td>
                <Table.Td>{times.waited(item.at)}</Table.Td>
                <Table.Td>{names.person(item.requester)}</Table.Td>
                <Table.Td>{patient}</Table.Td>
                <Table.Td maw={260}>
                  <Text size="sm" lineClamp={2}>
                    {item.subject}
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Group gap={6} wrap="nowrap">
                    <Button size="xs" onClick={() => quick(item)} loading={decision.isPending && decision.variables?.id === item.id} aria-label={primary.aria}>
                      {primary.label}
                    </Button>
                    <Button size="xs" variant="default" onClick={() => onOpen(item.key)} aria-label={t('medicalAffairs.inbox.detailsOf', { kind, patient, time })}>
                      {t('medicalAffairs.inbox.details')}
                    </Button>
                  </Group>
                </Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
    </Stack>
  );
}

/** The drawer of one item: its details and its decisions; after one, what the API answered (the item has left the list). */
function ItemDrawer({ items, selected, names, onClose, onDone }: { items: InboxItem[]; selected: string | null; names: Names; onClose: () => void; onDone: (d: Done) => void }) {
  const { t } = useTranslation();
  const kindOf = useKindLabel();
  const last = useRef<InboxItem>(undefined);
  const [done, setDone] = useState<{ key: string; message: string }>();
  const item = findItem(items, selected) ?? (last.current?.key === selected ? last.current : undefined);
  last.current = item;
  const finished = done && done.key === selected ? done.message : undefined;
  return (
    <Drawer
      opened={selected !== null}
      onClose={onClose}
      position="right"
      size="lg"
      title={item ? `${kindOf(item)} · ${names.patient(item.patient)}` : t('medicalAffairs.inbox.details')}
      closeButtonProps={{ 'aria-label': t('medicalAffairs.drawer.close') }}
      // react-remove-scroll writes a <style> tag without the page's nonce: the CSP (no 'unsafe-inline') refuses it.
      lockScroll={false}
    >
      <Stack gap="md" data-testid="drawer">
        {item ? <ItemDetails item={item} names={names} /> : <Text>{t('medicalAffairs.drawer.gone')}</Text>}
        {finished ? (
          <Decided testId="decided">{finished}</Decided>
        ) : item ? (
          <Decisions
            key={item.key}
            item={item}
            onDone={(d) => {
              setDone({ key: item.key, message: d.message });
              onDone(d);
            }}
          />
        ) : null}
      </Stack>
    </Drawer>
  );
}

/** What the API answered to a decision, announced politely (role="status"). */
function Decided({ testId, children }: { testId: string; children: string }) {
  return (
    <Paper withBorder p="sm" role="status" data-testid={testId}>
      <Text c="teal.9" fw={600}>
        {children}
      </Text>
    </Paper>
  );
}

function RecentUnseals({ given, names }: { given: Confirmation[]; names: Names }) {
  const { t } = useTranslation();
  const times = useTimes();
  if (given.length === 0) return null;
  return (
    <Stack gap={4} data-testid="recent-unseals">
      <Text fw={600}>{t('medicalAffairs.unseal.recent')}</Text>
      <List size="sm">
        {given.map((c) => (
          <List.Item key={c.id}>
            {t('medicalAffairs.unseal.recentItem', { patient: names.patient(c.patient), basis: t(`medicalAffairs.unseal.bases.${c.basis === 'no-claim' ? 'no-claim' : 'resolved'}`), until: times.dateTime(c.validUntil) })}
          </List.Item>
        ))}
      </List>
    </Stack>
  );
}
