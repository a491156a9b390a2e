import { Injectable } from '@nestjs/common';
import { sqlOf, type UnitOfWork } from '../database/unit-of-work.js';
import type { RecordRef } from '../store/patient-record-index.port.js';

/** A document sharing fingerprints with a text, and the patient it was indexed for. */
export interface SharingDocument extends RecordRef {
  patient?: string;
  /** How many of the text's fingerprints it shares. */
  shared: number;
}

/**
 * Governed documents' text fingerprints (`text_fingerprint`, R-16): the winnowed hashes of each
 * document's current text, led by the hash (the table's only index), so rows are found and
 * deleted by key.
 */
@Injectable()
export class TextFingerprintRepository {
  /**
   * The documents sharing the most of `hashes`, most first, at most `limit`; `self` (a document
   * being updated, whose previous version is still indexed) left out.
   */
  async sharing(unit: UnitOfWork, hashes: readonly number[], self: { type: string; id?: string }, limit: number): Promise<SharingDocument[]> {
    const rows = await sqlOf(unit).query<{ resource_type: string; resource_id: string; patient_id: string | null; shared: number }>(
      `SELECT f.resource_type, f.resource_id, min(f.patient_id) AS patient_id, count(*)::int AS shared
         FROM text_fingerprint f
        WHERE f.hash = ANY($1::int[]) AND ($3::text IS NULL OR NOT (f.resource_type = $2 AND f.resource_id = $3))
        GROUP BY 1, 2 ORDER BY shared DESC LIMIT $4`,
      [hashes, self.type, self.id ?? null, limit],
      { prepare: true },
    );
    return rows.map((r) => ({ type: r.resource_type, id: r.resource_id, ...(r.patient_id ? { patient: r.patient_id } : {}), shared: r.shared }));
  }

  /** Replaces a document's fingerprints: `previous` (its previous version's) out, `current` in. */
  async replace(unit: UnitOfWork, ref: RecordRef, patient: string | undefined, previous: readonly number[], current: readonly number[]): Promise<void> {
    const tx = sqlOf(unit);
    if (previous.length) {
      await tx.query('DELETE FROM text_fingerprint WHERE hash = ANY($1::int[]) AND resource_type = $2 AND resource_id = $3', [previous, ref.type, ref.id], { prepare: true });
    }
    if (current.length) {
      await tx.query(
        `INSERT INTO text_fingerprint (hash, resource_type, resource_id, patient_id) SELECT h, $2, $3, $4 FROM unnest($1::int[]) AS h`,
        [current, ref.type, ref.id, patient ?? null],
        { prepare: true },
      );
    }
  }
}
