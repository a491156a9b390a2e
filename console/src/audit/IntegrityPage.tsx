import { Alert, Badge, Button, Code, Group, Paper, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../api/client';
import { usePeopleNames } from '../api/names';
import { RefusalAlert } from '../common/RefusalAlert';
import { useTimes } from '../common/time';
import { INTEGRITY_KINDS, useIntegrity, useRun, useStartRun, type IntegrityKind, type IntegrityKindState, type IntegrityRun } from './audit.api';
import { useAuditLabel } from './labels';

const STATUS_COLOR: Record<string, string> = { intact: 'teal.9', broken: 'red.9', failed: 'red.9', running: 'blue.9', abandoned: 'gray.8' };

/**
 * The state of `audit verify` (R-21) and `ledger verify` (R-12) — the run in progress, the last
 * run, the last intact run over everything — and a button per kind that starts a run in the
 * background and follows it until it ends. A broken last run is shown first, in red, with its
 * first break; a run refused because one is in progress (409) is said in words.
 */
export function IntegrityPage() {
  const { t } = useTranslation();
  const state = useIntegrity();
  return (
    <Stack gap="md">
      <Title order={2}>{t('auditors.integrity.title')}</Title>
      <Text>{t('auditors.integrity.intro')}</Text>
      {state.error ? <RefusalAlert error={state.error} /> : null}
      {state.data
        ? INTEGRITY_KINDS.map((kind) => {
            const run = state.data[kind].lastRun;
            return run?.status === 'broken' ? <BrokenAlert key={kind} run={run} /> : null;
          })
        : null}
      <SimpleGrid cols={{ base: 1, md: 2 }}>{state.data ? INTEGRITY_KINDS.map((kind) => <KindCard key={kind} kind={kind} state={state.data[kind]} />) : null}</SimpleGrid>
    </Stack>
  );
}

function BrokenAlert({ run }: { run: IntegrityRun }) {
  const { t } = useTranslation();
  const times = useTimes();
  return (
    <Alert color="red" variant="filled" role="alert" title={t('auditors.integrity.brokenTitle', { kind: t(`auditors.integrity.kinds.${run.kind}`) })} data-testid={`broken-${run.kind}`}>
      <Text>
        {times.dateTime(run.finishedAt ?? run.startedAt)} · {t('auditors.integrity.breaks', { count: run.breaks ?? 1 })}
      </Text>
      {run.firstBreak ? (
        <Text>
          {t('auditors.integrity.firstBreak')}：{run.firstBreak.problem} — <span lang="en">{run.firstBreak.detail}</span>
        </Text>
      ) : null}
    </Alert>
  );
}

function KindCard({ kind, state }: { kind: IntegrityKind; state: IntegrityKindState }) {
  const { t } = useTranslation();
  const times = useTimes();
  const start = useStartRun();
  const [started, setStarted] = useState<string>();
  const followed = useRun(started);
  const title = t(`auditors.integrity.kinds.${kind}`);
  const following = followed.data?.status === 'running' || (started !== undefined && !followed.data);
  const busy = start.isPending || following;
  const refusedRunning = start.error instanceof ApiError && start.error.code === 'integrity.running';
  return (
    <Paper withBorder p="md" data-kind={kind}>
      <Stack gap="sm">
        <Title order={3} size="h4">
          {title}
        </Title>
        {state.running ? (
          <Badge color="blue.9" variant="filled" data-testid="in-progress">
            {t('auditors.integrity.inProgress', { since: times.dateTime(state.running.startedAt) })}
          </Badge>
        ) : null}
        <RunTable heading={t('auditors.integrity.lastRun')} run={state.lastRun} testid={`last-run-${kind}`} />
        <RunTable heading={t('auditors.integrity.lastIntact')} run={state.lastIntactRun} testid={`last-intact-${kind}`} />
        <Group>
          <Button
            onClick={() => {
              setStarted(undefined);
              start.mutate(kind, { onSuccess: (run) => setStarted(run.id) });
            }}
            loading={busy}
            loaderProps={{ type: 'dots' }}
          >
            {t('auditors.integrity.start', { kind: `${kind} verify` })}
          </Button>
          {following ? <Text size="sm">{t('auditors.integrity.running')}</Text> : null}
          {followed.data && followed.data.status !== 'running' ? (
            <Text size="sm" role="status" data-testid={`finished-${kind}`} data-status={followed.data.status}>
              {t('auditors.integrity.finished', { status: t(`auditors.labels.status.${followed.data.status}`) })}
            </Text>
          ) : null}
        </Group>
        {refusedRunning ? (
          <Alert color="orange" variant="light" data-testid={`already-running-${kind}`}>
            {t('auditors.integrity.alreadyRunning')}
          </Alert>
        ) : null}
        {start.error ? <RefusalAlert error={start.error} /> : null}
        {followed.error ? <RefusalAlert error={followed.error} /> : null}
      </Stack>
    </Paper>
  );
}

function RunTable({ heading, run, testid }: { heading: string; run: IntegrityRun | null; testid: string }) {
  const { t } = useTranslation();
  const times = useTimes();
  const label = useAuditLabel();
  const person = usePeopleNames(run?.startedBy.via === 'api' ? [run.startedBy.id] : []);
  if (!run) {
    return (
      <Text data-testid={testid}>
        {heading}：{t('auditors.integrity.never')}
      </Text>
    );
  }
  const c = run.checked;
  const checked = c ? (run.kind === 'audit' ? t('auditors.integrity.checkedAudit', c) : t('auditors.integrity.checkedLedger', c)) : undefined;
  return (
    <div data-testid={testid} data-run={run.id} data-status={run.status}>
      <Group gap="xs">
        <Text fw={600}>{heading}</Text>
        <Badge color={STATUS_COLOR[run.status] ?? 'gray.8'} variant="filled">
          {label('status', run.status)}
        </Badge>
      </Group>
      <Table withRowBorders={false} aria-label={heading}>
        <Table.Tbody>
          <Row name={t('auditors.integrity.startedAt')} value={times.dateTime(run.startedAt)} />
          {run.finishedAt ? <Row name={t('auditors.integrity.finishedAt')} value={times.dateTime(run.finishedAt)} /> : null}
          {run.durationMs !== undefined ? <Row name={t('auditors.integrity.duration')} value={t('auditors.integrity.durationMs', { ms: run.durationMs })} /> : null}
          <Row name={t('auditors.integrity.startedBy')} value={`${run.startedBy.via === 'api' ? person(run.startedBy.id) : run.startedBy.id}（${t(`auditors.integrity.via.${run.startedBy.via}`)}）`} />
          <Row name={t('auditors.integrity.scope')} value={run.scope === 'everything' ? t('auditors.integrity.everything') : run.scope} />
          {checked ? <Row name="" value={checked} /> : null}
          {run.failure ? <Row name={t('auditors.integrity.failedTitle')} value={<Code>{run.failure}</Code>} /> : null}
        </Table.Tbody>
      </Table>
    </div>
  );
}

function Row({ name, value }: { name: string; value: ReactNode }) {
  return (
    <Table.Tr>
      <Table.Th w={110} fw={400}>
        {name}
      </Table.Th>
      <Table.Td>{value}</Table.Td>
    </Table.Tr>
  );
}
