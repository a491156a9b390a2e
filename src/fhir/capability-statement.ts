import type { CapabilityStatement, CapabilityStatementRestResource } from '@medplum/fhirtypes';
import type { SearchParameterRegistry } from '../store/search/search-parameter.registry.js';

/**
 * The CapabilityStatement served at `GET /fhir/metadata`: exactly what this server does
 * (https://hl7.org/fhir/R4/capabilitystatement.html). Built from the same registry the
 * store indexes with, so it cannot advertise a parameter that does not work. `delete` is
 * absent on purpose.
 */
export function capabilityStatement(baseUrl: string, version: string, resourceTypes: ReadonlySet<string>, registry: SearchParameterRegistry): CapabilityStatement {
  const resource: CapabilityStatementRestResource[] = [...resourceTypes].sort().map((type) => ({
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
          'Search paging uses _count (default 20, max 1000) and _offset; unknown parameters are refused (400) unless Prefer: handling=lenient.',
        security: { cors: false, description: 'OAuth2 bearer JWT (RFC 7519), verified against the configured JWKS or the development key.' },
        resource,
        interaction: [{ code: 'transaction' }, { code: 'batch' }],
      },
    ],
  };
}
