import type { PageRoute } from '../app/routes';
import { IntakePage } from './IntakePage';
import { QueuePage } from './QueuePage';
import { RequestPage } from './RequestPage';

/** The record room's (病案室) pages: the queue, intake, and one request. */
export const recordRoomRoutes: PageRoute[] = [
  { path: '/copy-requests', title: 'nav.copyQueue', section: 'recordRoom', nav: true, home: ['record-room'], component: QueuePage },
  { path: '/copy-requests/new', title: 'nav.newRequest', section: 'recordRoom', nav: true, component: IntakePage },
  { path: '/copy-requests/:id', title: 'request.titleShort', section: 'recordRoom', component: RequestPage },
];
