import { z } from 'zod';
import { queryText } from '../../fhir/fhir-request.js';
import { FhirRequestError, FhirRequestErrorCode } from '../../fhir/fhir.errors.js';

/** A query parameter as text: absent, empty or repeated (Express gives an array) is none. */
const text = z.unknown().optional().transform(queryText);

/**
 * `GET /audit/access-report`: the patient (`Patient/<id>` or `<id>`), an optional
 * period (`from`, `to`: dates or instants, checked by the reader) and `_format=csv`. Other
 * parameters are ignored, as FHIR servers ignore what they do not support.
 */
export const accessReportQuerySchema = z.object({
  patient: z.string().min(1),
  from: text,
  to: text,
  _format: z
    .unknown()
    .optional()
    .transform((v) => (typeof v === 'string' ? v : undefined)),
});

/** The access report's query, parsed. */
export type AccessReportQuery = z.infer<typeof accessReportQuerySchema>;

/** Parses the query; without one patient named the answer is a 400 naming `patient`. */
export function parseAccessReportQuery(query: unknown): AccessReportQuery {
  const parsed = accessReportQuerySchema.safeParse(query ?? {});
  if (!parsed.success) throw new FhirRequestError(FhirRequestErrorCode.InvalidRequest, 'access-report needs patient=Patient/<id>', ['patient']);
  return parsed.data;
}

/** CSV rather than JSON: `_format=csv` (or `text/csv`), or `Accept: text/csv`. */
export function wantsCsv(query: AccessReportQuery, accept: string | undefined): boolean {
  return query._format === 'csv' || query._format === 'text/csv' || (accept ?? '').includes('text/csv');
}
