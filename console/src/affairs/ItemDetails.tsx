import { Code, Table, Text } from '@mantine/core';
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { useTimes } from '../common/time';
import { usePolicyNumbers } from './affairs-settings';
import { askedUntil, noClaimUnsealFrom, type InboxItem } from './inbox';

/** Names the page already read: a patient's and a person's (their ids when not found). */
export interface Names {
  patient: (id: string | undefined) => string;
  person: (id: string) => string;
}

/** The kind of an item in words (a grant's extension is its own kind to the reader). */
export function useKindLabel(): (item: InboxItem) => string {
  const { t } = useTranslation();
  return (item) => (item.kind === 'grant' && item.extension ? t('medicalAffairs.kinds.extension') : t(`medicalAffairs.kinds.${item.kind}`));
}

function Rows({ rows, label }: { rows: [string, ReactNode][]; label: string }) {
  return (
    <Table withTableBorder variant="vertical" aria-label={label} data-testid="item-details">
      <Table.Tbody>
        {rows.map(([k, v]) => (
          <Table.Tr key={k}>
            <Table.Th w="34%" scope="row">
              {k}
            </Table.Th>
            <Table.Td>{v}</Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

/** Everything the API says about one item, in words and in the hospital's time. */
export function ItemDetails({ item, names }: { item: InboxItem; names: Names }) {
  const { t } = useTranslation();
  const times = useTimes();
  const kind = useKindLabel()(item);
  const policy = usePolicyNumbers();
  const f = (key: string) => t(`medicalAffairs.fields.${key}` as never);
  const purpose = (p: string) => {
    const known = ['research', 'teaching', 'quality-review', 'continuity-of-care', 'other', 'BTG'];
    return known.includes(p) ? t(`medicalAffairs.purposes.${p}` as never) : p;
  };
  const rows: [string, ReactNode][] = [
    [f('kind'), kind],
    [f('asked'), times.dateTime(item.at)],
    [f('waited'), times.waited(item.at)],
    [f('patient'), names.patient(item.patient)],
  ];
  switch (item.kind) {
    case 'grant': {
      const g = item.grant;
      rows.push([f('requestedBy'), names.person(g.requestedBy)], [f('grantee'), names.person(g.grantee)], [f('purpose'), purpose(g.purpose)], [f('reason'), g.reason]);
      if (item.extension) rows.push([f('currentUntil'), g.validUntil ? times.dateTime(g.validUntil) : '—'], [f('extensionUntil'), times.dateTime(askedUntil(g))], [f('reason'), g.extensionReason ?? '—']);
      else rows.push([f('requestedUntil'), times.dateTime(g.requestedUntil)]);
      rows.push([f('maxDays'), policy.grantMaxDays ? t('medicalAffairs.fields.maxDaysValue', { days: policy.grantMaxDays }) : f('maxDaysUnknown')]);
      break;
    }
    case 'amendment':
      rows.push(
        [f('requestedBy'), names.person(item.amendment.requestedBy)],
        [f('document'), <Code key="doc">{item.amendment.document}</Code>],
        [f('documentTitle'), item.document?.title ?? '—'],
        [f('reason'), item.amendment.reason],
      );
      break;
    case 'break-glass':
      rows.push(
        [f('brokenBy'), names.person(item.use.grantee)],
        [f('reason'), item.use.reason],
        [f('openedAt'), item.use.validFrom ? times.dateTime(item.use.validFrom) : '—'],
        [f('openUntil'), item.use.validUntil ? times.dateTime(item.use.validUntil) : '—'],
        [f('uses'), String(item.use.uses)],
      );
      break;
    case 'unseal': {
      const c = item.dispute;
      rows.push(
        [f('trigger'), t(`medicalAffairs.triggers.${c.trigger}`)],
        [f('caseReason'), c.reason],
        [f('openedBy'), `${names.person(c.openedBy)} · ${times.dateTime(c.openedAt)}`],
        [f('sealedAt'), c.sealedAt ? times.dateTime(c.sealedAt) : '—'],
        [f('sealedBy'), c.sealedBy ? names.person(c.sealedBy) : '—'],
        [f('inventory'), t('medicalAffairs.fields.inventoryValue', c.inventory)],
        [f('noClaimFrom'), <NoClaimDate key="no-claim" sealedAt={c.sealedAt} years={policy.unsealYears} />],
      );
      break;
    }
  }
  return <Rows rows={rows} label={t('medicalAffairs.inbox.details')} />;
}

function NoClaimDate({ sealedAt, years }: { sealedAt?: string; years?: number }) {
  const { t } = useTranslation();
  const times = useTimes();
  if (!sealedAt || !years) return <Text size="sm">{t('medicalAffairs.fields.noClaimUnknown')}</Text>;
  return (
    <span data-testid="no-claim-from">
      {t('medicalAffairs.fields.noClaimValue', { date: times.dateTime(noClaimUnsealFrom(sealedAt, years).toISOString()), years })}
    </span>
  );
}
