import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Formal amendments of documents past their edit window: request, decision, one-time permit. */
export class Amendments1764800000000 implements MigrationInterface {
  name = 'Amendments1764800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "amendment" ("id" uuid NOT NULL, "resource_type" character varying(64) NOT NULL, "resource_id" character varying(64) NOT NULL, "requested_by" character varying(128) NOT NULL, "reason" text NOT NULL, "status" character varying(16) NOT NULL, "requested_at" TIMESTAMP WITH TIME ZONE NOT NULL, "decided_by" character varying(128), "decided_roles" character varying(256), "decided_at" TIMESTAMP WITH TIME ZONE, "decision_note" text, "valid_until" TIMESTAMP WITH TIME ZONE, "used_version" integer, "policy_version" character varying(64) NOT NULL, CONSTRAINT "PK_20ea5f7928736a012e29a76cb02" PRIMARY KEY ("id"))`);
    await q.query(`CREATE INDEX "ix_amendment_status" ON "amendment"  ("status", "requested_at") `);
    await q.query(`CREATE INDEX "ix_amendment_document" ON "amendment"  ("resource_type", "resource_id", "status") `);
    await q.query(`CREATE TRIGGER amendment_no_delete BEFORE DELETE ON "amendment" FOR EACH ROW EXECUTE FUNCTION chartwarden_refuse_change()`);
    await q.query(`CREATE TRIGGER amendment_no_truncate BEFORE TRUNCATE ON "amendment" FOR EACH STATEMENT EXECUTE FUNCTION chartwarden_refuse_change()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "amendment"`);
  }
}
