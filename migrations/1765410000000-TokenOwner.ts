import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The owner on the token rows too (issue #13, decision 0018): a search across patients
 * (a department's `Observation?code=…`) filters the code's index rows by the patients the
 * caller may see before it reads a single resource. The lookup index gains the owner as its
 * last column, so it serves both. NULL for a Provenance, whose owner may follow its records.
 * And the encounters of a department (`ix_fhir_search_reference_department`): the patients a
 * department's staff may see are found from the department, not from every encounter.
 */
export class TokenOwner1765410000000 implements MigrationInterface {
  name = 'TokenOwner1765410000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "fhir_search_token" ADD "owner" character varying(64)`);
    await q.query(
      `UPDATE fhir_search_token x SET owner = r.owner FROM fhir_resource r
        WHERE r.resource_type = x.resource_type AND r.id = x.resource_id AND r.owner IS NOT NULL AND r.resource_type <> 'Provenance'`,
    );
    await q.query(`DROP INDEX "ix_fhir_search_token_lookup"`);
    await q.query(`CREATE INDEX "ix_fhir_search_token_lookup" ON "fhir_search_token" ("resource_type", "param", "code", "owner") `);
    await q.query(
      `CREATE INDEX "ix_fhir_search_reference_department" ON "fhir_search_reference" ("target_id", "resource_id") WHERE resource_type = 'Encounter' AND param = 'service-provider'`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX "ix_fhir_search_reference_department"`);
    await q.query(`DROP INDEX "ix_fhir_search_token_lookup"`);
    await q.query(`CREATE INDEX "ix_fhir_search_token_lookup" ON "fhir_search_token" ("resource_type", "param", "code") `);
    await q.query(`ALTER TABLE "fhir_search_token" DROP COLUMN "owner"`);
  }
}
