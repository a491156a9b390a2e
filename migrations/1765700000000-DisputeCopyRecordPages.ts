import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The pages each record sealed by a copy occupies in its PDF (issue #18, R-40: 页数 in the
 * inventory as people read it on screen), `{"Type/id": count}`, written with the copy. Copies
 * sealed before have none: their inventory lines show no page count.
 */
export class DisputeCopyRecordPages1765700000000 implements MigrationInterface {
  name = 'DisputeCopyRecordPages1765700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "dispute_copy" ADD "record_pages" jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "dispute_copy" DROP COLUMN "record_pages"`);
  }
}
