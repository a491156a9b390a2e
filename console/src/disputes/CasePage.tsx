import { Anchor, Grid, Group, Paper, Stack, Table, Text, Title } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { nameOf, usePatients, usePeopleNames, useRecordNumber } from '../api/names';
import { Link } from '../app/router';
import { useTimes } from '../common/time';
import { CopiesCard } from './CopiesCard';
import { peopleOf, useDispute, type DisputeView } from './disputes.api';
import { InventoryCard } from './InventoryCard';
import { DisputeRefusal, DisputeStatusBadge, useDisputeLabel } from './parts';
import { SealPanel, UnsealPanel } from './StepPanels';

/** One case: what it seals and why, its inventory, the step it can take next (seal, supplement, unseal), and its copies. */
export function CasePage({ params }: { params: Record<string, string> }) {
  const { t } = useTranslation();
  const dispute = useDispute(params.id);
  const patients = usePatients(dispute.data ? [dispute.data.patient] : []);
  const recordNumber = useRecordNumber();
  if (dispute.error) {
    return (
      <Stack>
        <BackLink />
        <DisputeRefusal error={dispute.error} />
      </Stack>
    );
  }
  if (!dispute.data) return <Text>{t('app.loading')}</Text>;
  const c = dispute.data;
  const patientName = nameOf(patients.data?.get(c.patient)) ?? c.patient;
  // Known by their 病案号 at the desk; by the record's id only when they have none.
  const patientShown = `${patientName} (${recordNumber(patients.data?.get(c.patient)) ?? c.patient})`;
  return (
    <Stack gap="md">
      <BackLink />
      <Group gap="sm">
        <Title order={2}>{t('disputesOffice.case.title', { name: patientName })}</Title>
        <DisputeStatusBadge status={c.status} />
      </Group>
      <Grid gap="md">
        <Grid.Col span={{ base: 12, lg: 7 }}>
          <Stack gap="md">
            <SummaryCard dispute={c} patient={patientShown} />
            <InventoryCard dispute={c} />
            <CopiesCard dispute={c} />
          </Stack>
        </Grid.Col>
        <Grid.Col span={{ base: 12, lg: 5 }}>
          {c.status === 'open' ? <SealPanel dispute={c} /> : null}
          {c.status === 'sealed' ? <UnsealPanel dispute={c} /> : null}
          {c.status === 'unsealed' ? <Text>{t('disputesOffice.case.finished')}</Text> : null}
        </Grid.Col>
      </Grid>
    </Stack>
  );
}

function BackLink() {
  const { t } = useTranslation();
  return (
    <Anchor component={Link} to="/disputes">
      ← {t('disputesOffice.case.back')}
    </Anchor>
  );
}

function SummaryCard({ dispute: c, patient }: { dispute: DisputeView; patient: string }) {
  const { t } = useTranslation();
  const label = useDisputeLabel();
  const times = useTimes();
  const person = usePeopleNames(peopleOf(c));
  const scope =
    c.scope.kind === 'encounters'
      ? t('disputesOffice.case.scopeEncounters', { count: c.scope.encounters.length })
      : c.scope.kind === 'date-range'
        ? t('disputesOffice.case.scopePeriod', { from: c.scope.from, to: c.scope.to })
        : label('scope', 'whole-record');
  const rows: [string, string][] = [
    [t('disputesOffice.case.patient'), patient],
    [t('disputesOffice.case.trigger'), label('trigger', c.trigger)],
    [t('disputesOffice.case.scope'), scope],
    [t('disputesOffice.case.reason'), c.reason],
    [t('disputesOffice.case.opened'), `${times.dateTime(c.openedAt)} · ${person(c.openedBy)}`],
    ...(c.sealedAt ? [[t('disputesOffice.case.sealed'), `${times.dateTime(c.sealedAt)} · ${person(c.sealedBy ?? '')}`] as [string, string]] : []),
    ...(c.unsealedAt ? [[t('disputesOffice.case.unsealed'), `${times.dateTime(c.unsealedAt)} · ${c.unsealing ? label('basis', c.unsealing.basis) : ''}`] as [string, string]] : []),
    ...(c.trigger === 'public-incident' ? [[t('disputesOffice.case.team'), c.team.map((p) => person(p.replace(/^Practitioner\//, ''))).join('、')] as [string, string]] : []),
  ];
  return (
    <Paper withBorder p="md">
      <Title order={3} size="h4" mb="sm">
        {t('disputesOffice.case.summary')}
      </Title>
      <Table variant="vertical" withTableBorder data-testid="summary">
        <Table.Tbody>
          {rows.map(([k, v]) => (
            <Table.Tr key={k}>
              <Table.Th w={140}>{k}</Table.Th>
              <Table.Td>{v}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Paper>
  );
}
