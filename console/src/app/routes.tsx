import type { ComponentType } from 'react';
import type { ParseKeys } from 'i18next';
import { recordRoomRoutes } from '../record-room/routes';
import { disputesOfficeRoutes } from '../disputes/routes';
import { medicalAffairsRoutes } from '../affairs/routes';
import { auditorsRoutes } from '../audit/routes';
import { matchPath } from './router';

/**
 * The page registry: every page of the console, in one list. An office adds its pages as one
 * array (see record-room/routes.tsx) and one line below; the shell builds its navigation from
 * `SECTIONS` and the routes marked `nav`. First match wins, so a fixed path
 * (`/copy-requests/new`) comes before a pattern (`/copy-requests/:id`).
 *
 * `home` only chooses where a role lands after signing in: the console hides nothing by role
 * (every page calls the API, which decides and whose refusals the page shows).
 */
export interface PageRoute {
  /** App path under /console, with `:name` parameters. */
  path: string;
  /** The page's title (the browser tab, and the navigation when `nav`). */
  title: ParseKeys;
  section: SectionId;
  /** Listed in the navigation (pages with parameters are reached from others). */
  nav?: boolean;
  /** Roles that land on this page after signing in. */
  home?: string[];
  component: ComponentType<{ params: Record<string, string> }>;
}

/** The offices of the console, in the navigation's order. */
export const SECTIONS = [
  { id: 'recordRoom', title: 'nav.recordRoom' },
  { id: 'disputesOffice', title: 'disputesOffice.nav.section' },
  { id: 'medicalAffairs', title: 'medicalAffairs.nav.section' },
  { id: 'auditors', title: 'auditors.nav.section' },
] as const satisfies readonly { id: string; title: ParseKeys }[];
export type SectionId = (typeof SECTIONS)[number]['id'];

export const ROUTES: readonly PageRoute[] = [...recordRoomRoutes, ...disputesOfficeRoutes, ...medicalAffairsRoutes, ...auditorsRoutes];

/** The page for an app path, with its parameters. */
export function findRoute(path: string): { route: PageRoute; params: Record<string, string> } | undefined {
  for (const route of ROUTES) {
    const params = matchPath(route.path, path);
    if (params) return { route, params };
  }
  return undefined;
}

/** Where a person with `roles` lands after signing in: the first page naming one of them, else the first page. */
export function homeFor(roles: readonly string[]): string {
  return ROUTES.find((r) => r.home?.some((h) => roles.includes(h)))?.path ?? ROUTES[0].path;
}
