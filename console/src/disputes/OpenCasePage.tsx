import { Button, Checkbox, Group, Paper, Radio, SimpleGrid, Stack, Table, Text, TextInput, Textarea, Title } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { useApi } from '../api/ApiProvider';
import { nameOf, resourcesOf, type Bundle, type Encounter, type Patient } from '../api/fhir';
import { navigate } from '../app/router';
import { useTimes } from '../common/time';
import { PatientPicker } from '../record-room/PatientPicker';
import type { DisputeScope, DisputeView, NewDispute } from './disputes.api';
import { DisputeRefusal, useDisputeLabel } from './parts';

type ScopeKind = DisputeScope['kind'];

/**
 * Opening a case (R-40, R-44): the patient, what is sealed (the whole record, some visits, or the
 * visits of a period), why, and whether it is a public-opinion incident (sealed at once, readable
 * only by the team it names). Sent as it is; the API checks the patient and the visits.
 */
export function OpenCasePage() {
  const { t } = useTranslation();
  const label = useDisputeLabel();
  const api = useApi();
  const client = useQueryClient();
  const [patient, setPatient] = useState<Patient | undefined>();
  const [kind, setKind] = useState<ScopeKind>('whole-record');
  const [encounters, setEncounters] = useState<string[]>([]);
  const [period, setPeriod] = useState({ from: '', to: '' });
  const [trigger, setTrigger] = useState<NewDispute['trigger']>('dispute');
  const [team, setTeam] = useState('');
  const [reason, setReason] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    const scope: DisputeScope = kind === 'encounters' ? { kind, encounters } : kind === 'date-range' ? { kind, ...period } : { kind };
    const teamRefs = team
      .split(/[\s,，、]+/)
      .filter(Boolean)
      .map((p) => (p.startsWith('Practitioner/') ? p : `Practitioner/${p}`));
    const body: NewDispute = { patient: patient ? `Patient/${patient.id}` : '', scope, trigger, reason, ...(trigger === 'public-incident' ? { team: teamRefs } : {}) };
    try {
      const opened = await api.post<DisputeView>('/disputes', body);
      await client.invalidateQueries({ queryKey: ['disputes'] });
      navigate(`/disputes/${opened.id}`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={(e) => void submit(e)} aria-labelledby="open-title">
      <Stack gap="md" maw={980}>
        <Title order={2} id="open-title">
          {t('disputesOffice.open.title')}
        </Title>
        <Paper withBorder p="md">
          <Title order={3} size="h4" mb="sm">
            {t('disputesOffice.open.patient')}
          </Title>
          <PatientPicker value={patient} onChange={setPatient} />
        </Paper>
        <Paper withBorder p="md">
          <Radio.Group label={t('disputesOffice.open.scope')} value={kind} onChange={(v) => setKind(v as ScopeKind)}>
            <Group mt="xs">
              {(['whole-record', 'encounters', 'date-range'] as const).map((k) => (
                <Radio key={k} value={k} label={label('scope', k)} disabled={k === 'encounters' && !patient} />
              ))}
            </Group>
          </Radio.Group>
          {kind === 'encounters' && patient ? <EncounterChoice patient={patient.id} value={encounters} onChange={setEncounters} /> : null}
          {kind === 'date-range' ? (
            <SimpleGrid cols={{ base: 1, sm: 2 }} mt="sm">
              <TextInput type="date" label={t('disputesOffice.open.from')} value={period.from} onChange={(e) => setPeriod({ ...period, from: e.currentTarget.value })} />
              <TextInput type="date" label={t('disputesOffice.open.to')} value={period.to} onChange={(e) => setPeriod({ ...period, to: e.currentTarget.value })} />
            </SimpleGrid>
          ) : null}
        </Paper>
        <Paper withBorder p="md">
          <Stack gap="sm">
            <Radio.Group label={t('disputesOffice.open.trigger')} value={trigger} onChange={(v) => setTrigger(v as NewDispute['trigger'])}>
              <Group mt="xs">
                <Radio value="dispute" label={label('trigger', 'dispute')} />
                <Radio value="public-incident" label={label('trigger', 'public-incident')} />
              </Group>
            </Radio.Group>
            {trigger === 'public-incident' ? (
              <>
                <Text size="sm">{t('disputesOffice.open.publicIncidentHint')}</Text>
                <TextInput label={t('disputesOffice.open.team')} description={t('disputesOffice.open.teamHint')} value={team} onChange={(e) => setTeam(e.currentTarget.value)} />
              </>
            ) : null}
            <Textarea label={t('disputesOffice.open.reason')} value={reason} onChange={(e) => setReason(e.currentTarget.value)} autosize minRows={2} required />
          </Stack>
        </Paper>
        <DisputeRefusal error={error} />
        <Group>
          <Button type="submit" loading={busy} disabled={!patient}>
            {trigger === 'public-incident' ? t('disputesOffice.open.submitIncident') : t('disputesOffice.open.submit')}
          </Button>
          {!patient ? <Text>{t('disputesOffice.open.choosePatientFirst')}</Text> : null}
          {patient ? <Text>{t('disputesOffice.open.chosen', { name: nameOf(patient) ?? patient.id })}</Text> : null}
        </Group>
      </Stack>
    </form>
  );
}

/** The patient's visits (read as the officer): 就诊类型, 科室, 入院 and 出院, to seal some of them. */
function EncounterChoice({ patient, value, onChange }: { patient: string; value: string[]; onChange: (ids: string[]) => void }) {
  const { t } = useTranslation();
  const label = useDisputeLabel();
  const api = useApi();
  const times = useTimes();
  const visits = useQuery({
    queryKey: ['disputes', 'encounters', patient],
    queryFn: async () => {
      const found = resourcesOf(await api.fhir<Bundle<Encounter>>(`Encounter?patient=${encodeURIComponent(`Patient/${patient}`)}&_count=50`), 'Encounter');
      const orgs = [...new Set(found.map((e) => e.serviceProvider?.reference?.replace(/^Organization\//, '')).filter((id): id is string => Boolean(id && /^[A-Za-z0-9\-.]{1,64}$/.test(id))))];
      const names = new Map<string, string>();
      if (orgs.length) {
        const bundle = await api.fhir<Bundle<{ resourceType: 'Organization'; id: string; name?: string }>>(`Organization?_id=${orgs.map(encodeURIComponent).join(',')}`).catch(() => undefined);
        for (const o of bundle ? resourcesOf(bundle, 'Organization') : []) if (o.name) names.set(o.id, o.name);
      }
      return { found, names };
    },
  });
  if (visits.error) return <DisputeRefusal error={visits.error} />;
  if (!visits.data) return <Text>{t('app.loading')}</Text>;
  if (visits.data.found.length === 0) return <Text>{t('disputesOffice.open.noEncounters')}</Text>;
  const department = (e: Encounter) => {
    const id = e.serviceProvider?.reference?.replace(/^Organization\//, '');
    return e.serviceProvider?.display ?? (id ? (visits.data.names.get(id) ?? id) : '—');
  };
  return (
    <Checkbox.Group label={t('disputesOffice.open.encounters')} value={value} onChange={onChange} mt="sm">
      <Table withTableBorder mt={4} data-testid="encounters">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>
              <span className="visually-hidden">{t('disputesOffice.open.pick')}</span>
            </Table.Th>
            <Table.Th>{t('disputesOffice.open.columns.class')}</Table.Th>
            <Table.Th>{t('disputesOffice.open.columns.department')}</Table.Th>
            <Table.Th>{t('disputesOffice.open.columns.admitted')}</Table.Th>
            <Table.Th>{t('disputesOffice.open.columns.discharged')}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {visits.data.found.map((e) => {
            const cls = e.class?.code ? label('encounterClass', e.class.code) : (e.class?.display ?? '—');
            const admitted = e.period?.start ? times.dateTime(e.period.start) : '—';
            return (
              <Table.Tr key={e.id} data-encounter={e.id}>
                <Table.Td>
                  <Checkbox value={e.id} aria-label={t('disputesOffice.open.pickVisit', { cls, department: department(e), admitted })} />
                </Table.Td>
                <Table.Td>{cls}</Table.Td>
                <Table.Td>{department(e)}</Table.Td>
                <Table.Td>{admitted}</Table.Td>
                <Table.Td>{e.period?.end ? times.dateTime(e.period.end) : t('disputesOffice.open.stillIn')}</Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
    </Checkbox.Group>
  );
}
