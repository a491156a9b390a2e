import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** The current version of each resource (one row per resource; see `fhir_resource_version` for all). */
@Entity({ name: 'fhir_resource' })
@Index('ix_fhir_resource_type_updated', ['resourceType', 'lastUpdated', 'id'])
@Index('ix_fhir_resource_owner', ['owner', 'resourceType', 'lastUpdated', 'id'], { where: 'owner IS NOT NULL' })
export class FhirResourceEntity {
  @PrimaryColumn({ name: 'resource_type', type: 'varchar', length: 64 })
  resourceType!: string;

  @PrimaryColumn({ name: 'id', type: 'varchar', length: 64 })
  id!: string;

  @Column({ name: 'version_id', type: 'integer' })
  versionId!: number;

  @Column({ name: 'last_updated', type: 'timestamptz' })
  lastUpdated!: Date;

  /** The resource as served, `meta.versionId` and `meta.lastUpdated` included. */
  @Column({ name: 'content', type: 'jsonb' })
  content!: object;

  /** The JSON text served (sender's key order and number lexemes, docs/decisions/0014); null for versions written before it. */
  @Column({ name: 'content_text', type: 'text', nullable: true })
  contentText!: string | null;

  /**
   * The patient whose record this is (decision 0018): a Patient's own id; else its `_patient`
   * row; a Provenance naming no patient, the owner of the records it signs. NULL for what is no
   * one's record (definitions, the directory, a Group). A patient's pages are read in its order.
   */
  @Column({ name: 'owner', type: 'varchar', length: 64, nullable: true })
  owner!: string | null;

  /**
   * Its links to patients (issue #13, decision 0018): `<param>|<patient id>` for each of its
   * reference index rows naming a Patient, written with them (`patient-links.ts`). A patient's
   * page judges its `patient=` criterion from it.
   */
  @Column({ name: 'patient_links', type: 'text', array: true, default: () => "'{}'" })
  patientLinks!: string[];
}

/**
 * Every version of every resource, the current one included; rows are only ever inserted
 * . `method` records the interaction that produced the version.
 */
@Entity({ name: 'fhir_resource_version' })
@Index('ix_fhir_resource_version_type_updated', ['resourceType', 'lastUpdated'])
export class FhirResourceVersionEntity {
  @PrimaryColumn({ name: 'resource_type', type: 'varchar', length: 64 })
  resourceType!: string;

  @PrimaryColumn({ name: 'id', type: 'varchar', length: 64 })
  id!: string;

  @PrimaryColumn({ name: 'version_id', type: 'integer' })
  versionId!: number;

  @Column({ name: 'last_updated', type: 'timestamptz' })
  lastUpdated!: Date;

  @Column({ name: 'method', type: 'varchar', length: 8 })
  method!: string;

  @Column({ name: 'content', type: 'jsonb' })
  content!: object;

  /** The JSON text served (sender's key order and number lexemes, docs/decisions/0014); null for versions written before it. */
  @Column({ name: 'content_text', type: 'text', nullable: true })
  contentText!: string | null;
}
