import type { MigrationInterface, QueryRunner } from 'typeorm';
import { OWNER_PARAM, PatientCompartment } from '../src/store/patient-compartment.js';
import { HOLDS_FUNCTION } from './1765000000000-Disputes.js';

/**
 * The whole record (issue #16, decision 0016): every stored resource gets its owner row
 * (`_patient`), the patient whose record it is, from its type's Patient-compartment links in
 * the store's order (`PatientCompartment.linkParams`), as new versions get it when written.
 * Until now a resource's patient was read from `patient`/`subject` at every decision; the
 * rows it was read from are all there, so the backfill is exact. The `chartwarden_holds`
 * function, unused since the write chain's hold guard (decision 0013), is dropped.
 */
export class CompartmentFacts1765300000000 implements MigrationInterface {
  name = 'CompartmentFacts1765300000000';

  async up(q: QueryRunner): Promise<void> {
    const compartment = PatientCompartment.fromProfiles();
    const links = compartment.ownedTypes().flatMap((type) => compartment.linkParams(type).map((param, rank) => ({ type, param, rank })));
    await q.query(
      `INSERT INTO fhir_search_reference (resource_type, resource_id, param, target_type, target_id)
       SELECT DISTINCT ON (x.resource_type, x.resource_id) x.resource_type, x.resource_id, $4, 'Patient', x.target_id
         FROM fhir_search_reference x
         JOIN unnest($1::text[], $2::text[], $3::int[]) AS l(type, param, rank) ON l.type = x.resource_type AND l.param = x.param
        WHERE x.target_type = 'Patient' AND x.resource_type <> 'Patient'
        ORDER BY x.resource_type, x.resource_id, l.rank, x.target_id COLLATE "C"
       ON CONFLICT DO NOTHING`,
      [links.map((l) => l.type), links.map((l) => l.param), links.map((l) => l.rank), OWNER_PARAM],
    );
    await q.query(`DROP FUNCTION chartwarden_holds(text, text, boolean)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(HOLDS_FUNCTION);
    await q.query(`DELETE FROM fhir_search_reference WHERE param = $1`, [OWNER_PARAM]);
  }
}
