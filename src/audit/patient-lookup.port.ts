/**
 * Port: the patients a 病案号 (the hospital's medical-record number) names, for the access
 * report. Complaints about "who looked at my record" arrive with the 病案号, not a FHIR
 * id, and the auditors' policy gives no patient search and no read of a patient record: the
 * report looks the number up itself, and answers only the id of the one patient it names.
 *
 * What counts as a 病案号 is the papers' definition (policy `settings.medicalRecordNumberSystems`,
 * or an identifier of type MR), and the patients are the store's: audit knows neither the
 * store nor the policy (decision 0013), so the root module binds this port, as it binds
 * `LedgerHeads` and `IntegrityChecks`.
 */
export abstract class PatientsByRecordNumber {
  /**
   * Ids of the patients whose 病案号 is `recordNumber` (an exact, current identifier value),
   * sorted; at most two, which is enough to tell none, one and several apart. An identifier
   * that is not a 病案号 (an ID-card number, an insurance number) never matches. Rejects with a
   * 400 error (too costly) when the value is held by too many identifiers to look through.
   */
  abstract patientsWith(recordNumber: string): Promise<string[]>;
}
