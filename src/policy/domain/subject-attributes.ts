import type { Confidentiality } from './actions.js';

/**
 * What the policy may know of a FHIR resource when it decides (issue #3, R-02…R-07). All of
 * it is derived from FHIR data, never from what the caller claims:
 * - `patient`: the Patient the resource belongs to (the Patient itself, or the target of its
 *   patient-compartment reference: `subject`, `patient`, …).
 * - `encounter`: the Encounter it was recorded in (its `encounter` reference; an Encounter is its own).
 * - `encounterClass`, `department`: that encounter's `class` code and `serviceProvider`
 *   (the department, an Organization id, as in the actor's `dept` claim).
 * - `withinCareWindow`: that encounter is open or ended at most N days ago (N in policy);
 *   for a resource with no encounter, any of the patient's encounters is.
 * - `careTeam`: `Practitioner/<id>` of every participant of the patient's encounters inside
 *   the care window, and every member of the patient's active CareTeams.
 * - `departments`: the departments of the patient's encounters inside the care window.
 * - `grantees`, `breakGlass`: actor ids holding an approved unexpired grant, or an unexpired
 *   break-the-glass, for the patient.
 * - `authors`, `status`, `docType`: the resource's `author` references, `status` and `type` codes.
 * - `label`: the most restrictive v3-Confidentiality code in `meta.security` (N when none).
 */
export interface SubjectAttributes {
  type: string;
  id?: string;
  patient?: string;
  encounter?: string;
  encounterClass?: string;
  department?: string;
  withinCareWindow: boolean;
  careTeam: string[];
  departments: string[];
  grantees: string[];
  breakGlass: string[];
  authors: string[];
  status?: string;
  docType: string[];
  label: Confidentiality;
}

/** Attribute names the policy compiler uses in CASL conditions (and the SQL pushdown understands). */
export type SubjectField = keyof SubjectAttributes;
