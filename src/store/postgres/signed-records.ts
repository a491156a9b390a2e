import type { Queryable } from '../../database/chartwarden-database.js';
import { OWNER_PARAM } from '../patient-compartment.js';
import type { RecordRef } from '../patient-record-index.port.js';

/** The type whose record is that of the records it signs when it names no patient (decision 0016). */
export const SIGNATURE_TYPE = 'Provenance';

/** The reference parameter naming the records a signature signs (`Provenance.target`). */
export const SIGNED_PARAM = 'target';

/** Whose record a signature is: the patients it concerns, and the one whose record it is. */
export interface SignedRecordOwners {
  /** The patient it names first, then the owners of the records it signs, each once. */
  patients: string[];
  /** Its patient when it concerns exactly one; undefined when it concerns none, or `spans`. */
  patient?: string;
  /**
   * It concerns two patients or more (signs both's records, or names one and signs another's):
   * it belongs to no one record. The store refuses to write it (`StoreErrorCode.SpansPatients`);
   * its access facts name no patient, so only a rule without patient conditions allows it.
   */
  spans: boolean;
}

/**
 * The patients a signature concerns (decision 0016): `own`, the patient it names itself, and
 * the owners (`OWNER_PARAM` rows, read now, so a signature follows its record) of the records
 * it signs. The access facts of an incoming Provenance (`AccessChecks.incomingFacts`) and a
 * write's scope (`lockScope`) both read it here; `patientOf` is its SQL form, per row of a search.
 */
export async function signedRecordOwners(q: Queryable, own: string | undefined, targets: readonly RecordRef[]): Promise<SignedRecordOwners> {
  const rows = targets.length
    ? await q.query<{ patient: string }>(
        `SELECT DISTINCT o.target_id AS patient FROM fhir_search_reference o
          WHERE (o.resource_type, o.resource_id) IN (SELECT * FROM unnest($1::text[], $2::text[])) AND o.param = $3 ORDER BY 1`,
        [targets.map((t) => t.type), targets.map((t) => t.id), OWNER_PARAM],
        { prepare: true },
      )
    : [];
  const patients = [...new Set([...(own !== undefined ? [own] : []), ...rows.map((r) => r.patient)])];
  const spans = patients.length > 1;
  return { patients, ...(!spans && patients.length ? { patient: patients[0] } : {}), spans };
}
