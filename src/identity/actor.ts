/** Licence status of a clinician; only `licensed` may sign alone. */
export type LicenceStatus = 'licensed' | 'intern' | 'probation' | 'visiting';

export const LICENCE_STATUSES: readonly LicenceStatus[] = ['licensed', 'intern', 'probation', 'visiting'];

/**
 * The identified operator behind a request: built from a verified token, never from
 * anything else the caller sends. Every decision and every audit entry names one.
 */
export interface Actor {
  /** The token's `sub`: one person or one system client, never a shared account. */
  id: string;
  /** `Practitioner/<id>` (the `fhirUser` claim, else derived from `sub`). */
  practitioner: string;
  roles: readonly string[];
  department?: string;
  specialty?: string;
  /** Absent when the token does not say: treated as not licensed. */
  licence?: LicenceStatus;
  /** SMART on FHIR scopes; they only ever narrow what the policy allows. */
  scopes: readonly string[];
  /** SMART launch context (`patient` claim): the one patient `patient/` scopes refer to. */
  patientContext?: string;
}
