import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { SearchIndexRow } from './search-index.entity.js';

/*
 * The index tables of migration SearchIndexKinds1765310000000 (issue #16): number, quantity
 * and composite search parameters. Rows are written by `version-writes.ts` like the others.
 */

/** number parameters: the stored value as a point (low = high); the searched value's precision applies (`index-values.ts`). */
@Entity({ name: 'fhir_search_number' })
@Index('ix_fhir_search_number_lookup', ['resourceType', 'param', 'low'])
export class SearchNumberEntity extends SearchIndexRow {
  @PrimaryColumn({ name: 'low', type: 'numeric' })
  low!: string;
  @PrimaryColumn({ name: 'high', type: 'numeric' })
  high!: string;
}

/** quantity parameters: the range as given and, when the UCUM unit converts, in its dimension's canonical unit. */
@Entity({ name: 'fhir_search_quantity' })
@Index('ix_fhir_search_quantity_lookup', ['resourceType', 'param', 'code', 'low'])
@Index('ix_fhir_search_quantity_canonical', ['resourceType', 'param', 'canonicalCode', 'canonicalLow'])
export class SearchQuantityEntity extends SearchIndexRow {
  @PrimaryColumn({ name: 'system', type: 'text' })
  system!: string;
  @PrimaryColumn({ name: 'code', type: 'text' })
  code!: string;
  @PrimaryColumn({ name: 'unit', type: 'text' })
  unit!: string;
  @PrimaryColumn({ name: 'low', type: 'numeric' })
  low!: string;
  @PrimaryColumn({ name: 'high', type: 'numeric' })
  high!: string;
  @Column({ name: 'canonical_code', type: 'text', nullable: true })
  canonicalCode!: string | null;
  @Column({ name: 'canonical_low', type: 'numeric', nullable: true })
  canonicalLow!: string | null;
  @Column({ name: 'canonical_high', type: 'numeric', nullable: true })
  canonicalHigh!: string | null;
}

/** composite parameters: one row per combination of component values of one element (see `composite.ts`). */
@Entity({ name: 'fhir_search_composite' })
@Index('ix_fhir_search_composite_lookup', ['resourceType', 'param', 'code'])
export class SearchCompositeEntity extends SearchIndexRow {
  @PrimaryColumn({ name: 'tuple', type: 'text' })
  tuple!: string;
  @Column({ name: 'system', type: 'text' })
  system!: string;
  @Column({ name: 'code', type: 'text' })
  code!: string;
  @Column({ name: 'value_system', type: 'text', nullable: true })
  valueSystem!: string | null;
  @Column({ name: 'value_code', type: 'text', nullable: true })
  valueCode!: string | null;
  @Column({ name: 'low', type: 'numeric', nullable: true })
  low!: string | null;
  @Column({ name: 'high', type: 'numeric', nullable: true })
  high!: string | null;
  @Column({ name: 'canonical_code', type: 'text', nullable: true })
  canonicalCode!: string | null;
  @Column({ name: 'canonical_low', type: 'numeric', nullable: true })
  canonicalLow!: string | null;
  @Column({ name: 'canonical_high', type: 'numeric', nullable: true })
  canonicalHigh!: string | null;
}
