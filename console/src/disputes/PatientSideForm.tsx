import { Checkbox, Paper, Select, SimpleGrid, Stack, Text, TextInput, Title } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { ID_DOCUMENT_TYPES, RELATIONSHIPS, type PatientWitnessInput } from './disputes.api';
import { useDisputeLabel } from './parts';
import { SignaturePad } from './SignaturePad';

/** The patient side's part of the form as it is filled in at the table. */
export interface PatientSideDraft {
  name: string;
  relationship: string;
  idType: string;
  idNumber: string;
  confirmed: boolean;
  /** The drawn signature, base64 PNG. */
  signature?: string;
}

/**
 * Nothing is assumed of who stands at the table: the relationship has no default (a default of
 * 本人 put a spouse on the legal papers as the patient), and the step waits until it is chosen.
 */
export const EMPTY_PATIENT_SIDE: PatientSideDraft = { name: '', relationship: '', idType: 'resident-id-card', idNumber: '', confirmed: false };

/** Whether the patient side said how they are related to the patient (the step's button waits for it). */
export const relationshipChosen = (d: PatientSideDraft): boolean => d.relationship !== '';

/** The patient side as sent: whatever was filled in; the API lists what is missing (422). */
export function patientWitnessOf(d: PatientSideDraft): PatientWitnessInput {
  return {
    name: d.name.trim(),
    relationship: d.relationship,
    idDocument: { type: d.idType, number: d.idNumber.trim() },
    ...(d.confirmed ? { confirmed: true as const } : {}),
    ...(d.signature ? { signature: { contentType: 'image/png' as const, data: d.signature } } : {}),
  } as PatientWitnessInput;
}

/**
 * The patient side at the table, on the tablet: who they are (name, relationship to
 * the patient, ID document), their signature drawn on the screen, and their confirmation of
 * what they were shown. The checkbox is also the keyboard path: typed name plus confirmation.
 */
export function PatientSideForm({ value, onChange, confirmText }: { value: PatientSideDraft; onChange: (next: PatientSideDraft) => void; confirmText: string }) {
  const { t } = useTranslation();
  const label = useDisputeLabel();
  const set = (patch: Partial<PatientSideDraft>) => onChange({ ...value, ...patch });
  return (
    <Paper withBorder p="md" data-testid="patient-side">
      <Stack gap="sm">
        <Title order={4}>{t('disputesOffice.patientSide.title')}</Title>
        <Text size="sm">{t('disputesOffice.patientSide.hint')}</Text>
        <SimpleGrid cols={{ base: 1, sm: 2 }}>
          <TextInput label={t('disputesOffice.patientSide.name')} value={value.name} onChange={(e) => set({ name: e.currentTarget.value })} required />
          <Select
            label={t('disputesOffice.patientSide.relationship')}
            data={RELATIONSHIPS.map((r) => ({ value: r, label: label('relationship', r) }))}
            value={value.relationship || null}
            onChange={(v) => set({ relationship: v ?? '' })}
            placeholder={t('disputesOffice.patientSide.relationshipPlaceholder')}
            allowDeselect={false}
            required
          />
          <Select
            label={t('disputesOffice.patientSide.idType')}
            data={ID_DOCUMENT_TYPES.map((d) => ({ value: d, label: label('idDocument', d) }))}
            value={value.idType}
            onChange={(v) => set({ idType: v ?? 'resident-id-card' })}
            allowDeselect={false}
          />
          <TextInput label={t('disputesOffice.patientSide.idNumber')} value={value.idNumber} onChange={(e) => set({ idNumber: e.currentTarget.value })} required />
        </SimpleGrid>
        <SignaturePad label={t('disputesOffice.patientSide.signature')} onChange={(signature) => set({ signature })} />
        <Checkbox
          label={value.name.trim() ? t('disputesOffice.patientSide.confirmNamed', { name: value.name.trim(), what: confirmText }) : t('disputesOffice.patientSide.confirm', { what: confirmText })}
          checked={value.confirmed}
          onChange={(e) => set({ confirmed: e.currentTarget.checked })}
        />
      </Stack>
    </Paper>
  );
}
