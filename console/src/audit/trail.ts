/**
 * The audit trail as the auditors' pages read it, without React (tested in Node): the patient
 * id typed in, the search the form sends (`GET /fhir/AuditEvent`, src/audit/audit-search.ts),
 * and what a page reads from a BALP AuditEvent (src/audit/domain/balp.ts).
 */

/** `123` or `Patient/123` → `123` (what the report and the search take). */
export function patientId(typed: string): string {
  const v = typed.trim();
  return v.startsWith('Patient/') ? v.slice('Patient/'.length) : v;
}

export interface Coding {
  system?: string;
  code?: string;
  display?: string;
}

export interface AuditEventExtension {
  url: string;
  valueString?: string;
  valueInteger?: number;
}

export interface AuditEvent {
  resourceType: 'AuditEvent';
  id: string;
  type: Coding;
  subtype?: Coding[];
  action?: string;
  recorded: string;
  outcome?: string;
  outcomeDesc?: string;
  purposeOfEvent?: { coding?: Coding[] }[];
  agent: {
    who?: { reference?: string; display?: string; identifier?: { value?: string } };
    role?: { coding?: Coding[] }[];
    network?: { address?: string };
    purposeOfUse?: { coding?: Coding[] }[];
  }[];
  entity?: { what?: { reference?: string; display?: string }; role?: Coding; query?: string }[];
  extension?: { url: string; extension?: AuditEventExtension[] }[];
}

export interface AuditBundle {
  resourceType: 'Bundle';
  total?: number;
  link?: { relation: string; url: string }[];
  entry?: { resource?: AuditEvent }[];
}

/** A ChartWarden detail of an event (`requestId`, `request`, `httpStatus`, `rule`, `breakGlassReason`, `department`, `hash`…). */
export function detailOf(event: AuditEvent, name: string): string | undefined {
  const ext = event.extension?.flatMap((e) => e.extension ?? []).find((e) => e.url === name);
  return ext?.valueString ?? (ext?.valueInteger === undefined ? undefined : String(ext.valueInteger));
}

/** The event's agent: token subject, Practitioner, roles, purposes. */
export function agentOf(event: AuditEvent) {
  const agent = event.agent[0];
  return {
    id: agent?.who?.identifier?.value,
    practitioner: agent?.who?.reference,
    roles: (agent?.role ?? []).flatMap((r) => r.coding ?? []).map((c) => c.code ?? ''),
    purposes: (agent?.purposeOfUse ?? []).flatMap((p) => p.coding ?? []).map((c) => c.code ?? ''),
    address: agent?.network?.address,
  };
}

/** The patient an event concerns (entity role 1), and the records (role 4, 24). */
export function entitiesOf(event: AuditEvent) {
  const all = event.entity ?? [];
  return {
    patient: all.find((e) => e.role?.code === '1')?.what?.reference,
    records: all.filter((e) => e.role?.code !== '1').map((e) => e.what?.reference ?? e.what?.display ?? ''),
  };
}

/** The search criteria the page holds (as in its URL), turned into the server's parameters (src/audit/audit-search.ts). */
export interface AuditCriteria {
  patient?: string;
  agent?: string;
  from?: string;
  to?: string;
  outcome?: string;
  action?: string;
  subtype?: string;
  entity?: string;
}

export const PAGE_SIZE = 20;

export function auditSearchQuery(c: AuditCriteria): string {
  const q = new URLSearchParams();
  if (c.patient) q.append('patient', patientId(c.patient));
  if (c.agent) q.append('agent', c.agent.trim());
  if (c.from) q.append('date', `ge${c.from}`);
  if (c.to) q.append('date', `le${c.to}`);
  if (c.outcome) q.append('outcome', c.outcome);
  if (c.action) q.append('action', c.action);
  if (c.subtype) q.append('subtype', c.subtype.trim());
  if (c.entity) q.append('entity', c.entity.trim());
  q.append('_count', String(PAGE_SIZE));
  return q.toString();
}

