import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Every version keeps the JSON text it is served as (issue #16, docs/decisions/0014): the
 * sender's key order and the lexical form of its numbers (`1.50`, `1e-30`), which the jsonb
 * `content` beside it cannot hold. Nullable, and not backfilled: versions written before this
 * have none and are served from `content` as before (`COALESCE(content_text, ...)`). Adding a
 * column updates no row, so the append-only trigger on `fhir_resource_version` is untouched.
 */
export class ResourceText1765320000000 implements MigrationInterface {
  name = 'ResourceText1765320000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "fhir_resource" ADD "content_text" text`);
    await q.query(`ALTER TABLE "fhir_resource_version" ADD "content_text" text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "fhir_resource_version" DROP COLUMN "content_text"`);
    await q.query(`ALTER TABLE "fhir_resource" DROP COLUMN "content_text"`);
  }
}
