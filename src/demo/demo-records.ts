import type { BundleEntry, Resource } from '@medplum/fhirtypes';
import { DEMO_HIS, type DemoApi } from './demo-api.js';
import { create, stayRecords, transactionEntries, vitalSigns } from './demo-charts.js';
import { compositionOf, DEMO_DOCUMENTS, pathologyReport } from './demo-documents.js';
import { demoPatients, organizations, patientResource, staff, type DemoPatient, type PatientKey } from './demo-people.js';
import { DEMO_STAYS, type StayKey } from './demo-stays.js';
import type { DemoTimeline } from './demo-timeline.js';
import { demoUser } from './demo-users.js';

/** A seeded patient: who they are and their Patient id. */
export type SeededPatient = DemoPatient & { id: string };

/** What the clinical part of the seed wrote, for the workflows that follow and for the summary. */
export interface SeededRecords {
  patients: ReadonlyMap<PatientKey, SeededPatient>;
  encounters: ReadonlyMap<StayKey, string>;
  counts: { staff: number; patients: number; encounters: number; documents: number; signed: number; vitalSigns: number; reports: number; orders: number; archived: number };
}

/**
 * The clinical record of the demo hospital (issue #18), written as each party would: the HIS
 * registers the hospital, its staff and patients and sends each stay (diagnosis, operation, labs,
 * orders, costs); the ward nurse charts vital signs; each doctor writes their documents and signs
 * them; the attending archives a finished outpatient record and the chief a discharged
 * inpatient one. All through the API, so the ledger and the audit trail hold every step.
 */
export async function seedRecords(api: DemoApi, t: DemoTimeline, hospitalName: string): Promise<SeededRecords> {
  const put = (r: Resource): BundleEntry => ({ resource: r, request: { method: 'PUT', url: `${r.resourceType}/${r.id}` } });
  const directory = [...organizations(hospitalName, 'seeding'), ...staff()];
  await api.transaction(DEMO_HIS, 'registering the hospital, its departments and staff', directory.map(put));

  const roster = demoPatients(t);
  const ids = await api.transaction(DEMO_HIS, 'registering the patients', transactionEntries(roster.map((p) => create(patientResource(p)))));
  const patients = new Map(roster.map((p, i) => [p.key, { ...p, id: ids[i] }]));
  const patientOf = (key: PatientKey) => patients.get(key) as SeededPatient;

  const encounters = new Map<StayKey, string>();
  const counts = { staff: staff().filter((r) => r.resourceType === 'Practitioner').length, patients: roster.length, encounters: 0, documents: 0, signed: 0, vitalSigns: 0, reports: 0, orders: 0, archived: 0 };
  // The stays are independent of each other: sent side by side, as a HIS's wards would.
  await Promise.all(
    DEMO_STAYS.map(async (stay) => {
      const patient = patientOf(stay.patient).id;
      const records = stayRecords(stay, patient, t);
      const [encounter] = await api.transaction(DEMO_HIS, `sending the stay ${stay.key}`, transactionEntries(records));
      encounters.set(stay.key, encounter);
      counts.encounters++;
      counts.reports += records.filter((r) => r.resource.resourceType === 'DiagnosticReport').length;
      counts.orders += records.filter((r) => r.resource.resourceType === 'MedicationRequest' || r.resource.resourceType === 'ServiceRequest').length;
      const nurse = stay.team.find((id) => demoUser(id).roles.includes('nurse'));
      const vitals = vitalSigns(stay, encounter, patient, t);
      if (nurse && vitals.length) {
        await api.transaction(nurse, `charting the vital signs of ${stay.key}`, transactionEntries(vitals));
        counts.vitalSigns += vitals.length;
      }
    }),
  );

  const appendix = encounters.get('liu-yang-appendix') as string;
  await api.fhir(DEMO_HIS, 'sending the pathology report', 'POST', 'DocumentReference', pathologyReport(patientOf('liu-yang').id, appendix, t));
  counts.reports++;

  // Each stay's documents in the order they were written; the stays side by side.
  await Promise.all(
    DEMO_STAYS.map(async (stay) => {
      for (const doc of DEMO_DOCUMENTS.filter((d) => d.stay === stay.key)) {
        const step = `${demoUser(doc.author).name} writing the ${doc.title} of ${doc.stay}`;
        const composition = compositionOf(doc, patientOf(stay.patient).id, encounters.get(stay.key) as string, t);
        const written = await api.fhir<{ id: string }>(doc.author, step, 'POST', 'Composition', composition);
        counts.documents++;
        if (doc.signed) {
          await api.fhir(doc.author, `${step}: signing it`, 'POST', `Composition/${written.id}/$sign`);
          counts.signed++;
        }
      }
    }),
  );

  // the outpatient record archives on the doctor's call; the discharged inpatient record on the chief's review.
  await api.fhir('dr-wang', 'archiving the outpatient record of wang-qiang', 'POST', `Encounter/${encounters.get('wang-qiang-clinic')}/$archive`);
  await api.fhir('dr-zhao', 'archiving the inpatient record of liu-yang', 'POST', `Encounter/${appendix}/$archive`);
  counts.archived = 2;
  return { patients, encounters, counts };
}
