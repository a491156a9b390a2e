import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Disputes (issue #7, R-40…R-44): cases, their inventories and sealed copies. A sealed inventory
 * line and a sealed copy never change (R-42); a pending line changes once, when a supplement
 * seals it. Nothing is deleted.
 */
export class Disputes1765000000000 implements MigrationInterface {
  name = 'Disputes1765000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "dispute" ("id" uuid NOT NULL, "patient_id" character varying(64) NOT NULL, "scope" jsonb NOT NULL, "trigger" character varying(16) NOT NULL, "reason" text NOT NULL, "team" jsonb NOT NULL, "status" character varying(16) NOT NULL, "opened_by" character varying(128) NOT NULL, "opened_at" TIMESTAMP WITH TIME ZONE NOT NULL, "sealed_at" TIMESTAMP WITH TIME ZONE, "sealed_by" character varying(128), "unsealed_at" TIMESTAMP WITH TIME ZONE, "unsealing" jsonb, "policy_version" character varying(64) NOT NULL, CONSTRAINT "PK_e2f1f4741f2094ce789b0a7c5b3" PRIMARY KEY ("id"))`);
    await q.query(`CREATE INDEX "ix_dispute_status" ON "dispute"  ("status", "opened_at") `);
    await q.query(`CREATE INDEX "ix_dispute_patient" ON "dispute"  ("patient_id", "status") `);
    await q.query(`CREATE TABLE "dispute_item" ("dispute_id" uuid NOT NULL, "resource_type" character varying(64) NOT NULL, "resource_id" character varying(64) NOT NULL, "version_id" integer NOT NULL, "status" character varying(8) NOT NULL, "sha256" character varying(64), "copy_no" integer, CONSTRAINT "PK_f25417ab174d3026e3e5eddd09d" PRIMARY KEY ("dispute_id", "resource_type", "resource_id"))`);
    await q.query(`CREATE INDEX "ix_dispute_item_resource" ON "dispute_item"  ("resource_type", "resource_id") `);
    await q.query(`CREATE TABLE "dispute_copy" ("dispute_id" uuid NOT NULL, "copy_no" integer NOT NULL, "kind" character varying(16) NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "created_by" character varying(128) NOT NULL, "witnesses" jsonb NOT NULL, "inventory_sha256" character varying(64) NOT NULL, "bundle" text NOT NULL, "bundle_sha256" character varying(64) NOT NULL, "pdf" bytea NOT NULL, "pdf_sha256" character varying(64) NOT NULL, "pages" integer NOT NULL, CONSTRAINT "PK_acf89600f3203452c4fbc3f1c92" PRIMARY KEY ("dispute_id", "copy_no"))`);
    await q.query(`CREATE TRIGGER dispute_no_delete BEFORE DELETE ON "dispute" FOR EACH ROW EXECUTE FUNCTION chartwarden_refuse_change()`);
    await q.query(`CREATE TRIGGER dispute_no_truncate BEFORE TRUNCATE ON "dispute" FOR EACH STATEMENT EXECUTE FUNCTION chartwarden_refuse_change()`);
    await q.query(`CREATE TRIGGER dispute_copy_append_only BEFORE UPDATE OR DELETE ON "dispute_copy" FOR EACH ROW EXECUTE FUNCTION chartwarden_refuse_change()`);
    await q.query(`CREATE TRIGGER dispute_copy_no_truncate BEFORE TRUNCATE ON "dispute_copy" FOR EACH STATEMENT EXECUTE FUNCTION chartwarden_refuse_change()`);
    // An inventory line changes only from pending to sealed (a supplement, R-41), never back, never away.
    await q.query(`CREATE FUNCTION chartwarden_dispute_item_sealed_once() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'UPDATE' AND OLD.status = 'pending' AND NEW.status = 'sealed'
           AND NEW.dispute_id = OLD.dispute_id AND NEW.resource_type = OLD.resource_type AND NEW.resource_id = OLD.resource_id THEN
          RETURN NEW;
        END IF;
        RAISE EXCEPTION 'a sealed inventory line of dispute % cannot change (R-42)', OLD.dispute_id USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await q.query(`CREATE TRIGGER dispute_item_sealed_once BEFORE UPDATE OR DELETE ON "dispute_item" FOR EACH ROW EXECUTE FUNCTION chartwarden_dispute_item_sealed_once()`);
    await q.query(`CREATE TRIGGER dispute_item_no_truncate BEFORE TRUNCATE ON "dispute_item" FOR EACH STATEMENT EXECUTE FUNCTION chartwarden_refuse_change()`);
    // The legal-hold check of one write, in one round trip (decision 0008). A new record for an
    // encounter first takes FOR KEY SHARE on it, so it waits for a seal of that encounter in
    // progress; the holds are then read by a later statement, which in a VOLATILE function sees
    // what committed while it waited.
    await q.query(`CREATE FUNCTION chartwarden_holds(p_type text, p_id text, p_encounter text, p_lock_encounter boolean)
      RETURNS TABLE (hold_case uuid, held_type varchar, held_id varchar, held_status varchar) LANGUAGE plpgsql VOLATILE AS $$
      BEGIN
        IF p_lock_encounter AND p_encounter IS NOT NULL THEN
          PERFORM 1 FROM fhir_resource r WHERE r.resource_type = 'Encounter' AND r.id = p_encounter FOR KEY SHARE;
        END IF;
        RETURN QUERY SELECT d.id, i.resource_type, i.resource_id, i.status FROM dispute_item i JOIN dispute d ON d.id = i.dispute_id
          WHERE d.status = 'sealed'
            AND ((i.resource_type = p_type AND i.resource_id = p_id) OR (i.resource_type = 'Encounter' AND i.resource_id = p_encounter AND i.status = 'sealed'));
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "dispute_copy"`);
    await q.query(`DROP TABLE "dispute_item"`);
    await q.query(`DROP FUNCTION chartwarden_dispute_item_sealed_once()`);
    await q.query(`DROP FUNCTION chartwarden_holds(text, text, text, boolean)`);
    await q.query(`DROP TABLE "dispute"`);
  }
}
