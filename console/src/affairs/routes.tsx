import type { PageRoute } from '../app/routes';

/** The medical affairs pages (section `medicalAffairs`), in the registry's order: fixed paths before patterns. */
export const medicalAffairsRoutes: PageRoute[] = [];
