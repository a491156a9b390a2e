import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The whole record (issue #16, decision 0016): every stored resource gets its owner row
 * (`_patient`), the patient whose record it is, from its type's Patient-compartment links in
 * the order the store uses for new versions (`PatientCompartment.linkParams`: `patient`,
 * `subject`, `beneficiary`, `individual` first, then the compartment's own order; a Group is
 * filed under no patient). Until now a resource's patient was read from `patient`/`subject` at
 * every decision; the rows it was read from are all there, so the backfill is exact. The list
 * is written out here, not read from the code, so this migration means tomorrow what it means
 * today. The `chartwarden_holds` function, unused since the write chain's hold guard (decision
 * 0013), is dropped; undoing restores it as Disputes1765000000000 created it.
 */
export const OWNER_LINKS: Record<string, string[]> = {
  Account: ['subject'],
  AdverseEvent: ['subject'],
  AllergyIntolerance: ['patient', 'recorder', 'asserter'],
  Appointment: ['actor'],
  AppointmentResponse: ['actor'],
  AuditEvent: ['patient'],
  Basic: ['patient', 'author'],
  BodyStructure: ['patient'],
  CarePlan: ['patient', 'performer'],
  CareTeam: ['patient', 'participant'],
  ChargeItem: ['subject'],
  Claim: ['patient', 'payee'],
  ClaimResponse: ['patient'],
  ClinicalImpression: ['subject'],
  Communication: ['subject', 'sender', 'recipient'],
  CommunicationRequest: ['subject', 'sender', 'recipient', 'requester'],
  Composition: ['subject', 'author', 'attester'],
  Condition: ['patient', 'asserter'],
  Consent: ['patient'],
  Coverage: ['beneficiary', 'policy-holder', 'subscriber', 'payor'],
  CoverageEligibilityRequest: ['patient'],
  CoverageEligibilityResponse: ['patient'],
  DetectedIssue: ['patient'],
  DeviceRequest: ['subject', 'performer'],
  DeviceUseStatement: ['subject'],
  DiagnosticReport: ['subject'],
  DocumentManifest: ['subject', 'author', 'recipient'],
  DocumentReference: ['subject', 'author'],
  Encounter: ['subject'],
  EnrollmentRequest: ['subject'],
  EpisodeOfCare: ['patient'],
  ExplanationOfBenefit: ['patient', 'payee'],
  FamilyMemberHistory: ['patient'],
  Flag: ['patient'],
  Goal: ['patient'],
  ImagingStudy: ['patient'],
  Immunization: ['patient'],
  ImmunizationEvaluation: ['patient'],
  ImmunizationRecommendation: ['patient'],
  Invoice: ['patient', 'subject', 'recipient'],
  List: ['subject', 'source'],
  MeasureReport: ['patient'],
  Media: ['subject'],
  MedicationAdministration: ['patient', 'subject', 'performer'],
  MedicationDispense: ['patient', 'subject', 'receiver'],
  MedicationRequest: ['subject'],
  MedicationStatement: ['subject'],
  MolecularSequence: ['patient'],
  NutritionOrder: ['patient'],
  Observation: ['subject', 'performer'],
  Patient: ['link'],
  Person: ['patient'],
  Procedure: ['patient', 'performer'],
  Provenance: ['patient'],
  QuestionnaireResponse: ['subject', 'author'],
  RelatedPerson: ['patient'],
  RequestGroup: ['subject', 'participant'],
  ResearchSubject: ['individual'],
  RiskAssessment: ['subject'],
  Schedule: ['actor'],
  ServiceRequest: ['subject', 'performer'],
  Specimen: ['subject'],
  SupplyDelivery: ['patient'],
  SupplyRequest: ['subject'],
  Task: ['patient', 'focus'],
  VisionPrescription: ['patient'],
};

export class CompartmentFacts1765300000000 implements MigrationInterface {
  name = 'CompartmentFacts1765300000000';

  async up(q: QueryRunner): Promise<void> {
    const links = Object.entries(OWNER_LINKS).flatMap(([type, params]) => params.map((param, rank) => ({ type, param, rank })));
    await q.query(
      `INSERT INTO fhir_search_reference (resource_type, resource_id, param, target_type, target_id)
       SELECT DISTINCT ON (x.resource_type, x.resource_id) x.resource_type, x.resource_id, '_patient', 'Patient', x.target_id
         FROM fhir_search_reference x
         JOIN unnest($1::text[], $2::text[], $3::int[]) AS l(type, param, rank) ON l.type = x.resource_type AND l.param = x.param
        WHERE x.target_type = 'Patient' AND x.resource_type <> 'Patient'
        ORDER BY x.resource_type, x.resource_id, l.rank, x.target_id COLLATE "C"
       ON CONFLICT DO NOTHING`,
      [links.map((l) => l.type), links.map((l) => l.param), links.map((l) => l.rank)],
    );
    await q.query(`DROP FUNCTION chartwarden_holds(text, text, boolean)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`CREATE FUNCTION chartwarden_holds(p_type text, p_id text, p_lock_encounters boolean)
      RETURNS TABLE (hold_case uuid, held_type varchar, held_id varchar, held_status varchar, held_as text) LANGUAGE plpgsql VOLATILE AS $$
      DECLARE
        encounters text[] := ARRAY(SELECT x.target_id FROM fhir_search_reference x
          WHERE x.resource_type = p_type AND x.resource_id = p_id AND x.param IN ('encounter', 'context') AND x.target_type = 'Encounter');
      BEGIN
        IF p_lock_encounters AND cardinality(encounters) > 0 THEN
          PERFORM 1 FROM fhir_resource r WHERE r.resource_type = 'Encounter' AND r.id = ANY(encounters) ORDER BY r.id FOR KEY SHARE;
        END IF;
        -- A new signature waits, likewise, for a seal of the records it signs.
        IF p_lock_encounters AND p_type = 'Provenance' THEN
          PERFORM 1 FROM fhir_resource r
            WHERE (r.resource_type, r.id) IN (SELECT x.target_type, x.target_id FROM fhir_search_reference x
                                                WHERE x.resource_type = p_type AND x.resource_id = p_id AND x.param = 'target')
            ORDER BY r.resource_type, r.id FOR KEY SHARE;
        END IF;
        RETURN QUERY
          SELECT d.id, i.resource_type, i.resource_id, i.status, 'self'::text FROM dispute_item i JOIN dispute d ON d.id = i.dispute_id
           WHERE d.status = 'sealed' AND i.resource_type = p_type AND i.resource_id = p_id
          UNION ALL
          -- A record of the case's patient, in a sealed visit (another patient's record filed there is not sealed, nor held).
          SELECT d.id, i.resource_type, i.resource_id, i.status, 'encounter' FROM dispute_item i JOIN dispute d ON d.id = i.dispute_id
           WHERE d.status = 'sealed' AND i.resource_type = 'Encounter' AND i.resource_id = ANY(encounters) AND i.status = 'sealed'
             AND EXISTS (SELECT 1 FROM fhir_search_reference s WHERE s.resource_type = p_type AND s.resource_id = p_id
                           AND s.param IN ('subject', 'patient') AND s.target_type = 'Patient' AND s.target_id = d.patient_id)
          UNION ALL
          SELECT d.id, i.resource_type, i.resource_id, i.status, 'target' FROM fhir_search_reference x
            JOIN dispute_item i ON i.resource_type = x.target_type AND i.resource_id = x.target_id
            JOIN dispute d ON d.id = i.dispute_id
           WHERE p_type = 'Provenance' AND x.resource_type = p_type AND x.resource_id = p_id AND x.param = 'target'
             AND d.status = 'sealed' AND i.status = 'sealed';
      END $$`);
    await q.query(`DELETE FROM fhir_search_reference WHERE param = '_patient'`);
  }
}
