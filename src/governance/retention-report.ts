import pg from 'pg';
import { OUTPATIENT_CLASSES } from './archive.service.js';

/** One patient whose records have reached their retention. */
export interface RetainedPatient {
  patient: string;
  lastOutpatientVisit?: string;
  lastDischarge?: string;
  keptUntil: string;
}

export interface RetentionReport {
  asOf: string;
  outpatientYears: number;
  inpatientYears: number;
  /** Patients with at least one finished encounter. */
  patients: number;
  reached: RetainedPatient[];
  ms: number;
}

/**
 * `chartwarden retention report`: per patient, the end of the last outpatient visit
 * and of the last inpatient stay, and the day the record may leave the archive: the later of
 * last visit + the policy's outpatient years and last discharge + its inpatient years. A
 * patient with an encounter still open is never reached. Reads only: ChartWarden deletes
 * nothing, and this tells the record room what it may review, not what to remove.
 */
export async function retentionReport(databaseUrl: string, years: { outpatientYears: number; inpatientYears: number }, asOf: Date): Promise<RetentionReport> {
  const started = Date.now();
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'chartwarden-retention-report' });
  await client.connect();
  try {
    const { rows } = await client.query<{ patient: string; last_outpatient: Date | null; last_inpatient: Date | null; open: boolean; kept_until: Date | null }>(
      `WITH visits AS (
         SELECT x.target_id AS patient, e.content -> 'class' ->> 'code' = ANY($1::text[]) AS outpatient,
                e.content -> 'period' ->> 'end' IS NULL AS open,
                -- The search index's upper bound of the period: partial dates ("2005-03") are already resolved there.
                (SELECT max(d.high) FROM fhir_search_date d WHERE d.resource_type = 'Encounter' AND d.resource_id = e.id AND d.param = 'date') AS ended
           FROM fhir_resource e
           JOIN fhir_search_reference x ON x.resource_type = 'Encounter' AND x.resource_id = e.id AND x.param = 'subject' AND x.target_type = 'Patient'
          WHERE e.resource_type = 'Encounter' AND coalesce(e.content ->> 'status', '') NOT IN ('cancelled', 'entered-in-error')
       ), per_patient AS (
         SELECT patient, max(ended) FILTER (WHERE outpatient) AS last_outpatient, max(ended) FILTER (WHERE NOT outpatient) AS last_inpatient, bool_or(open) AS open
           FROM visits GROUP BY patient
       )
       SELECT patient, last_outpatient, last_inpatient, open,
              greatest(last_outpatient + make_interval(years => $2), last_inpatient + make_interval(years => $3)) AS kept_until
         FROM per_patient ORDER BY patient`,
      [[...OUTPATIENT_CLASSES], years.outpatientYears, years.inpatientYears],
    );
    const reached = rows
      .filter((r) => !r.open && r.kept_until !== null && r.kept_until <= asOf)
      .map((r) => ({
        patient: `Patient/${r.patient}`,
        ...(r.last_outpatient ? { lastOutpatientVisit: r.last_outpatient.toISOString() } : {}),
        ...(r.last_inpatient ? { lastDischarge: r.last_inpatient.toISOString() } : {}),
        keptUntil: (r.kept_until as Date).toISOString(),
      }));
    return { asOf: asOf.toISOString(), ...years, patients: rows.length, reached, ms: Date.now() - started };
  } finally {
    await client.end();
  }
}
