import { storedColumns, storedResource, type StoredRow } from './stored-content.js';
import type { Encounter, Resource } from '@medplum/fhirtypes';
import type pg from 'pg';
import type { Queryable } from '../../database/chartwarden-database.js';
import { notFoundError } from '../fhir-store.port.js';
import { PatientRecordIndex, type IndexedRecord, type PatientVisits, type RecordRef, type VersionRef } from '../patient-record-index.port.js';
import { SearchParameterRegistry } from '../search/search-parameter.registry.js';
import { OWNER_PARAM, PatientCompartment } from '../patient-compartment.js';

/** A current row of `fhir_resource`, with the encounter it was found under when asked. */
interface RecordRow extends StoredRow {
  version_id: number;
  last_updated: Date;
  encounter?: string;
}

/** A record's version and its stored text (decision 0014: a copy prints `4.50` as it was sent). */
const RECORD_COLUMNS = `r.version_id, r.last_updated, ${storedColumns('r')}`;

/** Ends of periods still open are stored as `infinity`, which node-postgres reads as a number: the latest representable instant instead. */
const END_OF_TIME = new Date(8.64e15);

/**
 * The embedded store's answers to `PatientRecordIndex`, over its search index tables, on one
 * connection or transaction (`q`). Each query is the one the feature ran on these tables before
 * the store boundary (issue #15), so plans and answers are unchanged. Contents are returned as
 * stored, carrying their stored text; callers hash them (RFC 8785, whatever the key order).
 */
export class PostgresRecordIndex extends PatientRecordIndex {
  constructor(
    private readonly q: Queryable,
    private readonly registry: SearchParameterRegistry,
    private readonly compartment: PatientCompartment,
    /** False over the pool (a store outside a transaction): a lock would end with its statement, so locking is refused. */
    private readonly inTransaction = true,
  ) {
    super();
  }

  /**
   * An index over a connection an offline command opened (ledger verify, seal verify, the
   * retention report): the search parameters and the compartment loaded from the shipped
   * profiles, as the module does. Locks last as long as the transaction the caller opened on `q`.
   */
  static over(q: Queryable): PostgresRecordIndex {
    return new PostgresRecordIndex(q, SearchParameterRegistry.fromProfiles(), PatientCompartment.fromProfiles());
  }

  /** `over` a plain `pg` client (or pool), in whatever transaction the caller opened on it. */
  static overClient(client: pg.ClientBase | pg.Pool): PostgresRecordIndex {
    return PostgresRecordIndex.over({
      query: async <T>(sql: string, parameters?: unknown[]) => (await client.query(sql, parameters)).rows as T[],
    });
  }

  async encountersOfPatient(patient: string, period?: { from: string; to: string }): Promise<string[]> {
    const rows = await this.q.query<{ id: string }>(
      `SELECT DISTINCT x.resource_id AS id FROM fhir_search_reference x
        WHERE x.resource_type = 'Encounter' AND x.param = '${OWNER_PARAM}' AND x.target_id = $1
          AND ($2::timestamptz IS NULL OR EXISTS (SELECT 1 FROM fhir_search_date d WHERE d.resource_type = 'Encounter' AND d.resource_id = x.resource_id
                AND d.param = 'date' AND d.low <= $3::timestamptz AND d.high >= $2::timestamptz))
        ORDER BY 1`,
      [patient, period?.from ?? null, period?.to ?? null],
    );
    return rows.map((r) => r.id);
  }

  async encountersOfDepartment(department: string, options: { classCode?: string; limit: number }): Promise<Encounter[]> {
    const params: unknown[] = [department, options.limit];
    const ofClass = options.classCode === undefined ? '' : `AND e.content -> 'class' ->> 'code' = $${params.push(options.classCode)}`;
    const rows = await this.q.query<{ content: Encounter }>(
      `SELECT e.content FROM fhir_resource e
        WHERE e.resource_type = 'Encounter' ${ofClass}
          AND EXISTS (SELECT 1 FROM fhir_search_reference sp WHERE sp.resource_type = 'Encounter' AND sp.resource_id = e.id
                        AND sp.param = 'service-provider' AND sp.target_id = $1)
        ORDER BY e.last_updated DESC LIMIT $2`,
      params,
    );
    return rows.map((r) => r.content);
  }

  async recordsOfEncounters(
    encounters: readonly string[],
    types: readonly string[],
    options: { excludingStatuses?: readonly string[] } = {},
  ): Promise<IndexedRecord[]> {
    if (encounters.length === 0 || types.length === 0) return [];
    const params: unknown[] = [encounters, types];
    const open = options.excludingStatuses
      ? `WHERE coalesce(r.content ->> 'docStatus', r.content ->> 'status', '') <> ALL($${params.push(options.excludingStatuses)}::text[])`
      : '';
    // One row per record and encounter, even when both `encounter` and `context` name it.
    const rows = await this.q.query<RecordRow>(
      `SELECT ${RECORD_COLUMNS}, x.encounter
         FROM (SELECT DISTINCT resource_type, resource_id, target_id AS encounter FROM fhir_search_reference
                WHERE param IN ('encounter', 'context') AND target_type = 'Encounter' AND target_id = ANY($1::text[])
                  AND resource_type = ANY($2::text[])) x
         JOIN fhir_resource r ON r.resource_type = x.resource_type AND r.id = x.resource_id
        ${open}
        ORDER BY r.resource_type || '/' || r.id, x.encounter`,
      params,
    );
    return rows.map(indexed);
  }

  async documentKeysOfDepartment(department: string, types: readonly string[], excludingStatuses: readonly string[]): Promise<RecordRef[]> {
    const rows = await this.q.query<{ type: string; id: string }>(
      `SELECT r.resource_type AS type, r.id FROM fhir_resource r
        WHERE r.resource_type = ANY($1::text[])
          AND coalesce(r.content ->> 'docStatus', r.content ->> 'status', '') <> ALL($2::text[])
          AND EXISTS (SELECT 1 FROM fhir_search_reference e
                        JOIN fhir_search_reference sp ON sp.resource_type = 'Encounter' AND sp.resource_id = e.target_id AND sp.param = 'service-provider'
                       WHERE e.resource_type = r.resource_type AND e.resource_id = r.id AND e.param IN ('encounter', 'context')
                         AND e.target_type = 'Encounter' AND sp.target_id = $3)
        ORDER BY r.last_updated, r.resource_type, r.id`,
      [types, excludingStatuses, department],
    );
    return rows;
  }

  /** An empty `encounters` list restricts nothing, as an absent one (a copy request naming no encounter). */
  async recordsOfPatient(patient: string, types: readonly string[], options: { encounters?: readonly string[] } = {}): Promise<IndexedRecord[]> {
    const rows = await this.q.query<RecordRow>(
      `SELECT ${RECORD_COLUMNS} FROM fhir_resource r
        WHERE r.resource_type = ANY($1::text[])
          AND EXISTS (SELECT 1 FROM fhir_search_reference s WHERE s.resource_type = r.resource_type AND s.resource_id = r.id
                        AND s.param = '${OWNER_PARAM}' AND s.target_id = $2)
          AND ($3::text[] IS NULL OR EXISTS (SELECT 1 FROM fhir_search_reference e WHERE e.resource_type = r.resource_type AND e.resource_id = r.id
                        AND e.param IN ('encounter', 'context') AND e.target_type = 'Encounter' AND e.target_id = ANY($3::text[])))
        ORDER BY r.last_updated, r.resource_type, r.id`,
      [types, patient, options.encounters?.length ? options.encounters : null],
    );
    return rows.map(indexed);
  }

  async sealScope(
    scope: { patient: string; encounters: readonly string[]; wholeRecord: boolean; also: readonly RecordRef[] },
    lock: boolean,
  ): Promise<IndexedRecord[]> {
    if (lock) this.requireTransaction('sealScope');
    const { types, params } = this.compartment.memberParams(this.registry);
    const rows = await this.q.query<RecordRow>(
      `WITH base AS (
         SELECT 'Encounter'::text AS resource_type, e AS resource_id FROM unnest($1::text[]) e
         UNION SELECT x.resource_type, x.resource_id FROM fhir_search_reference x
          WHERE x.param IN ('encounter', 'context') AND x.target_type = 'Encounter' AND x.target_id = ANY($1::text[])
            AND EXISTS (SELECT 1 FROM fhir_search_reference s WHERE s.resource_type = x.resource_type AND s.resource_id = x.resource_id
                          AND s.param = '${OWNER_PARAM}' AND s.target_id = $3)
         UNION SELECT x.resource_type, x.resource_id FROM fhir_search_reference x
          WHERE $2 AND x.target_type = 'Patient' AND x.target_id = $3 AND x.resource_type <> 'Patient'
            AND (x.resource_type, x.param) IN (SELECT * FROM unnest($4::text[], $5::text[]))
       ), signed AS (
         SELECT p.resource_type, p.resource_id FROM fhir_search_reference p JOIN base b ON p.target_type = b.resource_type AND p.target_id = b.resource_id
          WHERE p.resource_type = 'Provenance' AND p.param = 'target'
       ), also AS (
         SELECT * FROM unnest($6::text[], $7::text[])
       )
       SELECT ${RECORD_COLUMNS} FROM fhir_resource r
        WHERE (r.resource_type, r.id) IN (SELECT * FROM base UNION SELECT * FROM signed UNION SELECT * FROM also)
        ORDER BY r.resource_type, r.id${lock ? ' FOR UPDATE' : ''}`,
      [scope.encounters, scope.wholeRecord, scope.patient, types, params, scope.also.map((r) => r.type), scope.also.map((r) => r.id)],
    );
    return rows.map(indexed);
  }

  async lastVisits(outpatientClasses: readonly string[]): Promise<PatientVisits[]> {
    const rows = await this.q.query<{ patient: string; last_outpatient: Date | number | null; last_inpatient: Date | number | null; open: boolean }>(
      `WITH visits AS (
         SELECT x.target_id AS patient, e.content -> 'class' ->> 'code' = ANY($1::text[]) AS outpatient,
                e.content -> 'period' ->> 'end' IS NULL AS open,
                -- The search index's upper bound of the period: partial dates ("2005-03") are already resolved there.
                (SELECT max(d.high) FROM fhir_search_date d WHERE d.resource_type = 'Encounter' AND d.resource_id = e.id AND d.param = 'date') AS ended
           FROM fhir_resource e
           JOIN fhir_search_reference x ON x.resource_type = 'Encounter' AND x.resource_id = e.id AND x.param = '${OWNER_PARAM}'
          WHERE e.resource_type = 'Encounter' AND coalesce(e.content ->> 'status', '') NOT IN ('cancelled', 'entered-in-error')
       )
       SELECT patient, max(ended) FILTER (WHERE outpatient) AS last_outpatient, max(ended) FILTER (WHERE NOT outpatient) AS last_inpatient,
              bool_or(open) AS open
         FROM visits GROUP BY patient ORDER BY patient`,
      [outpatientClasses],
    );
    return rows.map((r) => ({
      patient: r.patient,
      ...(r.last_outpatient !== null ? { lastOutpatient: instant(r.last_outpatient) } : {}),
      ...(r.last_inpatient !== null ? { lastInpatient: instant(r.last_inpatient) } : {}),
      open: r.open,
    }));
  }

  async patientsWithIdentifierValue(value: string, page: { limit: number; after?: string }): Promise<string[]> {
    // The token lookup index (resource_type, param, code); a current version's rows only (a write replaces them).
    const rows = await this.q.query<{ id: string }>(
      `SELECT DISTINCT t.resource_id AS id FROM fhir_search_token t
        WHERE t.resource_type = 'Patient' AND t.param = 'identifier' AND t.code = $1
          AND ($2::text IS NULL OR t.resource_id > $2::text)
        ORDER BY 1 LIMIT $3`,
      [value, page.after ?? null, page.limit],
    );
    return rows.map((r) => r.id);
  }

  async readMany(refs: readonly RecordRef[]): Promise<IndexedRecord[]> {
    if (refs.length === 0) return [];
    const rows = await this.q.query<RecordRow>(
      `SELECT ${RECORD_COLUMNS} FROM fhir_resource r WHERE (r.resource_type, r.id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
      [refs.map((r) => r.type), refs.map((r) => r.id)],
    );
    return rows.map(indexed);
  }

  async versions(refs: readonly VersionRef[]): Promise<Map<string, Resource>> {
    // Version ids are opaque to callers; this store's are integers, and any other id names no version of it.
    const known = refs.filter((r) => /^\d{1,9}$/.test(r.version));
    const out = new Map<string, Resource>();
    if (known.length === 0) return out;
    const rows = await this.q.query<{ resource_type: string; id: string; version_id: number; content: Resource }>(
      `SELECT v.resource_type, v.id, v.version_id, v.content FROM fhir_resource_version v
        WHERE (v.resource_type, v.id, v.version_id) IN (SELECT * FROM unnest($1::text[], $2::text[], $3::int[]))`,
      [known.map((r) => r.type), known.map((r) => r.id), known.map((r) => Number(r.version))],
    );
    for (const r of rows) out.set(`${r.resource_type}/${r.id}/${r.version_id}`, r.content);
    return out;
  }

  async currentVersions(refs: readonly RecordRef[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (refs.length === 0) return out;
    const rows = await this.q.query<{ resource_type: string; id: string; version_id: number }>(
      `SELECT r.resource_type, r.id, r.version_id FROM fhir_resource r WHERE (r.resource_type, r.id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
      [refs.map((r) => r.type), refs.map((r) => r.id)],
    );
    for (const r of rows) out.set(`${r.resource_type}/${r.id}`, String(r.version_id));
    return out;
  }

  async firstTimes(ref: RecordRef, statuses: readonly string[]): Promise<{ created: Date; reached?: Date }> {
    const [times] = await this.q.query<{ created: Date | null; reached: Date | null }>(
      `SELECT min(last_updated) AS created,
              min(last_updated) FILTER (WHERE coalesce(content->>'docStatus', content->>'status') = ANY($3::text[])) AS reached
         FROM fhir_resource_version WHERE resource_type = $1 AND id = $2`,
      [ref.type, ref.id, statuses],
      { prepare: true },
    );
    if (!times.created) throw notFoundError(ref.type, ref.id);
    return { created: times.created, ...(times.reached ? { reached: times.reached } : {}) };
  }

  async recordsUpdatedSince(types: readonly string[], since: Date, ref?: RecordRef): Promise<RecordRef[]> {
    const rows = await this.q.query<{ resource_type: string; id: string }>(
      `SELECT r.resource_type, r.id FROM fhir_resource r
        WHERE r.resource_type = ANY($1::text[])
          AND ($2::text IS NULL OR (r.resource_type = $2 AND r.id = $3))
          AND r.last_updated >= $4
        ORDER BY r.resource_type, r.id`,
      [types, ref?.type ?? null, ref?.id ?? null, since],
    );
    return rows.map((r) => ({ type: r.resource_type, id: r.id }));
  }

  async currentDiffersFromVersion(types: readonly string[], ref?: RecordRef): Promise<(RecordRef & { version: string })[]> {
    const rows = await this.q.query<{ resource_type: string; id: string; version_id: number }>(
      `SELECT r.resource_type, r.id, r.version_id FROM fhir_resource r
         JOIN fhir_resource_version v ON v.resource_type = r.resource_type AND v.id = r.id AND v.version_id = r.version_id
        WHERE r.resource_type = ANY($1::text[])
          AND ($2::text IS NULL OR (r.resource_type = $2 AND r.id = $3))
          AND r.content IS DISTINCT FROM v.content
        ORDER BY r.resource_type, r.id`,
      [types, ref?.type ?? null, ref?.id ?? null],
    );
    return rows.map((r) => ({ type: r.resource_type, id: r.id, version: String(r.version_id) }));
  }

  async lock(refs: readonly RecordRef[], mode: 'update' | 'key-share'): Promise<void> {
    this.requireTransaction('lock');
    if (refs.length === 0) return;
    await this.q.query(
      `SELECT 1 FROM fhir_resource WHERE (resource_type, id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
        ORDER BY resource_type, id ${mode === 'update' ? 'FOR UPDATE' : 'FOR KEY SHARE'}`,
      [refs.map((r) => r.type), refs.map((r) => r.id)],
      { prepare: true },
    );
  }

  private requireTransaction(what: string): void {
    if (!this.inTransaction) throw new Error(`PatientRecordIndex.${what} locks records: ask the index of a store in a transaction (transaction() or within())`);
  }
}

function indexed(row: RecordRow): IndexedRecord {
  return {
    resource: storedResource(row),
    versionId: String(row.version_id),
    lastUpdated: row.last_updated.toISOString(),
    ...(row.encounter !== undefined ? { encounter: row.encounter } : {}),
  };
}

/** A timestamptz as node-postgres reads it: a Date, or ±Infinity for `infinity`. */
function instant(value: Date | number): Date {
  return typeof value === 'number' ? (value > 0 ? END_OF_TIME : new Date(-8.64e15)) : value;
}
