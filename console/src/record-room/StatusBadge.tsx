import { Badge } from '@mantine/core';
import { useLabel } from '../i18n';
import type { CopyRequestStatus } from './copy-requests.api';

const COLOURS: Record<CopyRequestStatus, string> = {
  received: 'blue.8',
  verified: 'cyan.9',
  approved: 'indigo.8',
  produced: 'violet.9',
  'partially-delivered': 'yellow.4',
  delivered: 'teal.9',
  refused: 'red.9',
  closed: 'gray.7',
};

/** A request's status in words, coloured by how far it has come (shades dark enough for white text, or dark text on yellow: autoContrast). */
export function StatusBadge({ status }: { status: CopyRequestStatus }) {
  const label = useLabel();
  return (
    <Badge color={COLOURS[status] ?? 'gray.7'} variant="filled" autoContrast data-status={status}>
      {label('status', status)}
    </Badge>
  );
}
