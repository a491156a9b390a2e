import { Anchor, Button, Grid, Group, Paper, Select, Stack, Table, Text, Title } from '@mantine/core';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from '../app/router';
import { RefusalAlert } from '../common/RefusalAlert';
import { useTimes } from '../common/time';
import { useLabel } from '../i18n';
import { peopleOf, useCopyRequest, useCopyStep, type CopyRequestView } from './copy-requests.api';
import { EvidencePicker, type PickedEvidence } from './EvidencePicker';
import { nameOf, usePatients, usePeopleNames } from '../api/names';
import { ChecklistCard, HistoryCard, ProductionsCard, useDocumentType } from './RequestParts';
import { StatusBadge } from './StatusBadge';
import { StepPanel } from './StepPanel';

/** One copy request: what was asked, the checklist and documents, the copies, its history, and the next steps. */
export function RequestPage({ params }: { params: Record<string, string> }) {
  const { t } = useTranslation();
  const request = useCopyRequest(params.id);
  const patients = usePatients(request.data ? [request.data.patient] : []);
  if (request.error) {
    return (
      <Stack>
        <BackLink />
        <RefusalAlert error={request.error} />
      </Stack>
    );
  }
  if (!request.data) return <Text c="dimmed">{t('app.loading')}</Text>;
  const r = request.data;
  const patientName = nameOf(patients.data?.get(r.patient)) ?? r.patient;
  return (
    <Stack gap="md">
      <BackLink />
      <Group gap="sm">
        <Title order={2}>{t('request.title', { name: patientName })}</Title>
        <StatusBadge status={r.status} />
      </Group>
      <Grid gap="md">
        <Grid.Col span={{ base: 12, md: 7 }}>
          <Stack gap="md">
            <SummaryCard request={r} patientName={patientName} />
            <ChecklistCard request={r} />
            {r.status === 'received' || r.status === 'verified' ? <AddEvidence request={r} /> : null}
            <ProductionsCard request={r} />
            <HistoryCard request={r} />
          </Stack>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 5 }}>
          <StepPanel request={r} />
        </Grid.Col>
      </Grid>
    </Stack>
  );
}

function BackLink() {
  const { t } = useTranslation();
  return (
    <Anchor component={Link} to="/copy-requests">
      ← {t('request.back')}
    </Anchor>
  );
}

function SummaryCard({ request: r, patientName }: { request: CopyRequestView; patientName: string }) {
  const { t } = useTranslation();
  const label = useLabel();
  const times = useTimes();
  const docType = useDocumentType();
  const person = usePeopleNames(peopleOf(r));
  const scope = r.scope.all ? t('request.scopeAll') : [...(r.scope.documentTypes ?? []).map(docType), ...(r.scope.encounters ?? []).map((e) => t('request.encounter', { id: e }))].join('、');
  const rows: [string, string][] = [
    [t('request.patient'), `${patientName} (${r.patient})`],
    [t('request.requesterType'), label('requesterType', r.requesterType)],
    [t('request.requester'), [r.requester.name, r.requester.organization, r.requester.contact].filter(Boolean).join(' · ')],
    [t('request.idNumber'), r.requester.idNumber],
    [t('request.purpose'), r.purpose],
    [t('request.scope'), scope],
    [t('request.receivedAt'), `${times.dateTime(r.receivedAt)} · ${t('request.receivedBy', { who: person(r.receivedBy) })}`],
    [r.closedAt ? t('request.tookTime') : t('request.waited'), times.waited(r.receivedAt, r.closedAt)],
  ];
  return (
    <Paper withBorder p="md">
      <Title order={3} size="h4" mb="sm">
        {t('request.summary')}
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

/** More documents while the request is not yet approved: one kind at a time, photo or upload. */
function AddEvidence({ request }: { request: CopyRequestView }) {
  const { t } = useTranslation();
  const step = useCopyStep(request.id);
  const [picked, setPicked] = useState<PickedEvidence[]>([]);
  const [kind, setKind] = useState<string | null>(null);
  const label = useLabel();
  const kinds = [...new Set(request.checklist.required.flatMap((i) => i.split(' or ')))];
  const send = async () => {
    for (const p of picked) await step.mutateAsync({ step: 'evidence', proves: p.proves, file: p.file }).catch(() => undefined);
    setPicked([]);
  };
  return (
    <Paper withBorder p="md">
      <Title order={3} size="h4" mb="sm">
        {t('request.addEvidence')}
      </Title>
      <Stack gap="sm">
        <Select label={t('request.addKind')} data={kinds.map((k) => ({ value: k, label: label('evidence', k) }))} value={kind} onChange={setKind} />
        {kind ? <EvidencePicker checklist={[[kind]]} picked={picked.filter((p) => p.proves === kind)} onChange={(next) => setPicked([...picked.filter((p) => p.proves !== kind), ...next])} /> : null}
        <RefusalAlert error={step.error} />
        <Button onClick={() => void send()} disabled={picked.length === 0} loading={step.isPending}>
          {t('request.sendEvidence', { count: picked.length })}
        </Button>
      </Stack>
    </Paper>
  );
}
