import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The patient side's drawn signatures (issue #18, R-40, R-43): each PNG as received, with its
 * SHA-256, recorded by the sealed copy's witnesses. Never changed, never deleted.
 */
export class DisputeSignatures1765500000000 implements MigrationInterface {
  name = 'DisputeSignatures1765500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "dispute_signature" ("id" uuid NOT NULL, "dispute_id" uuid NOT NULL, "step" character varying(16) NOT NULL, "content_type" character varying(32) NOT NULL, "size" integer NOT NULL, "sha256" character varying(64) NOT NULL, "content" bytea NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "created_by" character varying(128) NOT NULL, CONSTRAINT "pk_dispute_signature" PRIMARY KEY ("id"))`);
    await q.query(`CREATE INDEX "ix_dispute_signature_case" ON "dispute_signature" ("dispute_id", "sha256") `);
    await q.query(`CREATE TRIGGER dispute_signature_append_only BEFORE UPDATE OR DELETE ON "dispute_signature" FOR EACH ROW EXECUTE FUNCTION chartwarden_refuse_change()`);
    await q.query(`CREATE TRIGGER dispute_signature_no_truncate BEFORE TRUNCATE ON "dispute_signature" FOR EACH STATEMENT EXECUTE FUNCTION chartwarden_refuse_change()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "dispute_signature"`);
  }
}
