import { Button, Group, Radio, Stack, Text, TextInput } from '@mantine/core';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useApi } from '../api/ApiProvider';
import { nameOf, resourcesOf, type Bundle, type Patient } from '../api/fhir';
import { RefusalAlert } from '../common/RefusalAlert';

/**
 * Finds the patient a request is for: a FHIR search by name (or by id), as the signed-in
 * clerk (the policy decides what the record room may search; the search is in the audit trail).
 */
export function PatientPicker({ value, onChange }: { value?: Patient; onChange: (patient: Patient | undefined) => void }) {
  const { t } = useTranslation();
  const api = useApi();
  const [query, setQuery] = useState('');
  const [found, setFound] = useState<Patient[] | undefined>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  const search = async (e?: { preventDefault(): void }) => {
    e?.preventDefault();
    const q = query.trim();
    if (!q) return;
    setBusy(true);
    setError(undefined);
    try {
      let patients = resourcesOf(await api.fhir<Bundle<Patient>>(`Patient?name=${encodeURIComponent(q)}&_count=20`), 'Patient');
      if (patients.length === 0 && /^[A-Za-z0-9\-.]{1,64}$/.test(q)) patients = resourcesOf(await api.fhir<Bundle<Patient>>(`Patient?_id=${encodeURIComponent(q)}`), 'Patient');
      setFound(patients);
      if (patients.length === 1) onChange(patients[0]);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Stack gap="xs">
      <Group align="flex-end" gap="xs">
        <TextInput
          label={t('intake.patientSearch')}
          placeholder={t('intake.patientSearchPlaceholder')}
          value={query}
          onChange={(e) => setQuery(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter') void search(e);
          }}
          w={280}
        />
        <Button variant="light" onClick={() => void search()} loading={busy}>
          {t('intake.search')}
        </Button>
      </Group>
      <RefusalAlert error={error} />
      {found && found.length === 0 ? <Text c="dimmed">{t('intake.noPatients')}</Text> : null}
      {found && found.length > 0 ? (
        <Radio.Group label={t('intake.choosePatient')} value={value?.id ?? null} onChange={(id) => onChange(found.find((p) => p.id === id))}>
          <Stack gap={4} mt={4}>
            {found.map((p) => (
              <Radio key={p.id} value={p.id} label={`${nameOf(p) ?? '?'} · ${p.gender ? t(`gender.${p.gender === 'male' || p.gender === 'female' ? p.gender : 'other'}`) : ''} · ${p.birthDate ?? ''} · ${p.id}`} />
            ))}
          </Stack>
        </Radio.Group>
      ) : null}
    </Stack>
  );
}
