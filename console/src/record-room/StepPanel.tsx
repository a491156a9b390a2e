import { Button, Checkbox, Paper, Select, Stack, Text, TextInput, Textarea, Title } from '@mantine/core';
import { useState, type FormEvent, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { RefusalAlert } from '../common/RefusalAlert';
import { useLabel } from '../i18n';
import { pendingParts, useCopyStep, type CopyRequestView, type CopyStep, type Delivery } from './copy-requests.api';

/**
 * The steps a request can take next, by where it stands: check the documents, approve or
 * refuse, produce, deliver, close. Each step is one form, sent to the API as it is; whatever the
 * API refuses (separation of duties, missing documents, a recipient who is not the requester)
 * is shown under the form in the server's words. The console checks nothing itself.
 */
export function StepPanel({ request }: { request: CopyRequestView }) {
  const { t } = useTranslation();
  const s = request.status;
  const open = !['delivered', 'refused', 'closed'].includes(s);
  return (
    <Stack gap="md" data-testid="steps">
      {s === 'received' ? <VerifyStep id={request.id} /> : null}
      {s === 'verified' ? <ApproveStep id={request.id} /> : null}
      {s === 'received' || s === 'verified' ? <ReasonStep id={request.id} step="refuse" /> : null}
      {s === 'approved' ? <ProduceStep id={request.id} /> : null}
      {s === 'produced' || s === 'partially-delivered' ? <DeliverStep id={request.id} /> : null}
      {s === 'partially-delivered' && pendingParts(request).length > 0 ? <ProduceStep id={request.id} again /> : null}
      {open ? <ReasonStep id={request.id} step="close" /> : <Text c="dimmed">{t('steps.finished')}</Text>}
    </Stack>
  );
}

/** One step's form: its title, its fields, its button, and the API's refusal when there is one. */
function StepForm({ title, children, button, busy, error, onSubmit, name }: { title: string; children?: ReactNode; button: string; busy: boolean; error: unknown; onSubmit: () => void; name: string }) {
  const id = `step-${name}`;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onSubmit();
  };
  return (
    <Paper withBorder p="md" component="form" onSubmit={submit} aria-labelledby={id} data-step={name}>
      <Stack gap="sm">
        <Title order={3} size="h4" id={id}>
          {title}
        </Title>
        {children}
        <RefusalAlert error={error} />
        <Button type="submit" loading={busy} color={name === 'refuse' || name === 'close' ? 'red.8' : undefined}>
          {button}
        </Button>
      </Stack>
    </Paper>
  );
}

function useStep(id: string) {
  const mutation = useCopyStep(id);
  return { run: (step: CopyStep) => mutation.mutate(step), busy: mutation.isPending, error: mutation.error };
}

function VerifyStep({ id }: { id: string }) {
  const { t } = useTranslation();
  const { run, busy, error } = useStep(id);
  const [checked, setChecked] = useState(false);
  return (
    <StepForm name="verify" title={t('steps.verify.title')} button={t('steps.verify.button')} busy={busy} error={error} onSubmit={() => run({ step: 'verify', identityChecked: checked })}>
      <Text size="sm">{t('steps.verify.hint')}</Text>
      <Checkbox label={t('steps.verify.identityChecked')} checked={checked} onChange={(e) => setChecked(e.currentTarget.checked)} />
    </StepForm>
  );
}

function ApproveStep({ id }: { id: string }) {
  const { t } = useTranslation();
  const { run, busy, error } = useStep(id);
  const [note, setNote] = useState('');
  return (
    <StepForm name="approve" title={t('steps.approve.title')} button={t('steps.approve.button')} busy={busy} error={error} onSubmit={() => run({ step: 'approve', reason: note.trim() || undefined })}>
      <Text size="sm">{t('steps.approve.hint')}</Text>
      <TextInput label={t('steps.approve.note')} value={note} onChange={(e) => setNote(e.currentTarget.value)} />
    </StepForm>
  );
}

/** Refusing or closing: both say why; the server refuses an empty reason itself. */
function ReasonStep({ id, step }: { id: string; step: 'refuse' | 'close' }) {
  const { t } = useTranslation();
  const { run, busy, error } = useStep(id);
  const [reason, setReason] = useState('');
  return (
    <StepForm name={step} title={t(`steps.${step}.title`)} button={t(`steps.${step}.button`)} busy={busy} error={error} onSubmit={() => run({ step, reason })}>
      <Textarea label={t(`steps.${step}.reason`)} value={reason} onChange={(e) => setReason(e.currentTarget.value)} autosize minRows={2} />
    </StepForm>
  );
}

function ProduceStep({ id, again = false }: { id: string; again?: boolean }) {
  const { t } = useTranslation();
  const { run, busy, error } = useStep(id);
  return (
    <StepForm name={again ? 'produce-again' : 'produce'} title={t(again ? 'steps.produce.againTitle' : 'steps.produce.title')} button={t('steps.produce.button')} busy={busy} error={error} onSubmit={() => run({ step: 'produce' })}>
      <Text size="sm">{t('steps.produce.hint')}</Text>
    </StepForm>
  );
}

function DeliverStep({ id }: { id: string }) {
  const { t } = useTranslation();
  const label = useLabel();
  const { run, busy, error } = useStep(id);
  const [delivery, setDelivery] = useState<Delivery>({ recipient: { name: '', idNumber: '' }, identityChecked: false, requesterChecked: false, method: 'in-person' });
  const recipient = (field: 'name' | 'idNumber', value: string) => setDelivery({ ...delivery, recipient: { ...delivery.recipient, [field]: value } });
  return (
    <StepForm name="deliver" title={t('steps.deliver.title')} button={t('steps.deliver.button')} busy={busy} error={error} onSubmit={() => run({ step: 'deliver', delivery })}>
      <Text size="sm">{t('steps.deliver.hint')}</Text>
      <TextInput label={t('steps.deliver.recipientName')} value={delivery.recipient.name} onChange={(e) => recipient('name', e.currentTarget.value)} />
      <TextInput label={t('steps.deliver.recipientIdNumber')} value={delivery.recipient.idNumber} onChange={(e) => recipient('idNumber', e.currentTarget.value)} />
      <Select
        label={t('steps.deliver.method')}
        data={(['in-person', 'mail', 'electronic'] as const).map((m) => ({ value: m, label: label('deliveryMethod', m) }))}
        value={delivery.method}
        onChange={(v) => setDelivery({ ...delivery, method: (v ?? 'in-person') as Delivery['method'] })}
        allowDeselect={false}
      />
      <Checkbox label={t('steps.deliver.identityChecked')} checked={delivery.identityChecked} onChange={(e) => setDelivery({ ...delivery, identityChecked: e.currentTarget.checked })} />
      <Checkbox label={t('steps.deliver.requesterChecked')} checked={delivery.requesterChecked} onChange={(e) => setDelivery({ ...delivery, requesterChecked: e.currentTarget.checked })} />
    </StepForm>
  );
}
