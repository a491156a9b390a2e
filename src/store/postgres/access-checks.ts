import { OWNER_PARAM } from '../patient-compartment.js';
import type { Resource } from '@medplum/fhirtypes';
import type { Clock } from '../../common/clock.js';
import { byCodeUnit } from '../../common/code-unit-order.js';
import type { Queryable } from '../../database/chartwarden-database.js';
import { CONFIDENTIALITY_ORDER, CONFIDENTIALITY_SYSTEM, type AccessCondition, type AccessFactOptions, type AccessFacts } from '../access-facts.js';
import { notFoundError, type StoredJson } from '../fhir-store.port.js';
import type { RecordRef } from '../patient-record-index.port.js';
import type { SearchIndex } from '../search/search-index.extractor.js';
import { accessConditionSql, contextFactsSelect, factsSelect } from './access-sql.js';
import { atInstant, SqlParams } from './search-sql.js';
import { SIGNATURE_TYPE, SIGNED_PARAM, signedRecordOwners } from './signed-records.js';

const PREPARED = { prepare: true };

/** One row of `factsSelect`. */
interface FactsRow {
  patient: string | null;
  encounter: string | null;
  encounter_class: string | null;
  department: string | null;
  within_care_window: boolean;
  care_team: string[];
  departments: string[];
  authors: string[];
  status: string | null;
  doc_type: string[];
  label: string;
}

/**
 * Single access decisions of the embedded store (issue #3): the facts of a stored or incoming
 * version, and access conditions evaluated on stored records, with the very SQL expressions
 * searches are filtered by (`access-sql.ts`). "Now" (the care window) is the store's clock.
 */
export class AccessChecks {
  constructor(
    private readonly q: Queryable,
    private readonly clock: Clock,
  ) {}

  /** The access facts of the current version of a stored resource. Throws `StoreError(NotFound)`. */
  async storedFacts(resourceType: string, id: string, options: AccessFactOptions): Promise<AccessFacts> {
    const p = new SqlParams();
    const ref = { type: p.add(resourceType), id: p.add(id) };
    const sql = `SELECT f.* FROM fhir_resource r, LATERAL (${factsSelect({ type: 'r.resource_type', id: 'r.id', patient: 'r.owner' }, p, options)}) f
      WHERE r.resource_type = ${ref.type} AND r.id = ${ref.id}`;
    const rows = await this.q.query<FactsRow>(sql, this.bind(p.values));
    if (rows.length === 0) throw notFoundError(resourceType, id);
    const f = rows[0];
    return {
      type: resourceType,
      id,
      patient: f.patient ?? undefined,
      encounter: f.encounter ?? undefined,
      encounterClass: f.encounter_class ?? undefined,
      department: f.department ?? undefined,
      withinCareWindow: f.within_care_window,
      careTeam: f.care_team,
      departments: f.departments,
      authors: f.authors,
      status: f.status ?? undefined,
      docType: f.doc_type,
      label: f.label,
    };
  }

  /** `FhirStore.check`: the first condition that holds on a stored resource, with its patient (and content when asked). */
  async check(
    resourceType: string,
    id: string,
    conditions: readonly AccessCondition[],
    options: AccessFactOptions,
    withContent: boolean,
  ): Promise<{ stored?: StoredJson; patient?: string; firstMatch: number }> {
    const sql = checkSql(conditions, options, withContent, resourceType === 'Patient');
    const rows = await this.q.query<Record<string, unknown>>(sql.text, this.bind([...sql.params, resourceType, id]), PREPARED);
    if (rows.length === 0) throw notFoundError(resourceType, id);
    const row = rows[0];
    return {
      stored: withContent
        ? { json: row.json as string, versionId: String(row.version_id), lastUpdated: (row.last_updated as Date).toISOString() }
        : undefined,
      patient: (row.patient as string | null) ?? undefined,
      firstMatch: Number(row.first_match),
    };
  }

  /** `FhirStore.checkMany`: `check` for many resources of one type in one round trip; unknown ids are left out. */
  async checkMany(
    resourceType: string,
    ids: readonly string[],
    conditions: readonly AccessCondition[],
    options: AccessFactOptions,
  ): Promise<Map<string, { patient?: string; firstMatch: number }>> {
    const out = new Map<string, { patient?: string; firstMatch: number }>();
    if (ids.length === 0) return out;
    const sql = checkSql(conditions, options, false, false, true);
    const params = this.bind([...sql.params, resourceType, [...new Set(ids)]]);
    const rows = await this.q.query<{ id: string; patient: string | null; first_match: number }>(sql.text, params, PREPARED);
    for (const row of rows) out.set(row.id, { patient: row.patient ?? undefined, firstMatch: Number(row.first_match) });
    return out;
  }

  /** The access facts `resource` would have if stored as given: its own facts from its index, its context from the store. */
  async incomingFacts(resource: Resource, index: SearchIndex, options: AccessFactOptions): Promise<AccessFacts> {
    const refTarget = (params: string[], targetType: string) =>
      index.references
        .filter((r) => params.includes(r.param) && r.targetType === targetType)
        .map((r) => r.targetId)
        .sort(byCodeUnit)[0];
    const own = resource.resourceType === 'Patient' ? resource.id : refTarget([OWNER_PARAM], 'Patient');
    // A Provenance that would concern two patients has none here (`SignedRecordOwners.spans`): a
    // clinician is refused as for any record he may not write, before the store's refusal (422)
    // could tell him the other record exists and whose it is.
    const patient = resource.resourceType === SIGNATURE_TYPE ? (await signedRecordOwners(this.q, own, signedRecords(index))).patient : own;
    const encounter = resource.resourceType === 'Encounter' ? resource.id : refTarget(['encounter', 'context'], 'Encounter');
    const tokens = (param: string) => index.tokens.filter((t) => t.param === param);
    const labels = tokens('_security')
      .filter((t) => t.system === CONFIDENTIALITY_SYSTEM && CONFIDENTIALITY_ORDER.includes(t.code))
      .map((t) => t.code)
      .sort((a, b) => CONFIDENTIALITY_ORDER.indexOf(b) - CONFIDENTIALITY_ORDER.indexOf(a));
    type ContextRow = Omit<FactsRow, 'patient' | 'encounter' | 'authors' | 'status' | 'doc_type' | 'label'>;
    let ctx: ContextRow = { encounter_class: null, department: null, within_care_window: false, care_team: [], departments: [] };
    if (!options.withoutContext) {
      const p = new SqlParams();
      const [pat, enc] = [`${p.add(patient ?? null)}::text`, `${p.add(encounter ?? null)}::text`];
      [ctx] = await this.q.query<ContextRow>(contextFactsSelect(pat, enc, p, options), this.bind(p.values), PREPARED);
    }
    return {
      type: resource.resourceType,
      id: resource.id,
      patient,
      encounter,
      encounterClass: ctx.encounter_class ?? undefined,
      department: ctx.department ?? undefined,
      withinCareWindow: ctx.within_care_window,
      careTeam: ctx.care_team,
      departments: ctx.departments,
      authors: index.references.filter((r) => r.param === 'author').map((r) => `${r.targetType}/${r.targetId}`),
      status: tokens('status').map((t) => t.code).sort(byCodeUnit)[0],
      docType: tokens('type').map((t) => t.code),
      label: labels[0] ?? 'N',
    };
  }

  private bind(values: readonly unknown[]): unknown[] {
    return atInstant(values, this.clock.now());
  }
}

const checkSqlCache = new WeakMap<readonly AccessCondition[], Map<string, { text: string; params: unknown[] }>>();

/**
 * The access check of one stored resource: its patient, the index of the first condition
 * that holds (CASE stops there: later rules cost nothing), and its JSON when asked. Built
 * once per conditions array (the policy reuses it per actor, action and type); the
 * resource type and id are the last two parameters. `many`: the id parameter is an array
 * of ids, and each row names its id.
 */
function checkSql(
  conditions: readonly AccessCondition[],
  options: AccessFactOptions,
  withContent: boolean,
  isPatient: boolean,
  many = false,
): { text: string; params: unknown[] } {
  const key = `${options.careWindowDays}|${withContent}|${isPatient}|${many}`;
  let byKey = checkSqlCache.get(conditions);
  const cached = byKey?.get(key);
  if (cached) return cached;
  const p = new SqlParams();
  // A Patient is its own patient: with the id as a parameter, the patient-level conditions do
  // not depend on the row and PostgreSQL evaluates them once (InitPlans).
  const PATIENT_ID = '\u0000patient-id\u0000';
  const r = { type: 'r.resource_type', id: 'r.id', patient: isPatient ? PATIENT_ID : 'r.owner' };
  const first = conditions.length
    ? `CASE ${conditions.map((c, i) => `WHEN COALESCE(${accessConditionSql(c, r, p, options)}, FALSE) THEN ${i}`).join(' ')} ELSE -1 END`
    : '-1';
  const n = p.values.length;
  const columns = `${many ? 'r.id, ' : ''}${withContent ? 'COALESCE(r.content_text, r.content::text) AS json, r.version_id, r.last_updated, ' : ''}`;
  const built = {
    text: `SELECT ${columns}r.owner AS patient, ${first.split(PATIENT_ID).join(`$${n + 2}::text`)} AS first_match
       FROM fhir_resource r WHERE r.resource_type = $${n + 1} AND r.id = ${many ? `ANY($${n + 2}::text[])` : `$${n + 2}`}`,
    params: p.values,
  };
  if (!byKey) checkSqlCache.set(conditions, (byKey = new Map()));
  byKey.set(key, built);
  return built;
}

/** The records a signature signs, as its index references them. */
function signedRecords(index: SearchIndex): RecordRef[] {
  return index.references.filter((r) => r.param === SIGNED_PARAM).map((r) => ({ type: r.targetType, id: r.targetId }));
}
