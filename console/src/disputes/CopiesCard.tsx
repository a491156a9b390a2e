import { Group, Image, Paper, Stack, Table, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useEffect } from 'react';
import { useTranslation } from 'react-i18next';
import { useApi } from '../api/ApiProvider';
import { usePeopleNames } from '../api/names';
import { useTimes } from '../common/time';
import { pathOf, peopleOf, type CopyView, type DisputeView, type PatientWitness } from './disputes.api';
import { DisputeRefusal, DownloadButton, useDisputeLabel } from './parts';

/**
 * The case's sealed copies (封存清单, R-40, R-42): who was at the table (the witness, the patient
 * side with their drawn signature and its SHA-256), the hashes, and the files to download, read
 * with the token; once unsealed, the 启封记录.
 */
export function CopiesCard({ dispute: c }: { dispute: DisputeView }) {
  const { t } = useTranslation();
  const times = useTimes();
  if (c.copies.length === 0 && !c.unsealRecord) return null;
  return (
    <Paper withBorder p="md" data-testid="copies">
      <Stack gap="md">
        <Title order={3} size="h4">
          {t('disputesOffice.copies.title')}
        </Title>
        {c.copies.map((k) => (
          <CopyBlock key={k.n} dispute={c} copy={k} />
        ))}
        {c.unsealRecord ? (
          <Stack gap={4} data-testid="unseal-record">
            <Text fw={600}>{t('disputesOffice.copies.unsealRecord', { time: times.dateTime(c.unsealRecord.createdAt), pages: c.unsealRecord.pages })}</Text>
            <Text size="xs" ff="monospace">
              PDF SHA-256 {c.unsealRecord.pdfSha256}
            </Text>
            <Group>
              <DownloadButton url={c.unsealRecord.pdf} filename={`dispute-${c.id}-unseal-record.pdf`}>
                {t('disputesOffice.copies.downloadUnsealRecord')}
              </DownloadButton>
            </Group>
          </Stack>
        ) : null}
      </Stack>
    </Paper>
  );
}

function CopyBlock({ dispute: c, copy: k }: { dispute: DisputeView; copy: CopyView }) {
  const { t } = useTranslation();
  const label = useDisputeLabel();
  const times = useTimes();
  const person = usePeopleNames(peopleOf(c));
  const w = k.witnesses;
  const rows: [string, string][] = [
    [t('disputesOffice.copies.kind'), `${label('copyKind', k.kind)} · ${times.dateTime(k.createdAt)} · ${person(k.createdBy)}`],
    [t('disputesOffice.copies.hospital'), person(w.hospital.id)],
    [t('disputesOffice.copies.patient'), w.patient ? `${w.patient.name}（${label('relationship', w.patient.relationship)}）· ${label('idDocument', w.patient.idDocument.type)} ${w.patient.idDocument.number}` : w.immediate ? t('disputesOffice.copies.immediate') : t('disputesOffice.copies.absent')],
    [t('disputesOffice.copies.inventoryDigest'), k.inventorySha256],
    [t('disputesOffice.copies.pdf'), `${k.pdfSha256} · ${t('disputesOffice.copies.pages', { count: k.pages })}`],
  ];
  return (
    <Stack gap="xs" data-copy={k.n}>
      <Text fw={700}>{t('disputesOffice.copies.copyN', { n: k.n })}</Text>
      <Table variant="vertical" withTableBorder fz="sm">
        <Table.Tbody>
          {rows.map(([key, v]) => (
            <Table.Tr key={key}>
              <Table.Th w={150}>{key}</Table.Th>
              <Table.Td style={{ wordBreak: 'break-all' }}>{v}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {w.patient?.signature ? <Signature witness={w.patient} /> : null}
      <Group gap="xs">
        <DownloadButton url={k.pdf} filename={`dispute-${c.id}-${k.n}.pdf`} label={t('disputesOffice.copies.downloadPdfOf', { n: k.n })}>
          {t('disputesOffice.copies.downloadPdf')}
        </DownloadButton>
        <DownloadButton url={k.json} filename={`dispute-${c.id}-${k.n}.json`} label={t('disputesOffice.copies.downloadJsonOf', { n: k.n })}>
          {t('disputesOffice.copies.downloadJson')}
        </DownloadButton>
      </Group>
    </Stack>
  );
}

/** The patient side's drawn signature, read with the token, with the SHA-256 the copy records. */
function Signature({ witness }: { witness: PatientWitness }) {
  const { t } = useTranslation();
  const api = useApi();
  const signature = witness.signature as NonNullable<PatientWitness['signature']>;
  const image = useQuery({
    queryKey: ['disputes', 'signature', signature.sha256],
    enabled: Boolean(signature.url),
    queryFn: async () => URL.createObjectURL(await api.blob(pathOf(signature.url as string))),
    staleTime: Infinity,
  });
  useEffect(() => (image.data ? () => URL.revokeObjectURL(image.data) : undefined), [image.data]);
  return (
    <Stack gap={4} data-testid="signature">
      <Text size="sm" fw={600}>
        {t('disputesOffice.copies.signature', { name: witness.name })}
      </Text>
      {image.data ? <Image src={image.data} alt={t('disputesOffice.copies.signatureAlt', { name: witness.name })} maw={360} bd="1px solid gray.5" /> : null}
      <DisputeRefusal error={image.error} />
      <Text size="xs" ff="monospace" data-testid="signature-sha256">
        SHA-256 {signature.sha256}
      </Text>
    </Stack>
  );
}
