import type { Resource } from '@medplum/fhirtypes';
import { resourceText, withStoredText, type NumberLexemes } from '../../common/fhir-json-text.js';
import { runStatement, type FinalStatement, type Queryable } from '../../database/chartwarden-database.js';
import { SqlParams } from '../../database/sql-params.js';
import { OWNER_PARAM } from '../patient-compartment.js';
import type { SearchIndex } from '../search/search-index.extractor.js';
import { StoreError, StoreErrorCode } from '../store.errors.js';
import { arrayParam } from './array-param.js';
import { INDEX_TABLES } from './index-tables.js';
import { patientLinks } from './patient-links.js';
import { SIGNATURE_TYPE, SIGNED_PARAM } from './signed-records.js';
import { RETURNED } from './version-writes.js';

/*
 * The creates of one transaction, written together (issue #13, bulk load): a transaction
 * Bundle of 500 Observations was 500 statements, each with its own round trip, parse of its
 * arrays and index probes; as one multi-row statement PostgreSQL spends about half the CPU per
 * resource. Only a create whose id ChartWarden just minted waits here (`FhirStore.create`: no
 * other request can know the id, so nothing can conflict with it or read it before the commit
 * but this transaction), and never a signature, whose owner is read from the records it signs
 * (`version-writes.ts` writes those at once).
 *
 * Read-your-writes holds because every statement of the transaction goes through
 * `DeferredFirstVersions.query`, which writes what waits first: the store's reads, locks and
 * searches, the features' repositories (they reach the transaction through its unit of work),
 * and the commit: what still waits then is the first statement sent with the COMMIT
 * (`commitWith`, registered before any other), so the audit entries that follow it see the
 * versions, and a create is one round trip for its write, its audit entry and its commit.
 */

/** A version 1 waiting to be written, as `insertFirstVersion` would write it. */
export interface FirstVersion {
  resource: Resource;
  index: SearchIndex;
  /** Its `_patient` row (absent for a Patient, which is its own, or a record of no patient). */
  own?: string;
  numbers?: NumberLexemes;
}

/** A waiting version with the text it is written as (`resourceText`, made once). */
interface Waiting extends FirstVersion {
  text: string;
}

/** At most this many versions, or this many characters of content, wait; then they are written. */
export const DEFERRED_BOUNDS = { versions: 500, chars: 8 * 1024 * 1024 } as const;

/**
 * A transaction's connection that holds back the store's plain creates and writes them in one
 * statement before the transaction's next statement, or before it commits. Made by
 * `PostgresFhirStore.transaction` for the transactions it opens; a transaction whose
 * connection cannot defer a step to its commit gets none (`over` returns the connection).
 */
export class DeferredFirstVersions implements Queryable {
  private waiting: Waiting[] = [];
  private chars = 0;

  private constructor(private readonly tx: Queryable & Required<Pick<Queryable, 'beforeCommit' | 'commitWith'>>) {}

  /** `tx` with deferred creates; `tx` itself when it cannot send a statement with its commit. */
  static over(tx: Queryable): Queryable {
    if (!tx.beforeCommit || !tx.commitWith) return tx;
    const deferring = new DeferredFirstVersions(tx as Queryable & Required<Pick<Queryable, 'beforeCommit' | 'commitWith'>>);
    // First of the statements sent with the commit: the audit entries follow the versions they record.
    tx.commitWith(() => deferring.taken());
    return deferring;
  }

  /** Keeps `version` to be written with the others; the resource carries the text it will be written as. */
  async defer(version: FirstVersion): Promise<Resource> {
    const text = resourceText(version.resource, version.numbers);
    this.waiting.push({ ...version, resource: withStoredText(version.resource, text), text });
    this.chars += text.length;
    if (this.waiting.length >= DEFERRED_BOUNDS.versions || this.chars >= DEFERRED_BOUNDS.chars) await this.flush();
    return version.resource;
  }

  async query<T = Record<string, unknown>>(sql: string, parameters?: unknown[], options?: { prepare?: boolean }): Promise<T[]> {
    await this.flush();
    return this.tx.query<T>(sql, parameters, options);
  }

  beforeCommit(step: () => Promise<unknown>): void {
    this.tx.beforeCommit(step);
  }

  commitWith(make: () => FinalStatement | undefined): void {
    this.tx.commitWith(make);
  }

  /** Writes what waits, in one statement; nothing when nothing waits. */
  async flush(): Promise<void> {
    const write = this.taken();
    if (write) await runStatement(this.tx, write);
  }

  /** The statement that writes what waits (nothing waits after it), or nothing when nothing waits. */
  private taken(): FinalStatement | undefined {
    if (this.waiting.length === 0) return undefined;
    const versions = this.waiting;
    this.waiting = [];
    this.chars = 0;
    return firstVersionsStatement(versions);
  }
}

/**
 * Inserts version 1 of each record with its index rows, in one statement: `insertFirstVersion`
 * for many records (the same rows, owners and signatures following), one statement text
 * whatever their number. A taken id fails the whole statement (unique violation, reported as
 * a conflict: the ids were minted, so this means a bug, never a lost version); so does any
 * other failure, which is why it can go out with the COMMIT without its answer being read.
 */
function firstVersionsStatement(versions: readonly Waiting[]): FinalStatement {
  const p = new SqlParams();
  const column = <T>(pick: (v: Waiting) => T) => p.add(arrayParam(versions.map(pick)));
  const input = `unnest(${column((v) => v.resource.resourceType)}::text[], ${column((v) => v.resource.id)}::text[],
      ${column((v) => v.resource.meta?.lastUpdated)}::timestamptz[], ${column((v) => v.text)}::text[],
      ${column((v) => v.own ?? null)}::text[], ${column((v) => JSON.stringify(patientLinks(v.index)))}::text[])
      WITH ORDINALITY AS u(resource_type, id, last_updated, content_text, own, links, n)`;
  const sql = `WITH input AS (SELECT * FROM ${input}),
     r AS (
       INSERT INTO fhir_resource (resource_type, id, version_id, last_updated, content, content_text, owner, patient_links)
       SELECT resource_type, id, 1, last_updated, content_text::jsonb, content_text, COALESCE(CASE WHEN resource_type = 'Patient' THEN id END, own),
              ARRAY(SELECT jsonb_array_elements_text(links::jsonb))
         FROM input ORDER BY n
       RETURNING ${RETURNED}),
     w AS (SELECT r.resource_type, r.id, r.row_owner, input.n, input.own, input.last_updated, input.content_text FROM r JOIN input USING (resource_type, id)),
     v AS (INSERT INTO fhir_resource_version (resource_type, id, version_id, last_updated, method, content, content_text)
       SELECT resource_type, id, 1, last_updated, 'POST', content_text::jsonb, content_text FROM w)
     ${indexRows(versions, p)}
     ${signaturesFollow()}
     SELECT 1`;
  // Only a record's own key is "an id taken": another unique violation is a bug, and says so as it is.
  const failed = (e: unknown) =>
    (e as { code?: string }).code === '23505' && RECORD_TABLES.has((e as { table?: string }).table ?? '')
      ? new StoreError(StoreErrorCode.Conflict, `of ${versions.length} new records, one had an id already taken; nothing was written`)
      : e;
  return { sql, parameters: p.values, prepare: true, failed };
}

/** The tables whose primary key is the record's (type, id[, version]): a unique violation there is an id taken. */
const RECORD_TABLES = new Set(['fhir_resource', 'fhir_resource_version']);

/** Every index table's rows of every version, each row carrying its version's ordinal (`n`), as one array per column. */
function indexRows(versions: readonly FirstVersion[], p: SqlParams): string {
  let sql = '';
  for (const kind of Object.keys(INDEX_TABLES) as (keyof SearchIndex)[]) {
    const { table, cols, fields, types, owned } = INDEX_TABLES[kind];
    const ordinals: number[] = [];
    const arrays: unknown[][] = fields.map(() => []);
    versions.forEach((v, at) => {
      for (const row of v.index[kind] as unknown as Record<string, unknown>[]) {
        ordinals.push(at + 1);
        fields.forEach((f, c) => arrays[c].push(row[f]));
      }
    });
    const unnest = [`${p.add(arrayParam(ordinals))}::int[]`, ...arrays.map((a, c) => `${p.add(arrayParam(a))}::${types[c]}[]`)].join(', ');
    sql += `, ins_${kind} AS (INSERT INTO ${table} (resource_type, resource_id, ${cols.join(', ')}${owned ? ', owner' : ''})
      SELECT w.resource_type, w.id, ${cols.map((c) => `x.${c}`).join(', ')}${owned ? ', w.row_owner' : ''}
        FROM unnest(${unnest}) AS x(n, ${cols.join(', ')}) JOIN w ON w.n = x.n)`;
  }
  return sql;
}

/**
 * The signatures written earlier in the transaction that sign one of the new records and name
 * no patient are filed under their records' owners (`signaturesFollow` of `version-writes.ts`,
 * for many records: a signed record that is one of these takes its `own`, the others their
 * stored `_patient` row; a new record's own rows are not visible to this statement, so only
 * one with an owner can move a signature).
 */
function signaturesFollow(): string {
  return `, signatures AS (UPDATE fhir_resource g SET owner = (
        SELECT min(signed.owner COLLATE "C") FROM (
          SELECT COALESCE((SELECT w.own FROM w WHERE w.resource_type = t.target_type AND w.id = t.target_id),
                          (SELECT min(s.target_id COLLATE "C") FROM fhir_search_reference s
                            WHERE s.resource_type = t.target_type AND s.resource_id = t.target_id AND s.param = '${OWNER_PARAM}')) AS owner
            FROM fhir_search_reference t WHERE t.resource_type = '${SIGNATURE_TYPE}' AND t.resource_id = g.id AND t.param = '${SIGNED_PARAM}') AS signed)
      WHERE g.resource_type = '${SIGNATURE_TYPE}'
        AND g.id IN (SELECT x.resource_id FROM fhir_search_reference x JOIN w ON x.target_type = w.resource_type AND x.target_id = w.id
                      WHERE x.param = '${SIGNED_PARAM}' AND x.resource_type = '${SIGNATURE_TYPE}' AND w.own IS NOT NULL)
        AND NOT EXISTS (SELECT 1 FROM fhir_search_reference o WHERE o.resource_type = '${SIGNATURE_TYPE}' AND o.resource_id = g.id AND o.param = '${OWNER_PARAM}'))`;
}
