import { Button, Checkbox, Divider, Group, Paper, Radio, Select, SimpleGrid, Stack, Text, TextInput, Title } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { useApi } from '../api/ApiProvider';
import { resourcesOf, type Bundle, type Encounter, type Patient } from '../api/fhir';
import { useConfig } from '../app/config';
import { Link, navigate } from '../app/router';
import { RefusalAlert } from '../common/RefusalAlert';
import { useTimes } from '../common/time';
import { useLabel } from '../i18n';
import { uploadEvidence, type CopyRequestView, type NewCopyRequest } from './copy-requests.api';
import { EvidencePicker, type PickedEvidence } from './EvidencePicker';
import { PatientPicker } from './PatientPicker';

/**
 * Receiving a copy request at the desk (R-30): the patient, who asks and as whom, why, and for
 * which visits; the requester type's checklist (the policy's, from config.json) with photos or
 * scans of each document. Sent as the request, then each document; then the request's page.
 */
export function IntakePage() {
  const { t } = useTranslation();
  const label = useLabel();
  const api = useApi();
  const client = useQueryClient();
  const { copyRequests } = useConfig();
  const [patient, setPatient] = useState<Patient | undefined>();
  const [requesterType, setRequesterType] = useState<string>('patient');
  const [requester, setRequester] = useState({ name: '', idNumber: '', organization: '', contact: '' });
  const [purpose, setPurpose] = useState('');
  const [scopeAll, setScopeAll] = useState('all');
  const [encounters, setEncounters] = useState<string[]>([]);
  const [picked, setPicked] = useState<PickedEvidence[]>([]);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<string | undefined>();
  const checklist = copyRequests.checklists[requesterType] ?? [];

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    const body: NewCopyRequest = {
      patient: patient ? `Patient/${patient.id}` : '',
      requesterType,
      requester: { name: requester.name, idNumber: requester.idNumber, ...(requester.organization ? { organization: requester.organization } : {}), ...(requester.contact ? { contact: requester.contact } : {}) },
      purpose,
      scope: scopeAll === 'all' ? { all: true } : { encounters },
    };
    try {
      const request = await api.post<CopyRequestView>('/copy-requests', body);
      setCreated(request.id);
      const refused: unknown[] = [];
      for (const p of picked) await uploadEvidence(api, request.id, p.proves, p.file).catch((err: unknown) => refused.push(err));
      await client.invalidateQueries({ queryKey: ['copy-requests'] });
      // The request exists either way: a refused document is shown here, and added again on the request's page.
      if (refused.length) setError(refused[0]);
      else navigate(`/copy-requests/${request.id}`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={(e) => void submit(e)} aria-labelledby="intake-title">
      <Stack gap="md" maw={960}>
        <Title order={2} id="intake-title">
          {t('intake.title')}
        </Title>
        <Paper withBorder p="md">
          <Title order={3} size="h4" mb="sm">
            {t('intake.patient')}
          </Title>
          <PatientPicker value={patient} onChange={setPatient} />
        </Paper>
        <Paper withBorder p="md">
          <Title order={3} size="h4" mb="sm">
            {t('intake.requester')}
          </Title>
          <SimpleGrid cols={{ base: 1, sm: 2 }}>
            <Select
              label={t('intake.requesterType')}
              data={copyRequests.requesterTypes.map((type) => ({ value: type, label: label('requesterType', type) }))}
              value={requesterType}
              onChange={(v) => {
                setRequesterType(v ?? 'patient');
                setPicked([]);
              }}
              allowDeselect={false}
              required
            />
            <TextInput label={t('intake.requesterName')} value={requester.name} onChange={(e) => setRequester({ ...requester, name: e.currentTarget.value })} required />
            <TextInput label={t('intake.requesterIdNumber')} value={requester.idNumber} onChange={(e) => setRequester({ ...requester, idNumber: e.currentTarget.value })} required />
            <TextInput label={t('intake.organization')} value={requester.organization} onChange={(e) => setRequester({ ...requester, organization: e.currentTarget.value })} />
            <TextInput label={t('intake.contact')} value={requester.contact} onChange={(e) => setRequester({ ...requester, contact: e.currentTarget.value })} />
            <TextInput label={t('intake.purpose')} value={purpose} onChange={(e) => setPurpose(e.currentTarget.value)} required />
          </SimpleGrid>
        </Paper>
        <Paper withBorder p="md">
          <Radio.Group label={t('intake.scope')} value={scopeAll} onChange={setScopeAll}>
            <Group mt="xs">
              <Radio value="all" label={t('intake.scopeAll')} />
              <Radio value="encounters" label={t('intake.scopeEncounters')} disabled={!patient} />
            </Group>
          </Radio.Group>
          {scopeAll === 'encounters' && patient ? <EncounterChoice patient={patient.id} value={encounters} onChange={setEncounters} /> : null}
        </Paper>
        <Paper withBorder p="md">
          <Title order={3} size="h4" mb="sm">
            {t('intake.checklist', { type: label('requesterType', requesterType) })}
          </Title>
          <EvidencePicker checklist={checklist} picked={picked} onChange={setPicked} />
        </Paper>
        <Divider />
        <RefusalAlert error={error} />
        <Group>
          {created ? (
            <Button component={Link} to={`/copy-requests/${created}`}>
              {t('intake.openCreated')}
            </Button>
          ) : (
            <Button type="submit" loading={busy} disabled={!patient}>
              {t('intake.submit')}
            </Button>
          )}
          {!patient ? <Text c="dimmed">{t('intake.choosePatientFirst')}</Text> : null}
        </Group>
      </Stack>
    </form>
  );
}

/** The patient's visits, to copy some of them only. */
function EncounterChoice({ patient, value, onChange }: { patient: string; value: string[]; onChange: (ids: string[]) => void }) {
  const { t } = useTranslation();
  const api = useApi();
  const times = useTimes();
  const visits = useQuery({
    queryKey: ['encounters', patient],
    queryFn: async () => resourcesOf(await api.fhir<Bundle<Encounter>>(`Encounter?patient=${encodeURIComponent(`Patient/${patient}`)}&_count=50`), 'Encounter'),
  });
  if (visits.error) return <RefusalAlert error={visits.error} />;
  if (!visits.data) return <Text c="dimmed">{t('app.loading')}</Text>;
  if (visits.data.length === 0) return <Text c="dimmed">{t('intake.noEncounters')}</Text>;
  return (
    <Checkbox.Group label={t('intake.encounters')} value={value} onChange={onChange} mt="sm">
      <Stack gap={4} mt={4}>
        {visits.data.map((e) => (
          <Checkbox
            key={e.id}
            value={e.id}
            label={`${e.period?.start ? times.dateTime(e.period.start) : '?'} – ${e.period?.end ? times.dateTime(e.period.end) : ''} · ${e.class?.display ?? e.class?.code ?? ''} · ${e.serviceProvider?.display ?? e.serviceProvider?.reference ?? ''}`}
          />
        ))}
      </Stack>
    </Checkbox.Group>
  );
}
