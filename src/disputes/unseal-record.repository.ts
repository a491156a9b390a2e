import { Inject, Injectable } from '@nestjs/common';
import { uuidOr } from '../common/ids.js';
import { ChartWardenDatabase, type Queryable } from '../database/chartwarden-database.js';
import { sqlOf, type UnitOfWork } from '../database/unit-of-work.js';

/** An unseal record as listed: when and by whom it was produced, the digest it prints, and its PDF's hash and pages. */
export interface UnsealRecordSummary {
  createdAt: Date;
  createdBy: string;
  inventorySha256: string;
  pdfSha256: string;
  pages: number;
}

/** An unseal record with its PDF, exactly as produced. */
export type UnsealRecordFile = UnsealRecordSummary & { pdf: Buffer };

/**
 * The disputes' table of unseal records (`dispute_unseal_record`, 启封记录, R-43): the only code
 * that reads or writes it, in the unseal step's unit when writing. Case ids from a request are
 * UUIDs or name nothing (`uuidOr`).
 */
@Injectable()
export class UnsealRecordRepository {
  constructor(@Inject(ChartWardenDatabase) private readonly db: Queryable) {}

  /** Keeps the record produced by the unseal step, in its unit: it exists only if the unsealing commits. */
  async add(id: string, record: UnsealRecordFile, unit: UnitOfWork): Promise<void> {
    await sqlOf(unit).query(
      `INSERT INTO dispute_unseal_record (dispute_id, created_at, created_by, inventory_sha256, pdf, pdf_sha256, pages) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [id, record.createdAt, record.createdBy, record.inventorySha256, record.pdf, record.pdfSha256, record.pages],
    );
  }

  /** The case's unseal record without its PDF; undefined while the case is not unsealed. */
  async summary(id: string): Promise<UnsealRecordSummary | undefined> {
    const [row] = await this.db.query<Row>(`SELECT created_at, created_by, inventory_sha256, pdf_sha256, pages FROM dispute_unseal_record WHERE dispute_id = $1`, [uuidOr(id)]);
    return row && summaryOf(row);
  }

  /** The case's unseal record with its PDF, exactly as produced. */
  async file(id: string): Promise<UnsealRecordFile | undefined> {
    const [row] = await this.db.query<Row & { pdf: Buffer }>(
      `SELECT created_at, created_by, inventory_sha256, pdf, pdf_sha256, pages FROM dispute_unseal_record WHERE dispute_id = $1`,
      [uuidOr(id)],
    );
    return row && { ...summaryOf(row), pdf: row.pdf };
  }
}

/** A row of `dispute_unseal_record` without its PDF. */
interface Row {
  created_at: Date;
  created_by: string;
  inventory_sha256: string;
  pdf_sha256: string;
  pages: number;
}

function summaryOf(r: Row): UnsealRecordSummary {
  return { createdAt: r.created_at, createdBy: r.created_by, inventorySha256: r.inventory_sha256, pdfSha256: r.pdf_sha256, pages: r.pages };
}
