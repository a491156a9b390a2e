import { Button, Group, Radio, Stack, Text, TextInput } from '@mantine/core';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useApi } from '../api/ApiProvider';
import { nameOf, resourcesOf, type Bundle, type Patient } from '../api/fhir';
import { useRecordNumber } from '../api/names';
import { recordNumberSearch } from '../api/record-number';
import { useConfig } from '../app/config';
import { RefusalAlert } from '../common/RefusalAlert';

/**
 * Finds the patient a request is for: a FHIR search by name, else by 病案号 (the policy's
 * medical-record-number systems), else by id, as the signed-in clerk (the policy decides what
 * the record room may search; the search is in the audit trail). Each patient found is shown
 * with their 病案号, as desk staff know them; the record's id only when they have none.
 */
export function PatientPicker({ value, onChange }: { value?: Patient; onChange: (patient: Patient | undefined) => void }) {
  const { t } = useTranslation();
  const api = useApi();
  const [query, setQuery] = useState('');
  const [found, setFound] = useState<Patient[] | undefined>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const systems = useConfig().patients?.medicalRecordNumberSystems ?? [];
  const recordNumber = useRecordNumber();

  const search = async (e?: { preventDefault(): void }) => {
    e?.preventDefault();
    const q = query.trim();
    if (!q) return;
    setBusy(true);
    setError(undefined);
    try {
      let patients = resourcesOf(await api.fhir<Bundle<Patient>>(`Patient?name=${encodeURIComponent(q)}&_count=20`), 'Patient');
      const byNumber = recordNumberSearch(q, systems);
      if (patients.length === 0 && byNumber) patients = resourcesOf(await api.fhir<Bundle<Patient>>(byNumber), 'Patient');
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
              <Radio key={p.id} value={p.id} data-patient={p.id} label={`${nameOf(p) ?? '?'} · ${p.gender ? t(`gender.${p.gender === 'male' || p.gender === 'female' ? p.gender : 'other'}`) : ''} · ${p.birthDate ?? ''} · ${recordNumber(p) ?? p.id}`} />
            ))}
          </Stack>
        </Radio.Group>
      ) : null}
    </Stack>
  );
}
