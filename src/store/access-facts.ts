/**
 * FHIR facts about a resource that an access policy decides on (issue #3), derived from
 * the stored data only — never from what a caller claims. See `docs/decisions/0004-access-facts.md`.
 * - `patient`: the Patient itself, or the Patient its `patient`/`subject` reference names.
 * - `encounter`: the Encounter itself, or its `encounter`/`context` reference.
 * - `encounterClass`, `department`: that encounter's `class` code and `serviceProvider` id.
 * - `withinCareWindow`: that encounter is open, or ended at most N days ago; for a resource
 *   without an encounter, one of the patient's encounters is.
 * - `careTeam`: `Type/id` of every participant of the patient's encounters inside the care
 *   window and every participant of the patient's active CareTeams.
 * - `departments`: `serviceProvider` ids of the patient's encounters inside the care window.
 * - `authors`, `status`, `docType`: the resource's `author` references, `status` and `type` codes.
 * - `label`: the most restrictive v3-Confidentiality code in `meta.security` (`N` when none).
 */
export interface AccessFacts {
  type: string;
  id?: string;
  patient?: string;
  encounter?: string;
  encounterClass?: string;
  department?: string;
  withinCareWindow: boolean;
  careTeam: string[];
  departments: string[];
  authors: string[];
  status?: string;
  docType: string[];
  label: string;
}

/** How far back a closed encounter still counts (policy data). */
export interface AccessFactOptions {
  careWindowDays: number;
  /**
   * Skip the facts that need the patient's other records (encounter class and department,
   * care window, care team, departments): set only when no rule that will judge the facts
   * reads them. They are then empty, which no rule sees.
   */
  withoutContext?: boolean;
}

/** The facts `withoutContext` leaves out. */
export const CONTEXT_FACTS = ['encounterClass', 'department', 'withinCareWindow', 'careTeam', 'departments'] as const;

/**
 * A condition over `AccessFacts` (and, added by the policy, `grantees`/`breakGlass` already
 * rewritten to `patient` lists), in the shape CASL's `rulesToAST` produces: compound
 * `and`/`or`/`not` nodes and field nodes (`eq`, `ne`, `in`, `nin`). A store turns it into
 * its own query language, or refuses what it cannot express.
 */
export type AccessCondition =
  | { operator: 'and' | 'or' | 'not'; value: AccessCondition[] }
  | { operator: 'eq' | 'ne' | 'in' | 'nin'; field: string; value: unknown };

/** What a search is restricted to: `null` means nothing at all is visible. */
export interface AccessFilter {
  condition: AccessCondition | null;
  options: AccessFactOptions;
}

/** v3-Confidentiality codes from least to most restricted. */
export const CONFIDENTIALITY_ORDER = ['U', 'L', 'M', 'N', 'R', 'V'];
export const CONFIDENTIALITY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';
