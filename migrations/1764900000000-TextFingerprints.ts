import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Fingerprints of governed documents' text, for the cross-patient copy-paste check (R-16). */
export class TextFingerprints1764900000000 implements MigrationInterface {
  name = 'TextFingerprints1764900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "text_fingerprint" ("hash" integer NOT NULL, "resource_type" character varying(64) NOT NULL, "resource_id" character varying(64) NOT NULL, "patient_id" character varying(64), CONSTRAINT "PK_e82ea8dbcc58d0e5a549f8f37d6" PRIMARY KEY ("hash", "resource_type", "resource_id"))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "text_fingerprint"`);
  }
}
