/** Whom an access report is asked for: the patient's id (`123`), or their 病案号, which the server looks up. */
export type ReportSubject = { patient: string } | { recordNumber: string };

/** The longest 病案号 the server looks up (src/audit/dto/access-report.dto.ts). */
export const RECORD_NUMBER_MAX_LENGTH = 64;

/** The report's URL (`/audit/access-report`): `patient=Patient/<id>` or `recordNumber=<病案号>`, the period, and `_format=csv` for the file. */
export function reportQuery(subject: ReportSubject, from?: string, to?: string, csv = false): string {
  const q = new URLSearchParams('patient' in subject ? { patient: `Patient/${subject.patient}` } : { recordNumber: subject.recordNumber });
  if (from) q.set('from', from);
  if (to) q.set('to', to);
  if (csv) q.set('_format', 'csv');
  return `/audit/access-report?${q.toString()}`;
}
