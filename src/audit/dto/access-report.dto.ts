import { z } from 'zod';
import { queryText } from '../../fhir/fhir-request.js';
import { FhirRequestError, FhirRequestErrorCode } from '../../fhir/fhir.errors.js';

/** The longest 病案号 the report looks up, in characters: hospital numbers are far shorter. */
export const RECORD_NUMBER_MAX_LENGTH = 64;

/** A query parameter as text: absent, empty or repeated (Express gives an array) is none. */
const text = z.unknown().optional().transform(queryText);

/** A parameter given at most once: a string, or absent (repeated, Express gives an array: refused). */
const once = z.string().optional();

/**
 * `GET /audit/access-report`: exactly one of the patient (`patient=Patient/<id>` or
 * `<id>`) or their 病案号 (`recordNumber=`, looked up by the reader), an optional period
 * (`from`, `to`: dates or instants, checked by the reader) and `_format=csv`. Other parameters
 * are ignored, as FHIR servers ignore what they do not support.
 */
export const accessReportQuerySchema = z.object({
  patient: once,
  recordNumber: once,
  from: text,
  to: text,
  _format: z
    .unknown()
    .optional()
    .transform((v) => (typeof v === 'string' ? v : undefined)),
});

/** Whom the report is about: the patient's id as given, or the 病案号 to look them up by. */
export type ReportSubject = { patient: string } | { recordNumber: string };

/** The access report's query, parsed. */
export interface AccessReportQuery {
  subject: ReportSubject;
  from?: string;
  to?: string;
  _format?: string;
}

const ONE_OF = ['patient', 'recordNumber'];

/**
 * Parses the query. Neither or both of `patient` and `recordNumber`, either one repeated, or
 * empty: a 400 naming both. A 病案号 is trimmed; longer than `RECORD_NUMBER_MAX_LENGTH`
 * characters, or holding a control character (the input guard refuses NUL and lone surrogates
 * in every URL already), it is refused with a 400 naming `recordNumber`.
 */
export function parseAccessReportQuery(query: unknown): AccessReportQuery {
  const parsed = accessReportQuerySchema.safeParse(query ?? {});
  const exactlyOne = () => new FhirRequestError(FhirRequestErrorCode.InvalidRequest, 'access-report needs exactly one of patient=Patient/<id> or recordNumber=<病案号>', ONE_OF);
  if (!parsed.success) throw exactlyOne();
  const { patient, recordNumber, from, to, _format } = parsed.data;
  const period = { ...(from ? { from } : {}), ...(to ? { to } : {}), ...(_format !== undefined ? { _format } : {}) };
  if (recordNumber !== undefined && patient === undefined) return { subject: { recordNumber: checkedRecordNumber(recordNumber) }, ...period };
  if (patient && recordNumber === undefined) return { subject: { patient }, ...period };
  throw exactlyOne();
}

function checkedRecordNumber(value: string): string {
  const trimmed = value.trim();
  const invalid = (why: string) => new FhirRequestError(FhirRequestErrorCode.InvalidRequest, `recordNumber ${why}`, ['recordNumber']);
  if (!trimmed) throw invalid('is empty: give the patient\'s 病案号');
  if ([...trimmed].length > RECORD_NUMBER_MAX_LENGTH) throw invalid(`is longer than ${RECORD_NUMBER_MAX_LENGTH} characters: no 病案号 is`);
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f-\u009f]/.test(trimmed)) throw invalid('holds a control character');
  return trimmed;
}

/** CSV rather than JSON: `_format=csv` (or `text/csv`), or `Accept: text/csv`. */
export function wantsCsv(query: AccessReportQuery, accept: string | undefined): boolean {
  return query._format === 'csv' || query._format === 'text/csv' || (accept ?? '').includes('text/csv');
}
