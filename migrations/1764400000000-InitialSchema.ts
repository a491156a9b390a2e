import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The embedded FHIR store: current versions, every version (append-only, R-12/R-17) and the
 * search index tables. Generated from the entities, plus triggers TypeORM cannot express.
 */
export class InitialSchema1764400000000 implements MigrationInterface {
  name = 'InitialSchema1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "fhir_resource" ("resource_type" character varying(64) NOT NULL, "id" character varying(64) NOT NULL, "version_id" integer NOT NULL, "last_updated" TIMESTAMP WITH TIME ZONE NOT NULL, "content" jsonb NOT NULL, CONSTRAINT "PK_41a4f766897384573329b5a5989" PRIMARY KEY ("resource_type", "id"))`);
    await q.query(`CREATE INDEX "ix_fhir_resource_type_updated" ON "fhir_resource"  ("resource_type", "last_updated", "id") `);
    await q.query(`CREATE TABLE "fhir_resource_version" ("resource_type" character varying(64) NOT NULL, "id" character varying(64) NOT NULL, "version_id" integer NOT NULL, "last_updated" TIMESTAMP WITH TIME ZONE NOT NULL, "method" character varying(8) NOT NULL, "content" jsonb NOT NULL, CONSTRAINT "PK_f4ab96133fe5be2418713bc7036" PRIMARY KEY ("resource_type", "id", "version_id"))`);
    await q.query(`CREATE INDEX "ix_fhir_resource_version_type_updated" ON "fhir_resource_version"  ("resource_type", "last_updated") `);
    await q.query(`CREATE TABLE "fhir_search_token" ("resource_type" character varying(64) NOT NULL, "resource_id" character varying(64) NOT NULL, "param" character varying(64) NOT NULL, "system" text NOT NULL, "code" text NOT NULL, CONSTRAINT "PK_fc23d7387066d7cc8a343b22793" PRIMARY KEY ("resource_type", "resource_id", "param", "system", "code"))`);
    await q.query(`CREATE INDEX "ix_fhir_search_token_lookup" ON "fhir_search_token"  ("resource_type", "param", "code") `);
    await q.query(`CREATE TABLE "fhir_search_string" ("resource_type" character varying(64) NOT NULL, "resource_id" character varying(64) NOT NULL, "param" character varying(64) NOT NULL, "value" text COLLATE "C" NOT NULL, "exact" text NOT NULL, CONSTRAINT "PK_39de6d7c4f6cc663624be0c4b92" PRIMARY KEY ("resource_type", "resource_id", "param", "value"))`);
    await q.query(`CREATE INDEX "ix_fhir_search_string_lookup" ON "fhir_search_string"  ("resource_type", "param", "value") `);
    await q.query(`CREATE TABLE "fhir_search_reference" ("resource_type" character varying(64) NOT NULL, "resource_id" character varying(64) NOT NULL, "param" character varying(64) NOT NULL, "target_type" character varying(64) NOT NULL, "target_id" character varying(64) NOT NULL, CONSTRAINT "PK_65331fe0073a026cadade507873" PRIMARY KEY ("resource_type", "resource_id", "param", "target_type", "target_id"))`);
    await q.query(`CREATE INDEX "ix_fhir_search_reference_target" ON "fhir_search_reference"  ("target_type", "target_id", "param", "resource_type") `);
    await q.query(`CREATE TABLE "fhir_search_date" ("resource_type" character varying(64) NOT NULL, "resource_id" character varying(64) NOT NULL, "param" character varying(64) NOT NULL, "low" TIMESTAMP WITH TIME ZONE NOT NULL, "high" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_bc80ac834dc695f6ca23299d421" PRIMARY KEY ("resource_type", "resource_id", "param", "low", "high"))`);
    await q.query(`CREATE INDEX "ix_fhir_search_date_lookup" ON "fhir_search_date"  ("resource_type", "param", "low") `);
    // a stored version is never changed or removed, whoever holds the connection.
    await q.query(`CREATE FUNCTION chartwarden_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'ChartWarden: % on % is refused: records are never altered or destroyed (R-17)', TG_OP, TG_TABLE_NAME
          USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await q.query(`CREATE TRIGGER fhir_resource_version_append_only BEFORE UPDATE OR DELETE ON "fhir_resource_version"
      FOR EACH ROW EXECUTE FUNCTION chartwarden_refuse_change()`);
    await q.query(`CREATE TRIGGER fhir_resource_no_delete BEFORE DELETE ON "fhir_resource"
      FOR EACH ROW EXECUTE FUNCTION chartwarden_refuse_change()`);
    // Row triggers do not fire on TRUNCATE: refuse it with statement triggers.
    await q.query(`CREATE TRIGGER fhir_resource_version_no_truncate BEFORE TRUNCATE ON "fhir_resource_version"
      FOR EACH STATEMENT EXECUTE FUNCTION chartwarden_refuse_change()`);
    await q.query(`CREATE TRIGGER fhir_resource_no_truncate BEFORE TRUNCATE ON "fhir_resource"
      FOR EACH STATEMENT EXECUTE FUNCTION chartwarden_refuse_change()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER fhir_resource_no_truncate ON "fhir_resource"`);
    await q.query(`DROP TRIGGER fhir_resource_version_no_truncate ON "fhir_resource_version"`);
    await q.query(`DROP TRIGGER fhir_resource_no_delete ON "fhir_resource"`);
    await q.query(`DROP TRIGGER fhir_resource_version_append_only ON "fhir_resource_version"`);
    await q.query(`DROP FUNCTION chartwarden_refuse_change()`);
    await q.query(`DROP INDEX "public"."ix_fhir_search_date_lookup"`);
    await q.query(`DROP TABLE "fhir_search_date"`);
    await q.query(`DROP INDEX "public"."ix_fhir_search_reference_target"`);
    await q.query(`DROP TABLE "fhir_search_reference"`);
    await q.query(`DROP INDEX "public"."ix_fhir_search_string_lookup"`);
    await q.query(`DROP TABLE "fhir_search_string"`);
    await q.query(`DROP INDEX "public"."ix_fhir_search_token_lookup"`);
    await q.query(`DROP TABLE "fhir_search_token"`);
    await q.query(`DROP INDEX "public"."ix_fhir_resource_version_type_updated"`);
    await q.query(`DROP TABLE "fhir_resource_version"`);
    await q.query(`DROP INDEX "public"."ix_fhir_resource_type_updated"`);
    await q.query(`DROP TABLE "fhir_resource"`);
  }
}
