import type {
  CapabilityStatement,
  CapabilityStatementRestResource,
  CapabilityStatementRestResourceInteraction,
  CapabilityStatementRestResourceOperation,
  CapabilityStatementRestResourceSearchParam,
  CapabilityStatementRestSecurity,
} from '@medplum/fhirtypes';
import { expandSubjects } from '../policy/domain/ability.factory.js';
import { WORKFLOW_SUBJECTS, type Action } from '../policy/domain/actions.js';
import type { LoadedPolicy } from '../policy/loaded-policy.js';
import type { SearchParameterRegistry } from '../store/search/search-parameter.registry.js';
import type { IdentityProvider } from './smart-configuration.js';

/** What the statement is built from: the server as configured, the policy in force, the store's search parameters. */
export interface CapabilitySources {
  /** The absolute FHIR base (`implementation.url`). */
  baseUrl: string;
  version: string;
  policy: LoadedPolicy;
  /** The R4 resource types (a policy naming anything else governs nothing). */
  resourceTypes: ReadonlySet<string>;
  registry: SearchParameterRegistry;
  identity: IdentityProvider;
  /** Whether browser origins are allowed (CORS). */
  cors: boolean;
}

/** Where ChartWarden's own operations are described (its error codes live beside them). */
const OPERATION_BASE = 'https://chartwarden.dev/fhir/OperationDefinition';

/** The REST interactions each policy action opens (R4 http.html). `delete` is absent on purpose. */
const INTERACTIONS: Partial<Record<Action, readonly string[]>> = {
  read: ['read', 'vread', 'history-instance', 'history-type'],
  search: ['search-type'],
  create: ['create'],
  update: ['update', 'patch'],
};
/** The order R4 lists interactions in (TypeRestfulInteraction). */
const INTERACTION_ORDER = ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'create', 'search-type'];

/** An operation on a record, listed for the types it applies to where some role may take its action. */
interface OperationRoute {
  name: string;
  /** Any of these allowed opens it. */
  actions: readonly Action[];
  appliesTo: (type: string, policy: LoadedPolicy) => boolean;
  definition: string;
  documentation?: string;
}

const isDocument = (type: string, policy: LoadedPolicy) => policy.governedResources.includes(type);

/** The operations under `/fhir/{type}/{id}/$…` (fhir, governance and release routes). */
const OPERATIONS: readonly OperationRoute[] = [
  { name: 'everything', actions: ['read'], appliesTo: (t) => t === 'Patient', definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything' },
  {
    name: 'validate',
    actions: ['create', 'update'],
    appliesTo: () => true,
    definition: 'http://hl7.org/fhir/OperationDefinition/Resource-validate',
    documentation: 'POST [type]/$validate for whoever may create the type, [type]/[id]/$validate for whoever may update the record; nothing is stored.',
  },
  {
    name: 'sign',
    actions: ['sign'],
    appliesTo: (t, p) => isDocument(t, p) && (t === 'Composition' || t === 'DocumentReference'),
    definition: `${OPERATION_BASE}/sign`,
    documentation: 'POST: the author confirms the document (R-13): final, attested, with a Provenance carrying the signature.',
  },
  {
    name: 'cosign',
    actions: ['cosign'],
    appliesTo: (t, p) => isDocument(t, p) && (t === 'Composition' || t === 'DocumentReference'),
    definition: `${OPERATION_BASE}/cosign`,
    documentation: 'POST: a licensed physician co-signs an intern\'s, probationer\'s or visiting doctor\'s document (R-14).',
  },
  {
    name: 'amend-request',
    actions: ['amend'],
    appliesTo: isDocument,
    definition: `${OPERATION_BASE}/amend-request`,
    documentation: 'POST: the author asks to amend a document past its edit window, with a reason (R-11).',
  },
  {
    name: 'changes',
    actions: ['read'],
    appliesTo: isDocument,
    definition: `${OPERATION_BASE}/changes`,
    documentation: 'GET: every version with editor, time, reason and what changed (R-12); ?from=&to= compares two versions.',
  },
  {
    name: 'archive',
    actions: ['archive'],
    appliesTo: (t) => t === 'Encounter',
    definition: `${OPERATION_BASE}/archive`,
    documentation: 'POST: archives the encounter\'s record, read-only from then on (R-15).',
  },
  {
    name: 'print',
    actions: ['print'],
    appliesTo: () => true,
    definition: `${OPERATION_BASE}/print`,
    documentation: 'GET: the record as a watermarked PDF, recorded as a disclosure (R-20, R-22).',
  },
];

const WORKFLOW = new Set<string>(WORKFLOW_SUBJECTS);

/**
 * Per resource type, the actions some role of the policy may take on it (allow rules; a deny only
 * narrows who). Workflow subjects and names that are not R4 resource types are left out.
 */
export function governedActions(policy: LoadedPolicy, resourceTypes: ReadonlySet<string>): Map<string, Set<Action>> {
  const document = policy.document;
  const governed = new Map<string, Set<Action>>();
  for (const role of Object.values(document.roles)) {
    for (const rule of role.rules) {
      if (!rule.allow) continue;
      for (const type of expandSubjects(document, rule.on)) {
        if (WORKFLOW.has(type) || !resourceTypes.has(type)) continue;
        const actions = governed.get(type) ?? new Set<Action>();
        for (const action of rule.allow) actions.add(action);
        governed.set(type, actions);
      }
    }
  }
  return governed;
}

/**
 * The CapabilityStatement served at `GET /fhir/metadata` (https://hl7.org/fhir/R4/capabilitystatement.html):
 * exactly what this server does. Every type the policy in force governs, with the interactions
 * and operations some role may use on it, its search parameters from the same registry the store
 * indexes with, and the security section with the SMART extension
 * (http://hl7.org/fhir/smart-app-launch/conformance.html). `delete` is absent on purpose.
 */
export function capabilityStatement(sources: CapabilitySources): CapabilityStatement {
  const governed = governedActions(sources.policy, sources.resourceTypes);
  const resource = [...governed.keys()]
    .sort()
    .map((type) => (type === 'AuditEvent' ? AUDIT_EVENT : resourceEntry(type, governed, sources)))
    .filter((entry) => (entry.interaction?.length ?? 0) > 0 || (entry.operation?.length ?? 0) > 0);
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    kind: 'instance',
    publisher: 'ChartWarden',
    software: { name: 'ChartWarden', version: sources.version },
    implementation: { description: 'ChartWarden FHIR R4 facade', url: sources.baseUrl },
    fhirVersion: '4.0.1',
    format: ['json', 'application/fhir+json'],
    patchFormat: ['application/json-patch+json'],
    rest: [
      {
        mode: 'server',
        documentation:
          'Every request except GET /metadata and GET /.well-known/smart-configuration needs Authorization: Bearer <JWT>. Responses are JSON only: any other _format or Accept is refused (406). ' +
          'Deleting is refused (405): records are never destroyed through the API (R-17). ' +
          'Search paging uses _count (default 20, max 1000) and _offset; unknown parameters are refused (400) unless Prefer: handling=lenient. ' +
          'With _total=accurate the first page counts every match and its paging links carry the count in _total-token, so later pages do not count again: ' +
          'a token is bound to the caller, the policy version, the resource type and the query, and lasts an hour on the server instance that made it; ' +
          'one that does not verify is ignored and the page counts afresh. ' +
          'Every request is recorded in the audit trail before its response is sent (X-Request-Id names it); AuditEvent is the trail itself, read-only (IHE BALP). ' +
          'A record sealed under a dispute (legal hold, R-41) refuses every write — update, amendment, $sign, $cosign, $archive, a new record for a sealed encounter, a transaction entry — ' +
          'with 423 Locked and an OperationOutcome business-rule (code disputes.sealed) naming the dispute case; 409 stays for version and state conflicts a client may resolve by re-reading. ' +
          'Reading a sealed record continues under the access policy, except a public-incident case restricts it to the case team (R-44).',
        security: security(sources.identity, sources.cors),
        resource,
        interaction: [{ code: 'transaction' }, { code: 'batch' }],
      },
    ],
  };
}

function resourceEntry(type: string, governed: ReadonlyMap<string, ReadonlySet<Action>>, sources: CapabilitySources): CapabilityStatementRestResource {
  const actions = governed.get(type) ?? new Set<Action>();
  const codes = new Set([...actions].flatMap((action) => INTERACTIONS[action] ?? []));
  const interaction = INTERACTION_ORDER.filter((code) => codes.has(code)).map((code) => ({ code: code as CapabilityStatementRestResourceInteraction['code'] }));
  const operation: CapabilityStatementRestResourceOperation[] = OPERATIONS.filter((op) => op.actions.some((a) => actions.has(a)) && op.appliesTo(type, sources.policy)).map((op) => ({
    name: op.name,
    definition: op.definition,
    ...(op.documentation ? { documentation: op.documentation } : {}),
  }));
  const searchable = codes.has('search-type');
  const params = sources.registry.forType(type);
  return {
    type: type as CapabilityStatementRestResource['type'],
    interaction,
    ...(codes.has('update') ? { versioning: 'versioned-update' as const, updateCreate: actions.has('create'), conditionalUpdate: true } : {}),
    ...(codes.has('read') ? { readHistory: true, conditionalRead: 'not-supported' as const } : {}),
    ...(codes.has('create') ? { conditionalCreate: true } : {}),
    conditionalDelete: 'not-supported',
    ...(searchable
      ? {
          searchInclude: params.filter((p) => p.type === 'reference').map((p) => `${type}:${p.code}`),
          searchRevInclude: revIncludes(type, governed, sources.registry),
          searchParam: [
            { name: '_id', type: 'token', definition: 'http://hl7.org/fhir/SearchParameter/Resource-id' },
            { name: '_lastUpdated', type: 'date', definition: 'http://hl7.org/fhir/SearchParameter/Resource-lastUpdated' },
            ...params.map((p) => ({ name: p.code, type: p.type as CapabilityStatementRestResourceSearchParam['type'], definition: p.url })),
          ],
        }
      : {}),
    ...(operation.length ? { operation } : {}),
  };
}

/** `_revinclude` values for `type`: the reference parameters of searchable governed types that may point at it. */
function revIncludes(type: string, governed: ReadonlyMap<string, ReadonlySet<Action>>, registry: SearchParameterRegistry): string[] {
  return [...governed.entries()]
    .filter(([, actions]) => actions.has('search'))
    .flatMap(([source]) => registry.forType(source).filter((p) => p.type === 'reference' && p.targets.includes(type)).map((p) => `${source}:${p.code}`))
    .sort();
}

/**
 * `rest.security`: SMART on FHIR when tokens come from an identity provider (JWKS mode), with its
 * endpoints in the `oauth-uris` extension (SMART App Launch 1, still read by R4 clients) when
 * configured; in dev mode tokens are signed by the data dir's key and no OAuth endpoint exists.
 */
function security(identity: IdentityProvider, cors: boolean): CapabilityStatementRestSecurity {
  const uris = [
    ...(identity.authorizationEndpoint ? [{ url: 'authorize', valueUri: identity.authorizationEndpoint }] : []),
    ...(identity.tokenEndpoint ? [{ url: 'token', valueUri: identity.tokenEndpoint }] : []),
  ];
  if (identity.mode === 'dev') {
    return {
      cors,
      description: 'Development mode: bearer JWTs (RFC 7519) signed with this server\'s development key (npx chartwarden token); no OAuth endpoint. SMART scopes in a token narrow what the policy allows.',
    };
  }
  return {
    cors,
    ...(identity.tokenEndpoint ? { extension: [{ url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris', extension: uris }] } : {}),
    service: [
      {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR', display: 'SMART-on-FHIR' }],
        text: 'OAuth2 bearer JWTs from the configured identity provider, verified against its JWKS; SMART scopes narrow what the policy allows (see /.well-known/smart-configuration).',
      },
    ],
    description: `Bearer JWTs (RFC 7519) issued by ${identity.issuer}, verified against ${identity.jwksUri}.`,
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
