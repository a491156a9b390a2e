import { SqlParams } from '../../database/sql-params.js';
import type { AccessCondition, AccessFactOptions, AccessFilter } from '../access-facts.js';
import { PATIENT_LEVEL, patientSetSql } from './care-relations-sql.js';
import { PatientLevelFacts } from './patient-level-facts.js';

/*
 * What parts of an access condition read (issue #13, decision 0018): the row's encounter, the
 * patient alone, and the patients a condition can hold for at all.
 */

/** Facts read from the resource's encounter. */
const ENCOUNTER_LEVEL = new Set(['encounter', 'encounterClass', 'department', 'withinCareWindow']);

/**
 * Whether some comparison of `c` reads one of `facts` (`every`: whether all of them do; a
 * condition with none reads only `facts`). Walked without building lists: a search asks it of
 * the caller's condition for every statement it builds.
 */
function readsFacts(c: AccessCondition, facts: ReadonlySet<string>, every: boolean): boolean {
  switch (c.operator) {
    case 'and':
    case 'or':
    case 'not':
      return every ? c.value.every((v) => readsFacts(v, facts, true)) : c.value.some((v) => readsFacts(v, facts, false));
    default:
      return facts.has(c.field);
  }
}

/** Whether a condition reads the resource's encounter (so a search computes it once per row). */
export function readsEncounter(c: AccessCondition): boolean {
  return readsFacts(c, ENCOUNTER_LEVEL, false);
}

/**
 * What a condition asks of the patient alone: every row it allows is of a patient this allows
 * (`null`: any patient). Row facts are dropped (taken as true), a negation is kept only when
 * it reads the patient alone. A search across patients filters the criterion's index rows by
 * it (their `owner`) before reading any resource; the full condition still judges each row.
 */
export function patientLevelPart(c: AccessCondition): AccessCondition | null {
  switch (c.operator) {
    case 'and': {
      const parts = c.value.map(patientLevelPart).filter((v): v is AccessCondition => v !== null);
      return parts.length ? { operator: 'and', value: parts } : null;
    }
    case 'or': {
      const parts = c.value.map(patientLevelPart);
      return parts.some((v) => v === null) ? null : { operator: 'or', value: parts as AccessCondition[] };
    }
    case 'not':
      return readsFacts(c.value[0], PATIENT_LEVEL, true) ? c : null;
    default:
      return PATIENT_LEVEL.has(c.field) ? c : null;
  }
}

/**
 * The patients a statement may visit (`visiblePatientsSql` of the filter's condition), built into
 * the statement's `p` and `sets`; undefined, adding nothing to either, when they cannot be listed.
 * Built into scratch ones first: an `or` or an `and` may build some parts before it finds one that
 * cannot be listed, and those parts' parameters would stay in the statement, unbound to any
 * placeholder PostgreSQL can type.
 */
export function listedPatientsSql(access: AccessFilter, p: SqlParams, sets: PatientLevelFacts): string | undefined {
  return access.condition !== null && listsPatients(access) ? visiblePatientsSql(access.condition, p, access.options, sets) : undefined;
}

/** Whether the filter's patients can be listed (`listedPatientsSql`): built into scratch parameters and sets, and dropped. */
export function listsPatients(access: AccessFilter): boolean {
  return access.condition !== null && visiblePatientsSql(access.condition, new SqlParams(), access.options, new PatientLevelFacts()) !== undefined;
}

/** A query of one column listing no patient. */
const NO_PATIENT = 'SELECT NULL::text WHERE FALSE';

/**
 * A query of one column listing every patient the condition `c` can hold for (a superset, with
 * duplicates possible: each row allowed is filed under one of them, and a row filed under no
 * patient is allowed by none), computed from the same sets a search across patients hashes
 * (`patientSetSql`). Undefined when the condition cannot be enumerated so: a negation, a `ne` or
 * `nin`, or a branch of an `or` that reads only the row. A search reads the patients' rows one
 * patient at a time from it (`broadPageSql`); the full condition still judges each row. With
 * `sets`, each set is the statement's CTE, which the row's judgement reads too.
 */
export function visiblePatientsSql(c: AccessCondition, p: SqlParams, o: AccessFactOptions, sets?: PatientLevelFacts): string | undefined {
  switch (c.operator) {
    case 'and':
      // Every row allowed satisfies each part: any part that can be enumerated bounds them.
      for (const part of c.value) {
        const set = visiblePatientsSql(part, p, o, sets);
        if (set !== undefined) return set;
      }
      return undefined;
    case 'or': {
      if (c.value.length === 0) return NO_PATIENT;
      const parts = c.value.map((part) => visiblePatientsSql(part, p, o, sets));
      return parts.every((s) => s !== undefined) ? parts.map((s) => `(${s})`).join(' UNION ALL ') : undefined;
    }
    case 'not':
      return undefined;
    default:
      if (c.field !== 'patient') return patientSetSql(c.field, c.operator, c.value, p, o, sets);
      if (c.operator === 'eq') return `SELECT ${p.add(String(c.value))}::text`;
      // An empty list lists no one, as a constant (an `unnest` of it is estimated at 10 patients in a reused plan).
      if (c.operator === 'in' && Array.isArray(c.value)) return c.value.length === 0 ? NO_PATIENT : `SELECT unnest(${p.add(c.value.map(String))}::text[])`;
      return undefined;
  }
}
