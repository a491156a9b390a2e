import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { uuidOr } from '../common/ids.js';
import { ChartWardenDatabase, type Queryable } from '../database/chartwarden-database.js';
import { sqlOf, type UnitOfWork } from '../database/unit-of-work.js';
import type { DrawnSignature } from './domain/patient-signature.js';

/** A drawn signature as kept: its PNG exactly as received, and its SHA-256. */
export interface StoredSignature {
  step: 'seal' | 'unseal';
  contentType: string;
  size: number;
  sha256: string;
  content: Buffer;
}

/**
 * The patient side's drawn signatures (`dispute_signature`, R-40, R-43): the only code that
 * reads or writes the table, in the step's unit when writing (a signature exists only if its
 * seal or unseal committed). Append-only (triggers). Case ids from a request are UUIDs or name
 * nothing (`uuidOr`).
 */
@Injectable()
export class DisputeSignaturesRepository {
  constructor(@Inject(ChartWardenDatabase) private readonly db: Queryable) {}

  async add(dispute: string, step: 'seal' | 'unseal', signature: DrawnSignature, at: Date, by: string, unit: UnitOfWork): Promise<void> {
    await sqlOf(unit).query(
      `INSERT INTO dispute_signature (id, dispute_id, step, content_type, size, sha256, content, created_at, created_by) VALUES ($1, $2, $3, 'image/png', $4, $5, $6, $7, $8)`,
      [randomUUID(), dispute, step, signature.bytes.length, signature.sha256, signature.bytes, at, by],
    );
  }

  /** The case's signature with this SHA-256, exactly as received; undefined when the case has none such. */
  async file(dispute: string, sha256: string): Promise<StoredSignature | undefined> {
    const [row] = await this.db.query<{ step: 'seal' | 'unseal'; content_type: string; size: number; sha256: string; content: Buffer }>(
      `SELECT step, content_type, size, sha256, content FROM dispute_signature WHERE dispute_id = $1 AND sha256 = $2 ORDER BY created_at LIMIT 1`,
      [uuidOr(dispute), sha256],
    );
    return row && { step: row.step, contentType: row.content_type, size: row.size, sha256: row.sha256, content: row.content };
  }
}
