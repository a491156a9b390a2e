import type { CapabilityStatementRestResource } from '@medplum/fhirtypes';
import type { Actor } from '../identity/actor.js';
import { buildAbility } from '../policy/domain/ability.factory.js';
import type { PolicyDocument } from '../policy/domain/policy-document.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import { defaultPolicyPath, loadPolicy } from '../policy/policy.loader.js';
import { loadR4Definitions } from '../store/fhir-definitions.js';
import { SearchParameterRegistry } from '../store/search/search-parameter.registry.js';
import { capabilityStatement, type CapabilitySources } from './capability-statement.js';
import { identityProvider } from './smart-configuration.js';

const types = loadR4Definitions();
const registry = SearchParameterRegistry.fromProfiles();
const shipped = loadPolicy(defaultPolicyPath(), types);

function statementFor(document: PolicyDocument, overrides: Partial<CapabilitySources> = {}) {
  return capabilityStatement({
    baseUrl: 'https://emr.example/fhir',
    version: '9.9.9',
    policy: new LoadedPolicy(document),
    resourceTypes: types,
    registry,
    identity: identityProvider({}),
    cors: false,
    ...overrides,
  });
}

const byType = (resources: CapabilityStatementRestResource[] | undefined) => new Map((resources ?? []).map((r) => [r.type as string, r]));

/** The interactions an action opens, restated from R4 http.html (the oracle does not import the table it checks). */
const OPENS: Record<string, string[]> = {
  read: ['read', 'vread', 'history-instance', 'history-type'],
  search: ['search-type'],
  create: ['create'],
  update: ['update', 'patch'],
};

describe('the CapabilityStatement lists exactly what works', () => {
  const statement = statementFor(shipped);
  const resources = byType(statement.rest?.[0].resource);
  // Every role as the most favoured actor of it: licensed, in a department, on the care team.
  const abilities = Object.keys(shipped.roles).map((role) =>
    buildAbility(shipped, { id: `u-${role}`, practitioner: `Practitioner/u-${role}`, roles: [role], department: 'dept', licence: 'licensed', scopes: [] } satisfies Actor),
  );

  it('R-02: each interaction of each type is listed exactly when some role of the shipped policy may take its action (the policy decides, CASL as the oracle)', () => {
    const mismatches: string[] = [];
    for (const type of types) {
      if (type === 'AuditEvent') continue;
      const listed = new Set((resources.get(type)?.interaction ?? []).map((i) => i.code as string));
      for (const [action, codes] of Object.entries(OPENS)) {
        const allowed = abilities.some((ability) => ability.can(action, type));
        for (const code of codes) if (listed.has(code) !== allowed) mismatches.push(`${type} ${code}: listed ${listed.has(code)}, policy allows ${action} ${allowed}`);
      }
    }
    expect(mismatches).toEqual([]);
    expect(resources.get('Patient')?.interaction?.map((i) => i.code)).toEqual(['read', 'vread', 'update', 'patch', 'history-instance', 'history-type', 'create', 'search-type']);
    expect(resources.get('Patient')).toMatchObject({ conditionalCreate: true, conditionalUpdate: true, updateCreate: true, versioning: 'versioned-update' });
  });

  it('R-17: no type lists delete, a conditional delete or an unknown type; every entry is an R4 type', () => {
    for (const [type, resource] of resources) {
      expect(types.has(type)).toBe(true);
      expect(resource.interaction?.map((i) => i.code)).not.toContain('delete');
      if (type !== 'AuditEvent') expect(resource.conditionalDelete).toBe('not-supported');
    }
  });

  it('the search parameters of each searchable type are the registry\'s, with their definitions, and nothing else', () => {
    for (const [type, resource] of resources) {
      if (type === 'AuditEvent' || !resource.interaction?.some((i) => i.code === 'search-type')) continue;
      const expected = [
        { name: '_id', type: 'token', definition: 'http://hl7.org/fhir/SearchParameter/Resource-id' },
        { name: '_lastUpdated', type: 'date', definition: 'http://hl7.org/fhir/SearchParameter/Resource-lastUpdated' },
        ...registry.forType(type).map((p) => ({ name: p.code, type: p.type, definition: p.url })),
      ];
      expect(resource.searchParam).toEqual(expected);
      expect(resource.searchInclude).toEqual(registry.forType(type).filter((p) => p.type === 'reference').map((p) => `${type}:${p.code}`));
    }
    expect(resources.get('Patient')?.searchRevInclude).toEqual(expect.arrayContaining(['Observation:subject', 'Encounter:patient']));
  });

  it('operations are listed on the types their routes take, where the policy allows their action (R-13, R-14, R-15)', () => {
    const ops = (type: string) => (resources.get(type)?.operation ?? []).map((o) => o.name);
    expect(ops('Patient')).toEqual(expect.arrayContaining(['everything', 'validate']));
    expect(ops('Observation')).toContain('validate');
    expect(ops('Composition')).toEqual(expect.arrayContaining(['sign', 'cosign', 'amend-request', 'changes', 'print']));
    expect(ops('Encounter')).toContain('archive');
    expect(ops('Observation')).not.toContain('sign');
    expect(ops('Observation')).not.toContain('archive');
  });

  it('a policy governing one type for reading only lists that type, readable, with no search, write or operation', () => {
    const reader: PolicyDocument = { ...shipped, roles: { reader: { rules: [{ id: 'reader.obs', allow: ['read'], on: ['Observation'] }] } } };
    const only = statementFor(reader).rest?.[0].resource ?? [];
    expect(only.map((r) => r.type)).toEqual(['Observation']);
    expect(only[0].interaction?.map((i) => i.code)).toEqual(['read', 'vread', 'history-instance', 'history-type']);
    expect(only[0].searchParam).toBeUndefined();
    expect(only[0].operation).toBeUndefined();
    expect(only[0].conditionalCreate).toBeUndefined();
  });

  it('absolute base, JSON only, and the security section as the identity is configured', () => {
    expect(statement.implementation?.url).toBe('https://emr.example/fhir');
    expect(statement.format).toEqual(['json', 'application/fhir+json']);
    expect(statement.patchFormat).toEqual(['application/json-patch+json']);
    expect(statement.rest?.[0].security?.service).toBeUndefined();
    expect(statement.rest?.[0].security?.cors).toBe(false);
    const smart = statementFor(shipped, {
      cors: true,
      identity: identityProvider({ jwksUrl: 'https://idp.example/jwks', issuer: 'https://idp.example', authorizationEndpoint: 'https://idp.example/authorize', tokenEndpoint: 'https://idp.example/token' }),
    }).rest?.[0].security;
    expect(smart?.cors).toBe(true);
    expect(smart?.service?.[0].coding?.[0]).toMatchObject({ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' });
    expect(smart?.extension).toEqual([
      {
        url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
        extension: [
          { url: 'authorize', valueUri: 'https://idp.example/authorize' },
          { url: 'token', valueUri: 'https://idp.example/token' },
        ],
      },
    ]);
  });
});
