import { randomUUID } from 'node:crypto';
import type {
  BundleEntry,
  ChargeItem,
  Condition,
  DiagnosticReport,
  Encounter,
  MedicationRequest,
  Observation,
  Practitioner,
  Procedure,
  Reference,
  Resource,
  ServiceRequest,
} from '@medplum/fhirtypes';
import type { DemoStay, LabResult, When } from './demo-stays.js';
import type { DemoTimeline } from './demo-timeline.js';
import { demoUser } from './demo-users.js';

/**
 * A demo stay as the HIS and the ward send it (issue #18): the Encounter with its care team,
 * its diagnosis, operation, lab panels, orders, examinations and costs as one transaction, and
 * the vital signs a nurse charts as another. Entries reference each other by `urn:uuid`.
 */

const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
const OBSERVATION_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
const INTERPRETATION = 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation';
const V2_0074 = 'http://terminology.hl7.org/CodeSystem/v2-0074';
const ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
const PARTICIPATION = 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType';
const SNOMED = 'http://snomed.info/sct';
/** The vital signs' names as the temperature chart (体温单) prints them. */
const VITAL_NAMES: Readonly<Record<string, string>> = { '8310-5': '体温', '8867-4': '脉搏', '9279-1': '呼吸', '85354-9': '血压' };
/** The slots of the temperature chart the demo charts in (06, 10, 14 and 18 h). */
const SLOTS = [6, 10, 14, 18];

/** A transaction entry creating `resource` under a fresh `urn:uuid`. */
export interface Created {
  fullUrl: string;
  resource: Resource;
}

/** The transaction Bundle entries creating `created`, in order. */
export function transactionEntries(created: readonly Created[]): BundleEntry[] {
  return created.map(({ fullUrl, resource }) => ({ fullUrl, resource, request: { method: 'POST', url: resource.resourceType } }));
}

/** `resource`, to be created under a fresh `urn:uuid` that other entries may reference. */
export function create<T extends Resource>(resource: T): Created & { ref: Reference<T> } {
  const fullUrl = `urn:uuid:${randomUUID()}`;
  return { fullUrl, resource, ref: { reference: fullUrl } };
}

/** A staff member as a reference, named. */
export function staffRef(id: string): Reference<Practitioner> {
  return { reference: `Practitioner/${id}`, display: demoUser(id).name };
}

/**
 * The stay's Encounter (the first entry) and what the HIS records with it: the diagnosis, the
 * operation (a surgical Procedure: its record is due, R-10), lab panels, orders, examinations and costs.
 */
export function stayRecords(stay: DemoStay, patientId: string, t: DemoTimeline): Created[] {
  const at = (w: When) => t.at(...w);
  const subject = { reference: `Patient/${patientId}` };
  const attending = staffRef(stay.team[0]);
  const encounter = create<Encounter>({
    resourceType: 'Encounter',
    status: stay.discharged ? 'finished' : 'in-progress',
    class: stay.inpatient ? { system: ACT_CODE, code: 'IMP', display: '住院' } : { system: ACT_CODE, code: 'AMB', display: '门诊' },
    subject,
    participant: stay.team.map((id, i) => ({
      type: [{ coding: [{ system: PARTICIPATION, code: i === 0 ? 'ATND' : 'PART' }] }],
      individual: staffRef(id),
    })),
    period: { start: at(stay.admitted), ...(stay.discharged ? { end: at(stay.discharged) } : {}) },
    reasonCode: [{ text: stay.diagnosis }],
    serviceProvider: { reference: `Organization/${stay.department}` },
    ...(stay.inpatient && stay.discharged ? { hospitalization: { dischargeDisposition: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/discharge-disposition', code: 'home' }], text: '出院回家' } } } : {}),
  });
  const filed = { subject, encounter: encounter.ref };
  const cured = !!stay.discharged && !!stay.operation;
  const condition = create<Condition>({
    resourceType: 'Condition',
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: cured ? 'resolved' : 'active' }] },
    verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }] },
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'encounter-diagnosis' }] }],
    code: { text: stay.diagnosis },
    ...filed,
    recordedDate: at(stay.admitted),
    recorder: attending,
  });
  const records: Created[] = [encounter, condition];
  if (stay.operation) {
    records.push(
      create<Procedure>({
        resourceType: 'Procedure',
        status: 'completed',
        category: { coding: [{ system: SNOMED, code: '387713003', display: 'Surgical procedure' }] },
        code: { text: stay.operation.name },
        ...filed,
        performedDateTime: at(stay.operation.at),
        performer: [{ actor: attending }],
      }),
    );
  }
  for (const panel of stay.labs) {
    const results = panel.results.map((r) => create(labResult(r, at(panel.at), filed)));
    records.push(...results);
    records.push(
      create<DiagnosticReport>({
        resourceType: 'DiagnosticReport',
        status: 'final',
        category: [{ coding: [{ system: V2_0074, code: panel.section }] }],
        code: { text: panel.name },
        ...filed,
        effectiveDateTime: at(panel.at),
        issued: at([panel.at[0], panel.at[1] + 1, panel.at[2]]),
        performer: [{ display: '检验科' }],
        result: results.map((r) => r.ref),
      }),
    );
  }
  const ended = (w?: When) => !!stay.discharged || (w !== undefined && Date.parse(at(w)) < t.now.getTime());
  for (const o of stay.orders) {
    records.push(
      create<MedicationRequest>({
        resourceType: 'MedicationRequest',
        status: !o.longTerm || ended(o.until) ? 'completed' : 'active',
        intent: 'order',
        courseOfTherapyType: {
          coding: [{ system: 'http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy', code: o.longTerm ? 'continuous' : 'acute' }],
          text: o.longTerm ? '长期医嘱' : '临时医嘱',
        },
        medicationCodeableConcept: { text: o.medication },
        ...filed,
        authoredOn: at(o.at),
        requester: attending,
        dosageInstruction: [{ text: o.dosage, ...(o.longTerm && o.until ? { timing: { repeat: { boundsPeriod: { start: at(o.at), end: at(o.until) } } } } : {}) }],
      }),
    );
  }
  for (const e of stay.examinations) {
    records.push(
      create<ServiceRequest>({ resourceType: 'ServiceRequest', status: 'completed', intent: 'order', code: { text: e.name }, ...filed, authoredOn: at(e.at), occurrenceDateTime: at(e.at), requester: attending }),
    );
  }
  for (const [name, quantity, total] of stay.charges) {
    records.push(
      create<ChargeItem>({
        resourceType: 'ChargeItem',
        status: 'billed',
        code: { text: name },
        subject,
        context: encounter.ref,
        occurrenceDateTime: at(stay.discharged ?? stay.admitted),
        quantity: { value: quantity },
        priceOverride: { value: total, currency: 'CNY' },
      }),
    );
  }
  return records;
}

/** One lab result with its reference range and its flag (H, L or N) read from it. */
function labResult([name, loinc, value, unit, low, high]: LabResult, when: string, filed: Pick<Observation, 'subject' | 'encounter'>): Observation {
  const flag = value > high ? 'H' : value < low ? 'L' : 'N';
  return {
    resourceType: 'Observation',
    status: 'final',
    category: [{ coding: [{ system: OBSERVATION_CATEGORY, code: 'laboratory' }] }],
    code: { ...(loinc ? { coding: [{ system: LOINC, code: loinc }] } : {}), text: name },
    ...filed,
    effectiveDateTime: when,
    valueQuantity: { value, unit },
    referenceRange: [{ low: { value: low, unit }, high: { value: high, unit } }],
    interpretation: [{ coding: [{ system: INTERPRETATION, code: flag }] }],
  };
}

/**
 * The vital signs the stay's nurse charts (体温单): temperature and pulse in each slot of each
 * day inside the stay (and before the seed), respiration and blood pressure once a day at 10 h.
 * A 0 in the day's list is a slot not charted.
 */
export function vitalSigns(stay: DemoStay, encounterId: string, patientId: string, t: DemoTimeline): Created[] {
  const v = stay.vitals;
  if (!v) return [];
  const nurse = stay.team.find((id) => demoUser(id).roles.includes('nurse'));
  const start = Date.parse(t.at(...stay.admitted));
  const end = stay.discharged ? Date.parse(t.at(...stay.discharged)) : t.now.getTime();
  const inside = (when: string) => Date.parse(when) >= start && Date.parse(when) <= end;
  const filed = { subject: { reference: `Patient/${patientId}` }, encounter: { reference: `Encounter/${encounterId}` } };
  const vital = (when: string, code: string, display: string, value: Partial<Observation>): Created =>
    create<Observation>({
      resourceType: 'Observation',
      status: 'final',
      category: [{ coding: [{ system: OBSERVATION_CATEGORY, code: 'vital-signs' }] }],
      code: { coding: [{ system: LOINC, code, display }], text: VITAL_NAMES[code] },
      ...filed,
      effectiveDateTime: when,
      ...(nurse ? { performer: [staffRef(nurse)] } : {}),
      ...value,
    });
  const quantity = (value: number, unit: string, code: string) => ({ valueQuantity: { value, unit, system: UCUM, code } });
  const out: Created[] = [];
  v.temperature.forEach((temperatures, d) => {
    const daysAgo = v.firstDay - d;
    SLOTS.forEach((hour, s) => {
      const when = t.at(daysAgo, hour);
      if (!inside(when)) return;
      if (temperatures[s]) out.push(vital(when, '8310-5', 'Body temperature', quantity(temperatures[s], '°C', 'Cel')));
      if (v.pulse[d]?.[s]) out.push(vital(when, '8867-4', 'Heart rate', quantity(v.pulse[d][s], '次/分', '/min')));
    });
    const daily = t.at(daysAgo, 10);
    if (!inside(daily)) return;
    if (v.respiration[d]) out.push(vital(daily, '9279-1', 'Respiratory rate', quantity(v.respiration[d], '次/分', '/min')));
    const bp = v.bloodPressure[d];
    if (bp) {
      out.push(
        vital(daily, '85354-9', 'Blood pressure panel', {
          component: [
            { code: { coding: [{ system: LOINC, code: '8480-6', display: 'Systolic blood pressure' }] }, ...quantity(bp[0], 'mmHg', 'mm[Hg]') },
            { code: { coding: [{ system: LOINC, code: '8462-4', display: 'Diastolic blood pressure' }] }, ...quantity(bp[1], 'mmHg', 'mm[Hg]') },
          ],
        }),
      );
    }
  });
  return out;
}
