import { Injectable } from '@nestjs/common';
import type { CodeableConcept, Encounter, Patient, Procedure } from '@medplum/fhirtypes';
import { Clock } from '../common/clock.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { AccessPolicyService } from '../policy/access-policy.service.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { FhirStore } from '../store/fhir-store.port.js';
import type { IndexedRecord } from '../store/patient-record-index.port.js';
import { departmentToList } from './department-lists.js';
import { overdue, type OverdueItem, type TriggerEvent, type WrittenDocument } from './domain/deadlines.js';
import { subjectPatient } from './domain/document.js';
import { LedgerReadsRepository } from './ledger-reads.repository.js';

const SNOMED = 'http://snomed.info/sct';
/** Procedure.category "Surgical procedure": an operation (its record is due, R-10). */
const SURGICAL = '387713003';
/** Procedure.code "Cardiopulmonary resuscitation": a rescue (抢救). */
const CPR = '89666000';
const EVENT_SYSTEM = 'https://chartwarden.dev/fhir/CodeSystem/clinical-event';
/** Inpatient encounters of a department looked at, the most recently updated first. */
const ENCOUNTER_LIMIT = 500;

/** One encounter's late or missing documents. */
export interface EncounterOverdue {
  encounter: string;
  patient?: string;
  items: OverdueItem[];
}

/**
 * Writing deadlines: for a department's inpatient encounters, the documents late or
 * not yet written against the policy's hours after admission, operation (a Procedure with
 * category SNOMED 387713003), rescue (CPR, SNOMED 89666000, or clinical-event `rescue`),
 * discharge (the encounter's end) and death (Patient.deceasedDateTime).
 */
@Injectable()
export class OverdueService {
  constructor(
    private readonly store: FhirStore,
    private readonly ledger: LedgerReadsRepository,
    private readonly policy: LoadedPolicy,
    private readonly decisions: AccessPolicyService,
    private readonly clock: Clock,
  ) {}

  async overdue(ctx: FhirContext, dept: string | undefined): Promise<EncounterOverdue[]> {
    const department = departmentToList(this.decisions, ctx, 'sign', dept, 'overdue', (d) => `The writing deadlines of ${d} are read by its physicians and by medical affairs (R-10)`);
    const records = this.store.records;
    const encounters = await records.encountersOfDepartment(department, { classCode: 'IMP', limit: ENCOUNTER_LIMIT });
    if (encounters.length === 0) return [];
    const linked = await records.recordsOfEncounters(
      encounters.map((e) => e.id as string),
      [...new Set([...this.policy.governedResources, 'Procedure'])],
    );
    const documents = linked.filter((r) => r.resource.resourceType !== 'Procedure').map((r) => ({ type: r.resource.resourceType, id: r.resource.id as string }));
    const firstWritten = await this.ledger.firstWritten(documents);
    const patientIds = [...new Set(encounters.map((e) => subjectPatient(e)).filter((p): p is string => Boolean(p)))];
    const patients = new Map((await records.readMany(patientIds.map((id) => ({ type: 'Patient', id })))).map((p) => [p.resource.id, p.resource as Patient]));
    const byEncounter = new Map<string | undefined, IndexedRecord[]>();
    for (const r of linked) {
      const filed = byEncounter.get(r.encounter);
      if (filed) filed.push(r);
      else byEncounter.set(r.encounter, [r]);
    }
    const types = this.policy.documentTypes;
    const now = this.clock.now();
    const out: EncounterOverdue[] = [];
    for (const e of encounters) {
      const patient = subjectPatient(e);
      const events = encounterEvents(e, patient ? patients.get(patient) : undefined);
      const written: WrittenDocument[] = [];
      for (const r of byEncounter.get(e.id as string) ?? []) {
        const ref = `${r.resource.resourceType}/${r.resource.id}`;
        if (r.resource.resourceType === 'Procedure') events.push(...procedureEvents(r.resource as Procedure));
        else written.push({ ref, docType: types.classify(r.resource)?.code, written: firstWritten.get(ref) ?? new Date(r.lastUpdated) });
      }
      const items = overdue(events, written, types.all(), this.policy.writingDeadlines, now);
      if (items.length) out.push({ encounter: `Encounter/${e.id}`, ...(patient ? { patient: `Patient/${patient}` } : {}), items });
    }
    return out;
  }
}

/** The encounter's own events: admission, discharge once finished, and the patient's death during it. */
function encounterEvents(e: Encounter, patient: Patient | undefined): TriggerEvent[] {
  const events: TriggerEvent[] = [];
  const source = `Encounter/${e.id}`;
  if (e.period?.start) events.push({ kind: 'admission', at: new Date(e.period.start), source });
  if (e.status === 'finished' && e.period?.end) events.push({ kind: 'discharge', at: new Date(e.period.end), source });
  const deceased = patient?.deceasedDateTime;
  if (deceased && (!e.period?.end || new Date(deceased) <= new Date(e.period.end))) {
    events.push({ kind: 'death', at: new Date(deceased), source: `Patient/${patient.id}` });
  }
  return events;
}

/** An operation (surgical category) or a rescue (CPR, or clinical-event `rescue`) a Procedure records, when it says when. */
function procedureEvents(p: Procedure): TriggerEvent[] {
  const at = p.performedDateTime ?? p.performedPeriod?.start;
  if (!at) return [];
  const source = `Procedure/${p.id}`;
  const events: TriggerEvent[] = [];
  if (has(p.category, SNOMED, SURGICAL)) events.push({ kind: 'operation', at: new Date(at), source });
  if (has(p.code, SNOMED, CPR) || has(p.category, EVENT_SYSTEM, 'rescue')) events.push({ kind: 'rescue', at: new Date(at), source });
  return events;
}

function has(concepts: CodeableConcept | CodeableConcept[] | undefined, system: string, code: string): boolean {
  return (Array.isArray(concepts) ? concepts : concepts ? [concepts] : []).some((c) => (c.coding ?? []).some((x) => x.system === system && x.code === code));
}
