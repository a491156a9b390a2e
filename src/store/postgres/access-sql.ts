import { CONFIDENTIALITY_ORDER, CONFIDENTIALITY_SYSTEM, type AccessCondition, type AccessFactOptions } from '../access-facts.js';
import { careTeamHas, careTeamRows, departmentRows, departmentsHave, encounterOpen, encountersOf, memberList, openEncountersOf, PATIENT_LEVEL, patientSetSql, UntranslatableConditionError } from './care-relations-sql.js';
import type { PatientLevelFacts } from './patient-level-facts.js';
import type { SqlParams } from './search-sql.js';

/*
 * SQL for `AccessFacts` over the search index tables, so the facts a single decision reads
 * and the facts a search is filtered on are computed by the same expressions (issue #3: a
 * search returns exactly what single reads would allow). `ref` is a SQL expression pair for
 * the resource (`r.resource_type`, `r.id`) or bound parameters for one resource. Fragments
 * that depend on the time bind the store's clock (`SqlParams.now`): bind with `atInstant`.
 */

export interface ResourceRef {
  type: string;
  id: string;
  /** Expressions already computing the resource's patient / encounter (a LATERAL column), to compute them once per row. */
  patient?: string;
  encounter?: string;
  /**
   * The rows judged are of many patients (a search across patients): patient-level conditions
   * are computed once as the set of patients they hold for, hashed, instead of once per row.
   */
  manyPatients?: boolean;
  /**
   * One patient's page (decision 0018): every row judged is of the type `resourceType` and filed
   * under `patient` (a bound value), as its `owner` column (`owner`) says. A row fact most records
   * lack (a label outside what a rule covers) is then looked up once among the patient's index
   * rows, and probed only on the rows that have it (`labelIn`).
   */
  onePatient?: { resourceType: string; owner: string };
  /** Every row judged is of the one patient `patient` (bound): its patient-level conditions are computed once per statement. */
  patientLevel?: PatientLevelFacts;
  /** With `manyPatients`: each set of patients is listed once per statement, in a CTE of the statement's (`PatientLevelFacts.patients`). */
  patientSets?: PatientLevelFacts;
}

/*
 * Plans that do not wait for statistics (issue #13, decision 0018). A fact of one resource is
 * read from its own index rows: the primary key (resource_type, resource_id, param, …). Its
 * `param`, and the codes it asks for, are compared `COLLATE "C"` (the same equality: both
 * collations are deterministic) so that no other index (`…_lookup`: type, param, code) can serve
 * the probe: on a fresh database PostgreSQL, estimating one row for either, otherwise picked the
 * lookup index and read every resource's rows of that param (or, for a label, every token row of
 * the type with a confidentiality code) for each row judged. Lookups that start from a patient or a
 * practitioner (who takes part in which encounter) keep their indexable form.
 */

/**
 * The Patient whose record a resource is (decisions 0016, 0018): its `owner` column, which every
 * write keeps (a Patient itself; its `_patient` row; a Provenance naming none, the owner of the
 * records it signs, filed again when they move). A row of `fhir_resource` passes `r.owner` as
 * `ref.patient`; this reads it for a resource named by parameters.
 */
export function patientOf(ref: ResourceRef): string {
  return ref.patient ?? `(SELECT o.owner FROM fhir_resource o WHERE o.resource_type = ${ref.type} AND o.id = ${ref.id})`;
}

/**
 * The Encounter a resource was recorded in: a probe of the resource's own reference rows (the
 * primary key's first two columns). Its `param` and `target_type` are compared `COLLATE "C"` (the
 * same equalities) so that `ix_fhir_search_reference_target`, led by the target's type, cannot
 * serve it: on a new database's small tables PostgreSQL chose that index for a nurse's page, which
 * reads every reference to any Encounter for each row (issue #13).
 */
export function encounterOf(ref: ResourceRef): string {
  return `(CASE WHEN ${ref.type} = 'Encounter' THEN ${ref.id} ELSE (SELECT min(x.target_id COLLATE "C") FROM fhir_search_reference x
    WHERE x.resource_type = ${ref.type} AND x.resource_id = ${ref.id} AND x.param COLLATE "C" IN ('encounter', 'context') AND x.target_type COLLATE "C" = 'Encounter') END)`;
}

/** The most restrictive confidentiality label, `N` when there is none (R-07). */
export function labelOf(ref: ResourceRef, p: SqlParams): string {
  return `COALESCE((SELECT x.code FROM fhir_search_token x WHERE x.resource_type = ${ref.type} AND x.resource_id = ${ref.id}
    AND x.param COLLATE "C" = '_security' AND x.system = ${p.add(CONFIDENTIALITY_SYSTEM)} AND x.code COLLATE "C" = ANY(${p.add(CONFIDENTIALITY_ORDER)}::text[])
    ORDER BY array_position(${p.add(CONFIDENTIALITY_ORDER)}::text[], x.code) DESC LIMIT 1), 'N')`;
}

/**
 * How many of a patient's records labelled outside a rule's labels `labelIn` looks up at most
 * before it probes every row instead: reading that many index rows once costs about what
 * probing the labels of a default page (20 rows) does, so a patient whose record is mostly
 * labelled (a VIP's, all `V`) pays about one page of probes more per statement (measured:
 * +0.05–0.1 ms at 50), and the others read no label at all on the rows without one, up to the
 * count's 500 rows.
 */
const LABELLED_UP_TO = 20;

/**
 * `label IN codes` (R-07), the same truth as `labelOf(ref) = ANY(codes)`, read as cheaply as the
 * rows allow. `labelOf` always gives a code of CONFIDENTIALITY_ORDER, so a list naming them all
 * holds for every resource and reads nothing (the HIS, medical affairs).
 *
 * On one patient's page (`ref.onePatient`), with `N` among the codes (every rule's default
 * labels): a record none of whose confidentiality codes is outside `codes` has a label in
 * `codes` (its most restrictive code, or `N` when it has none), so only the records that carry
 * a code outside `codes` need their label read. They are found once, from the patient's own
 * `_security` token rows (`ix_fhir_search_token_lookup`: type, param, code, owner; the rows
 * carry the owner of their record, kept by every write, `INDEX_TABLES.owned`), together with the
 * rows of that type that carry no owner (a signature's; and, should a row ever miss its owner,
 * it is probed rather than trusted). Each row is then judged by a lookup in that set and, when
 * it is in it, by the probe every row had before: the answer is the same on every row. Past
 * `LABELLED_UP_TO` such records every row is probed, as before. The set is an uncorrelated
 * subquery, so PostgreSQL runs it once per statement (an InitPlan) whatever its statistics say;
 * the per-row lookup is an operator on its result (`jsonb ? id`, a binary search), never a join,
 * so there is no join method or order for the planner to choose.
 */
function labelIn(codes: string[], r: ResourceRef, p: SqlParams): string {
  if (CONFIDENTIALITY_ORDER.every((c) => codes.includes(c))) return 'TRUE';
  const probe = `(${labelOf(r, p)}) = ANY(${p.add(codes)}::text[])`;
  const one = r.onePatient;
  if (!one || r.manyPatients || r.patient === undefined || !codes.includes('N')) return probe;
  const type = `${p.add(one.resourceType)}::text`;
  // The codes outside as a VALUES list, one parameter each: a plan kept for reuse (a generic plan)
  // then knows how many there are, as a plan made for the values does. As `unnest($n::text[])` it
  // assumed 10, costed the set 5× higher and was never kept: PostgreSQL planned a doctor's or a
  // nurse's statement again on every execution, 1–4 ms each (issue #13).
  const outside = CONFIDENTIALITY_ORDER.filter((c) => !codes.includes(c))
    .map((c) => `(${p.add(c)}::text)`)
    .join(', ');
  const system = p.add(CONFIDENTIALITY_SYSTEM);
  // One probe of the lookup index per code outside and owner: `l.code = c.code`, a parameter of
  // the LATERAL (fenced), is an equality the index takes whole; as `code = ANY(…)` PostgreSQL
  // with statistics read every labelled row of the type instead.
  const labelled = (owner: string) => `SELECT l.resource_id AS id FROM fhir_search_token l WHERE l.resource_type = ${type} AND l.param = '_security'
      AND l.code = c.code AND ${owner} AND l.system = ${system}`;
  const set = `(SELECT CASE WHEN count(*) <= ${LABELLED_UP_TO} THEN COALESCE(jsonb_object_agg(labelled.id, TRUE), '{}'::jsonb) END FROM (
      SELECT t.id FROM (VALUES ${outside}) AS c(code)
        CROSS JOIN LATERAL (${labelled(`l.owner = ${r.patient}`)} UNION ALL ${labelled('l.owner IS NULL')} OFFSET 0) t LIMIT ${LABELLED_UP_TO + 1}) labelled)`;
  // NULL (too many to look up) or a row in the set: probed.
  return `(COALESCE(${one.owner} = ${r.patient} AND NOT (${set} ? ${r.id}), FALSE) OR ${probe})`;
}

function tokenOf(ref: ResourceRef, param: string): string {
  return `(SELECT min(x.code COLLATE "C") FROM fhir_search_token x WHERE x.resource_type = ${ref.type} AND x.resource_id = ${ref.id} AND x.param COLLATE "C" = '${param}')`;
}

/** Is the resource inside the care window (its encounter, or any encounter of its patient)? */
function withinWindow(ref: ResourceRef, patient: string, encounter: string, p: SqlParams, o: AccessFactOptions): string {
  return `(CASE WHEN ${encounter} IS NOT NULL THEN ${encounterOpen(encounter, p, o)}
    ELSE EXISTS (${openEncountersOf(patient, p, o)}) END)`;
}

/**
 * `withinWindow` in a statement over one patient's rows (`PatientLevelFacts`): the patient's
 * encounters, and those inside the care window, are listed once per statement, so each row's
 * encounter is looked up in a list rather than probed (on a fresh database PostgreSQL read every
 * Encounter's status rows once per statement instead: a nurse's page cost grew with the
 * hospital's visits). An encounter of another patient (a record filed under a visit not its
 * patient's) is probed as before; a row of no encounter asks whether any encounter of the
 * patient is inside the window, once.
 */
function withinPatientsWindow(once: PatientLevelFacts, patient: string, encounter: string, p: SqlParams, o: AccessFactOptions): string {
  const all = once.of('encounters', () => `ARRAY(${encountersOf(patient)})::text[]`);
  const open = once.of(`open-encounters|${o.careWindowDays}`, () => `ARRAY(${openEncountersOf(patient, p, o)})::text[]`);
  // `= ANY(<an array expression>)`: over a bare subquery, ANY would compare with its rows (each an array).
  return `(CASE WHEN ${encounter} IS NULL THEN COALESCE(cardinality(${open}::text[]) > 0, FALSE)
    WHEN ${encounter} = ANY(${all}::text[]) THEN ${encounter} = ANY(${open}::text[])
    ELSE ${encounterOpen(encounter, p, o)} END)`;
}

/**
 * Every fact of one stored resource, as one row (`patient`, `encounter`, … with arrays as
 * text[]). Used for single decisions; the same expressions build search filters below.
 */
export function factsSelect(ref: ResourceRef, p: SqlParams, o: AccessFactOptions): string {
  const patient = patientOf(ref);
  const encounter = ref.encounter ?? encounterOf(ref);
  return `SELECT f.patient, f.encounter,
      (SELECT min(x.code) FROM fhir_search_token x WHERE x.resource_type = 'Encounter' AND x.resource_id = f.encounter AND x.param COLLATE "C" = 'class') AS encounter_class,
      (SELECT min(x.target_id) FROM fhir_search_reference x WHERE x.resource_type = 'Encounter' AND x.resource_id = f.encounter AND x.param COLLATE "C" = 'service-provider') AS department,
      ${withinWindow(ref, 'f.patient', 'f.encounter', p, o)} AS within_care_window,
      ARRAY(${careTeamRows('f.patient', p, o)}) AS care_team,
      ARRAY(${departmentRows('f.patient', p, o)}) AS departments,
      ARRAY(SELECT x.target_type || '/' || x.target_id FROM fhir_search_reference x WHERE x.resource_type = ${ref.type} AND x.resource_id = ${ref.id} AND x.param COLLATE "C" = 'author') AS authors,
      ${tokenOf(ref, 'status')} AS status,
      ARRAY(SELECT x.code FROM fhir_search_token x WHERE x.resource_type = ${ref.type} AND x.resource_id = ${ref.id} AND x.param COLLATE "C" = 'type') AS doc_type,
      ${labelOf(ref, p)} AS label
    FROM (SELECT ${patient} AS patient, ${encounter} AS encounter) f`;
}

/**
 * The facts that depend on the patient and encounter only, for a resource that is not
 * stored yet (the incoming version of a create or update): its own facts come from its index.
 */
export function contextFactsSelect(patient: string, encounter: string, p: SqlParams, o: AccessFactOptions): string {
  return `SELECT
      (SELECT min(x.code) FROM fhir_search_token x WHERE x.resource_type = 'Encounter' AND x.resource_id = ${encounter} AND x.param COLLATE "C" = 'class') AS encounter_class,
      (SELECT min(x.target_id) FROM fhir_search_reference x WHERE x.resource_type = 'Encounter' AND x.resource_id = ${encounter} AND x.param COLLATE "C" = 'service-provider') AS department,
      (CASE WHEN ${encounter}::text IS NOT NULL THEN ${encounterOpen(encounter, p, o)} ELSE EXISTS (${openEncountersOf(patient, p, o)}) END) AS within_care_window,
      ARRAY(${careTeamRows(patient, p, o)}) AS care_team,
      ARRAY(${departmentRows(patient, p, o)}) AS departments`;
}

/**
 * An access condition as a SQL boolean over `r` (the `fhir_resource` row being searched).
 * Unknown fields or operators throw: a filter that cannot be expressed is refused, never dropped.
 */
export function accessConditionSql(c: AccessCondition, r: ResourceRef, p: SqlParams, o: AccessFactOptions): string {
  switch (c.operator) {
    case 'and':
      return c.value.length ? `(${c.value.map((v) => accessConditionSql(v, r, p, o)).join(' AND ')})` : 'TRUE';
    case 'or':
      return c.value.length ? `(${c.value.map((v) => accessConditionSql(v, r, p, o)).join(' OR ')})` : 'FALSE';
    case 'not':
      return `NOT COALESCE(${accessConditionSql(c.value[0], r, p, o)}, FALSE)`;
    default:
      return fieldSql(c.field, c.operator, c.value, r, p, o);
  }
}

function fieldSql(field: string, op: 'eq' | 'ne' | 'in' | 'nin', value: unknown, r: ResourceRef, p: SqlParams, o: AccessFactOptions): string {
  if (r.patientLevel && PATIENT_LEVEL.has(field)) {
    return r.patientLevel.of(JSON.stringify([field, op, value]), () => fieldSql(field, op, value, { ...r, patientLevel: undefined }, p, o));
  }
  const list = (): string => {
    if (!Array.isArray(value)) throw new UntranslatableConditionError(`${field} ${op} needs a list`);
    return `${p.add(value.map(String))}::text[]`;
  };
  /** A scalar fact compared with eq/ne/in/nin; NULL facts match only ne/nin (as CASL does in memory). */
  const scalar = (expr: string): string => {
    switch (op) {
      case 'eq':
        return `(${expr}) = ${p.add(String(value))}`;
      case 'ne':
        return `(${expr}) IS DISTINCT FROM ${p.add(String(value))}`;
      case 'in':
        return `(${expr}) = ANY(${list()})`;
      case 'nin':
        return `NOT COALESCE((${expr}) = ANY(${list()}), FALSE)`;
    }
  };
  /** An array fact: eq = contains, in = overlaps; ne/nin their negations. */
  const array = (rows: string): string => {
    const values = op === 'eq' || op === 'ne' ? `ARRAY[${p.add(String(value))}::text]` : list();
    const hit = `EXISTS (SELECT 1 FROM (${rows}) AS a(v) WHERE a.v = ANY(${values}))`;
    return op === 'eq' || op === 'in' ? hit : `NOT ${hit}`;
  };
  const patient = r.patient ?? patientOf(r);
  const encounter = r.encounter ?? encounterOf(r);
  // Across patients, a set the statement keeps is read from its CTE (listed once per statement).
  const listed = r.manyPatients && r.patientSets ? patientSetSql(field, op, value, p, o, r.patientSets) : undefined;
  if (listed !== undefined) return `COALESCE(${patient} IN (${listed}), FALSE)`;
  switch (field) {
    case 'type':
      return scalar(r.type);
    case 'id':
      return scalar(r.id);
    case 'patient':
      return scalar(patient);
    case 'encounter':
      return scalar(encounter);
    case 'encounterClass':
      return scalar(`SELECT min(x.code) FROM fhir_search_token x WHERE x.resource_type = 'Encounter' AND x.resource_id = ${encounter} AND x.param COLLATE "C" = 'class'`);
    case 'department':
      return scalar(`SELECT min(x.target_id) FROM fhir_search_reference x WHERE x.resource_type = 'Encounter' AND x.resource_id = ${encounter} AND x.param COLLATE "C" = 'service-provider'`);
    case 'status':
      return scalar(tokenOf(r, 'status'));
    case 'label':
      if (op === 'eq') return labelIn([String(value)], r, p);
      if (op === 'in') {
        if (!Array.isArray(value)) throw new UntranslatableConditionError('label in needs a list');
        return labelIn(value.map(String), r, p);
      }
      return scalar(labelOf(r, p));
    case 'withinCareWindow':
      if (op !== 'eq' || typeof value !== 'boolean') throw new UntranslatableConditionError('withinCareWindow takes eq true/false');
      return `${value ? '' : 'NOT '}${r.patientLevel ? withinPatientsWindow(r.patientLevel, patient, encounter, p, o) : withinWindow(r, patient, encounter, p, o)}`;
    case 'careTeam':
      // Driven from the member's own participations (a few index rows), not from the whole team.
      if (op === 'eq' || op === 'in') return careTeamHas(r.manyPatients === true, patient, memberList(op === 'eq' ? [value] : value), p, o);
      return array(careTeamRows(patient, p, o));
    case 'departments':
      if (op === 'eq' || op === 'in') return departmentsHave(r.manyPatients === true, patient, op === 'eq' ? [String(value)] : (value as unknown[]).map(String), p, o);
      return array(departmentRows(patient, p, o));
    case 'authors':
      return array(`SELECT x.target_type || '/' || x.target_id FROM fhir_search_reference x WHERE x.resource_type = ${r.type} AND x.resource_id = ${r.id} AND x.param COLLATE "C" = 'author'`);
    case 'docType':
      return array(`SELECT x.code FROM fhir_search_token x WHERE x.resource_type = ${r.type} AND x.resource_id = ${r.id} AND x.param COLLATE "C" = 'type'`);
    default:
      throw new UntranslatableConditionError(`no SQL for access fact "${field}"`);
  }
}
