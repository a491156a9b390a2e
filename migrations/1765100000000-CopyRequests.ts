import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Copy requests (issue #6, R-30…R-34): the requests, the evidence presented and the copies
 * produced. Evidence and productions are append-only (what was presented and what was handed
 * out can always be shown again); no request is deleted.
 */
export class CopyRequests1765100000000 implements MigrationInterface {
  name = 'CopyRequests1765100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "copy_request" ("id" uuid NOT NULL, "patient_id" character varying(64) NOT NULL, "requester_type" character varying(32) NOT NULL, "requester" jsonb NOT NULL, "purpose" text NOT NULL, "scope" jsonb NOT NULL, "status" character varying(24) NOT NULL, "received_by" character varying(128) NOT NULL, "received_at" TIMESTAMP WITH TIME ZONE NOT NULL, "closed_at" TIMESTAMP WITH TIME ZONE, "events" jsonb NOT NULL, "policy_version" character varying(64) NOT NULL, CONSTRAINT "PK_7132056462fd2a0744836d8da90" PRIMARY KEY ("id"))`);
    await q.query(`CREATE INDEX "ix_copy_request_patient" ON "copy_request"  ("patient_id", "received_at") `);
    await q.query(`CREATE INDEX "ix_copy_request_status" ON "copy_request"  ("status", "received_at") `);
    await q.query(`CREATE TABLE "copy_evidence" ("id" uuid NOT NULL, "request_id" uuid NOT NULL, "proves" character varying(32) NOT NULL, "filename" character varying(255), "content_type" character varying(64) NOT NULL, "size" integer NOT NULL, "sha256" character varying(64) NOT NULL, "content" bytea NOT NULL, "uploaded_by" character varying(128) NOT NULL, "uploaded_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_4510185cab1a977507f310a3d86" PRIMARY KEY ("id"))`);
    await q.query(`CREATE INDEX "ix_copy_evidence_request" ON "copy_evidence"  ("request_id") `);
    await q.query(`CREATE TABLE "copy_production" ("request_id" uuid NOT NULL, "copy_no" integer NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "created_by" character varying(128) NOT NULL, "manifest" jsonb NOT NULL, "pending" jsonb NOT NULL, "excluded" jsonb NOT NULL, "bundle" text NOT NULL, "bundle_sha256" character varying(64) NOT NULL, "pdf" bytea NOT NULL, "pdf_sha256" character varying(64) NOT NULL, "pages" integer NOT NULL, CONSTRAINT "PK_8bb69cbb3b0a0e10459690503e6" PRIMARY KEY ("request_id", "copy_no"))`);
    await q.query(`CREATE TRIGGER copy_request_no_delete BEFORE DELETE ON "copy_request" FOR EACH ROW EXECUTE FUNCTION chartwarden_refuse_change()`);
    await q.query(`CREATE TRIGGER copy_request_no_truncate BEFORE TRUNCATE ON "copy_request" FOR EACH STATEMENT EXECUTE FUNCTION chartwarden_refuse_change()`);
    for (const table of ['copy_evidence', 'copy_production']) {
      await q.query(`CREATE TRIGGER ${table}_append_only BEFORE UPDATE OR DELETE ON "${table}" FOR EACH ROW EXECUTE FUNCTION chartwarden_refuse_change()`);
      await q.query(`CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON "${table}" FOR EACH STATEMENT EXECUTE FUNCTION chartwarden_refuse_change()`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "copy_production"`);
    await q.query(`DROP TABLE "copy_evidence"`);
    await q.query(`DROP TABLE "copy_request"`);
  }
}
