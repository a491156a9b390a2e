import { randomUUID } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import type { Clock } from '../../common/clock.js';
import type { Queryable } from '../../database/chartwarden-database.js';
import { UnitOfWork, sqlOf } from '../../database/unit-of-work.js';
import type { PatientRecordIndex, WriteScope } from '../patient-record-index.port.js';
import {
  FhirStore,
  type CreateOptions,
  type HistoryPage,
  type PageRequest,
  type SearchResult,
  type StoredJson,
  type UpdateOptions,
  type WriteOutcome,
  notFoundError as notFound,
} from '../fhir-store.port.js';
import { extractSearchIndex, type SearchIndex } from '../search/search-index.extractor.js';
import type { SearchParameterRegistry } from '../search/search-parameter.registry.js';
import type { SearchRequest } from '../search/search-request.js';
import { StoreError, StoreErrorCode } from '../store.errors.js';
import type { PatientCompartment } from './patient-compartment.js';
import { accessSql, searchSql, SqlParams } from './search-sql.js';
import { accessConditionSql, contextFactsSelect, factsSelect, patientOf } from './access-sql.js';
import { CONFIDENTIALITY_ORDER, CONFIDENTIALITY_SYSTEM, type AccessCondition, type AccessFactOptions, type AccessFacts } from '../access-facts.js';

/** The database operations the store needs: queries, and opening a transaction. */
export interface StoreDatabase extends Queryable {
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
}

const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

/**
 * Statements are prepared once per connection (see `Queryable.query`). Searches too: a search
 * carrying the access policy takes ~12 ms to plan and ~2 ms to run; PostgreSQL keeps planning
 * each execution afresh (custom plans) whenever a generic plan would be costlier, as with
 * string prefixes, so values still shape the plan where they matter.
 */
const PREPARED = { prepare: true };

/**
 * The embedded FHIR R4 store: resources as JSONB in ChartWarden's own PostgreSQL tables,
 * every version kept, search indexes written with the version. Each write is a single SQL
 * statement (atomic on its own) or runs inside the caller's transaction.
 * Only this class and `search-sql.ts` touch the store's SQL.
 */
export class PostgresFhirStore extends FhirStore {
  constructor(
    private readonly db: StoreDatabase,
    private readonly registry: SearchParameterRegistry,
    private readonly compartment: PatientCompartment,
    private readonly clock: Clock,
    /** Set on the store handed to a transaction's work: statements run on `tx`. */
    private readonly tx?: Queryable,
  ) {
    super();
  }

  private get q(): Queryable {
    return this.tx ?? this.db;
  }

  async read(resourceType: string, id: string): Promise<Resource> {
    const rows = await this.q.query<{ content: Resource }>(
      'SELECT content FROM fhir_resource WHERE resource_type = $1 AND id = $2',
      [resourceType, id],
      PREPARED,
    );
    if (rows.length === 0) throw notFound(resourceType, id);
    return present(rows[0].content);
  }

  async vread(resourceType: string, id: string, versionId: string): Promise<Resource> {
    if (!/^\d{1,9}$/.test(versionId)) throw notFound(resourceType, id, versionId);
    const rows = await this.q.query<{ content: Resource }>(
      'SELECT content FROM fhir_resource_version WHERE resource_type = $1 AND id = $2 AND version_id = $3',
      [resourceType, id, Number(versionId)],
      PREPARED,
    );
    if (rows.length === 0) throw notFound(resourceType, id, versionId);
    return present(rows[0].content);
  }

  async create<T extends Resource>(resource: T, options: CreateOptions = {}): Promise<WriteOutcome<T>> {
    if (options.ifNoneExist) {
      const condition = options.ifNoneExist;
      return this.transaction(async (store) => (store as PostgresFhirStore).conditionalCreate(resource, condition, options));
    }
    const id = options.assignedId ?? randomUUID();
    const stored = this.stamp(resource, id, 1);
    if (!(await this.insertFirstVersion(stored, 'POST'))) {
      throw new StoreError(StoreErrorCode.Conflict, `${resource.resourceType}/${id} already exists`);
    }
    return { resource: stored, created: true };
  }

  private async conditionalCreate<T extends Resource>(resource: T, condition: SearchRequest, options: CreateOptions): Promise<WriteOutcome<T>> {
    // Two identical conditional creates must not both create: serialise on the condition.
    const key = `${resource.resourceType}?${condition.used.map(([k, v]) => `${k}=${v}`).sort().join('&')}`;
    await this.q.query('SELECT pg_advisory_xact_lock(hashtext($1))', [key]);
    const found = await this.search({ ...condition, count: 2, offset: 0, include: [], revinclude: [], total: 'none' });
    options.onMatches?.(found.patients ?? []);
    if (found.matches.length > 1) {
      throw new StoreError(StoreErrorCode.MultipleMatches, `If-None-Exist matched ${found.matches.length} or more ${resource.resourceType} resources; be more specific`);
    }
    if (found.matches.length === 1) return { resource: found.matches[0] as T, created: false, unchanged: true };
    return this.create(resource, { assignedId: options.assignedId });
  }

  async update<T extends Resource>(resource: T & { id: string }, options: UpdateOptions = {}): Promise<WriteOutcome<T>> {
    if (!FHIR_ID.test(resource.id)) {
      throw new StoreError(StoreErrorCode.InvalidResource, `"${resource.id}" is not a valid FHIR id ([A-Za-z0-9-.]{1,64})`, ['id']);
    }
    // Fast path: optimistic (no transaction, no row lock). Inside a transaction, lock at once.
    const first = await this.tryUpdate(resource, options, this.tx !== undefined);
    if (first) return first;
    if (options.ifMatch !== undefined) {
      throw new StoreError(StoreErrorCode.VersionConflict, `${resource.resourceType}/${resource.id} changed while this update was applied; read it again`);
    }
    // Lost a race without If-Match: the caller wants last-writer-wins, so queue behind the row lock.
    return this.transaction(async (store) => {
      for (let attempt = 0; attempt < 3; attempt++) {
        const outcome = await (store as PostgresFhirStore).tryUpdate(resource, options, true);
        if (outcome) return outcome;
      }
      throw new StoreError(StoreErrorCode.Conflict, `${resource.resourceType}/${resource.id} is being changed by others; try again`);
    });
  }

  /** One attempt at an update; undefined when a concurrent writer got there first. */
  private async tryUpdate<T extends Resource>(resource: T & { id: string }, options: UpdateOptions, lock: boolean): Promise<WriteOutcome<T> | undefined> {
    const rows = await this.q.query<{ version_id: number; content: Resource }>(
      `SELECT version_id, content FROM fhir_resource WHERE resource_type = $1 AND id = $2${lock ? ' FOR UPDATE' : ''}`,
      [resource.resourceType, resource.id],
      PREPARED,
    );
    if (rows.length === 0) {
      if (options.ifMatch !== undefined) {
        throw new StoreError(StoreErrorCode.VersionConflict, `If-Match: ${resource.resourceType}/${resource.id} does not exist`);
      }
      const stored = this.stamp(resource, resource.id, 1);
      return (await this.insertFirstVersion(stored, 'PUT')) ? { resource: stored, created: true } : undefined;
    }
    const current = rows[0];
    if (options.ifMatch !== undefined && options.ifMatch !== String(current.version_id)) {
      throw new StoreError(
        StoreErrorCode.VersionConflict,
        `${resource.resourceType}/${resource.id} is at version ${current.version_id}, not ${options.ifMatch}: read it again and reapply the change`,
      );
    }
    if (sameContent(current.content, resource)) return { resource: present(current.content) as T, created: false, unchanged: true };
    const stored = this.stamp(resource, resource.id, current.version_id + 1);
    return (await this.writeNextVersion(stored, current.version_id)) ? { resource: stored, created: false } : undefined;
  }

  async history(resourceType: string, id: string | undefined, page: PageRequest): Promise<HistoryPage> {
    const p = new SqlParams();
    const conds = [`resource_type = ${p.add(resourceType)}`];
    if (id !== undefined) conds.push(`id = ${p.add(id)}`);
    if (page.since) conds.push(`last_updated >= ${p.add(page.since)}::timestamptz`);
    if (page.access) {
      conds.push(`EXISTS (SELECT 1 FROM fhir_resource r WHERE r.resource_type = v.resource_type AND r.id = v.id AND ${accessSql(page.access, p)})`);
    }
    const where = conds.join(' AND ');
    const countParams = [...p.values];
    const order = id !== undefined ? 'version_id DESC' : 'last_updated DESC, id, version_id DESC';
    const [rows, count] = await Promise.all([
      this.q.query<{ content: Resource; method: 'POST' | 'PUT' }>(
        `SELECT content, method FROM fhir_resource_version v WHERE ${where} ORDER BY ${order} LIMIT ${p.add(page.count)} OFFSET ${p.add(page.offset)}`,
        p.values,
      ),
      this.q.query<{ n: number }>(`SELECT count(*)::int AS n FROM fhir_resource_version v WHERE ${where}`, countParams),
    ]);
    if (id !== undefined && count[0].n === 0 && !page.since && !page.access) throw notFound(resourceType, id);
    return { entries: rows.map((r) => ({ resource: present(r.content), method: r.method })), total: count[0].n };
  }

  async search(request: SearchRequest): Promise<SearchResult> {
    const sql = searchSql(request);
    if (request.countOnly) {
      const [{ n }] = await this.q.query<{ n: number }>(sql.count.text, sql.count.params, PREPARED);
      return { matches: [], included: [], total: n };
    }
    const rows = await this.q.query<{ content: Resource; patient: string | null }>(sql.page.text, sql.page.params, PREPARED);
    const more = rows.length > request.count;
    const page = rows.slice(0, request.count);
    const matches = page.map((r) => present(r.content));
    const patients = page.map((r) => r.patient ?? undefined);
    // The total is known without counting when this page reaches the end of the results.
    let total: number | undefined;
    if (request.total !== 'none') {
      total = !more && (matches.length > 0 || request.offset === 0)
        ? request.offset + matches.length
        : (await this.q.query<{ n: number }>(sql.count.text, sql.count.params, PREPARED))[0].n;
    }
    return { matches, patients, included: await this.included(request, matches), total };
  }

  async everything(patientId: string, page: PageRequest): Promise<SearchResult> {
    await this.read('Patient', patientId);
    const p = new SqlParams();
    const { types, params } = this.compartment.memberParams(this.registry);
    // The compartment's members first (index lookups), then their rows by primary key.
    const where = `(r.resource_type, r.id) IN (
        SELECT 'Patient', ${p.add(patientId)}::text
        UNION
        SELECT x.resource_type, x.resource_id FROM fhir_search_reference x
        WHERE x.target_type = 'Patient' AND x.target_id = $1
          AND (x.resource_type, x.param) IN (SELECT * FROM unnest(${p.add(types)}::text[], ${p.add(params)}::text[])))`;
    const since =
      (page.since ? ` AND r.last_updated >= ${p.add(page.since)}::timestamptz` : '') + (page.access ? ` AND ${accessSql(page.access, p)}` : '');
    const countParams = [...p.values];
    const [rows, count] = await Promise.all([
      this.q.query<{ content: Resource }>(
        `SELECT r.content FROM fhir_resource r WHERE (${where})${since}
         ORDER BY (r.resource_type <> 'Patient'), r.resource_type, r.last_updated, r.id LIMIT ${p.add(page.count)} OFFSET ${p.add(page.offset)}`,
        p.values,
      ),
      this.q.query<{ n: number }>(`SELECT count(*)::int AS n FROM fhir_resource r WHERE (${where})${since}`, countParams),
    ]);
    return { matches: rows.map((r) => present(r.content)), included: [], total: count[0].n };
  }

  async accessFacts(resourceType: string, id: string, options: AccessFactOptions): Promise<AccessFacts> {
    const p = new SqlParams();
    const ref = { type: p.add(resourceType), id: p.add(id) };
    const sql = `SELECT f.* FROM fhir_resource r, LATERAL (${factsSelect({ type: 'r.resource_type', id: 'r.id' }, p, options)}) f
      WHERE r.resource_type = ${ref.type} AND r.id = ${ref.id}`;
    const rows = await this.q.query<FactsRow>(sql, p.values);
    if (rows.length === 0) throw notFound(resourceType, id);
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

  async check(
    resourceType: string,
    id: string,
    conditions: readonly AccessCondition[],
    options: AccessFactOptions,
    withContent: boolean,
  ): Promise<{ stored?: StoredJson; patient?: string; firstMatch: number }> {
    const sql = checkSql(conditions, options, withContent, resourceType === 'Patient');
    const rows = await this.q.query<Record<string, unknown>>(sql.text, [...sql.params, resourceType, id], PREPARED);
    if (rows.length === 0) throw notFound(resourceType, id);
    const row = rows[0];
    return {
      stored: withContent
        ? { json: row.json as string, versionId: String(row.version_id), lastUpdated: (row.last_updated as Date).toISOString() }
        : undefined,
      patient: (row.patient as string | null) ?? undefined,
      firstMatch: Number(row.first_match),
    };
  }

  async checkMany(
    resourceType: string,
    ids: readonly string[],
    conditions: readonly AccessCondition[],
    options: AccessFactOptions,
  ): Promise<Map<string, { patient?: string; firstMatch: number }>> {
    const out = new Map<string, { patient?: string; firstMatch: number }>();
    if (ids.length === 0) return out;
    const sql = checkSql(conditions, options, false, false, true);
    const params = [...sql.params, resourceType, [...new Set(ids)]];
    const rows = await this.q.query<{ id: string; patient: string | null; first_match: number }>(sql.text, params, PREPARED);
    for (const row of rows) out.set(row.id, { patient: row.patient ?? undefined, firstMatch: Number(row.first_match) });
    return out;
  }

  async accessFactsOf(resource: Resource, options: AccessFactOptions): Promise<AccessFacts> {
    const index = this.index(resource);
    const refTarget = (params: string[], targetType: string) =>
      index.references
        .filter((r) => params.includes(r.param) && r.targetType === targetType)
        .map((r) => r.targetId)
        .sort(byCodeUnit)[0];
    const patient = resource.resourceType === 'Patient' ? resource.id : refTarget(['patient', 'subject'], 'Patient');
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
      [ctx] = await this.q.query<ContextRow>(contextFactsSelect(pat, enc, p, options), p.values, PREPARED);
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

  async transaction<T>(work: (store: FhirStore, unit: UnitOfWork) => Promise<T>): Promise<T> {
    if (this.tx) return work(this, UnitOfWork.over(this.tx));
    return this.db.transaction((tx) => work(new PostgresFhirStore(this.db, this.registry, this.compartment, this.clock, tx), UnitOfWork.over(tx)));
  }

  within(unit: UnitOfWork): FhirStore {
    return new PostgresFhirStore(this.db, this.registry, this.compartment, this.clock, sqlOf(unit));
  }

  get records(): PatientRecordIndex {
    throw new Error('PatientRecordIndex: being implemented (issue #15)');
  }

  lockForWrite(_resource: Resource, _mode: 'create' | 'update'): Promise<WriteScope> {
    throw new Error('lockForWrite: being implemented (issue #15)');
  }

  /** `_include` targets and `_revinclude` sources of one page, each once, never a match twice. */
  private async included(request: SearchRequest, matches: Resource[]): Promise<Resource[]> {
    if (matches.length === 0 || (request.include.length === 0 && request.revinclude.length === 0)) return [];
    const ids = matches.map((m) => m.id as string);
    const out = new Map<string, Resource>();
    const seen = new Set(matches.map((m) => `${m.resourceType}/${m.id}`));
    const collect = (rows: { content: Resource }[]) => {
      for (const { content } of rows) {
        const key = `${content.resourceType}/${content.id}`;
        if (!seen.has(key)) out.set(key, present(content));
      }
    };
    for (const inc of request.include) {
      collect(
        await this.q.query(
          `SELECT t.content FROM fhir_search_reference x JOIN fhir_resource t ON t.resource_type = x.target_type AND t.id = x.target_id
           WHERE x.resource_type = $1 AND x.resource_id = ANY($2::text[]) AND x.param = $3 AND ($4::text IS NULL OR x.target_type = $4)`,
          [request.resourceType, ids, inc.param, inc.targetType ?? null],
        ),
      );
    }
    for (const rev of request.revinclude) {
      collect(
        await this.q.query(
          `SELECT s.content FROM fhir_search_reference x JOIN fhir_resource s ON s.resource_type = x.resource_type AND s.id = x.resource_id
           WHERE x.resource_type = $1 AND x.param = $2 AND x.target_type = $3 AND x.target_id = ANY($4::text[])`,
          [rev.sourceType, rev.param, request.resourceType, ids],
        ),
      );
    }
    return [...out.values()];
  }

  /** Sets the server-owned metadata: id, `meta.versionId`, `meta.lastUpdated`. */
  private stamp<T extends Resource>(resource: T, id: string, version: number): T {
    return {
      ...resource,
      id,
      meta: { ...resource.meta, versionId: String(version), lastUpdated: this.clock.now().toISOString() },
    };
  }

  /** Inserts version 1 with its index in one statement; false when the id is taken. */
  private async insertFirstVersion(resource: Resource, method: 'POST' | 'PUT'): Promise<boolean> {
    const index = this.index(resource);
    const p = new SqlParams();
    const [t, i, u, c] = [p.add(resource.resourceType), p.add(resource.id), p.add(resource.meta?.lastUpdated), p.add(resource)];
    const rows = await this.q.query<{ n: number }>(
      `WITH r AS (
         INSERT INTO fhir_resource (resource_type, id, version_id, last_updated, content)
         VALUES (${t}, ${i}, 1, ${u}::timestamptz, ${c}::jsonb) ON CONFLICT DO NOTHING RETURNING resource_type, id),
       v AS (INSERT INTO fhir_resource_version (resource_type, id, version_id, last_updated, method, content)
         SELECT resource_type, id, 1, ${u}::timestamptz, ${p.add(method)}, ${c}::jsonb FROM r)
       ${indexInserts(index, p)}
       SELECT count(*)::int AS n FROM r`,
      p.values,
      PREPARED,
    );
    return rows[0].n === 1;
  }

  /**
   * Writes version `previous + 1` only if `previous` is still current (optimistic lock),
   * replacing the index rows that changed, in one statement. False when someone else won.
   */
  private async writeNextVersion(resource: Resource, previous: number): Promise<boolean> {
    const index = this.index(resource);
    const p = new SqlParams();
    const [t, i, u, c, next] = [
      p.add(resource.resourceType),
      p.add(resource.id),
      p.add(resource.meta?.lastUpdated),
      p.add(resource),
      p.add(previous + 1),
    ];
    const rows = await this.q.query<{ n: number }>(
      `WITH r AS (
         UPDATE fhir_resource SET version_id = ${next}, last_updated = ${u}::timestamptz, content = ${c}::jsonb
         WHERE resource_type = ${t} AND id = ${i} AND version_id = ${p.add(previous)} RETURNING resource_type, id),
       v AS (INSERT INTO fhir_resource_version (resource_type, id, version_id, last_updated, method, content)
         SELECT resource_type, id, ${next}, ${u}::timestamptz, 'PUT', ${c}::jsonb FROM r)
       ${indexDeletes(index, p)}
       ${indexInserts(index, p)}
       SELECT count(*)::int AS n FROM r`,
      p.values,
      PREPARED,
    );
    return rows[0].n === 1;
  }

  private index(resource: Resource): SearchIndex {
    return extractSearchIndex(resource, this.registry.forType(resource.resourceType));
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
  const r = isPatient ? { type: 'r.resource_type', id: 'r.id', patient: PATIENT_ID } : { type: 'r.resource_type', id: 'r.id' };
  const first = conditions.length
    ? `CASE ${conditions.map((c, i) => `WHEN COALESCE(${accessConditionSql(c, r, p, options)}, FALSE) THEN ${i}`).join(' ')} ELSE -1 END`
    : '-1';
  const n = p.values.length;
  const columns = `${many ? 'r.id, ' : ''}${withContent ? 'r.content::text AS json, r.version_id, r.last_updated, ' : ''}`;
  const built = {
    text: `SELECT ${columns}${patientOf(r)} AS patient, ${first.split(PATIENT_ID).join(`$${n + 2}::text`)} AS first_match
       FROM fhir_resource r WHERE r.resource_type = $${n + 1} AND r.id = ${many ? `ANY($${n + 2}::text[])` : `$${n + 2}`}`,
    params: p.values,
  };
  if (!byKey) checkSqlCache.set(conditions, (byKey = new Map()));
  byKey.set(key, built);
  return built;
}

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

/** Orders as PostgreSQL's "C" collation does, so JS and SQL pick the same "first" value. */
function byCodeUnit(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Column lists per index table, in the order the unnest arrays are bound. */
const INDEX_COLUMNS = {
  tokens: { table: 'fhir_search_token', cols: ['param', 'system', 'code'], keys: ['param', 'system', 'code'] },
  strings: { table: 'fhir_search_string', cols: ['param', 'value', 'exact'], keys: ['param', 'value'] },
  references: { table: 'fhir_search_reference', cols: ['param', 'target_type', 'target_id'], keys: ['param', 'target_type', 'target_id'] },
  dates: { table: 'fhir_search_date', cols: ['param', 'low', 'high'], keys: ['param', 'low', 'high'] },
} as const;

function columnArrays(index: SearchIndex, kind: keyof SearchIndex): { arrays: unknown[][]; types: string[] } {
  const rows = index[kind] as unknown as Record<string, string>[];
  const fields = {
    tokens: ['param', 'system', 'code'],
    strings: ['param', 'value', 'exact'],
    references: ['param', 'targetType', 'targetId'],
    dates: ['param', 'low', 'high'],
  }[kind];
  const types = kind === 'dates' ? ['text', 'timestamptz', 'timestamptz'] : ['text', 'text', 'text'];
  return { arrays: fields.map((f) => rows.map((r) => r[f])), types };
}

/** `, ins_tokens AS (INSERT ... SELECT FROM r, unnest(...))` for each non-empty index table. */
function indexInserts(index: SearchIndex, p: SqlParams): string {
  let sql = '';
  for (const kind of Object.keys(INDEX_COLUMNS) as (keyof SearchIndex)[]) {
    if (index[kind].length === 0) continue;
    const { table, cols } = INDEX_COLUMNS[kind];
    const { arrays, types } = columnArrays(index, kind);
    const unnest = arrays.map((a, n) => `${p.add(a)}::${types[n]}[]`).join(', ');
    sql += `, ins_${kind} AS (INSERT INTO ${table} (resource_type, resource_id, ${cols.join(', ')})
      SELECT r.resource_type, r.id, u.* FROM r, unnest(${unnest}) AS u ON CONFLICT DO NOTHING)`;
  }
  return sql;
}

/** Deletes the index rows of `r` that the new version no longer produces. */
function indexDeletes(index: SearchIndex, p: SqlParams): string {
  let sql = '';
  for (const kind of Object.keys(INDEX_COLUMNS) as (keyof SearchIndex)[]) {
    const { table, keys } = INDEX_COLUMNS[kind];
    const { arrays, types } = columnArrays(index, kind);
    const keyArrays = keys.map((_, n) => `${p.add(arrays[n])}::${types[n]}[]`).join(', ');
    sql += `, del_${kind} AS (DELETE FROM ${table} x USING r WHERE x.resource_type = r.resource_type AND x.resource_id = r.id
      AND (${keys.map((k) => `x.${k}`).join(', ')}) NOT IN (SELECT * FROM unnest(${keyArrays})))`;
  }
  return sql;
}

/** Equal apart from the server-owned meta fields: such an update adds no version. */
function sameContent(stored: Resource, incoming: Resource): boolean {
  const strip = (r: Resource) => {
    const { meta, ...rest } = r;
    const { versionId: _v, lastUpdated: _l, ...metaRest } = meta ?? {};
    return canonical({ ...rest, meta: Object.keys(metaRest).length ? metaRest : undefined });
  };
  return strip(stored) === strip(incoming);
}

/** JSON with object keys sorted and undefined dropped, so equal resources serialise equally. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** JSONB stores keys in its own order; serve `resourceType`, `id`, `meta` first as FHIR JSON customarily does. */
function present(content: Resource): Resource {
  const { resourceType, id, meta, ...rest } = content;
  return { resourceType, id, meta, ...rest } as Resource;
}
