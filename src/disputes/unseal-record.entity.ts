import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * A case's unseal record (启封记录, R-43): the PDF produced when the case is unsealed, stating
 * the case, who was present or what basis and approval allowed the hospital to unseal alone,
 * when, and the inventory digest as it stood; kept exactly as produced, with its SHA-256, like
 * a sealed copy's PDF. One per case (a case is unsealed once). Append-only.
 */
@Entity({ name: 'dispute_unseal_record' })
export class DisputeUnsealRecordEntity {
  @PrimaryColumn({ name: 'dispute_id', type: 'uuid' })
  disputeId!: string;

  /** The unsealing's instant: the record's time. */
  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  /** The officer who unsealed (the token's `sub`). */
  @Column({ name: 'created_by', type: 'varchar', length: 128 })
  createdBy!: string;

  /** The inventory digest over every line at unsealing, as printed. */
  @Column({ name: 'inventory_sha256', type: 'varchar', length: 64 })
  inventorySha256!: string;

  @Column({ name: 'pdf', type: 'bytea' })
  pdf!: Buffer;

  @Column({ name: 'pdf_sha256', type: 'varchar', length: 64 })
  pdfSha256!: string;

  @Column({ name: 'pages', type: 'integer' })
  pages!: number;
}
