import type { PatientRecordIndex } from '../store/patient-record-index.port.js';
import { OUTPATIENT_CLASSES } from './archive.service.js';
import { keptUntil } from './domain/retention.js';

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
 *
 * Over the store's record index (the CLI builds it over its own connection): the patients the
 * index knows visits of, and those of them whose retention has been reached by `asOf`, in
 * patient order. Years are counted on the calendar of `timeZone`.
 */
export async function retained(
  records: PatientRecordIndex,
  years: { outpatientYears: number; inpatientYears: number },
  asOf: Date,
  timeZone: string,
): Promise<{ patients: number; reached: RetainedPatient[] }> {
  const visits = await records.lastVisits([...OUTPATIENT_CLASSES]);
  const reached: RetainedPatient[] = [];
  for (const v of visits) {
    if (v.open) continue;
    const until = keptUntil(v, years, timeZone);
    if (!until || until > asOf) continue;
    reached.push({
      patient: `Patient/${v.patient}`,
      ...(v.lastOutpatient ? { lastOutpatientVisit: v.lastOutpatient.toISOString() } : {}),
      ...(v.lastInpatient ? { lastDischarge: v.lastInpatient.toISOString() } : {}),
      keptUntil: until.toISOString(),
    });
  }
  return { patients: visits.length, reached };
}
