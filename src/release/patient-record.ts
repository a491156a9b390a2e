import type { Patient } from '@medplum/fhirtypes';
import type { Queryable } from '../database/chartwarden-database.js';
import { humanName } from '../copies/resource-text.js';

/**
 * @deprecated Moved to `copies/patient-record.ts`, which asks the store's `PatientRecordIndex`
 * instead of reading its tables. Release no longer uses this file; it stays only until
 * `disputes/` imports from `copies/`, and is then deleted (issue #15: no feature reads the
 * store's tables, and disputes never imports release).
 */

/** The patient's first name as printed (Han names family first); empty when there is none. */
export async function patientName(q: Queryable, id: string): Promise<string> {
  const [row] = await q.query<{ content: Patient }>(`SELECT content FROM fhir_resource WHERE resource_type = 'Patient' AND id = $1`, [id]);
  const name = row?.content.name?.[0];
  return name?.text ?? humanName(name) ?? '';
}

/** Of `encounters`, those that are not the patient's (by their subject), in the order given: empty when all are. */
export async function encountersNotOf(q: Queryable, patient: string, encounters: readonly string[]): Promise<string[]> {
  const rows = await q.query<{ id: string }>(
    `SELECT resource_id AS id FROM fhir_search_reference WHERE resource_type = 'Encounter' AND param IN ('subject', 'patient')
       AND target_type = 'Patient' AND target_id = $1 AND resource_id = ANY($2::text[])`,
    [patient, encounters],
  );
  const found = new Set(rows.map((r) => r.id));
  return encounters.filter((e) => !found.has(e));
}
