import type { AccessFactOptions } from '../access-facts.js';
import type { PatientLevelFacts } from './patient-level-facts.js';
import type { SqlParams } from './search-sql.js';

/*
 * The patient's care relations in SQL: which encounters are open (inside the care window),
 * their departments and participants, the patient's active care teams. As facts (the rows a single
 * decision reads, `careTeamRows`, `departmentRows`) and as the policy's patient-level conditions
 * (`careTeam`, `departments`): for one patient, probes of that patient's own visits; over many
 * patients, the set of patients they hold for (`patientSetSql`). `access-sql.ts` builds the rest
 * of an access condition and reads these.
 */

const CLOSED_STATUSES = `('finished', 'cancelled', 'entered-in-error')`;

/** The encounter `eid` (alias `e`) is open, or ended at most N days ago (as of the store's clock: `SqlParams.now`). */
export function encounterOpen(eid: string, p: SqlParams, o: AccessFactOptions): string {
  return `(NOT EXISTS (SELECT 1 FROM fhir_search_token s WHERE s.resource_type = 'Encounter' AND s.resource_id = ${eid}
      AND s.param COLLATE "C" = 'status' AND s.code COLLATE "C" IN ${CLOSED_STATUSES})
    OR EXISTS (SELECT 1 FROM fhir_search_date d WHERE d.resource_type = 'Encounter' AND d.resource_id = ${eid} AND d.param COLLATE "C" = 'date'
      AND d.high <> 'infinity' AND d.high >= ${p.now()} - make_interval(days => ${p.add(o.careWindowDays)}::int)))`;
}

/** Encounters (alias `ep.resource_id`) of the patient `patient`. */
export function encountersOf(patient: string): string {
  return `SELECT ep.resource_id FROM fhir_search_reference ep
    WHERE ep.resource_type = 'Encounter' AND ep.param = 'patient' AND ep.target_type = 'Patient' AND ep.target_id = ${patient}`;
}

/** Encounters (alias `ep.resource_id`) of the patient `patient`, inside the care window. */
export function openEncountersOf(patient: string, p: SqlParams, o: AccessFactOptions, extra = ''): string {
  return `${encountersOf(patient)}
      AND ${encounterOpen('ep.resource_id', p, o)} ${extra}`;
}

/** `Type/id` of everyone on the patient's care relationship (encounter participants, active CareTeam members). */
export function careTeamRows(patient: string, p: SqlParams, o: AccessFactOptions): string {
  return `SELECT pp.target_type || '/' || pp.target_id AS member FROM fhir_search_reference pp
      WHERE pp.resource_type = 'Encounter' AND pp.param = 'participant' AND pp.resource_id IN (${openEncountersOf(patient, p, o)})
    UNION
    SELECT cm.target_type || '/' || cm.target_id FROM fhir_search_reference ct
      JOIN fhir_search_reference cm ON cm.resource_type = 'CareTeam' AND cm.resource_id = ct.resource_id AND cm.param = 'participant'
      WHERE ct.resource_type = 'CareTeam' AND ct.param = 'patient' AND ct.target_type = 'Patient' AND ct.target_id = ${patient}
        AND EXISTS (SELECT 1 FROM fhir_search_token s WHERE s.resource_type = 'CareTeam' AND s.resource_id = ct.resource_id AND s.param COLLATE "C" = 'status' AND s.code COLLATE "C" = 'active')`;
}

/** Departments (`serviceProvider` ids) of the patient's encounters inside the care window. */
export function departmentRows(patient: string, p: SqlParams, o: AccessFactOptions): string {
  return `SELECT sp.target_id AS department FROM fhir_search_reference sp
    WHERE sp.resource_type = 'Encounter' AND sp.param = 'service-provider' AND sp.resource_id IN (${openEncountersOf(patient, p, o)})`;
}

export function memberList(values: unknown): { types: string[]; ids: string[] } {
  if (!Array.isArray(values)) throw new UntranslatableConditionError('careTeam needs a member or a list of members');
  const pairs = values.map((v) => String(v).split('/'));
  if (pairs.some((pair) => pair.length !== 2)) throw new UntranslatableConditionError('careTeam members are Type/id');
  return { types: pairs.map(([t]) => t), ids: pairs.map(([, id]) => id) };
}

/**
 * A patient-level condition over `patient`: for one patient (a patient's page, a single
 * decision) an EXISTS probing that patient's rows; over `many` patients (a search across
 * patients) the set of patients it holds for, computed once and hashed (`patient IN (…)`), so
 * it is not evaluated again for every row (issue #13); `set`: that set itself.
 */
function patientHolds(many: Many, patient: string, exists: (patient: string) => string, patients: () => string): string {
  // Only one form is built: each binds its own parameters.
  if (many === 'set') return patients();
  return many ? `COALESCE(${patient} IN (${patients()}), FALSE)` : exists(patient);
}

/** One of `members` takes part in an encounter of `patient` inside the care window, or in an active CareTeam of theirs. */
export function careTeamHas(many: Many, patient: string, members: { types: string[]; ids: string[] }, p: SqlParams, o: AccessFactOptions): string {
  // One member (the usual `careTeam = me`): plain equalities, which a prepared statement's generic plan can still use an index for.
  const who = (alias: string) =>
    members.ids.length === 1
      ? `${alias}.target_type = ${p.add(members.types[0])} AND ${alias}.target_id = ${p.add(members.ids[0])}`
      : `(${alias}.target_type, ${alias}.target_id) IN (SELECT * FROM unnest(${p.add(members.types)}::text[], ${p.add(members.ids)}::text[]))`;
  // Many patients: the member's open encounters and active care teams, each with its patient.
  const encounters = () => `SELECT ep.target_id FROM fhir_search_reference pp
        JOIN fhir_search_reference ep ON ep.resource_type = 'Encounter' AND ep.resource_id = pp.resource_id AND ep.param = 'patient'
          AND ep.target_type = 'Patient'
        WHERE pp.resource_type = 'Encounter' AND pp.param = 'participant' AND ${who('pp')} AND ${encounterOpen('pp.resource_id', p, o)}`;
  const teams = () => `SELECT ct.target_id FROM fhir_search_reference cm
        JOIN fhir_search_reference ct ON ct.resource_type = 'CareTeam' AND ct.resource_id = cm.resource_id AND ct.param = 'patient'
          AND ct.target_type = 'Patient'
        WHERE cm.resource_type = 'CareTeam' AND cm.param = 'participant' AND ${who('cm')}
          AND EXISTS (SELECT 1 FROM fhir_search_token s WHERE s.resource_type = 'CareTeam' AND s.resource_id = cm.resource_id AND s.param COLLATE "C" = 'status' AND s.code COLLATE "C" = 'active')`;
  // One patient: from the patient's own encounters and care teams (a few), each probed for the
  // member among its own rows; not from every visit the member ever took part in, which grows
  // with the member's years in the hospital.
  const ofOne = (one: string) => `(EXISTS (SELECT 1 FROM fhir_search_reference ep
        WHERE ep.resource_type = 'Encounter' AND ep.param = 'patient' AND ep.target_type = 'Patient' AND ep.target_id = ${one}
          AND EXISTS (SELECT 1 FROM ${ownRows('pp', 'Encounter', 'ep.resource_id')} WHERE pp.param COLLATE "C" = 'participant' AND ${who('pp')})
          AND ${encounterOpen('ep.resource_id', p, o)})
      OR EXISTS (SELECT 1 FROM fhir_search_reference ct
        WHERE ct.resource_type = 'CareTeam' AND ct.param = 'patient' AND ct.target_type = 'Patient' AND ct.target_id = ${one}
          AND EXISTS (SELECT 1 FROM ${ownRows('cm', 'CareTeam', 'ct.resource_id')} WHERE cm.param COLLATE "C" = 'participant' AND ${who('cm')})
          AND EXISTS (SELECT 1 FROM fhir_search_token s WHERE s.resource_type = 'CareTeam' AND s.resource_id = ct.resource_id AND s.param COLLATE "C" = 'status' AND s.code COLLATE "C" = 'active')))`;
  return patientHolds(many, patient, ofOne, () => `${encounters()} UNION ALL ${teams()}`);
}

/**
 * The reference rows of one resource (`type`, `id`), read by the primary key's first two columns
 * and fenced (`OFFSET 0`): a probe of a few rows, which no other index can serve and no plan can
 * turn into a scan of everything a value matches (decision 0018). The caller compares `param`
 * `COLLATE "C"` (the same equality) on them.
 */
function ownRows(alias: string, type: 'Encounter' | 'CareTeam', id: string): string {
  return `(SELECT * FROM fhir_search_reference ${alias}0 WHERE ${alias}0.resource_type = '${type}' AND ${alias}0.resource_id = ${id} OFFSET 0) ${alias}`;
}

/** `patient` has an encounter inside the care window in one of `departments`. */
export function departmentsHave(many: Many, patient: string, departments: string[], p: SqlParams, o: AccessFactOptions): string {
  const inDepartments = (alias: string) =>
    departments.length === 1 ? `${alias}.target_id = ${p.add(departments[0])}` : `${alias}.target_id = ANY(${p.add(departments)}::text[])`;
  // One patient: each of the patient's encounters probed for its department among its own rows.
  // Joined to the department's rows, PostgreSQL read every encounter the department ever had
  // (915 at the scale bench's 10,000 patients, on every doctor's request of one patient).
  // Many: from the departments' encounters (`ix_fhir_search_reference_department`), not from
  // every encounter of the hospital.
  const ofOne = (one: string) => `EXISTS (SELECT 1 FROM fhir_search_reference ep
      WHERE ep.resource_type = 'Encounter' AND ep.param = 'patient' AND ep.target_type = 'Patient' AND ep.target_id = ${one}
        AND EXISTS (SELECT 1 FROM ${ownRows('sp', 'Encounter', 'ep.resource_id')} WHERE sp.param COLLATE "C" = 'service-provider' AND ${inDepartments('sp')})
        AND ${encounterOpen('ep.resource_id', p, o)})`;
  const ofMany = () => `SELECT ep.target_id FROM fhir_search_reference sp
      JOIN fhir_search_reference ep ON ep.resource_type = 'Encounter' AND ep.resource_id = sp.resource_id AND ep.param COLLATE "C" = 'patient' AND ep.target_type = 'Patient'
      WHERE sp.resource_type = 'Encounter' AND sp.param = 'service-provider' AND ${inDepartments('sp')}
        AND ${encounterOpen('sp.resource_id', p, o)}`;
  return patientHolds(many, patient, ofOne, ofMany);
}

/** Facts that depend on the patient alone (not on the row, its encounter or its labels). */
export const PATIENT_LEVEL = new Set(['patient', 'careTeam', 'departments']);

/** How a patient-level condition is built: for one patient (false), many (true), or as its set of patients. */
type Many = boolean | 'set';

/**
 * The patients a patient-level condition (`careTeam` or `departments`, `eq` or `in`) holds for,
 * as a query of one column (duplicates possible): every patient for whom it is true is in it, and
 * no other. Undefined for any other field or operator. With `sets`, a read of the statement's CTE
 * of that set, listed once however many conditions of the statement ask for it.
 */
export function patientSetSql(field: string, op: string, value: unknown, p: SqlParams, o: AccessFactOptions, sets?: PatientLevelFacts): string | undefined {
  if (op !== 'eq' && op !== 'in') return undefined;
  if (field !== 'careTeam' && field !== 'departments') return undefined;
  const build = () =>
    field === 'careTeam'
      ? careTeamHas('set', '', memberList(op === 'eq' ? [value] : value), p, o)
      : departmentsHave('set', '', op === 'eq' ? [String(value)] : (value as unknown[]).map(String), p, o);
  // Listed once per statement when the statement keeps its sets (`PatientLevelFacts.patients`).
  return sets ? `SELECT s.patient FROM ${sets.patients(JSON.stringify([field, op, value]), build)} s` : build();
}

/** Thrown for a condition the SQL translation does not know: refused, never widened. */
export class UntranslatableConditionError extends Error {}

