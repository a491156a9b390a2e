import type { PageRoute } from '../app/routes';

/** The disputes office pages (section `disputesOffice`), in the registry's order: fixed paths before patterns. */
export const disputesOfficeRoutes: PageRoute[] = [];
