import type { PageRoute } from '../app/routes';
import { InboxPage } from './InboxPage';

/** The medical affairs pages (section `medicalAffairs`), in the registry's order: fixed paths before patterns. */
export const medicalAffairsRoutes: PageRoute[] = [
  { path: '/approvals', title: 'medicalAffairs.nav.inbox', section: 'medicalAffairs', nav: true, home: ['medical-affairs'], component: InboxPage },
];
