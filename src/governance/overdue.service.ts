import { Injectable } from '@nestjs/common';
import type { CodeableConcept, Encounter, Patient, Procedure, Resource } from '@medplum/fhirtypes';
import { Clock } from '../common/clock.js';
import { ChartWardenDatabase } from '../database/chartwarden-database.js';
import type { FhirContext } from '../fhir/fhir-request.js';
import { AccessPolicyService } from '../policy/access-policy.service.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { overdue, type OverdueItem, type TriggerEvent, type WrittenDocument } from './domain/deadlines.js';
import { DocumentTypes } from '../policy/domain/document-types.js';
import { subjectPatient } from './domain/document.js';
import { departmentToList } from './department-lists.js';

const SNOMED = 'http://snomed.info/sct';
/** Procedure.category "Surgical procedure": an operation (its record is due, R-10). */
const SURGICAL = '387713003';
/** Procedure.code "Cardiopulmonary resuscitation": a rescue (抢救). */
const CPR = '89666000';
const EVENT_SYSTEM = 'https://chartwarden.dev/fhir/CodeSystem/clinical-event';

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
    private readonly db: ChartWardenDatabase,
    private readonly policy: LoadedPolicy,
    private readonly types: DocumentTypes,
    private readonly decisions: AccessPolicyService,
    private readonly clock: Clock,
  ) {}

  async overdue(ctx: FhirContext, dept: string | undefined): Promise<EncounterOverdue[]> {
    const department = departmentToList(this.decisions, ctx, 'sign', dept, 'overdue', (d) => `The writing deadlines of ${d} are read by its physicians and by medical affairs (R-10)`);

    const encounters = await this.db.query<{ id: string; content: Encounter }>(
      `SELECT e.id, e.content FROM fhir_resource e
        WHERE e.resource_type = 'Encounter' AND e.content -> 'class' ->> 'code' = 'IMP'
          AND EXISTS (SELECT 1 FROM fhir_search_reference sp WHERE sp.resource_type = 'Encounter' AND sp.resource_id = e.id
                        AND sp.param = 'service-provider' AND sp.target_id = $1)
        ORDER BY e.last_updated DESC LIMIT 500`,
      [department],
    );
    if (encounters.length === 0) return [];
    const ids = encounters.map((e) => e.id);
    const linked = await this.db.query<{ resource_type: string; id: string; content: Resource; encounter: string; written: Date | null; last_updated: Date }>(
      `SELECT r.resource_type, r.id, r.content, x.target_id AS encounter, r.last_updated,
              (SELECT min(l.recorded) FROM edit_ledger l WHERE l.resource_type = r.resource_type AND l.resource_id = r.id) AS written
         FROM fhir_search_reference x JOIN fhir_resource r ON r.resource_type = x.resource_type AND r.id = x.resource_id
        WHERE x.param IN ('encounter', 'context') AND x.target_type = 'Encounter' AND x.target_id = ANY($1::text[])
          AND (r.resource_type = ANY($2::text[]) OR r.resource_type = 'Procedure')`,
      [ids, this.policy.governedResources],
    );
    const patientIds = [...new Set(encounters.map((e) => subjectPatient(e.content)).filter((p): p is string => Boolean(p)))];
    const patients = await this.db.query<{ id: string; content: Patient }>(`SELECT id, content FROM fhir_resource WHERE resource_type = 'Patient' AND id = ANY($1::text[])`, [patientIds]);
    const now = this.clock.now();
    const out: EncounterOverdue[] = [];
    for (const e of encounters) {
      const events: TriggerEvent[] = [];
      const start = e.content.period?.start;
      if (start) events.push({ kind: 'admission', at: new Date(start), source: `Encounter/${e.id}` });
      if (e.content.status === 'finished' && e.content.period?.end) events.push({ kind: 'discharge', at: new Date(e.content.period.end), source: `Encounter/${e.id}` });
      const patient = subjectPatient(e.content);
      const deceased = patients.find((p) => p.id === patient)?.content.deceasedDateTime;
      if (deceased && (!e.content.period?.end || new Date(deceased) <= new Date(e.content.period.end))) {
        events.push({ kind: 'death', at: new Date(deceased), source: `Patient/${patient}` });
      }
      const documents: WrittenDocument[] = [];
      for (const r of linked.filter((l) => l.encounter === e.id)) {
        if (r.resource_type === 'Procedure') {
          const p = r.content as Procedure;
          const at = p.performedDateTime ?? p.performedPeriod?.start;
          if (!at) continue;
          if (has(p.category, SNOMED, SURGICAL)) events.push({ kind: 'operation', at: new Date(at), source: `Procedure/${r.id}` });
          if (has(p.code, SNOMED, CPR) || has(p.category, EVENT_SYSTEM, 'rescue')) events.push({ kind: 'rescue', at: new Date(at), source: `Procedure/${r.id}` });
        } else {
          documents.push({ ref: `${r.resource_type}/${r.id}`, docType: this.types.classify(r.content)?.code, written: new Date(r.written ?? r.last_updated) });
        }
      }
      const items = overdue(events, documents, this.types.all(), this.policy.writingDeadlines, now);
      if (items.length) out.push({ encounter: `Encounter/${e.id}`, ...(patient ? { patient: `Patient/${patient}` } : {}), items });
    }
    return out;
  }
}

function has(concepts: CodeableConcept | CodeableConcept[] | undefined, system: string, code: string): boolean {
  return (Array.isArray(concepts) ? concepts : concepts ? [concepts] : []).some((c) => (c.coding ?? []).some((x) => x.system === system && x.code === code));
}
