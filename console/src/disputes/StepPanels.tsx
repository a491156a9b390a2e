import { Alert, Button, Paper, Radio, Stack, Text, Textarea, Title } from '@mantine/core';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useTimes } from '../common/time';
import { useDisputeStep, useInventory, type DisputeView } from './disputes.api';
import { DisputeRefusal, useDisputeLabel } from './parts';
import { EMPTY_PATIENT_SIDE, PatientSideForm, patientWitnessOf, relationshipChosen, type PatientSideDraft } from './PatientSideForm';
import { WitnessConfirm, type Confirmed } from './WitnessSignIn';

/**
 * Sealing with both sides at the table, on one screen: both have the inventory and its
 * digest in front of them; the hospital side's witness confirms that digest with their own
 * sign-in; the patient side identifies themselves, draws their signature and confirms; the
 * officer seals. Each refusal is shown where it happened, in the server's words.
 */
export function SealPanel({ dispute }: { dispute: DisputeView }) {
  const { t } = useTranslation();
  const inventory = useInventory(dispute.id);
  const step = useDisputeStep(dispute.id);
  const [witness, setWitness] = useState<Confirmed | undefined>();
  const [patientSide, setPatientSide] = useState<PatientSideDraft>(EMPTY_PATIENT_SIDE);
  const digest = inventory.data?.digest;
  if (!digest) return null;
  return (
    <Stack gap="md" data-testid="seal-panel">
      <Title order={3} size="h4">
        {t('disputesOffice.seal.title')}
      </Title>
      <WitnessConfirm
        caseId={dispute.id}
        confirmation={{ step: 'seal', inventoryDigest: digest }}
        title={t('disputesOffice.witness.sealTitle')}
        hint={t('disputesOffice.witness.sealHint', { digest: digest.slice(0, 16) })}
        confirmed={witness}
        onConfirmed={setWitness}
        testId="witness-seal"
      />
      <PatientSideForm value={patientSide} onChange={setPatientSide} confirmText={t('disputesOffice.seal.patientConfirms')} />
      <Paper withBorder p="md" component="form" data-step="seal" aria-label={t('disputesOffice.seal.button')} onSubmit={(e) => {
        e.preventDefault();
        step.mutate({ step: 'seal', inventoryDigest: digest, patientWitness: patientWitnessOf(patientSide) });
      }}>
        <Stack gap="sm">
          <Text size="sm">{t('disputesOffice.seal.hint')}</Text>
          <DisputeRefusal error={step.error} />
          <RelationshipMissing draft={patientSide} id="seal-waits" />
          <Button type="submit" color="red.9" loading={step.isPending} disabled={!relationshipChosen(patientSide)} aria-describedby={relationshipChosen(patientSide) ? undefined : 'seal-waits'}>
            {t('disputesOffice.seal.button')}
          </Button>
        </Stack>
      </Paper>
    </Stack>
  );
}

/** Why the step's button waits: the patient side has not said how they are related to the patient (G1: no 本人 by default). */
function RelationshipMissing({ draft, id }: { draft: PatientSideDraft; id: string }) {
  const { t } = useTranslation();
  if (relationshipChosen(draft)) return null;
  return (
    <Text size="sm" id={id} data-testid="relationship-missing">
      {t('disputesOffice.patientSide.relationshipMissing')}
    </Text>
  );
}

type Basis = 'both-sides' | 'resolved' | 'no-claim';

/**
 * Unsealing (R-43): with both sides again (the witness confirms the unsealing, the patient side
 * signs), or by the hospital alone once the dispute is resolved, or for want of a claim from the
 * date the policy's years give (shown as the API states it), each with medical affairs' approval
 * given with their own sign-in. The API decides whether the date has come.
 */
export function UnsealPanel({ dispute }: { dispute: DisputeView }) {
  const { t } = useTranslation();
  const label = useDisputeLabel();
  const times = useTimes();
  const step = useDisputeStep(dispute.id);
  const [basis, setBasis] = useState<Basis>('both-sides');
  const [reason, setReason] = useState('');
  const [confirmed, setConfirmed] = useState<Partial<Record<Basis, Confirmed>>>({});
  const [patientSide, setPatientSide] = useState<PatientSideDraft>(EMPTY_PATIENT_SIDE);
  const both = basis === 'both-sides';
  const waits = both && !relationshipChosen(patientSide);
  return (
    <Stack gap="md" data-testid="unseal-panel">
      <Title order={3} size="h4">
        {t('disputesOffice.unseal.title')}
      </Title>
      {dispute.unilateralUnsealFrom ? (
        <Alert color="blue" variant="light" title={t('disputesOffice.unseal.noClaimFrom', { date: times.dateTime(dispute.unilateralUnsealFrom) })} data-testid="no-claim-from">
          {t('disputesOffice.unseal.noClaimHint')}
        </Alert>
      ) : null}
      <Radio.Group label={t('disputesOffice.unseal.basis')} value={basis} onChange={(v) => setBasis(v as Basis)}>
        <Stack gap={4} mt={4}>
          {(['both-sides', 'resolved', 'no-claim'] as const).map((b) => (
            <Radio key={b} value={b} label={label('basis', b)} />
          ))}
        </Stack>
      </Radio.Group>
      {both ? null : <Textarea label={t('disputesOffice.unseal.reason')} value={reason} onChange={(e) => setReason(e.currentTarget.value)} autosize minRows={2} />}
      <WitnessConfirm
        key={basis}
        caseId={dispute.id}
        confirmation={both ? { step: 'unseal' } : { step: 'unseal', basis, reason }}
        title={both ? t('disputesOffice.witness.unsealTitle') : t('disputesOffice.witness.approvalTitle')}
        hint={both ? t('disputesOffice.witness.unsealHint') : t('disputesOffice.witness.approvalHint')}
        confirmed={confirmed[basis]}
        onConfirmed={(c) => setConfirmed({ ...confirmed, [basis]: c })}
        testId="witness-unseal"
      />
      {both ? <PatientSideForm value={patientSide} onChange={setPatientSide} confirmText={t('disputesOffice.unseal.patientConfirms')} /> : null}
      <Paper withBorder p="md" component="form" data-step="unseal" aria-label={t('disputesOffice.unseal.button')} onSubmit={(e) => {
        e.preventDefault();
        step.mutate(both ? { step: 'unseal', basis, patientWitness: patientWitnessOf(patientSide) } : { step: 'unseal', basis });
      }}>
        <Stack gap="sm">
          <DisputeRefusal error={step.error} />
          {both ? <RelationshipMissing draft={patientSide} id="unseal-waits" /> : null}
          <Button type="submit" loading={step.isPending} disabled={waits} aria-describedby={waits ? 'unseal-waits' : undefined}>
            {t('disputesOffice.unseal.button')}
          </Button>
        </Stack>
      </Paper>
    </Stack>
  );
}
