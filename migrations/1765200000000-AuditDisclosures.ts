import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Disclosures name what they handed out (issue #12 item 14, R-20, R-22, R-34): an audit entry of
 * a print, a produced or delivered copy or an export lists every version in its content
 * (`disclosed`). This index lets `GET /fhir/AuditEvent?entity=Type/id` find those entries by any
 * version they hold without a scan. It is partial: only entries holding `"disclosed":[` (their
 * canonical JSON, where no caller-supplied string can contain that text) are parsed and indexed,
 * so the other entries cost one substring test on insert. Declared `synchronize: false` on the
 * entity (TypeORM cannot describe an expression index).
 */
export class AuditDisclosures1765200000000 implements MigrationInterface {
  name = 'AuditDisclosures1765200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE INDEX "ix_audit_entry_disclosed" ON "audit_entry" USING gin ((("content"::jsonb) -> 'disclosed') jsonb_path_ops) ` +
        `WHERE strpos("content", '"disclosed":[') > 0`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX "public"."ix_audit_entry_disclosed"`);
  }
}
