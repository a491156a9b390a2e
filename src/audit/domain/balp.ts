import type { AuditEvent, AuditEventAgent, AuditEventEntity, Coding } from '@medplum/fhirtypes';
import type { AuditEntry } from './audit-entry.js';

const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const RESTFUL = 'http://hl7.org/fhir/restful-interaction';
const LIFECYCLE = 'http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle';
const SUBTYPE = 'https://chartwarden.dev/fhir/CodeSystem/audit-subtype';
const ACT_REASON = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';
const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role';
const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
const EXTENSION = 'https://chartwarden.dev/fhir/StructureDefinition/audit';

/** The R4 `restful-interaction` codes; anything else is one of ChartWarden's workflow steps. */
const RESTFUL_CODES = new Set(['read', 'vread', 'update', 'create', 'delete', 'history-instance', 'history-type', 'search-type', 'transaction', 'batch', 'operation']);

/**
 * An audit entry as an R4 AuditEvent following IHE Basic Audit Log Patterns (R-22): type
 * DCM 110110 "Patient Record" with the RESTful interaction as subtype (read `R`, search `E`
 * + `search-type`, create `C`, update `U`), DCM 110106 "Export" for disclosures (copies,
 * prints, exports: lifecycle `disclose`), the ISO 21089 lifecycle event (`hold`/`unhold` for
 * seal/unseal), the user as requestor agent with roles and network address, the patient as
 * entity role 1, the record or the query as entity role 4/24, every version a disclosure handed
 * out as entity role 4 (`Type/id/_history/v`), and purpose of use (`BTG`).
 */
export function toAuditEvent(id: string, entry: AuditEntry, hash: string): AuditEvent {
  const disclose = entry.lifecycle === 'disclose';
  const subtype: Coding[] = [RESTFUL_CODES.has(entry.subtype) ? { system: RESTFUL, code: entry.subtype } : { system: SUBTYPE, code: entry.subtype }];
  if (entry.lifecycle) subtype.push({ system: LIFECYCLE, code: entry.lifecycle });
  const agent: AuditEventAgent = {
    type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/extra-security-role-type', code: 'humanuser', display: 'human user' }] },
    requestor: true,
    ...(entry.agent.id ? { who: { ...(entry.agent.practitioner ? { reference: entry.agent.practitioner } : {}), identifier: { value: entry.agent.id } } } : { who: { display: 'unidentified caller' } }),
    ...(entry.agent.roles.length ? { role: entry.agent.roles.map((r) => ({ coding: [{ system: 'https://chartwarden.dev/fhir/CodeSystem/role', code: r }] })) } : {}),
    ...(entry.agent.ip ? { network: { address: entry.agent.ip, type: isIpV4OrV6(entry.agent.ip) ? '2' : '1' } } : {}),
    ...(entry.purpose ? { purposeOfUse: [{ coding: [{ system: ACT_REASON, code: entry.purpose }] }] } : {}),
  };
  const entities: AuditEventEntity[] = [];
  if (entry.patient) {
    entities.push({
      what: { reference: `Patient/${entry.patient}` },
      type: { system: ENTITY_TYPE, code: '1', display: 'Person' },
      role: { system: OBJECT_ROLE, code: '1', display: 'Patient' },
    });
  }
  if (entry.entity) {
    const { type, id: rid, version, query } = entry.entity;
    const reference = rid ? `${type}/${rid}${version ? `/_history/${version}` : ''}` : undefined;
    entities.push({
      ...(reference ? { what: { reference } } : { what: { display: type } }),
      type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
      role: query ? { system: OBJECT_ROLE, code: '24', display: 'Query' } : { system: OBJECT_ROLE, code: '4', display: 'Domain Resource' },
      ...(query ? { query: Buffer.from(query, 'utf8').toString('base64') } : {}),
    });
  }
  // R-20/R-34: each version a disclosure handed out, as its own entity (the record addressed is not repeated).
  const addressed = entry.entity?.id && entry.entity.version ? `${entry.entity.type}/${entry.entity.id}/_history/${entry.entity.version}` : undefined;
  for (const v of entry.disclosed ?? []) {
    const reference = `${v.type}/${v.id}/_history/${v.version}`;
    if (reference === addressed) continue;
    entities.push({
      what: { reference },
      type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
      role: { system: OBJECT_ROLE, code: '4', display: 'Domain Resource' },
    });
  }
  return {
    resourceType: 'AuditEvent',
    id,
    meta: { versionId: '1', lastUpdated: entry.recorded },
    type: disclose
      ? { system: DCM, code: '110106', display: 'Export' }
      : { system: DCM, code: '110110', display: 'Patient Record' },
    subtype,
    action: entry.action,
    recorded: entry.recorded,
    outcome: String(entry.outcome) as AuditEvent['outcome'],
    ...(entry.outcome !== 0 ? { outcomeDesc: `HTTP ${entry.status}${entry.error ? ` ${entry.error}` : ''}` } : {}),
    ...(entry.purpose ? { purposeOfEvent: [{ coding: [{ system: ACT_REASON, code: entry.purpose }] }] } : {}),
    agent: [agent],
    source: {
      observer: { display: 'ChartWarden' },
      type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }],
    },
    ...(entities.length ? { entity: entities } : {}),
    extension: [
      {
        url: EXTENSION,
        extension: [
          { url: 'requestId', valueString: entry.requestId },
          { url: 'request', valueString: `${entry.method} ${entry.path}` },
          { url: 'httpStatus', valueInteger: entry.status },
          ...(entry.policyVersion ? [{ url: 'policyVersion', valueString: entry.policyVersion }] : []),
          ...(entry.rule ? [{ url: 'rule', valueString: entry.rule }] : []),
          ...(entry.grantId ? [{ url: 'grant', valueString: entry.grantId }] : []),
          ...(entry.breakGlass ? [{ url: 'breakGlassReason', valueString: entry.breakGlass.reason }] : []),
          ...(entry.breakGlass?.id ? [{ url: 'breakGlass', valueString: entry.breakGlass.id }] : []),
          ...(entry.agent.department ? [{ url: 'department', valueString: entry.agent.department }] : []),
          ...(entry.agent.userAgent ? [{ url: 'userAgent', valueString: entry.agent.userAgent }] : []),
          { url: 'hash', valueString: hash },
        ],
      },
    ],
  };
}

function isIpV4OrV6(address: string): boolean {
  return /^[\d.]+$/.test(address) || address.includes(':');
}
