import type { Identifier, Patient } from '@medplum/fhirtypes';
import type { PatientRecordIndex } from '../store/patient-record-index.port.js';
import { StoreError, StoreErrorCode } from '../store/store.errors.js';
import { recordNumber } from './patient-block.js';

/** Candidates read per round: patients holding the value in some identifier. */
const PAGE = 100;
/** Candidates looked through at most before the lookup gives up (a value shared by that many identifiers is no 病案号 to look up by). */
const MAX_CANDIDATES = 1000;

/**
 * Whether `identifier` is a 病案号 as the papers print one (`recordNumber`: a current identifier
 * in one of the policy's `systems`, or of type MR, v2-0203): the papers' own definition, applied
 * to the one identifier, so the two can never disagree.
 */
export function isRecordNumber(identifier: Identifier, systems: readonly string[]): boolean {
  return recordNumber({ resourceType: 'Patient', identifier: [identifier] }, '', systems).label === '病案号';
}

/**
 * The patients whose 病案号 is `value` (sorted ids; at most `enough`, by default two: none, one
 * or several): the store's patients holding the value in any identifier, read in pages and kept
 * when that identifier is a 病案号 (`isRecordNumber`). A value only an ID-card or insurance
 * number holds finds nobody. Rejects with 400 `too-costly` past `MAX_CANDIDATES` candidates.
 */
export async function patientsWithRecordNumber(index: PatientRecordIndex, value: string, systems: readonly string[], enough = 2): Promise<string[]> {
  const found: string[] = [];
  let after: string | undefined;
  for (let seen = 0; seen < MAX_CANDIDATES; ) {
    const ids = await index.patientsWithIdentifierValue(value, { limit: PAGE, ...(after ? { after } : {}) });
    const patients = (await index.readMany(ids.map((id) => ({ type: 'Patient', id })))).map((r) => r.resource as Patient);
    const holding = new Set(patients.filter((p) => (p.identifier ?? []).some((i) => i.value === value && isRecordNumber(i, systems))).map((p) => p.id as string));
    found.push(...ids.filter((id) => holding.has(id)));
    if (found.length >= enough || ids.length < PAGE) return found.slice(0, enough);
    seen += ids.length;
    after = ids[ids.length - 1];
  }
  throw new StoreError(StoreErrorCode.SearchTooCostly, `More than ${MAX_CANDIDATES} patients hold this value in an identifier: look the patient up by their id instead`, ['recordNumber']);
}
