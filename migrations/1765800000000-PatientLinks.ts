import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Each resource's links to patients on its own row (issue #13, decision 0018): one
 * `<param>|<patient id>` per reference index row whose target is a Patient
 * (`src/store/postgres/patient-links.ts`). A patient's page judges its `patient=` criterion
 * from the row instead of probing the row's reference rows. Filled here from those rows.
 */
export class PatientLinks1765800000000 implements MigrationInterface {
  name = 'PatientLinks1765800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "fhir_resource" ADD "patient_links" text array NOT NULL DEFAULT '{}'`);
    // The version does not change: the row's content is as it was (the R-17 trigger allows it).
    await q.query(
      `UPDATE fhir_resource r SET patient_links = l.links
         FROM (SELECT resource_type, resource_id, array_agg(DISTINCT param || '|' || target_id) AS links
                 FROM fhir_search_reference WHERE target_type = 'Patient' GROUP BY resource_type, resource_id) l
        WHERE r.resource_type = l.resource_type AND r.id = l.resource_id`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "fhir_resource" DROP COLUMN "patient_links"`);
  }
}
