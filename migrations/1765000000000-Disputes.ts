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
    await q.query(`CREATE TABLE "dispute_confirmation" ("id" uuid NOT NULL, "dispute_id" uuid NOT NULL, "step" character varying(16) NOT NULL, "kind" character varying(24) NOT NULL, "actor_id" character varying(128) NOT NULL, "practitioner" character varying(128) NOT NULL, "roles" jsonb NOT NULL, "inventory_digest" character varying(64), "basis" character varying(16), "reason" text, "confirmed_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_f6d7b82fdeafc7c7b1f1d41ce5a" PRIMARY KEY ("id"))`);
    await q.query(`CREATE INDEX "ix_dispute_confirmation_case" ON "dispute_confirmation"  ("dispute_id", "step", "confirmed_at") `);
    await q.query(`CREATE TRIGGER dispute_confirmation_append_only BEFORE UPDATE OR DELETE ON "dispute_confirmation" FOR EACH ROW EXECUTE FUNCTION chartwarden_refuse_change()`);
    await q.query(`CREATE TRIGGER dispute_confirmation_no_truncate BEFORE TRUNCATE ON "dispute_confirmation" FOR EACH STATEMENT EXECUTE FUNCTION chartwarden_refuse_change()`);
    // A case moves only forward (open → sealed → unsealed), each step's columns set once; what
    // the case is (patient, scope, trigger, reason, team, who opened it, when) never changes.
    await q.query(`CREATE FUNCTION chartwarden_dispute_forward() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF (NEW.id, NEW.patient_id, NEW.scope, NEW.trigger, NEW.reason, NEW.team, NEW.opened_by, NEW.opened_at, NEW.policy_version)
             IS NOT DISTINCT FROM (OLD.id, OLD.patient_id, OLD.scope, OLD.trigger, OLD.reason, OLD.team, OLD.opened_by, OLD.opened_at, OLD.policy_version)
           AND ((OLD.status = 'open' AND NEW.status = 'sealed' AND OLD.sealed_at IS NULL AND NEW.sealed_at IS NOT NULL
                 AND NEW.unsealed_at IS NULL AND NEW.unsealing IS NULL)
             OR (OLD.status = 'sealed' AND NEW.status = 'unsealed' AND (NEW.sealed_at, NEW.sealed_by) IS NOT DISTINCT FROM (OLD.sealed_at, OLD.sealed_by)
                 AND OLD.unsealed_at IS NULL AND NEW.unsealed_at IS NOT NULL)) THEN
          RETURN NEW;
        END IF;
        RAISE EXCEPTION 'dispute % moves only forward and keeps what it is (R-42)', OLD.id USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await q.query(`CREATE TRIGGER dispute_forward BEFORE UPDATE ON "dispute" FOR EACH ROW EXECUTE FUNCTION chartwarden_dispute_forward()`);
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
    // The legal-hold check of one write, in one round trip, after the write's version and search
    // index are in place (same transaction; decision 0008). The record's own inventory lines,
    // the encounters it belongs to as the index resolved them (any reference form), and for a
    // Provenance the records it signs. A new record first takes FOR KEY SHARE on its encounters,
    // so it waits for a seal of them in progress; the holds are then read by a later statement,
    // which in a VOLATILE function sees what committed while it waited.
    await q.query(`CREATE FUNCTION chartwarden_holds(p_type text, p_id text, p_lock_encounters boolean)
      RETURNS TABLE (hold_case uuid, held_type varchar, held_id varchar, held_status varchar, held_as text) LANGUAGE plpgsql VOLATILE AS $$
      DECLARE
        encounters text[] := ARRAY(SELECT x.target_id FROM fhir_search_reference x
          WHERE x.resource_type = p_type AND x.resource_id = p_id AND x.param IN ('encounter', 'context') AND x.target_type = 'Encounter');
      BEGIN
        IF p_lock_encounters AND cardinality(encounters) > 0 THEN
          PERFORM 1 FROM fhir_resource r WHERE r.resource_type = 'Encounter' AND r.id = ANY(encounters) ORDER BY r.id FOR KEY SHARE;
        END IF;
        -- A new signature waits, likewise, for a seal of the records it signs.
        IF p_lock_encounters AND p_type = 'Provenance' THEN
          PERFORM 1 FROM fhir_resource r
            WHERE (r.resource_type, r.id) IN (SELECT x.target_type, x.target_id FROM fhir_search_reference x
                                                WHERE x.resource_type = p_type AND x.resource_id = p_id AND x.param = 'target')
            ORDER BY r.resource_type, r.id FOR KEY SHARE;
        END IF;
        RETURN QUERY
          SELECT d.id, i.resource_type, i.resource_id, i.status, 'self'::text FROM dispute_item i JOIN dispute d ON d.id = i.dispute_id
           WHERE d.status = 'sealed' AND i.resource_type = p_type AND i.resource_id = p_id
          UNION ALL
          -- A record of the case's patient, in a sealed visit (another patient's record filed there is not sealed, nor held).
          SELECT d.id, i.resource_type, i.resource_id, i.status, 'encounter' FROM dispute_item i JOIN dispute d ON d.id = i.dispute_id
           WHERE d.status = 'sealed' AND i.resource_type = 'Encounter' AND i.resource_id = ANY(encounters) AND i.status = 'sealed'
             AND EXISTS (SELECT 1 FROM fhir_search_reference s WHERE s.resource_type = p_type AND s.resource_id = p_id
                           AND s.param IN ('subject', 'patient') AND s.target_type = 'Patient' AND s.target_id = d.patient_id)
          UNION ALL
          SELECT d.id, i.resource_type, i.resource_id, i.status, 'target' FROM fhir_search_reference x
            JOIN dispute_item i ON i.resource_type = x.target_type AND i.resource_id = x.target_id
            JOIN dispute d ON d.id = i.dispute_id
           WHERE p_type = 'Provenance' AND x.resource_type = p_type AND x.resource_id = p_id AND x.param = 'target'
             AND d.status = 'sealed' AND i.status = 'sealed';
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "dispute_confirmation"`);
    await q.query(`DROP TABLE "dispute_copy"`);
    await q.query(`DROP TABLE "dispute_item"`);
    await q.query(`DROP FUNCTION chartwarden_dispute_item_sealed_once()`);
    await q.query(`DROP FUNCTION chartwarden_holds(text, text, boolean)`);
    await q.query(`DROP TABLE "dispute"`);
    await q.query(`DROP FUNCTION chartwarden_dispute_forward()`);
  }
}
