import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * The winnowing fingerprints of a governed document's current text, indexed at write
 * time so a copy from another patient's record is found without scanning. Derived data: a
 * document's rows are replaced at each version.
 */
@Entity({ name: 'text_fingerprint' })
export class TextFingerprintEntity {
  /** First in the primary key: the one index serves the lookup by fingerprint (and a document's rows are deleted by their fingerprints). */
  @PrimaryColumn({ name: 'hash', type: 'integer' })
  hash!: number;

  @PrimaryColumn({ name: 'resource_type', type: 'varchar', length: 64 })
  resourceType!: string;

  @PrimaryColumn({ name: 'resource_id', type: 'varchar', length: 64 })
  resourceId!: string;

  @Column({ name: 'patient_id', type: 'varchar', length: 64, nullable: true })
  patientId!: string | null;
}
