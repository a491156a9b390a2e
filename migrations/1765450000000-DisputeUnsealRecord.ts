import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A dispute's unseal record (启封记录, issue #18, R-43): the PDF produced at unsealing, kept as
 * produced with its SHA-256, like a sealed copy's. Never changed, never deleted.
 */
export class DisputeUnsealRecord1765450000000 implements MigrationInterface {
  name = 'DisputeUnsealRecord1765450000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "dispute_unseal_record" ("dispute_id" uuid NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "created_by" character varying(128) NOT NULL, "inventory_sha256" character varying(64) NOT NULL, "pdf" bytea NOT NULL, "pdf_sha256" character varying(64) NOT NULL, "pages" integer NOT NULL, CONSTRAINT "PK_5b131f0cdecd6f27bad8eb3422d" PRIMARY KEY ("dispute_id"))`);
    await q.query(`CREATE TRIGGER dispute_unseal_record_append_only BEFORE UPDATE OR DELETE ON "dispute_unseal_record" FOR EACH ROW EXECUTE FUNCTION chartwarden_refuse_change()`);
    await q.query(`CREATE TRIGGER dispute_unseal_record_no_truncate BEFORE TRUNCATE ON "dispute_unseal_record" FOR EACH STATEMENT EXECUTE FUNCTION chartwarden_refuse_change()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "dispute_unseal_record"`);
  }
}
