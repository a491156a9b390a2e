import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * A formal amendment: after a document's edit window, or once it is archived,
 * its author asks with a reason; a chief physician or medical affairs approves or refuses;
 * an approval is a one-time permit for that author on that document, expiring. Rows are
 * never deleted; the version written under the permit names it in the edit ledger.
 */
@Entity({ name: 'amendment' })
@Index('ix_amendment_document', ['resourceType', 'resourceId', 'status'])
@Index('ix_amendment_status', ['status', 'requestedAt'])
export class AmendmentEntity {
  @PrimaryColumn({ name: 'id', type: 'uuid' })
  id!: string;

  @Column({ name: 'resource_type', type: 'varchar', length: 64 })
  resourceType!: string;

  @Column({ name: 'resource_id', type: 'varchar', length: 64 })
  resourceId!: string;

  /** Token `sub` of the author who asked, and who alone may use the permit. */
  @Column({ name: 'requested_by', type: 'varchar', length: 128 })
  requestedBy!: string;

  @Column({ name: 'reason', type: 'text' })
  reason!: string;

  /** requested, approved, refused, used. Expiry is a time, not a state. */
  @Column({ name: 'status', type: 'varchar', length: 16 })
  status!: string;

  @Column({ name: 'requested_at', type: 'timestamptz' })
  requestedAt!: Date;

  @Column({ name: 'decided_by', type: 'varchar', length: 128, nullable: true })
  decidedBy!: string | null;

  /** The decider's roles when they decided (an archived record needs medical affairs, R-15). */
  @Column({ name: 'decided_roles', type: 'varchar', length: 256, nullable: true })
  decidedRoles!: string | null;

  @Column({ name: 'decided_at', type: 'timestamptz', nullable: true })
  decidedAt!: Date | null;

  @Column({ name: 'decision_note', type: 'text', nullable: true })
  decisionNote!: string | null;

  @Column({ name: 'valid_until', type: 'timestamptz', nullable: true })
  validUntil!: Date | null;

  /** The version written under the permit. */
  @Column({ name: 'used_version', type: 'integer', nullable: true })
  usedVersion!: number | null;

  @Column({ name: 'policy_version', type: 'varchar', length: 64 })
  policyVersion!: string;
}
