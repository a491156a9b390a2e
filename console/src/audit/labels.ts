import { useTranslation } from 'react-i18next';
import { useLabel } from '../i18n';
import { auditorsEn, auditorsZh } from './messages';

/** Groups of values the trail holds (roles, purposes of use, actions, outcomes, interactions, run statuses). */
export type AuditLabelGroup = keyof typeof auditorsZh.labels | 'roles';

/**
 * The label of a value the server sends: a role from the console's shared catalogue (`roles`),
 * anything else from this office's (`auditors.labels`); a value neither knows (a hospital's own
 * role, a workflow step) is shown as sent.
 */
export function useAuditLabel(): (group: AuditLabelGroup, value: string) => string {
  const { i18n } = useTranslation();
  const shared = useLabel();
  return (group, value) => {
    if (group === 'roles') return shared('roles', value);
    const labels = (i18n.language === 'en' ? auditorsEn : auditorsZh).labels[group] as Record<string, string>;
    return Object.hasOwn(labels, value) ? labels[value] : value;
  };
}
