import { Button, Paper, Radio, Stack, Text, Textarea, TextInput, Title } from '@mantine/core';
import { useState, type FormEvent, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { useTimes } from '../common/time';
import { usePolicyNumbers } from './affairs-settings';
import { useDecision, type AccessGrant, type Confirmation, type Decision, type UnsealBasis } from './approvals.api';
import { askedUntil, grantCut, noClaimUnsealFrom, type InboxItem } from './inbox';
import { Refusal } from './Refusal';

/** What a decision the API accepted says, for the page to show. */
export interface Done {
  message: string;
}

/** The words for a grant the API approved: until when, and whether the policy's limit cut it. */
export function useGrantApprovedText(): (asked: string, approved: AccessGrant) => string {
  const { t } = useTranslation();
  const times = useTimes();
  return (asked, approved) => {
    const until = approved.validUntil ? times.dateTime(approved.validUntil) : '—';
    return grantCut(asked, approved) ? t('medicalAffairs.decide.grantCapped', { requested: times.dateTime(asked), until }) : t('medicalAffairs.decide.grantApproved', { until });
  };
}

/** One decision's form: a title, its fields, its button, and the API's refusal under it. */
function DecisionForm({ name, title, button, busy, error, danger, onSubmit, children }: { name: string; title: string; button: string; busy: boolean; error: unknown; danger?: boolean; onSubmit: () => void; children?: ReactNode }) {
  const id = `decision-${name}`;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onSubmit();
  };
  return (
    <Paper withBorder p="md" component="form" onSubmit={submit} aria-labelledby={id} data-decision={name}>
      <Stack gap="sm">
        <Title order={3} size="h5" id={id}>
          {title}
        </Title>
        {children}
        <Refusal error={error} />
        <Button type="submit" loading={busy} color={danger ? 'red.8' : undefined}>
          {button}
        </Button>
      </Stack>
    </Paper>
  );
}

/** One form's state: its note, and its own request to the API (its own refusal). */
function useForm(onDone: (done: Done) => void, describe: (answer: unknown) => Done) {
  const decision = useDecision();
  const [note, setNote] = useState('');
  return {
    note,
    setNote,
    busy: decision.isPending,
    error: decision.error,
    send: (d: Decision) => decision.mutate(d, { onSuccess: (answer) => onDone(describe(answer)) }),
  };
}

/** The decisions an item can take; every check is the API's. */
export function Decisions({ item, onDone }: { item: InboxItem; onDone: (done: Done) => void }) {
  switch (item.kind) {
    case 'grant':
    case 'amendment':
      return (
        <Stack gap="md">
          <ApproveOrRefuse item={item} approve onDone={onDone} />
          <ApproveOrRefuse item={item} approve={false} onDone={onDone} />
        </Stack>
      );
    case 'break-glass':
      return <Review item={item} onDone={onDone} />;
    case 'unseal':
      return <UnsealApproval item={item} onDone={onDone} />;
  }
}

function ApproveOrRefuse({ item, approve, onDone }: { item: Extract<InboxItem, { kind: 'grant' | 'amendment' }>; approve: boolean; onDone: (d: Done) => void }) {
  const { t } = useTranslation();
  const grantText = useGrantApprovedText();
  const describe = (answer: unknown): Done => ({
    message: item.kind === 'grant' && approve ? grantText(askedUntil(item.grant), answer as AccessGrant) : t(approve ? 'medicalAffairs.decide.approved' : 'medicalAffairs.decide.refused'),
  });
  const form = useForm(onDone, describe);
  const send = () => form.send({ kind: item.kind, id: item.id, approve, note: form.note.trim() || undefined });
  const noteLabel = approve ? t('medicalAffairs.decide.note') : t('medicalAffairs.decide.refuseNote');
  return (
    <DecisionForm
      name={approve ? 'approve' : 'refuse'}
      title={approve ? t('medicalAffairs.decide.approveTitle') : t('medicalAffairs.decide.refuseTitle')}
      button={approve ? t('medicalAffairs.decide.approve') : t('medicalAffairs.decide.refuse')}
      busy={form.busy}
      error={form.error}
      danger={!approve}
      onSubmit={send}
    >
      {!approve && item.kind === 'amendment' ? <Text size="sm">{t('medicalAffairs.decide.refuseHint')}</Text> : null}
      <TextInput label={noteLabel} value={form.note} onChange={(e) => form.setNote(e.currentTarget.value)} />
    </DecisionForm>
  );
}

function Review({ item, onDone }: { item: Extract<InboxItem, { kind: 'break-glass' }>; onDone: (d: Done) => void }) {
  const { t } = useTranslation();
  const form = useForm(onDone, () => ({ message: t('medicalAffairs.decide.reviewed') }));
  return (
    <DecisionForm
      name="review"
      title={t('medicalAffairs.decide.reviewTitle')}
      button={t('medicalAffairs.decide.review')}
      busy={form.busy}
      error={form.error}
      onSubmit={() => form.send({ kind: 'break-glass', id: item.id, note: form.note.trim() || undefined })}
    >
      <Text size="sm">{t('medicalAffairs.decide.reviewHint')}</Text>
      <TextInput label={t('medicalAffairs.decide.reviewNote')} value={form.note} onChange={(e) => form.setNote(e.currentTarget.value)} />
    </DecisionForm>
  );
}

/**
 * Medical affairs' approval of a unilateral unseal (R-43): `resolved` at any time with how, or
 * `no-claim` once the policy's years have run since sealing (offered only from that date when
 * the server states the years; the server checks it again when the disputes office unseals).
 */
function UnsealApproval({ item, onDone }: { item: Extract<InboxItem, { kind: 'unseal' }>; onDone: (d: Done) => void }) {
  const { t } = useTranslation();
  const times = useTimes();
  const policy = usePolicyNumbers();
  const [basis, setBasis] = useState<UnsealBasis>('resolved');
  const sealedAt = item.dispute.sealedAt;
  const from = sealedAt && policy.unsealYears ? noClaimUnsealFrom(sealedAt, policy.unsealYears) : undefined;
  const date = from ? times.dateTime(from.toISOString()) : '';
  const noClaimLabel = from ? t('medicalAffairs.unseal.noClaim', { years: policy.unsealYears, date }) : t('medicalAffairs.unseal.noClaimUnknownYears');
  const notYet = from !== undefined && from.getTime() > Date.now();
  const form = useForm(onDone, (answer) => {
    const c = answer as Confirmation;
    return { message: t('medicalAffairs.unseal.approved', { basis: t(`medicalAffairs.unseal.bases.${basis}`), id: c.id, until: times.dateTime(c.validUntil) }) };
  });
  return (
    <DecisionForm
      name="unseal"
      title={t('medicalAffairs.unseal.title')}
      button={t('medicalAffairs.unseal.approve')}
      busy={form.busy}
      error={form.error}
      onSubmit={() => form.send({ kind: 'unseal', id: item.id, basis, reason: form.note.trim() })}
    >
      <Text size="sm">{policy.confirmationMinutes ? t('medicalAffairs.unseal.hint', { minutes: t('time.minutes', { count: policy.confirmationMinutes }) }) : t('medicalAffairs.unseal.hintUnknown')}</Text>
      <Radio.Group label={t('medicalAffairs.unseal.basis')} value={basis} onChange={(v) => setBasis(v as UnsealBasis)}>
        <Stack gap={6} mt={4}>
          <Radio value="resolved" label={t('medicalAffairs.unseal.resolved')} />
          <Radio value="no-claim" label={noClaimLabel} disabled={notYet} />
        </Stack>
      </Radio.Group>
      {notYet ? (
        <Text size="sm" data-testid="no-claim-not-yet">
          {t('medicalAffairs.unseal.noClaimNotYet', { years: policy.unsealYears, date })}
        </Text>
      ) : null}
      <Textarea label={t('medicalAffairs.unseal.reason')} value={form.note} onChange={(e) => form.setNote(e.currentTarget.value)} autosize minRows={2} />
    </DecisionForm>
  );
}
