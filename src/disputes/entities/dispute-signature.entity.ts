import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * A signature the patient side drew on the tablet when a case was sealed or unsealed with both
 * sides: the PNG exactly as received, with its SHA-256, which the case's sealed copy
 * (or unsealing) records with the patient side. Written in the step's transaction: it exists only
 * if the step does. Never changed, never deleted (triggers).
 */
@Entity({ name: 'dispute_signature' })
@Index('ix_dispute_signature_case', ['disputeId', 'sha256'])
export class DisputeSignatureEntity {
  @PrimaryColumn({ name: 'id', type: 'uuid', primaryKeyConstraintName: 'pk_dispute_signature' })
  id!: string;

  @Column({ name: 'dispute_id', type: 'uuid' })
  disputeId!: string;

  /** seal, unseal: the step signed. */
  @Column({ name: 'step', type: 'varchar', length: 16 })
  step!: string;

  /** image/png. */
  @Column({ name: 'content_type', type: 'varchar', length: 32 })
  contentType!: string;

  @Column({ name: 'size', type: 'integer' })
  size!: number;

  @Column({ name: 'sha256', type: 'varchar', length: 64 })
  sha256!: string;

  @Column({ name: 'content', type: 'bytea' })
  content!: Buffer;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  /** The officer who took the step (the token's `sub`). */
  @Column({ name: 'created_by', type: 'varchar', length: 128 })
  createdBy!: string;
}
