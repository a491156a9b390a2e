import { Injectable } from '@nestjs/common';
import { ChartWardenDatabase } from '../database/chartwarden-database.js';
import { sqlOf, type UnitOfWork } from '../database/unit-of-work.js';
import type { RecordRef } from '../store/patient-record-index.port.js';
import type { LedgerEntry } from './domain/ledger.js';

/** A ledger entry as it is appended: the entry, its canonical text and its place in the document's chain. */
export interface AppendedEntry {
  entry: LedgerEntry;
  text: string;
  prevHash: Buffer;
  hash: Buffer;
}

/**
 * The edit ledger's writer (`edit_ledger`, R-12, R-17, R-51): entries are appended in the write's
 * unit of work and never changed (a trigger refuses it); the chain's previous hash is read in it.
 * Every other read is `LedgerReadsRepository`'s.
 */
@Injectable()
export class EditLedgerRepository {
  constructor(private readonly db: ChartWardenDatabase) {}

  /** The chained hash of one version's entry; undefined when the version has none (a document governed only since). */
  async hashOf(unit: UnitOfWork, ref: RecordRef, version: number): Promise<Buffer | undefined> {
    const [row] = await sqlOf(unit).query<{ hash: Buffer }>(
      'SELECT hash FROM edit_ledger WHERE resource_type = $1 AND resource_id = $2 AND version_id = $3',
      [ref.type, ref.id, version],
      { prepare: true },
    );
    return row?.hash;
  }

  /** Appends a version's entry, in the write's unit of work. */
  async append(unit: UnitOfWork, { entry, text, prevHash, hash }: AppendedEntry): Promise<void> {
    await sqlOf(unit).query(
      `INSERT INTO edit_ledger (resource_type, resource_id, version_id, recorded, editor, kind, reason, doc_type, entry, prev_hash, hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [entry.resourceType, entry.id, entry.version, entry.recorded, entry.editor, entry.kind, entry.reason ?? null, entry.docType ?? null, text, prevHash, hash],
      { prepare: true },
    );
  }
}
