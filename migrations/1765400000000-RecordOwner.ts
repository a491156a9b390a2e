import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Whose record each resource is, as a column (issue #13, decision 0018): `fhir_resource.owner`
 * is the patient a version is filed under (a Patient its own id; else its `_patient` row; a
 * Provenance naming no patient, the first by code unit of the owners of the records it signs),
 * and `fhir_search_date.owner` repeats it on the date rows (NULL for Provenance, whose owner may
 * follow its records). With them a patient's page is read from an index in the order asked for
 * (`owner, resource_type, id`; a date parameter's `low`/`high`) instead of every row of the type
 * being judged and sorted, so a page costs the same for a record of 1,000 or of 100,000.
 * The backfill reads exactly what `patientOf` read at every decision until now.
 */
export class RecordOwner1765400000000 implements MigrationInterface {
  name = 'RecordOwner1765400000000';

  async up(q: QueryRunner): Promise<void> {
    // R-17 still holds for the record: its content changes only as a new version. Whose record it
    // is may be filed again without one: a signature follows the records it signs when they move.
    await q.query(`CREATE OR REPLACE FUNCTION chartwarden_versioned_update() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.resource_type <> OLD.resource_type OR NEW.id <> OLD.id
           OR (NEW.version_id <= OLD.version_id AND (NEW.version_id <> OLD.version_id OR ROW(NEW.last_updated, NEW.content, NEW.content_text) IS DISTINCT FROM ROW(OLD.last_updated, OLD.content, OLD.content_text))) THEN
          RAISE EXCEPTION 'ChartWarden: % of %/% without a new version is refused: a record changes only by a new version (R-17)', TG_OP, OLD.resource_type, OLD.id
            USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
      END $$`);
    await q.query(`ALTER TABLE "fhir_resource" ADD "owner" character varying(64)`);
    await q.query(`ALTER TABLE "fhir_search_date" ADD "owner" character varying(64)`);
    await q.query(`UPDATE fhir_resource SET owner = id WHERE resource_type = 'Patient'`);
    await q.query(
      `UPDATE fhir_resource r SET owner = x.target_id FROM fhir_search_reference x
        WHERE x.resource_type = r.resource_type AND x.resource_id = r.id AND x.param = '_patient' AND r.resource_type <> 'Patient'`,
    );
    await q.query(
      `UPDATE fhir_resource p SET owner = (SELECT min(o.target_id COLLATE "C") FROM fhir_search_reference t
          JOIN fhir_search_reference o ON o.resource_type = t.target_type AND o.resource_id = t.target_id AND o.param = '_patient'
         WHERE t.resource_type = 'Provenance' AND t.resource_id = p.id AND t.param = 'target')
        WHERE p.resource_type = 'Provenance' AND p.owner IS NULL`,
    );
    await q.query(
      `UPDATE fhir_search_date d SET owner = r.owner FROM fhir_resource r
        WHERE r.resource_type = d.resource_type AND r.id = d.resource_id AND r.owner IS NOT NULL AND r.resource_type <> 'Provenance'`,
    );
    await q.query(`CREATE INDEX "ix_fhir_resource_owner" ON "fhir_resource" ("owner", "resource_type", "last_updated", "id") WHERE owner IS NOT NULL`);
    await q.query(
      `CREATE INDEX "ix_fhir_search_date_owner_low" ON "fhir_search_date" ("resource_type", "param", "owner", "low", "resource_id") WHERE owner IS NOT NULL`,
    );
    await q.query(
      `CREATE INDEX "ix_fhir_search_date_owner_high" ON "fhir_search_date" ("resource_type", "param", "owner", "high", "resource_id") WHERE owner IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX "ix_fhir_search_date_owner_high"`);
    await q.query(`DROP INDEX "ix_fhir_search_date_owner_low"`);
    await q.query(`DROP INDEX "ix_fhir_resource_owner"`);
    await q.query(`ALTER TABLE "fhir_search_date" DROP COLUMN "owner"`);
    await q.query(`ALTER TABLE "fhir_resource" DROP COLUMN "owner"`);
    await q.query(`CREATE OR REPLACE FUNCTION chartwarden_versioned_update() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.version_id <= OLD.version_id OR NEW.resource_type <> OLD.resource_type OR NEW.id <> OLD.id THEN
          RAISE EXCEPTION 'ChartWarden: % of %/% without a new version is refused: a record changes only by a new version (R-17)', TG_OP, OLD.resource_type, OLD.id
            USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
      END $$`);
  }
}
