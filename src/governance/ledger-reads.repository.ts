import { Inject, Injectable } from '@nestjs/common';
import type pg from 'pg';
import { ChartWardenDatabase, type Queryable } from '../database/chartwarden-database.js';
import { sqlOf, type UnitOfWork } from '../database/unit-of-work.js';
import type { RecordRef } from '../store/patient-record-index.port.js';
import type { LedgerEntry } from './domain/ledger.js';

/** Who first wrote a document (its first ledger entry): the editor, their licence then, and when. */
export interface FirstEntry {
  editor: string;
  licence?: string;
  recorded: Date;
}

/** One edit-ledger row with its columns, as the verifier checks them against the hashed entry. */
export interface LedgerRow {
  type: string;
  id: string;
  version: number;
  recorded: Date;
  editor: string;
  kind: string;
  reason: string | null;
  docType: string | null;
  /** The hashed entry, as text (canonical JSON). */
  entry: string;
  prevHash: Buffer;
  hash: Buffer;
}

/** Where a keyset page of rows starts: after this document's version (`undefined`: the beginning). */
export interface LedgerPosition {
  type: string;
  id: string;
  version: number;
}

/** A document's last entry: its version and hash (the ledger root is a digest of these). */
export interface LastEntry {
  type: string;
  id: string;
  version: number;
  hash: Buffer;
}

/** One entry named by its document and version. */
export type LastEntryRef = Omit<LastEntry, 'hash'>;

/** `Type/id`: how the ledger's answers are keyed. */
export const documentKey = (ref: RecordRef): string => `${ref.type}/${ref.id}`;

/**
 * Reads of `edit_ledger`: the entries `$changes` shows, who first wrote a document,
 * when each document was first written (R-10 deadlines), and what the offline verifier walks.
 * The only governance code reading the table besides its writer (`EditLedgerRepository`): the
 * co-signature queue's first entries too.
 * Works on the module's pool, a unit of work, or a connection an offline command opened
 * (`over`, `overClient`).
 */
@Injectable()
export class LedgerReadsRepository {
  constructor(@Inject(ChartWardenDatabase) private readonly q: Queryable) {}

  /** Reads over a connection an offline command (ledger verify, backup) opened. */
  static over(q: Queryable): LedgerReadsRepository {
    return new LedgerReadsRepository(q);
  }

  /** `over` a plain `pg` client, in whatever transaction the caller opened on it. */
  static overClient(client: Pick<pg.ClientBase, 'query'>): LedgerReadsRepository {
    return new LedgerReadsRepository({ query: async <T>(sql: string, parameters?: unknown[]) => (await client.query(sql, parameters)).rows as T[] });
  }

  /** The document's entries in version order, as hashed. */
  async entries(ref: RecordRef): Promise<LedgerEntry[]> {
    const rows = await this.q.query<{ entry: string }>('SELECT entry FROM edit_ledger WHERE resource_type = $1 AND resource_id = $2 ORDER BY version_id', [ref.type, ref.id]);
    return rows.map((r) => JSON.parse(r.entry) as LedgerEntry);
  }

  /** Who first wrote a document, and their licence then (its first entry), if the ledger has it; in `unit` when given. */
  async creator(ref: RecordRef, unit?: UnitOfWork): Promise<{ editor: string; licence?: string } | undefined> {
    const [row] = await sqlOf(unit, this.q).query<{ editor: string; licence: string | null }>(
      `SELECT editor, entry::jsonb ->> 'licence' AS licence FROM edit_ledger WHERE resource_type = $1 AND resource_id = $2 ORDER BY version_id LIMIT 1`,
      [ref.type, ref.id],
    );
    return row ? { editor: row.editor, ...(row.licence ? { licence: row.licence } : {}) } : undefined;
  }

  /** The first entries of these documents written under one of `licences` (R-14: by an intern…), keyed `Type/id`. */
  async firstEntriesUnder(refs: readonly RecordRef[], licences: readonly string[]): Promise<Map<string, FirstEntry>> {
    const out = new Map<string, FirstEntry>();
    if (refs.length === 0) return out;
    const rows = await this.q.query<{ resource_type: string; resource_id: string; editor: string; licence: string | null; recorded: Date }>(
      `SELECT * FROM (
         SELECT DISTINCT ON (l.resource_type, l.resource_id) l.resource_type, l.resource_id, l.editor, l.entry::jsonb ->> 'licence' AS licence, l.recorded
           FROM edit_ledger l
          WHERE (l.resource_type, l.resource_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
          ORDER BY l.resource_type, l.resource_id, l.version_id) first
        WHERE first.licence = ANY($3::text[])`,
      [refs.map((r) => r.type), refs.map((r) => r.id), licences],
    );
    for (const r of rows) out.set(`${r.resource_type}/${r.resource_id}`, firstEntryOf(r));
    return out;
  }

  /** When each document was first written (its earliest entry), keyed `Type/id`; documents without entries are left out. */
  async firstWritten(refs: readonly RecordRef[]): Promise<Map<string, Date>> {
    const out = new Map<string, Date>();
    if (refs.length === 0) return out;
    const rows = await this.q.query<{ resource_type: string; resource_id: string; written: Date }>(
      `SELECT resource_type, resource_id, min(recorded) AS written FROM edit_ledger
        WHERE (resource_type, resource_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
        GROUP BY resource_type, resource_id`,
      [refs.map((r) => r.type), refs.map((r) => r.id)],
    );
    for (const r of rows) out.set(`${r.resource_type}/${r.resource_id}`, r.written);
    return out;
  }

  /** How many entries there are (of `document` only, when given). */
  async count(document?: RecordRef): Promise<number> {
    const [{ n }] = await this.q.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM edit_ledger WHERE ($1::text IS NULL OR (resource_type = $1 AND resource_id = $2))',
      [document?.type ?? null, document?.id ?? null],
    );
    return n;
  }

  /** Up to `limit` rows after `after`, in (type, id, version) order (of `document` only, when given): one keyset page. */
  async rowsAfter(after: LedgerPosition | undefined, limit: number, document?: RecordRef): Promise<LedgerRow[]> {
    const rows = await this.q.query<{
      resource_type: string;
      resource_id: string;
      version_id: number;
      recorded: Date;
      editor: string;
      kind: string;
      reason: string | null;
      doc_type: string | null;
      entry: string;
      prev_hash: Buffer;
      hash: Buffer;
    }>(
      `SELECT resource_type, resource_id, version_id, recorded, editor, kind, reason, doc_type, entry, prev_hash, hash
         FROM edit_ledger
        WHERE (resource_type, resource_id, version_id) > ($1, $2, $3)
          AND ($4::text IS NULL OR (resource_type = $4 AND resource_id = $5))
        ORDER BY resource_type, resource_id, version_id LIMIT $6`,
      [after?.type ?? '', after?.id ?? '', after?.version ?? 0, document?.type ?? null, document?.id ?? null, limit],
    );
    return rows.map((r) => ({
      type: r.resource_type,
      id: r.resource_id,
      version: r.version_id,
      recorded: r.recorded,
      editor: r.editor,
      kind: r.kind,
      reason: r.reason,
      docType: r.doc_type,
      entry: r.entry,
      prevHash: r.prev_hash,
      hash: r.hash,
    }));
  }

  /** Every document's last entry (of `document` only, when given); in `unit` when given (a checkpoint's snapshot). */
  async lastEntries(document?: RecordRef, unit?: UnitOfWork): Promise<LastEntry[]> {
    const rows = await sqlOf(unit, this.q).query<{ resource_type: string; resource_id: string; version_id: number; hash: Buffer }>(
      `SELECT DISTINCT ON (resource_type, resource_id) resource_type, resource_id, version_id, hash
         FROM edit_ledger WHERE ($1::text IS NULL OR (resource_type = $1 AND resource_id = $2))
        ORDER BY resource_type, resource_id, version_id DESC`,
      [document?.type ?? null, document?.id ?? null],
    );
    return rows.map((r) => ({ type: r.resource_type, id: r.resource_id, version: r.version_id, hash: r.hash }));
  }

  /** The entries at these versions that are still in the ledger, with their hashes (in `unit`: a checkpoint's snapshot). */
  async hashesAt(entries: readonly LastEntryRef[], unit: UnitOfWork): Promise<LastEntry[]> {
    if (entries.length === 0) return [];
    const rows = await sqlOf(unit).query<{ resource_type: string; resource_id: string; version_id: number; hash: Buffer }>(
      `SELECT l.resource_type, l.resource_id, l.version_id, l.hash
         FROM unnest($1::text[], $2::text[], $3::int[]) AS d(type, id, version)
         JOIN edit_ledger l ON l.resource_type = d.type AND l.resource_id = d.id AND l.version_id = d.version`,
      [entries.map((e) => e.type), entries.map((e) => e.id), entries.map((e) => e.version)],
    );
    return rows.map((r) => ({ type: r.resource_type, id: r.resource_id, version: r.version_id, hash: r.hash }));
  }

  /** The last entry's version of each of these documents, keyed `Type/id`; documents without entries are left out. */
  async lastVersionsOf(refs: readonly RecordRef[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (refs.length === 0) return out;
    const rows = await this.q.query<{ resource_type: string; resource_id: string; version_id: number }>(
      `SELECT resource_type, resource_id, max(version_id) AS version_id FROM edit_ledger
        WHERE (resource_type, resource_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
        GROUP BY resource_type, resource_id`,
      [refs.map((r) => r.type), refs.map((r) => r.id)],
    );
    for (const r of rows) out.set(`${r.resource_type}/${r.resource_id}`, r.version_id);
    return out;
  }

  /**
   * What the ledger covers: the resource types it holds entries of, and its earliest entry's
   * time (undefined when it is empty). Documents are governed from their creation, so a
   * document of these types written since then has entries.
   */
  async coverage(): Promise<{ types: string[]; since?: Date }> {
    const [row] = await this.q.query<{ types: string[] | null; since: Date | null }>('SELECT array_agg(DISTINCT resource_type) AS types, min(recorded) AS since FROM edit_ledger');
    return { types: row?.types ?? [], ...(row?.since ? { since: row.since } : {}) };
  }
}



function firstEntryOf(row: { editor: string; licence: string | null; recorded: Date }): FirstEntry {
  return { editor: row.editor, ...(row.licence ? { licence: row.licence } : {}), recorded: new Date(row.recorded) };
}
