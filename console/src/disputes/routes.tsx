import type { PageRoute } from '../app/routes';
import { BoardPage } from './BoardPage';
import { CasePage } from './CasePage';
import { OpenCasePage } from './OpenCasePage';

/** The disputes office pages (section `disputesOffice`), in the registry's order: fixed paths before patterns. */
export const disputesOfficeRoutes: PageRoute[] = [
  { path: '/disputes', title: 'disputesOffice.nav.board', section: 'disputesOffice', nav: true, home: ['disputes-officer'], component: BoardPage },
  { path: '/disputes/new', title: 'disputesOffice.nav.newCase', section: 'disputesOffice', nav: true, component: OpenCasePage },
  { path: '/disputes/:id', title: 'disputesOffice.nav.case', section: 'disputesOffice', component: CasePage },
];
