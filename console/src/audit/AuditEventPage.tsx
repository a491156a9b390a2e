import { Badge, Code, List, Paper, Stack, Table, Text, Title } from '@mantine/core';
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { usePeopleNames } from '../api/names';
import { Link } from '../app/router';
import { RefusalAlert } from '../common/RefusalAlert';
import { useTimes } from '../common/time';
import { agentOf, detailOf, entitiesOf, useAuditEvent } from './audit.api';
import { useDepartmentNames } from './departments';
import { useAuditLabel } from './labels';

/**
 * One entry of the trail: who, when, what, why, from where and how it ended, as
 * the AuditEvent holds it, with ChartWarden's details (the request, the policy rule that
 * decided, the break-the-glass reason, the entry's hash) and the AuditEvent itself.
 */
export function AuditEventPage({ params }: { params: Record<string, string> }) {
  const { t } = useTranslation();
  const times = useTimes();
  const label = useAuditLabel();
  const event = useAuditEvent(params.id);
  const e = event.data;
  const agent = e ? agentOf(e) : undefined;
  const person = usePeopleNames(agent?.id ? [agent.id] : []);
  const departmentId = e ? detailOf(e, 'department') : undefined;
  const department = useDepartmentNames(departmentId ? [departmentId] : []);
  if (event.error) return <RefusalAlert error={event.error} />;
  if (!e || !agent) return <Text c="dimmed">…</Text>;
  const { patient, records } = entitiesOf(e);
  const none = t('auditors.event.none');
  const detail = (name: string) => detailOf(e, name) ?? none;
  const rows: [string, ReactNode][] = [
    [t('auditors.event.recorded'), times.dateTime(e.recorded)],
    [t('auditors.event.type'), `${e.type.code ?? ''} ${e.type.display ?? ''}`],
    [t('auditors.event.subtype'), (e.subtype ?? []).map((s) => label('subtypes', s.code ?? '')).join('、')],
    [t('auditors.event.action'), e.action ? `${e.action} ${label('actions', e.action)}` : none],
    [
      t('auditors.event.outcome'),
      <Badge key="o" color={e.outcome === '0' ? 'teal.9' : 'red.9'} variant={e.outcome === '0' ? 'filled' : 'outline'} data-testid="event-outcome">
        {label('outcomes', e.outcome ?? '')}
      </Badge>,
    ],
    [t('auditors.event.outcomeDesc'), e.outcomeDesc ?? none],
    [t('auditors.event.who'), agent.id ? `${person(agent.id)}（${agent.id}）` : none],
    [t('auditors.event.practitioner'), agent.practitioner ?? none],
    [t('auditors.event.roles'), agent.roles.map((r) => label('roles', r)).join('、') || none],
    [t('auditors.event.department'), departmentId ? `${department(departmentId)}（${departmentId}）` : none],
    [t('auditors.event.network'), agent.address ?? none],
    [t('auditors.event.purpose'), agent.purposes.map((p) => label('purposes', p)).join('、') || none],
    [t('auditors.event.breakGlassReason'), detail('breakGlassReason')],
    [t('auditors.event.patient'), patient ?? none],
    [
      t('auditors.event.entities'),
      records.length ? (
        <List key="r" size="sm">
          {records.map((r) => (
            <List.Item key={r}>{r}</List.Item>
          ))}
        </List>
      ) : (
        none
      ),
    ],
    [t('auditors.event.request'), detail('request')],
    [t('auditors.event.httpStatus'), detail('httpStatus')],
    [t('auditors.event.rule'), detail('rule')],
    [t('auditors.event.policyVersion'), detail('policyVersion')],
    [t('auditors.event.requestId'), detail('requestId')],
    [t('auditors.event.hash'), <Code key="h">{detail('hash')}</Code>],
  ];
  return (
    <Stack gap="md">
      <Link to="/audit/events">{t('auditors.event.back')}</Link>
      <Title order={2}>{t('auditors.event.title', { id: e.id })}</Title>
      <Paper withBorder p="md">
        <Table aria-label={t('auditors.event.title', { id: e.id })} data-testid="event-detail">
          <Table.Tbody>
            {rows.map(([name, value]) => (
              <Table.Tr key={name}>
                <Table.Th w={180}>{name}</Table.Th>
                <Table.Td>{value}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Paper>
      <Paper withBorder p="md">
        <Title order={3} size="h5" mb="xs">
          {t('auditors.event.raw')}
        </Title>
        <Code block>{JSON.stringify(e, null, 2)}</Code>
      </Paper>
    </Stack>
  );
}
