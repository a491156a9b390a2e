import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * One time-limited opening of a patient's records to one actor beyond the normal rules:
 * a borrowing grant (R-05: requested, approved by medical affairs, expiring, extendable by
 * a new approval) or a break-the-glass (R-04: opened at once with a reason, expiring,
 * reviewed afterwards). Rows are never deleted; expiry is a time, not a job.
 */
@Entity({ name: 'access_grant' })
@Index('ix_access_grant_grantee', ['grantee', 'validUntil'])
@Index('ix_access_grant_kind_created', ['kind', 'createdAt'])
export class AccessGrantEntity {
  @PrimaryColumn({ name: 'id', type: 'uuid' })
  id!: string;

  /** `grant` or `break-glass`. */
  @Column({ name: 'kind', type: 'varchar', length: 16 })
  kind!: string;

  /** The actor id (token `sub`) the access is for. */
  @Column({ name: 'grantee', type: 'varchar', length: 128 })
  grantee!: string;

  @Column({ name: 'patient_id', type: 'varchar', length: 64 })
  patientId!: string;

  /** Purpose of use (research, teaching, BTG…). */
  @Column({ name: 'purpose', type: 'varchar', length: 64 })
  purpose!: string;

  @Column({ name: 'reason', type: 'text' })
  reason!: string;

  /** requested, approved, refused (grants); active (break-glass). */
  @Column({ name: 'status', type: 'varchar', length: 24 })
  status!: string;

  @Column({ name: 'requested_by', type: 'varchar', length: 128 })
  requestedBy!: string;

  @Column({ name: 'requested_until', type: 'timestamptz' })
  requestedUntil!: Date;

  @Column({ name: 'valid_from', type: 'timestamptz', nullable: true })
  validFrom!: Date | null;

  @Column({ name: 'valid_until', type: 'timestamptz', nullable: true })
  validUntil!: Date | null;

  @Column({ name: 'decided_by', type: 'varchar', length: 128, nullable: true })
  decidedBy!: string | null;

  @Column({ name: 'decided_at', type: 'timestamptz', nullable: true })
  decidedAt!: Date | null;

  @Column({ name: 'decision_note', type: 'text', nullable: true })
  decisionNote!: string | null;

  /** Extension waiting for approval (R-05: an extension is itself approved). */
  @Column({ name: 'extension_until', type: 'timestamptz', nullable: true })
  extensionUntil!: Date | null;

  @Column({ name: 'extension_reason', type: 'text', nullable: true })
  extensionReason!: string | null;

  @Column({ name: 'reviewed_by', type: 'varchar', length: 128, nullable: true })
  reviewedBy!: string | null;

  @Column({ name: 'reviewed_at', type: 'timestamptz', nullable: true })
  reviewedAt!: Date | null;

  @Column({ name: 'review_note', type: 'text', nullable: true })
  reviewNote!: string | null;

  /** Accesses made under a break-the-glass. */
  @Column({ name: 'uses', type: 'integer', default: 0 })
  uses!: number;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'policy_version', type: 'varchar', length: 64 })
  policyVersion!: string;
}
