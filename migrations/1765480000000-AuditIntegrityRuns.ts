import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Integrity runs (issue #18, R-21, R-12): every verification of the audit chains or the edit
 * ledger, from the CLI or an auditor's request, kept as evidence of when the records were last
 * proven intact. A run is inserted unfinished when it starts and finished once with its outcome
 * (what it started as never changes); a finished run is never changed again, and no run is ever
 * deleted, whoever holds the connection (the owner too, unless it disables the triggers). At
 * most one unfinished run of each kind (a partial unique index). The application role is
 * granted SELECT, INSERT and UPDATE on it, not DELETE (the table has a DELETE trigger, decision 0011).
 */
export class AuditIntegrityRuns1765480000000 implements MigrationInterface {
  name = 'AuditIntegrityRuns1765480000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "audit_integrity_run" ("id" uuid NOT NULL, "kind" character varying(8) NOT NULL, "started_via" character varying(8) NOT NULL, "started_by" character varying(128) NOT NULL, "practitioner" character varying(128), "request_id" character varying(128), "scope" character varying(200), "started_at" TIMESTAMP WITH TIME ZONE NOT NULL, "finished_at" TIMESTAMP WITH TIME ZONE, "outcome" character varying(8), "duration_ms" integer, "units_checked" integer, "entries_checked" bigint, "breaks" integer, "first_break" jsonb, "failure" text, CONSTRAINT "PK_d3dfc626e780d1556e8b01bea6a" PRIMARY KEY ("id"))`);
    await q.query(`CREATE INDEX "ix_audit_integrity_run_kind" ON "audit_integrity_run"  ("kind", "started_at") `);
    await q.query(`CREATE UNIQUE INDEX "ux_audit_integrity_run_unfinished" ON "audit_integrity_run" ("kind") WHERE "finished_at" IS NULL`);
    // A run finishes once, consistently, keeping what it started as; then it is evidence: no change, no delete.
    // Inserts are not checked: a restore drill copies finished runs back in.
    await q.query(`CREATE FUNCTION chartwarden_integrity_run_once() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'UPDATE' AND OLD.finished_at IS NULL AND NEW.finished_at IS NOT NULL AND NEW.finished_at >= NEW.started_at
           AND (NEW.id, NEW.kind, NEW.started_via, NEW.started_by, NEW.practitioner, NEW.request_id, NEW.scope, NEW.started_at)
               IS NOT DISTINCT FROM (OLD.id, OLD.kind, OLD.started_via, OLD.started_by, OLD.practitioner, OLD.request_id, OLD.scope, OLD.started_at)
           AND ((NEW.outcome = 'intact' AND NEW.units_checked IS NOT NULL AND NEW.entries_checked IS NOT NULL AND NEW.first_break IS NULL AND NEW.failure IS NULL)
             OR (NEW.outcome = 'broken' AND NEW.units_checked IS NOT NULL AND NEW.entries_checked IS NOT NULL AND NEW.first_break IS NOT NULL AND NEW.breaks > 0 AND NEW.failure IS NULL)
             OR (NEW.outcome = 'failed' AND NEW.failure IS NOT NULL AND NEW.first_break IS NULL)) THEN
          RETURN NEW;
        END IF;
        RAISE EXCEPTION 'ChartWarden: % of integrity run % is refused: a run is finished once, with its outcome, and then kept as it is (R-21)', TG_OP, OLD.id
          USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await q.query(`CREATE TRIGGER audit_integrity_run_once BEFORE UPDATE OR DELETE ON "audit_integrity_run"
      FOR EACH ROW EXECUTE FUNCTION chartwarden_integrity_run_once()`);
    await q.query(`CREATE TRIGGER audit_integrity_run_no_truncate BEFORE TRUNCATE ON "audit_integrity_run"
      FOR EACH STATEMENT EXECUTE FUNCTION chartwarden_refuse_audit_change()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "audit_integrity_run"`);
    await q.query(`DROP FUNCTION chartwarden_integrity_run_once()`);
  }
}
