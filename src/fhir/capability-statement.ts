import type { CapabilityStatement, CapabilityStatementRestResource } from '@medplum/fhirtypes';
import type { SearchParameterRegistry } from '../store/search/search-parameter.registry.js';

/**
 * The CapabilityStatement served at `GET /fhir/metadata`: exactly what this server does
 * (https://hl7.org/fhir/R4/capabilitystatement.html). Built from the same registry the
 * store indexes with, so it cannot advertise a parameter that does not work. `delete` is
 * absent on purpose.
 */
export function capabilityStatement(baseUrl: string, version: string, resourceTypes: ReadonlySet<string>, registry: SearchParameterRegistry): CapabilityStatement {
  const resource: CapabilityStatementRestResource[] = [...resourceTypes].sort().map((type) => type === 'AuditEvent' ? AUDIT_EVENT : ({
    type: type as CapabilityStatementRestResource['type'],
    interaction: ['read', 'vread', 'update', 'create', 'history-instance', 'history-type', 'search-type'].map((code) => ({
      code: code as 'read',
    })),
    versioning: 'versioned-update',
    readHistory: true,
    updateCreate: true,
    conditionalCreate: true,
    conditionalUpdate: false,
    conditionalDelete: 'not-supported',
    searchInclude: registry.forType(type).filter((p) => p.type === 'reference').map((p) => `${type}:${p.code}`),
    searchRevInclude: [],
    searchParam: [
      { name: '_id', type: 'token', definition: 'http://hl7.org/fhir/SearchParameter/Resource-id' },
      { name: '_lastUpdated', type: 'date', definition: 'http://hl7.org/fhir/SearchParameter/Resource-lastUpdated' },
      ...registry.forType(type).map((p) => ({ name: p.code, type: p.type, definition: p.url })),
    ],
    ...(type === 'Patient'
      ? { operation: [{ name: 'everything', definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything' }] }
      : {}),
  }));
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    kind: 'instance',
    publisher: 'ChartWarden',
    software: { name: 'ChartWarden', version },
    implementation: { description: 'ChartWarden FHIR R4 facade', url: baseUrl },
    fhirVersion: '4.0.1',
    format: ['json'],
    rest: [
      {
        mode: 'server',
        documentation:
          'Every request except GET /metadata needs Authorization: Bearer <JWT>. Deleting is refused (405): records are never destroyed through the API (R-17). ' +
          'Search paging uses _count (default 20, max 1000) and _offset; unknown parameters are refused (400) unless Prefer: handling=lenient. ' +
          'Every request is recorded in the audit trail before its response is sent (X-Request-Id names it); AuditEvent is the trail itself, read-only (IHE BALP). ' +
          'A record sealed under a dispute (legal hold, R-41) refuses every write — update, amendment, $sign, $cosign, $archive, a new record for a sealed encounter, a transaction entry — ' +
          'with 423 Locked and an OperationOutcome business-rule (code disputes.sealed) naming the dispute case; 409 stays for version and state conflicts a client may resolve by re-reading. ' +
          'Reading a sealed record continues under the access policy, except a public-incident case restricts it to the case team (R-44).',
        security: { cors: false, description: 'OAuth2 bearer JWT (RFC 7519), verified against the configured JWKS or the development key.' },
        resource,
        interaction: [{ code: 'transaction' }, { code: 'batch' }],
      },
    ],
  };
}

/** The audit trail as FHIR: read and search only, written by ChartWarden alone. */
const AUDIT_EVENT: CapabilityStatementRestResource = {
  type: 'AuditEvent',
  profile: 'https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientRead',
  documentation: 'The audit trail (IHE Basic Audit Log Patterns): role auditor reads all of it; the record room reads one patient at a time (patient=). Entries cannot be created or changed (405).',
  interaction: [{ code: 'read' }, { code: 'search-type' }],
  searchParam: [
    { name: 'patient', type: 'reference', definition: 'http://hl7.org/fhir/SearchParameter/AuditEvent-patient' },
    { name: 'agent', type: 'reference', definition: 'http://hl7.org/fhir/SearchParameter/AuditEvent-agent' },
    { name: 'date', type: 'date', definition: 'http://hl7.org/fhir/SearchParameter/AuditEvent-date' },
    { name: 'action', type: 'token', definition: 'http://hl7.org/fhir/SearchParameter/AuditEvent-action' },
    { name: 'subtype', type: 'token', definition: 'http://hl7.org/fhir/SearchParameter/AuditEvent-subtype' },
    { name: 'outcome', type: 'token', definition: 'http://hl7.org/fhir/SearchParameter/AuditEvent-outcome' },
    { name: 'entity', type: 'reference', definition: 'http://hl7.org/fhir/SearchParameter/AuditEvent-entity' },
  ],
};
