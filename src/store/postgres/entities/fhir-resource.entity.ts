import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** The current version of each resource (one row per resource; see `fhir_resource_version` for all). */
@Entity({ name: 'fhir_resource' })
@Index('ix_fhir_resource_type_updated', ['resourceType', 'lastUpdated', 'id'])
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
