import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Every R4 search parameter type is indexed (issue #16): number, quantity and composite
 * parameters get their own index tables, written with the version like the others
 * (`src/store/postgres/index-tables.ts`).
 * - `fhir_search_number`: the value as a point (`low` = `high`); a search applies its own
 *   value's precision (https://hl7.org/fhir/R4/search.html#number).
 * - `fhir_search_quantity`: the value as given (system, code, unit), and, when its unit
 *   is UCUM and converts, the same range in the canonical unit of its dimension, so `mg/dL` and
 *   `g/L` compare with one range comparison (https://hl7.org/fhir/R4/search.html#quantity).
 * - `fhir_search_composite`: one row per combination of component values taken from the same
 *   element (an `Observation.component` is one element), keyed by `tuple`.
 */
export class SearchIndexKinds1765310000000 implements MigrationInterface {
  name = 'SearchIndexKinds1765310000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE TABLE "fhir_search_number" ("resource_type" character varying(64) NOT NULL, "resource_id" character varying(64) NOT NULL, ` +
        `"param" character varying(64) NOT NULL, "low" numeric NOT NULL, "high" numeric NOT NULL, ` +
        `CONSTRAINT "PK_ee12b9e88733f4a1741f2646af6" PRIMARY KEY ("resource_type", "resource_id", "param", "low", "high"))`,
    );
    await q.query(`CREATE INDEX "ix_fhir_search_number_lookup" ON "fhir_search_number"  ("resource_type", "param", "low") `);
    await q.query(
      `CREATE TABLE "fhir_search_quantity" ("resource_type" character varying(64) NOT NULL, "resource_id" character varying(64) NOT NULL, ` +
        `"param" character varying(64) NOT NULL, "system" text NOT NULL, "code" text NOT NULL, "unit" text NOT NULL, "low" numeric NOT NULL, ` +
        `"high" numeric NOT NULL, "canonical_code" text, "canonical_low" numeric, "canonical_high" numeric, ` +
        `CONSTRAINT "PK_4a73fe76eb4b3c26fb4bb579a8f" PRIMARY KEY ("resource_type", "resource_id", "param", "system", "code", "unit", "low", "high"))`,
    );
    await q.query(`CREATE INDEX "ix_fhir_search_quantity_lookup" ON "fhir_search_quantity"  ("resource_type", "param", "code", "low") `);
    await q.query(
      `CREATE INDEX "ix_fhir_search_quantity_canonical" ON "fhir_search_quantity"  ("resource_type", "param", "canonical_code", "canonical_low") `,
    );
    await q.query(
      `CREATE TABLE "fhir_search_composite" ("resource_type" character varying(64) NOT NULL, "resource_id" character varying(64) NOT NULL, ` +
        `"param" character varying(64) NOT NULL, "tuple" text NOT NULL, "system" text NOT NULL, "code" text NOT NULL, "value_system" text, ` +
        `"value_code" text, "low" numeric, "high" numeric, "canonical_code" text, "canonical_low" numeric, "canonical_high" numeric, ` +
        `CONSTRAINT "PK_5dedad27692710220fc981684be" PRIMARY KEY ("resource_type", "resource_id", "param", "tuple"))`,
    );
    await q.query(`CREATE INDEX "ix_fhir_search_composite_lookup" ON "fhir_search_composite"  ("resource_type", "param", "code") `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX "public"."ix_fhir_search_composite_lookup"`);
    await q.query(`DROP TABLE "fhir_search_composite"`);
    await q.query(`DROP INDEX "public"."ix_fhir_search_quantity_canonical"`);
    await q.query(`DROP INDEX "public"."ix_fhir_search_quantity_lookup"`);
    await q.query(`DROP TABLE "fhir_search_quantity"`);
    await q.query(`DROP INDEX "public"."ix_fhir_search_number_lookup"`);
    await q.query(`DROP TABLE "fhir_search_number"`);
  }
}
