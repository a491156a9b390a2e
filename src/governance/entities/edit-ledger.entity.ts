import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * One version of a governed document as the edit ledger records it: who wrote it,
 * exactly when, why, what changed (RFC 6902 from the previous version), the SHA-256 of the
 * version's canonical JSON, and the previous entry's hash: a chain per document, written in
 * the version's own transaction. Rows are never updated or deleted (triggers).
 */
@Entity({ name: 'edit_ledger' })
@Index('ix_edit_ledger_editor', ['editor', 'recorded'])
export class EditLedgerEntity {
  @PrimaryColumn({ name: 'resource_type', type: 'varchar', length: 64 })
  resourceType!: string;

  @PrimaryColumn({ name: 'resource_id', type: 'varchar', length: 64 })
  resourceId!: string;

  @PrimaryColumn({ name: 'version_id', type: 'integer' })
  versionId!: number;

  @Column({ name: 'recorded', type: 'timestamptz' })
  recorded!: Date;

  /** Token `sub` of the editor. */
  @Column({ name: 'editor', type: 'varchar', length: 128 })
  editor!: string;

  /** create | update (later: amend, sign, cosign). */
  @Column({ name: 'kind', type: 'varchar', length: 16 })
  kind!: string;

  @Column({ name: 'reason', type: 'text', nullable: true })
  reason!: string | null;

  /** The regulation document type (`document-type` CodeSystem), when the document has one. */
  @Column({ name: 'doc_type', type: 'varchar', length: 64, nullable: true })
  docType!: string | null;

  /** The entry as RFC 8785 canonical JSON: what `hash` covers. */
  @Column({ name: 'entry', type: 'text' })
  entry!: string;

  @Column({ name: 'prev_hash', type: 'bytea' })
  prevHash!: Buffer;

  @Column({ name: 'hash', type: 'bytea' })
  hash!: Buffer;
}
