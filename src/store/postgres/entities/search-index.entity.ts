import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/*
 * Search indexes, written in the same transaction as the version they describe and kept
 * for the current version only. One table per parameter type; each row is one value a
 * SearchParameter's FHIRPath expression produced (see `search-index.extractor.ts`).
 */

/**
 * The key every index row starts with: the resource it describes and the search parameter.
 * Each table adds the value's own key columns (the whole row is the primary key).
 */
export abstract class SearchIndexRow {
  @PrimaryColumn({ name: 'resource_type', type: 'varchar', length: 64 })
  resourceType!: string;
  @PrimaryColumn({ name: 'resource_id', type: 'varchar', length: 64 })
  resourceId!: string;
  @PrimaryColumn({ name: 'param', type: 'varchar', length: 64 })
  param!: string;
}

/** token and uri parameters: `system|code` (system '' when the value has none). */
@Entity({ name: 'fhir_search_token' })
@Index('ix_fhir_search_token_lookup', ['resourceType', 'param', 'code', 'owner'])
export class SearchTokenEntity extends SearchIndexRow {
  @PrimaryColumn({ name: 'system', type: 'text' })
  system!: string;
  @PrimaryColumn({ name: 'code', type: 'text' })
  code!: string;
  /** The resource's owner (`fhir_resource.owner`, decision 0018): a search across patients filters by it first; NULL for a Provenance. */
  @Column({ name: 'owner', type: 'varchar', length: 64, nullable: true })
  owner!: string | null;
}

/** string parameters, normalised (lower case, accents removed) in C collation so prefix LIKE uses the index. */
@Entity({ name: 'fhir_search_string' })
@Index('ix_fhir_search_string_lookup', ['resourceType', 'param', 'value'])
export class SearchStringEntity extends SearchIndexRow {
  @PrimaryColumn({ name: 'value', type: 'text', collation: 'C' })
  value!: string;
  /** The value as written, for `:exact`. */
  @Column({ name: 'exact', type: 'text' })
  exact!: string;
}

/** reference parameters: the target's type and id (relative references only). */
@Entity({ name: 'fhir_search_reference' })
@Index('ix_fhir_search_reference_target', ['targetType', 'targetId', 'param', 'resourceType'])
@Index('ix_fhir_search_reference_department', ['targetId', 'resourceId'], { where: "resource_type = 'Encounter' AND param = 'service-provider'" })
export class SearchReferenceEntity extends SearchIndexRow {
  @PrimaryColumn({ name: 'target_type', type: 'varchar', length: 64 })
  targetType!: string;
  @PrimaryColumn({ name: 'target_id', type: 'varchar', length: 64 })
  targetId!: string;
}

/** date parameters as the instant range [low, high] the value covers at its precision. */
@Entity({ name: 'fhir_search_date' })
@Index('ix_fhir_search_date_lookup', ['resourceType', 'param', 'low'])
@Index('ix_fhir_search_date_owner_low', ['resourceType', 'param', 'owner', 'low', 'resourceId'], { where: 'owner IS NOT NULL' })
@Index('ix_fhir_search_date_owner_high', ['resourceType', 'param', 'owner', 'high', 'resourceId'], { where: 'owner IS NOT NULL' })
export class SearchDateEntity extends SearchIndexRow {
  @PrimaryColumn({ name: 'low', type: 'timestamptz' })
  low!: Date;
  @PrimaryColumn({ name: 'high', type: 'timestamptz' })
  high!: Date;
  /**
   * The resource's owner (`fhir_resource.owner`), so a patient's records sort by a date from
   * this index (decision 0018); NULL for a Provenance, whose owner may follow its records.
   */
  @Column({ name: 'owner', type: 'varchar', length: 64, nullable: true })
  owner!: string | null;
}
