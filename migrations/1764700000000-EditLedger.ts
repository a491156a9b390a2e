import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The edit ledger of governed documents: append-only, a hash chain per document. */
export class EditLedger1764700000000 implements MigrationInterface {
  name = 'EditLedger1764700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "edit_ledger" ("resource_type" character varying(64) NOT NULL, "resource_id" character varying(64) NOT NULL, "version_id" integer NOT NULL, "recorded" TIMESTAMP WITH TIME ZONE NOT NULL, "editor" character varying(128) NOT NULL, "kind" character varying(16) NOT NULL, "reason" text, "doc_type" character varying(64), "entry" text NOT NULL, "prev_hash" bytea NOT NULL, "hash" bytea NOT NULL, CONSTRAINT "PK_8bfc97131ac921a9a16c25b18f9" PRIMARY KEY ("resource_type", "resource_id", "version_id"))`);
    await q.query(`CREATE INDEX "ix_edit_ledger_editor" ON "edit_ledger"  ("editor", "recorded") `);
    // The R-17 function of the initial schema: every role, superusers included, is refused.
    await q.query(`CREATE TRIGGER edit_ledger_append_only BEFORE UPDATE OR DELETE ON "edit_ledger"
      FOR EACH ROW EXECUTE FUNCTION chartwarden_refuse_change()`);
    await q.query(`CREATE TRIGGER edit_ledger_no_truncate BEFORE TRUNCATE ON "edit_ledger"
      FOR EACH STATEMENT EXECUTE FUNCTION chartwarden_refuse_change()`);
    // the current content changes only as a new version (the store's writes always add one).
    await q.query(`CREATE FUNCTION chartwarden_versioned_update() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.version_id <= OLD.version_id OR NEW.resource_type <> OLD.resource_type OR NEW.id <> OLD.id THEN
          RAISE EXCEPTION 'ChartWarden: % of %/% without a new version is refused: a record changes only by a new version (R-17)', TG_OP, OLD.resource_type, OLD.id
            USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
      END $$`);
    await q.query(`CREATE TRIGGER fhir_resource_versioned_update BEFORE UPDATE ON "fhir_resource"
      FOR EACH ROW EXECUTE FUNCTION chartwarden_versioned_update()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER fhir_resource_versioned_update ON "fhir_resource"`);
    await q.query(`DROP FUNCTION chartwarden_versioned_update()`);
    await q.query(`DROP TABLE "edit_ledger"`);
  }
}
