import type { AccessFacts } from '../../store/access-facts.js';

/**
 * What a policy rule's conditions are tested against: the record's facts (derived from FHIR
 * data, see `src/store/access-facts.ts`) and, added by the policy service from the access
 * workflow, the actors holding an approved unexpired grant (`grantees`, R-05) or an
 * unexpired break-the-glass (`breakGlass`, R-04) for the record's patient.
 */
export type SubjectAttributes = AccessFacts & {
  grantees: string[];
  breakGlass: string[];
};

/** Attribute names the policy compiler uses in CASL conditions (and the SQL pushdown understands). */
export type SubjectField = keyof SubjectAttributes;
