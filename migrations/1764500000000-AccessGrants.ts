import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Time-limited access: borrowing grants and break-the-glass openings. */
export class AccessGrants1764500000000 implements MigrationInterface {
  name = 'AccessGrants1764500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "access_grant" ("id" uuid NOT NULL, "kind" character varying(16) NOT NULL, "grantee" character varying(128) NOT NULL, "patient_id" character varying(64) NOT NULL, "purpose" character varying(64) NOT NULL, "reason" text NOT NULL, "status" character varying(24) NOT NULL, "requested_by" character varying(128) NOT NULL, "requested_until" TIMESTAMP WITH TIME ZONE NOT NULL, "valid_from" TIMESTAMP WITH TIME ZONE, "valid_until" TIMESTAMP WITH TIME ZONE, "decided_by" character varying(128), "decided_at" TIMESTAMP WITH TIME ZONE, "decision_note" text, "extension_until" TIMESTAMP WITH TIME ZONE, "extension_reason" text, "reviewed_by" character varying(128), "reviewed_at" TIMESTAMP WITH TIME ZONE, "review_note" text, "uses" integer NOT NULL DEFAULT '0', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "policy_version" character varying(64) NOT NULL, CONSTRAINT "PK_2c12ba789e7748324e87e103a41" PRIMARY KEY ("id"))`);
    await q.query(`CREATE INDEX "ix_access_grant_kind_created" ON "access_grant"  ("kind", "created_at") `);
    await q.query(`CREATE INDEX "ix_access_grant_grantee" ON "access_grant"  ("grantee", "valid_until") `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX "public"."ix_access_grant_grantee"`);
    await q.query(`DROP INDEX "public"."ix_access_grant_kind_created"`);
    await q.query(`DROP TABLE "access_grant"`);
  }
}
