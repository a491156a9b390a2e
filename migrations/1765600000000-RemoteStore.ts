import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The remote store's own tables (issue #17, decision 0017): ChartWarden's versions mapped to the
 * upstream server's (append-only), and where the sync from the upstream's history stands.
 * Empty, and never read, while ChartWarden runs on its embedded store.
 */
export class RemoteStore1765600000000 implements MigrationInterface {
  name = 'RemoteStore1765600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "remote_version" ("resource_type" character varying(64) NOT NULL, "id" character varying(64) NOT NULL, "upstream_version" character varying(128) NOT NULL, "version_id" integer NOT NULL, "upstream_last_updated" TIMESTAMP WITH TIME ZONE, "origin" character varying(16) NOT NULL, "recorded_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_5d8364a43255bdc0aef60a5abe0" PRIMARY KEY ("resource_type", "id", "upstream_version"))`);
    await q.query(`CREATE INDEX "ix_remote_version_latest" ON "remote_version" ("resource_type", "id", "version_id") `);
    await q.query(`CREATE TRIGGER remote_version_append_only BEFORE UPDATE OR DELETE ON "remote_version" FOR EACH ROW EXECUTE FUNCTION chartwarden_refuse_change()`);
    await q.query(`CREATE TRIGGER remote_version_no_truncate BEFORE TRUNCATE ON "remote_version" FOR EACH STATEMENT EXECUTE FUNCTION chartwarden_refuse_change()`);
    await q.query(`CREATE TABLE "remote_sync" ("name" character varying(32) NOT NULL, "cursor" TIMESTAMP WITH TIME ZONE, "last_run_at" TIMESTAMP WITH TIME ZONE, "last_outcome" text, "versions_seen" bigint NOT NULL DEFAULT '0', "versions_adopted" bigint NOT NULL DEFAULT '0', CONSTRAINT "PK_6675cd1723597292068153aa739" PRIMARY KEY ("name"))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "remote_sync"`);
    await q.query(`DROP TABLE "remote_version"`);
  }
}
