import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { StoredCopyColumns } from '../../copies/stored-copy.columns.js';

/**
 * A request for a copy of a patient's record (R-30…R-34): who asks, as whom, for what, and
 * where it stands. Its whole life (received, evidence, checked, decided, produced, delivered)
 * is in `events` and in the audit trail. Never deleted.
 */
@Entity({ name: 'copy_request' })
@Index('ix_copy_request_status', ['status', 'receivedAt'])
@Index('ix_copy_request_patient', ['patientId', 'receivedAt'])
export class CopyRequestEntity {
  @PrimaryColumn({ name: 'id', type: 'uuid' })
  id!: string;

  @Column({ name: 'patient_id', type: 'varchar', length: 64 })
  patientId!: string;

  /** patient, agent, heir, heir-agent, police, court, social-insurance, malpractice-assessment, commercial-insurer. */
  @Column({ name: 'requester_type', type: 'varchar', length: 32 })
  requesterType!: string;

  /** Name, ID number, organization, contact, as identified at the desk. */
  @Column({ name: 'requester', type: 'jsonb' })
  requester!: unknown;

  @Column({ name: 'purpose', type: 'text' })
  purpose!: string;

  /** `{ all?, documentTypes?, encounters? }`. */
  @Column({ name: 'scope', type: 'jsonb' })
  scope!: unknown;

  /** received, verified, approved, refused, produced, partially-delivered, delivered. */
  @Column({ name: 'status', type: 'varchar', length: 24 })
  status!: string;

  @Column({ name: 'received_by', type: 'varchar', length: 128 })
  receivedBy!: string;

  @Column({ name: 'received_at', type: 'timestamptz' })
  receivedAt!: Date;

  @Column({ name: 'closed_at', type: 'timestamptz', nullable: true })
  closedAt!: Date | null;

  /** Every step: `{ at, by, step, … }`, oldest first. */
  @Column({ name: 'events', type: 'jsonb' })
  events!: unknown[];

  @Column({ name: 'policy_version', type: 'varchar', length: 64 })
  policyVersion!: string;
}

/** A document the requester presented: the file itself, its SHA-256, and what it proves. Append-only. */
@Entity({ name: 'copy_evidence' })
@Index('ix_copy_evidence_request', ['requestId'])
export class CopyEvidenceEntity {
  @PrimaryColumn({ name: 'id', type: 'uuid' })
  id!: string;

  @Column({ name: 'request_id', type: 'uuid' })
  requestId!: string;

  @Column({ name: 'proves', type: 'varchar', length: 32 })
  proves!: string;

  @Column({ name: 'filename', type: 'varchar', length: 255, nullable: true })
  filename!: string | null;

  /** As recognised from the file's first bytes: application/pdf, image/jpeg, image/png. */
  @Column({ name: 'content_type', type: 'varchar', length: 64 })
  contentType!: string;

  @Column({ name: 'size', type: 'integer' })
  size!: number;

  @Column({ name: 'sha256', type: 'varchar', length: 64 })
  sha256!: string;

  @Column({ name: 'content', type: 'bytea' })
  content!: Buffer;

  @Column({ name: 'uploaded_by', type: 'varchar', length: 128 })
  uploadedBy!: string;

  @Column({ name: 'uploaded_at', type: 'timestamptz' })
  uploadedAt!: Date;
}

/**
 * One production of a request: the exact versions copied with their hashes, what
 * was left pending or excluded, the electronic copy (a `document` Bundle) and the certified PDF.
 * Append-only: what was handed out can always be shown again, byte for byte.
 */
@Entity({ name: 'copy_production' })
export class CopyProductionEntity {
  @PrimaryColumn({ name: 'request_id', type: 'uuid' })
  requestId!: string;

  @PrimaryColumn({ name: 'copy_no', type: 'integer' })
  copyNo!: number;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'created_by', type: 'varchar', length: 128 })
  createdBy!: string;

  /** `[{ type, id, version, sha256, documentType }]`. */
  @Column({ name: 'manifest', type: 'jsonb' })
  manifest!: unknown;

  /** Unfinished documents of the scope, to be produced later. */
  @Column({ name: 'pending', type: 'jsonb' })
  pending!: unknown;

  /** Subjective or unclassified documents left out. */
  @Column({ name: 'excluded', type: 'jsonb' })
  excluded!: unknown;

  @Column(() => StoredCopyColumns, { prefix: false })
  copy!: StoredCopyColumns;
}

export const RELEASE_ENTITIES = [CopyRequestEntity, CopyEvidenceEntity, CopyProductionEntity];
