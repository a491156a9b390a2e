import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { StoredCopyColumns } from '../../copies/stored-copy.columns.js';
import { DisputeUnsealRecordEntity } from '../unseal-record.entity.js';
import { DisputeSignatureEntity } from './dispute-signature.entity.js';

/**
 * A dispute case (R-40…R-44): the patient, what is in scope, why, and where it stands
 * (`open` → `sealed` → `unsealed`). Rows are never deleted; each step is also in the audit trail.
 */
@Entity({ name: 'dispute' })
@Index('ix_dispute_patient', ['patientId', 'status'])
@Index('ix_dispute_status', ['status', 'openedAt'])
export class DisputeEntity {
  @PrimaryColumn({ name: 'id', type: 'uuid' })
  id!: string;

  @Column({ name: 'patient_id', type: 'varchar', length: 64 })
  patientId!: string;

  /** `{ kind: 'whole-record' } | { kind: 'encounters', encounters } | { kind: 'date-range', from, to }`. */
  @Column({ name: 'scope', type: 'jsonb' })
  scope!: unknown;

  /** `dispute` or `public-incident` (R-44: sealed at once, readable by the case team only). */
  @Column({ name: 'trigger', type: 'varchar', length: 16 })
  trigger!: string;

  @Column({ name: 'reason', type: 'text' })
  reason!: string;

  /** Practitioner references of the case team; the officer who opened the case is on it. */
  @Column({ name: 'team', type: 'jsonb' })
  team!: string[];

  /** open, sealed, unsealed. */
  @Column({ name: 'status', type: 'varchar', length: 16 })
  status!: string;

  @Column({ name: 'opened_by', type: 'varchar', length: 128 })
  openedBy!: string;

  @Column({ name: 'opened_at', type: 'timestamptz' })
  openedAt!: Date;

  @Column({ name: 'sealed_at', type: 'timestamptz', nullable: true })
  sealedAt!: Date | null;

  @Column({ name: 'sealed_by', type: 'varchar', length: 128, nullable: true })
  sealedBy!: string | null;

  @Column({ name: 'unsealed_at', type: 'timestamptz', nullable: true })
  unsealedAt!: Date | null;

  /** How the unsealing was justified: both sides, resolved or no claim, with witnesses or approver. */
  @Column({ name: 'unsealing', type: 'jsonb', nullable: true })
  unsealing!: unknown;

  @Column({ name: 'policy_version', type: 'varchar', length: 64 })
  policyVersion!: string;
}

/**
 * One line of a case's inventory (封存清单): a resource at the version sealed and that version's
 * SHA-256 (RFC 8785 canonical JSON, as the edit ledger hashes it). A `pending` line is a record
 * not yet completed at sealing: it is sealed by a supplement once completed. A sealed
 * line never changes (trigger).
 */
@Entity({ name: 'dispute_item' })
@Index('ix_dispute_item_resource', ['resourceType', 'resourceId'])
export class DisputeItemEntity {
  @PrimaryColumn({ name: 'dispute_id', type: 'uuid' })
  disputeId!: string;

  @PrimaryColumn({ name: 'resource_type', type: 'varchar', length: 64 })
  resourceType!: string;

  @PrimaryColumn({ name: 'resource_id', type: 'varchar', length: 64 })
  resourceId!: string;

  @Column({ name: 'version_id', type: 'integer' })
  versionId!: number;

  /** sealed, pending. */
  @Column({ name: 'status', type: 'varchar', length: 8 })
  status!: string;

  @Column({ name: 'sha256', type: 'varchar', length: 64, nullable: true })
  sha256!: string | null;

  /** The sealed copy that holds this line (null while pending). */
  @Column({ name: 'copy_no', type: 'integer', nullable: true })
  copyNo!: number | null;
}

/**
 * A sealed copy: the electronic copy (a FHIR `document` Bundle of the sealed versions) and its
 * PDF, made at sealing (copy 1) and at each supplement, identical for both sides. Append-only.
 */
@Entity({ name: 'dispute_copy' })
export class DisputeCopyEntity {
  @PrimaryColumn({ name: 'dispute_id', type: 'uuid' })
  disputeId!: string;

  @PrimaryColumn({ name: 'copy_no', type: 'integer' })
  copyNo!: number;

  /** seal, supplement. */
  @Column({ name: 'kind', type: 'varchar', length: 16 })
  kind!: string;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'created_by', type: 'varchar', length: 128 })
  createdBy!: string;

  /** Both sides' confirmations: the hospital's witness (verified token) and the patient side's (name, relationship, ID). */
  @Column({ name: 'witnesses', type: 'jsonb' })
  witnesses!: unknown;

  /** SHA-256 of the inventory lines this copy seals (canonical JSON), as printed on every page. */
  @Column({ name: 'inventory_sha256', type: 'varchar', length: 64 })
  inventorySha256!: string;

  @Column(() => StoredCopyColumns, { prefix: false })
  copy!: StoredCopyColumns;

  /** The pages each record this copy seals occupies in its PDF, `{"Type/id": count}` (页数, R-40); none on copies sealed before it was kept. */
  @Column({ name: 'record_pages', type: 'jsonb', nullable: true })
  recordPages!: Record<string, number> | null;
}

/**
 * A confirmation given by a person at the table with their own authenticated request (R-40,
 * the hospital side's witness confirming the inventory they were shown (its digest),
 * or medical affairs approving a unilateral unseal. A seal or unseal uses one given since the
 * case's last step, within the policy's minutes. Append-only.
 */
@Entity({ name: 'dispute_confirmation' })
@Index('ix_dispute_confirmation_case', ['disputeId', 'step', 'confirmedAt'])
export class DisputeConfirmationEntity {
  @PrimaryColumn({ name: 'id', type: 'uuid' })
  id!: string;

  @Column({ name: 'dispute_id', type: 'uuid' })
  disputeId!: string;

  /** seal, unseal. */
  @Column({ name: 'step', type: 'varchar', length: 16 })
  step!: string;

  /** hospital-witness, unseal-approval. */
  @Column({ name: 'kind', type: 'varchar', length: 24 })
  kind!: string;

  @Column({ name: 'actor_id', type: 'varchar', length: 128 })
  actorId!: string;

  @Column({ name: 'practitioner', type: 'varchar', length: 128 })
  practitioner!: string;

  @Column({ name: 'roles', type: 'jsonb' })
  roles!: string[];

  /** For a sealing: the digest of the inventory the witness was shown. */
  @Column({ name: 'inventory_digest', type: 'varchar', length: 64, nullable: true })
  inventoryDigest!: string | null;

  /** For an unseal approval: resolved or no-claim, and why. */
  @Column({ name: 'basis', type: 'varchar', length: 16, nullable: true })
  basis!: string | null;

  @Column({ name: 'reason', type: 'text', nullable: true })
  reason!: string | null;

  @Column({ name: 'confirmed_at', type: 'timestamptz' })
  confirmedAt!: Date;
}

/** The disputes' tables, for the DataSource. */
export const DISPUTE_ENTITIES = [DisputeEntity, DisputeItemEntity, DisputeCopyEntity, DisputeConfirmationEntity, DisputeUnsealRecordEntity, DisputeSignatureEntity];
