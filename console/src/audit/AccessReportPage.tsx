import { Badge, Button, Group, Paper, Stack, Text, TextInput, Timeline, Title } from '@mantine/core';
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { usePatients, usePeopleNames, nameOf } from '../api/names';
import { Link, navigate, useSearchParams } from '../app/router';
import { RefusalAlert } from '../common/RefusalAlert';
import { useTimes } from '../common/time';
import { patientId, RECORD_NUMBER_MAX_LENGTH, useAccessReport, useReportCsv, type AccessReportRow, type ReportSubject } from './audit.api';
import { useDepartmentNames } from './departments';
import { useAuditLabel } from './labels';

/** The Practitioner id a row's person is filed under (`Practitioner/<id>`), else the token subject. */
const personOf = (r: AccessReportRow) => (r.practitioner?.startsWith('Practitioner/') ? r.practitioner.slice('Practitioner/'.length) : r.actor);

/**
 * "Who looked at my record" for auditors: the patient's access report as a timeline,
 * one item per person and day — who (by name where the signed-in person may read it), when (in
 * the hospital's zone), what, why (purposes of use), allowed or refused, break-the-glass marked —
 * and the API's CSV. The auditor's policy has no patient search: the patient is typed in, by the
 * 病案号 a complaint arrives with (the server looks it up: `recordNumber=`) or by the record's id.
 */
export function AccessReportPage() {
  const { t } = useTranslation();
  const params = useSearchParams();
  const subject = subjectOf(params.get('patient') ?? '', params.get('recordNumber') ?? '');
  const from = params.get('from') ?? undefined;
  const to = params.get('to') ?? undefined;
  const [typed, setTyped] = useState(params.get('patient') ?? '');
  const [typedNumber, setTypedNumber] = useState(params.get('recordNumber') ?? '');
  const [fromInput, setFrom] = useState(from ?? '');
  const [toInput, setTo] = useState(to ?? '');
  const [problem, setProblem] = useState<'required' | 'onlyOne' | undefined>();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const id = patientId(typed);
    const recordNumber = typedNumber.trim();
    const wrong = id && recordNumber ? 'onlyOne' : !id && !recordNumber ? 'required' : undefined;
    setProblem(wrong);
    if (wrong) return;
    const q = new URLSearchParams(recordNumber ? { recordNumber } : { patient: id });
    if (fromInput) q.set('from', fromInput);
    if (toInput) q.set('to', toInput);
    navigate(`/audit/access-report?${q.toString()}`);
  };
  return (
    <Stack gap="md">
      <Title order={2}>{t('auditors.report.title')}</Title>
      <Text>{t('auditors.report.intro')}</Text>
      <Paper withBorder p="md" component="form" onSubmit={submit} aria-label={t('auditors.report.title')}>
        <Stack gap="sm">
          <Group align="flex-end" gap="sm" wrap="wrap">
            <TextInput
              label={t('auditors.patient.recordNumber')}
              placeholder={t('auditors.patient.recordNumberPlaceholder')}
              value={typedNumber}
              onChange={(e) => setTypedNumber(e.currentTarget.value)}
              maxLength={RECORD_NUMBER_MAX_LENGTH}
              error={problem ? t(`auditors.patient.${problem}`) : undefined}
              w={220}
            />
            <TextInput
              label={t('auditors.patient.label')}
              placeholder={t('auditors.patient.placeholder')}
              value={typed}
              onChange={(e) => setTyped(e.currentTarget.value)}
              error={problem ? t(`auditors.patient.${problem}`) : undefined}
              w={220}
            />
            <TextInput type="date" label={t('auditors.report.from')} value={fromInput} onChange={(e) => setFrom(e.currentTarget.value)} />
            <TextInput type="date" label={t('auditors.report.to')} value={toInput} onChange={(e) => setTo(e.currentTarget.value)} />
            <Button type="submit">{t('auditors.patient.show')}</Button>
          </Group>
          <Text size="sm" c="dimmed" data-testid="patient-hint">
            {t('auditors.patient.hint')}
          </Text>
        </Stack>
      </Paper>
      {subject ? <Report subject={subject} from={from} to={to} /> : null}
    </Stack>
  );
}

/** Whom the page's URL asks the report for: the 病案号 when it names one, else the patient id; none when neither. */
function subjectOf(patient: string, recordNumber: string): ReportSubject | undefined {
  const number = recordNumber.trim();
  if (number) return { recordNumber: number };
  const id = patientId(patient);
  return id ? { patient: id } : undefined;
}

function Report({ subject, from, to }: { subject: ReportSubject; from?: string; to?: string }) {
  const { t } = useTranslation();
  const report = useAccessReport(subject, from, to);
  // The patient the report is about: as typed, or as the server found them by their 病案号.
  const patient = 'patient' in subject ? subject.patient : patientId(report.data?.patient ?? '');
  const patients = usePatients(patient ? [patient] : []);
  const csv = useReportCsv();
  const rows = [...(report.data?.rows ?? [])].sort((a, b) => a.first.localeCompare(b.first));
  const name = nameOf(patients.data?.get(patient));
  const download = async () => {
    const blob = await csv.mutateAsync({ patient, from, to });
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = `access-report-Patient-${patient}.csv`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };
  if (report.error) return <RefusalAlert error={report.error} />;
  if (!report.data || !patient) return <Text c="dimmed">…</Text>;
  return (
    <Paper withBorder p="md">
      <Group justify="space-between" mb="sm">
        <Stack gap={2}>
          <Title order={3} size="h4">
            {t('auditors.report.timeline')}
          </Title>
          {/* Asked for by 病案号: the number and the id the server found (the name too, where the signed-in person may read it). */}
          {!report.data.recordNumber || name ? (
            <Text data-testid="report-patient">{t('auditors.report.patientLine', { name: name ? `${name}（Patient/${patient}）` : `Patient/${patient}` })}</Text>
          ) : null}
          {report.data.recordNumber ? (
            <Text data-testid="report-record-number">{t('auditors.report.recordNumberLine', { recordNumber: report.data.recordNumber, patient: `Patient/${patient}` })}</Text>
          ) : null}
        </Stack>
        <Button variant="outline" onClick={() => void download().catch(() => undefined)} loading={csv.isPending}>
          {t('auditors.report.csv')}
        </Button>
      </Group>
      {csv.error ? <RefusalAlert error={csv.error} /> : null}
      {rows.length === 0 ? (
        <Text c="dimmed">{t('auditors.report.empty')}</Text>
      ) : (
        <>
          <Text size="sm" c="dimmed" mb="sm">
            {t('auditors.report.namesNote')}
          </Text>
          <ReportTimeline patient={patient} rows={rows} />
        </>
      )}
    </Paper>
  );
}

function ReportTimeline({ patient, rows }: { patient: string; rows: AccessReportRow[] }) {
  const { t } = useTranslation();
  const times = useTimes();
  const label = useAuditLabel();
  const person = usePeopleNames(rows.map(personOf));
  const department = useDepartmentNames(rows.flatMap((r) => (r.department ? [r.department] : [])));
  return (
    <Timeline bulletSize={16} lineWidth={2} data-testid="access-timeline">
      {rows.map((r) => {
        const allowed = r.accesses - r.refused;
        const glass = r.breakGlass ?? 0;
        const who = r.actor === '(unidentified)' ? t('auditors.report.unidentified') : person(personOf(r));
        const entries = new URLSearchParams({ patient, agent: r.actor, from: r.day, to: r.day });
        return (
          <Timeline.Item
            key={`${r.day} ${r.actor}`}
            color={glass > 0 || r.refused > 0 ? 'red.9' : 'teal.9'}
            data-actor={r.actor}
            data-refused={r.refused}
            data-break-glass={glass}
            title={
              <Group gap="xs">
                <Text fw={700} data-testid="who">
                  {who}
                </Text>
                {who !== r.actor ? <Text size="sm">（{r.actor}）</Text> : null}
                <Text size="sm">{r.roles.map((role) => label('roles', role)).join('、')}</Text>
                {r.department ? <Text size="sm" data-testid="department">{t('auditors.report.department', { department: department(r.department) })}</Text> : null}
              </Group>
            }
          >
            <Text size="sm" data-testid="when">
              {t('auditors.report.when')}：{t('auditors.report.span', { first: times.dateTime(r.first), last: times.dateTime(r.last) })}
            </Text>
            <Text size="sm">
              {t('auditors.report.what')}：{t('auditors.report.counts', { reads: r.reads, searches: r.searches, writes: r.writes, disclosures: r.disclosures, accesses: r.accesses })}
            </Text>
            {r.disclosed.length ? <Text size="sm">{t('auditors.report.disclosed', { list: r.disclosed.join('、') })}</Text> : null}
            <Text size="sm" data-testid="why">
              {t('auditors.report.why')}：{r.purposes?.length ? r.purposes.map((p) => label('purposes', p)).join('、') : t('auditors.report.noPurpose')}
            </Text>
            <Group gap="xs" mt={4} data-testid="outcome">
              <Text size="sm">{t('auditors.report.outcome')}：</Text>
              {allowed > 0 ? (
                <Badge color="teal.9" variant="filled">
                  {t('auditors.report.allowed', { count: allowed })}
                </Badge>
              ) : null}
              {r.refused > 0 ? (
                <Badge color="red.9" variant="outline">
                  {t('auditors.report.refused', { count: r.refused })}
                </Badge>
              ) : null}
              {glass > 0 ? (
                <Badge color="red.9" variant="filled" data-testid="break-glass">
                  {t('auditors.report.breakGlass', { count: glass })}
                </Badge>
              ) : null}
            </Group>
            {r.actor === '(unidentified)' ? null : (
              <Link to={`/audit/events?${entries.toString()}`}>
                <Text size="sm" span>
                  {t('auditors.report.entries')}
                </Text>
              </Link>
            )}
          </Timeline.Item>
        );
      })}
    </Timeline>
  );
}
