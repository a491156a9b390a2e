import { Button, Group, Paper, Select, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { usePeopleNames } from '../api/names';
import { Link, navigate, useSearchParams } from '../app/router';
import { RefusalAlert } from '../common/RefusalAlert';
import { useTimes } from '../common/time';
import { agentOf, entitiesOf, useAuditSearch, type AuditCriteria, type AuditEvent } from './audit.api';
import { useAuditLabel } from './labels';

const FIELDS = ['patient', 'agent', 'from', 'to', 'outcome', 'action', 'subtype', 'entity'] as const;
const OUTCOMES = ['0', '4', '8', '12'];
const ACTIONS = ['C', 'R', 'U', 'D', 'E'];
/** Cells that must not wrap (times, badges, ids): set through the DOM, as the console's CSP allows. */
const NOWRAP = { whiteSpace: 'nowrap' } as const;

/** The criteria a URL holds (`?patient=…&agent=…&from=…`), or none when it holds none. */
function criteriaOf(params: URLSearchParams): AuditCriteria | undefined {
  const c: AuditCriteria = {};
  for (const f of FIELDS) {
    const v = params.get(f);
    if (v) c[f] = v;
  }
  return Object.keys(c).length ? c : undefined;
}

/**
 * The audit trail searched: by patient, staff, date range, outcome, action,
 * interaction or record, as `GET /fhir/AuditEvent` takes them (src/audit/audit-search.ts); the
 * criteria live in the URL, pages follow the Bundle's `next` link, each entry opens in detail.
 */
export function AuditSearchPage() {
  const { t } = useTranslation();
  const label = useAuditLabel();
  const params = useSearchParams();
  const criteria = criteriaOf(params);
  const [form, setForm] = useState<AuditCriteria>(() => criteria ?? {});
  const set = (f: keyof AuditCriteria) => (v: string | null) => setForm((old) => ({ ...old, [f]: v ?? '' }));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const f of FIELDS) if (form[f]) q.set(f, form[f] as string);
    // An empty search is the whole trail, newest first (`all=1` keeps it a search).
    navigate(`/audit/events?${q.toString() || 'all=1'}`);
  };
  const text = (f: keyof AuditCriteria, label: string, type = 'text') => (
    <TextInput type={type} label={label} value={form[f] ?? ''} onChange={(e) => set(f)(e.currentTarget.value)} />
  );
  const searched = criteria ?? (params.get('all') ? {} : undefined);
  return (
    <Stack gap="md">
      <Title order={2}>{t('auditors.search.title')}</Title>
      <Paper withBorder p="md" component="form" onSubmit={submit} aria-label={t('auditors.search.title')}>
        <Group align="flex-end" gap="sm" wrap="wrap">
          {text('patient', t('auditors.search.patient'))}
          {text('agent', t('auditors.search.agent'))}
          {text('from', t('auditors.search.from'), 'date')}
          {text('to', t('auditors.search.to'), 'date')}
          <Select
            label={t('auditors.search.outcome')}
            data={[{ value: '', label: t('auditors.search.any') }, ...OUTCOMES.map((o) => ({ value: o, label: `${o} ${label('outcomes', o)}` }))]}
            value={form.outcome ?? ''}
            onChange={set('outcome')}
            allowDeselect={false}
            w={200}
          />
          <Select
            label={t('auditors.search.action')}
            data={[{ value: '', label: t('auditors.search.any') }, ...ACTIONS.map((a) => ({ value: a, label: `${a} ${label('actions', a)}` }))]}
            value={form.action ?? ''}
            onChange={set('action')}
            allowDeselect={false}
            w={160}
          />
          {text('subtype', t('auditors.search.subtype'))}
          {text('entity', t('auditors.search.entity'))}
          <Button type="submit">{t('auditors.search.submit')}</Button>
          <Button
            variant="subtle"
            onClick={() => {
              setForm({});
              navigate('/audit/events');
            }}
          >
            {t('auditors.search.reset')}
          </Button>
        </Group>
      </Paper>
      {searched ? <Results criteria={searched} /> : null}
    </Stack>
  );
}

function Results({ criteria }: { criteria: AuditCriteria }) {
  const { t } = useTranslation();
  const search = useAuditSearch(criteria);
  const events = (search.data?.pages ?? []).flatMap((p) => (p.entry ?? []).map((e) => e.resource)).filter((r): r is AuditEvent => r?.resourceType === 'AuditEvent');
  const total = search.data?.pages[0]?.total;
  if (search.error) return <RefusalAlert error={search.error} />;
  if (!search.data) return <Text c="dimmed">…</Text>;
  return (
    <Paper withBorder p="md">
      <Text mb="sm" data-testid="search-total">
        {t('auditors.search.total', { total: total ?? events.length, shown: events.length })}
      </Text>
      {events.length === 0 ? <Text c="dimmed">{t('auditors.search.empty')}</Text> : <EventTable events={events} />}
      {search.hasNextPage ? (
        <Button mt="sm" variant="outline" onClick={() => void search.fetchNextPage()} loading={search.isFetchingNextPage}>
          {t('auditors.search.more')}
        </Button>
      ) : null}
    </Paper>
  );
}

function EventTable({ events }: { events: AuditEvent[] }) {
  const { t } = useTranslation();
  const times = useTimes();
  const label = useAuditLabel();
  const person = usePeopleNames(events.map((e) => agentOf(e).id ?? ''));
  return (
    <Table withTableBorder striped aria-label={t('auditors.search.title')} data-testid="audit-results">
      <Table.Thead>
        <Table.Tr>
          <Table.Th style={NOWRAP}>{t('auditors.search.recorded')}</Table.Th>
          <Table.Th style={NOWRAP}>{t('auditors.search.who')}</Table.Th>
          <Table.Th style={NOWRAP}>{t('auditors.search.act')}</Table.Th>
          <Table.Th style={NOWRAP}>{t('auditors.search.patientCol')}</Table.Th>
          <Table.Th style={NOWRAP}>{t('auditors.search.record')}</Table.Th>
          <Table.Th style={NOWRAP}>{t('auditors.search.purpose')}</Table.Th>
          <Table.Th style={NOWRAP}>{t('auditors.search.result')}</Table.Th>
          <Table.Th style={NOWRAP}>{t('auditors.search.detail')}</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {events.map((e) => {
          const agent = agentOf(e);
          const { patient, records } = entitiesOf(e);
          const subtype = e.subtype?.[0]?.code ?? '';
          const ok = e.outcome === '0';
          return (
            <Table.Tr key={e.id} data-event={e.id}>
              <Table.Td style={NOWRAP}>{times.dateTime(e.recorded)}</Table.Td>
              <Table.Td style={NOWRAP}>
                {agent.id ? person(agent.id) : '—'}
                <Text size="xs">{agent.roles.map((r) => label('roles', r)).join('、')}</Text>
              </Table.Td>
              <Table.Td style={NOWRAP}>{label('subtypes', subtype)}</Table.Td>
              <Table.Td>{patient ?? '—'}</Table.Td>
              <Table.Td>{records.join('、') || '—'}</Table.Td>
              <Table.Td style={NOWRAP}>
                {agent.purposes.map((p) => (
                  <Text key={p} span mr={4} c={p === 'BTG' ? 'red.9' : undefined} fw={p === 'BTG' ? 700 : undefined} data-purpose={p}>
                    {label('purposes', p)}
                  </Text>
                ))}
              </Table.Td>
              <Table.Td style={NOWRAP}>
                <Text span fw={700} c={ok ? 'teal.9' : 'red.9'}>
                  {label('outcomes', e.outcome ?? '')}
                </Text>
              </Table.Td>
              <Table.Td style={NOWRAP}>
                <Link to={`/audit/events/${encodeURIComponent(e.id)}`} aria-label={t('auditors.search.open', { id: e.id })}>
                  {e.id}
                </Link>
              </Table.Td>
            </Table.Tr>
          );
        })}
      </Table.Tbody>
    </Table>
  );
}
