import type { Resource } from '@medplum/fhirtypes';

/**
 * When a record was written or what it records happened, as the record gives it (a FHIR date or
 * dateTime, unconverted): a document's `date`, a result's effective time (else when it was
 * issued), an order's authoring, a procedure's or a charge's occurrence… the first of these
 * elements the record carries. What an inventory or a manifest prints as its 日期 (in the
 * hospital's zone, through `hospital-time.ts`); undefined for a record that names no time.
 */
export function recordDate(resource: Resource): string | undefined {
  const r = resource as unknown as Record<string, unknown>;
  for (const path of DATE_PATHS) {
    const value = path.reduce<unknown>((v, key) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined), r);
    if (typeof value === 'string' && value !== '') return value;
  }
  return undefined;
}

/** The elements tried, in order: what dates the record itself before when it was filed or billed. */
const DATE_PATHS: readonly (readonly string[])[] = [
  ['date'],
  ['effectiveDateTime'],
  ['effectiveInstant'],
  ['effectivePeriod', 'start'],
  ['issued'],
  ['started'],
  ['authoredOn'],
  ['occurrenceDateTime'],
  ['occurrencePeriod', 'start'],
  ['performedDateTime'],
  ['performedPeriod', 'start'],
  ['recordedDate'],
  ['onsetDateTime'],
  ['enteredDate'],
  ['dateTime'],
  ['period', 'start'],
  ['recorded'],
  ['created'],
];
