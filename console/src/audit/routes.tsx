import type { PageRoute } from '../app/routes';
import { AccessReportPage } from './AccessReportPage';
import { AuditEventPage } from './AuditEventPage';
import { AuditSearchPage } from './AuditSearchPage';
import { IntegrityPage } from './IntegrityPage';

/** The audit pages (section `auditors`), in the registry's order: fixed paths before patterns. */
export const auditorsRoutes: PageRoute[] = [
  { path: '/audit/access-report', title: 'auditors.nav.report', section: 'auditors', nav: true, home: ['auditor'], component: AccessReportPage },
  { path: '/audit/events', title: 'auditors.nav.search', section: 'auditors', nav: true, component: AuditSearchPage },
  { path: '/audit/integrity', title: 'auditors.nav.integrity', section: 'auditors', nav: true, component: IntegrityPage },
  { path: '/audit/events/:id', title: 'auditors.nav.event', section: 'auditors', component: AuditEventPage },
];
