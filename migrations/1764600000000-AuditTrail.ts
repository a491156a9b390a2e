import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The audit trail: hash-chained entries, and the head of each chain. Triggers
 * make the entries append-only for every role (a superuser must disable them first, which
 * `audit verify` then catches), and let a chain head move only forward, onto an entry that
 * exists with that hash.
 */
export class AuditTrail1764600000000 implements MigrationInterface {
  name = 'AuditTrail1764600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "audit_entry" ("chain" smallint NOT NULL, "seq" bigint NOT NULL, "recorded" TIMESTAMP WITH TIME ZONE NOT NULL, "request_id" character varying(128) NOT NULL, "actor" character varying(128), "patient" character varying(64), "action" character(1) NOT NULL, "subtype" character varying(64) NOT NULL, "outcome" smallint NOT NULL, "entity_type" character varying(64), "entity_id" character varying(64), "content" text NOT NULL, "prev_hash" bytea NOT NULL, "hash" bytea NOT NULL, CONSTRAINT "PK_497ad57b4ae70fe6fae7a52588d" PRIMARY KEY ("chain", "seq"))`);
    await q.query(`CREATE INDEX "ix_audit_entry_entity" ON "audit_entry"  ("entity_type", "entity_id") `);
    await q.query(`CREATE INDEX "ix_audit_entry_request" ON "audit_entry"  ("request_id") `);
    await q.query(`CREATE INDEX "ix_audit_entry_recorded" ON "audit_entry"  ("recorded") `);
    await q.query(`CREATE INDEX "ix_audit_entry_actor" ON "audit_entry"  ("actor", "recorded") `);
    await q.query(`CREATE INDEX "ix_audit_entry_patient" ON "audit_entry"  ("patient", "recorded") `);
    await q.query(`CREATE TABLE "audit_chain" ("chain" smallint NOT NULL, "seq" bigint NOT NULL DEFAULT '0', "head" bytea NOT NULL, CONSTRAINT "PK_c84f1bc81b4cfbba99f4061c4c4" PRIMARY KEY ("chain"))`);

    await q.query(`CREATE FUNCTION chartwarden_refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'ChartWarden: % on % is refused: the audit trail is append-only (R-21)', TG_OP, TG_TABLE_NAME
          USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await q.query(`CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON "audit_entry"
      FOR EACH ROW EXECUTE FUNCTION chartwarden_refuse_audit_change()`);
    await q.query(`CREATE TRIGGER audit_entry_no_truncate BEFORE TRUNCATE ON "audit_entry"
      FOR EACH STATEMENT EXECUTE FUNCTION chartwarden_refuse_audit_change()`);
    await q.query(`CREATE TRIGGER audit_chain_no_delete BEFORE DELETE ON "audit_chain"
      FOR EACH ROW EXECUTE FUNCTION chartwarden_refuse_audit_change()`);
    await q.query(`CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON "audit_chain"
      FOR EACH STATEMENT EXECUTE FUNCTION chartwarden_refuse_audit_change()`);
    await q.query(`CREATE FUNCTION chartwarden_audit_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'INSERT' THEN
          IF NEW.seq <> 0 OR NEW.head <> '\\x${'00'.repeat(32)}'::bytea THEN
            RAISE EXCEPTION 'ChartWarden: a new audit chain starts empty (R-21)' USING ERRCODE = 'insufficient_privilege';
          END IF;
        ELSIF NEW.chain <> OLD.chain OR NEW.seq <= OLD.seq
          OR NOT EXISTS (SELECT 1 FROM audit_entry e WHERE e.chain = NEW.chain AND e.seq = NEW.seq AND e.hash = NEW.head) THEN
          RAISE EXCEPTION 'ChartWarden: audit chain % may only move forward onto an entry it holds (R-21)', OLD.chain
            USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
      END $$`);
    await q.query(`CREATE TRIGGER audit_chain_forward BEFORE INSERT OR UPDATE ON "audit_chain"
      FOR EACH ROW EXECUTE FUNCTION chartwarden_audit_head_forward()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "audit_chain"`);
    await q.query(`DROP TABLE "audit_entry"`);
    await q.query(`DROP FUNCTION chartwarden_audit_head_forward()`);
    await q.query(`DROP FUNCTION chartwarden_refuse_audit_change()`);
  }
}
