import type { PageRoute } from '../app/routes';

/** The audit pages (section `auditors`), in the registry's order: fixed paths before patterns. */
export const auditorsRoutes: PageRoute[] = [];
