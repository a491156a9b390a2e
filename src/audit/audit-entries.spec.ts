import { entriesFor, entryFor, outcomeOf } from './audit-entries.js';
import { interactionOf } from './domain/interaction.js';
import { toAuditEvent } from './domain/balp.js';
import { RequestAudit } from './request-audit.js';

const NOW = new Date('2026-11-29T02:00:00.000Z');
const actor = { id: 'dr-li', practitioner: 'Practitioner/dr-li', roles: ['attending'], department: 'cardio', scopes: [] };

function request(method: string, path: string, query = ''): RequestAudit {
  const audit = new RequestAudit('req-9', method, path, query, '10.0.0.7', 'HIS/1.0', interactionOf(method, path));
  audit.actor = actor;
  return audit;
}

describe('audit entries of one request (R-20, R-22)', () => {
  it('R-20: a read records who, what (type, id, version from the ETag), the patient, the rule and policy version', () => {
    const audit = request('GET', '/fhir/Observation/o1');
    audit.decided({ allowed: true, rule: 'attending.care-team', policyVersion: 'v7' }, 'p1');
    const [e] = entriesFor(audit, { status: 200, headers: { ETag: 'W/"4"' } }, NOW);
    expect(e).toEqual({
      recorded: NOW.toISOString(),
      requestId: 'req-9',
      action: 'R',
      subtype: 'read',
      lifecycle: 'access',
      outcome: 0,
      status: 200,
      agent: { id: 'dr-li', practitioner: 'Practitioner/dr-li', roles: ['attending'], department: 'cardio', ip: '10.0.0.7', userAgent: 'HIS/1.0' },
      entity: { type: 'Observation', id: 'o1', version: '4' },
      patient: 'p1',
      policyVersion: 'v7',
      rule: 'attending.care-team',
      method: 'GET',
      path: '/fhir/Observation/o1',
    });
  });

  it('R-22: a search records one entry per patient in its results, each with the query', () => {
    const audit = request('GET', '/fhir/Observation', 'code=x');
    audit.ranUnder('v7');
    audit.concerns(['p1', 'p2', undefined, 'p1']);
    const entries = entriesFor(audit, { status: 200 }, NOW);
    expect(entries.map((e) => e.patient)).toEqual(['p1', 'p2']);
    expect(entries.every((e) => e.entity?.query === 'code=x' && e.action === 'E' && e.subtype === 'search-type' && e.policyVersion === 'v7')).toBe(true);
  });

  it('R-20: a refusal is recorded against the patient it was refused for, with the error code, the first refusal explaining it', () => {
    const audit = request('GET', '/fhir/Observation/o1');
    audit.decided({ allowed: false, rule: undefined, policyVersion: 'v7' }, 'p3');
    audit.decided({ allowed: true, rule: 'later', policyVersion: 'v7' }, 'p4');
    const body = { resourceType: 'OperationOutcome', issue: [{ details: { coding: [{ system: 'https://chartwarden.dev/fhir/CodeSystem/error-code', code: 'access.forbidden' }] } }] };
    const [e] = entriesFor(audit, { status: 403, body }, NOW);
    expect(e).toMatchObject({ outcome: 4, status: 403, error: 'access.forbidden', patient: 'p3' });
    expect(e.rule).toBeUndefined();
  });

  it('R-51: a write whose entry was committed with its version is not recorded twice; a failed one is', () => {
    const audit = request('POST', '/fhir/Observation');
    audit.journaled.push(entryFor(audit, { status: 201 }, NOW));
    expect(entriesFor(audit, { status: 201 }, NOW)).toEqual([]);
    expect(entriesFor(audit, { status: 412 }, NOW)).toHaveLength(1);
  });

  it('R-20: an unidentified caller (401) is recorded without an agent id; the CapabilityStatement is not recorded', () => {
    const audit = new RequestAudit('req-1', 'GET', '/fhir/Patient/p1', '', '10.0.0.8', undefined, interactionOf('GET', '/fhir/Patient/p1'));
    const [e] = entriesFor(audit, { status: 401 }, NOW);
    expect(e.agent).toEqual({ roles: [], ip: '10.0.0.8' });
    expect(e.outcome).toBe(4);
    expect(entriesFor(new RequestAudit('r', 'GET', '/fhir/metadata', '', undefined, undefined, interactionOf('GET', '/fhir/metadata')), { status: 200 }, NOW)).toEqual([]);
  });

  it('R-22: outcome codes: 0 success, 4 refused or invalid, 8 server failure', () => {
    expect([200, 201, 304, 400, 401, 403, 404, 409, 412, 422, 500, 503].map(outcomeOf)).toEqual([0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 8, 8]);
  });
});

describe('BALP AuditEvent rendering (R-22)', () => {
  it('R-22: a read renders as DCM 110110, restful-interaction read, action R, patient role 1, record role 4 with its version', () => {
    const audit = request('GET', '/fhir/Observation/o1');
    audit.decided({ allowed: true, rule: 'attending.care-team', policyVersion: 'v7' }, 'p1');
    const [e] = entriesFor(audit, { status: 200, headers: { ETag: 'W/"4"' } }, NOW);
    const event = toAuditEvent('3-17', e, 'ab'.repeat(32));
    expect(event).toMatchObject({
      resourceType: 'AuditEvent',
      id: '3-17',
      type: { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110110' },
      subtype: [
        { system: 'http://hl7.org/fhir/restful-interaction', code: 'read' },
        { system: 'http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle', code: 'access' },
      ],
      action: 'R',
      recorded: NOW.toISOString(),
      outcome: '0',
      agent: [{ requestor: true, who: { reference: 'Practitioner/dr-li', identifier: { value: 'dr-li' } }, network: { address: '10.0.0.7' } }],
      entity: [
        { what: { reference: 'Patient/p1' }, role: { code: '1' } },
        { what: { reference: 'Observation/o1/_history/4' }, role: { code: '4' } },
      ],
    });
    const ext = event.extension?.[0].extension ?? [];
    expect(ext).toEqual(expect.arrayContaining([{ url: 'rule', valueString: 'attending.care-team' }, { url: 'hash', valueString: 'ab'.repeat(32) }]));
  });

  it('R-22: a search renders its query base64 as a role-24 entity; a disclosure is DCM 110106 Export; break-the-glass is purpose BTG', () => {
    const search = request('GET', '/fhir/Observation', 'patient=p1');
    const [s] = entriesFor(search, { status: 200 }, NOW);
    expect(toAuditEvent('1-1', s, '').entity?.[0]).toMatchObject({ role: { code: '24' }, query: Buffer.from('patient=p1').toString('base64') });
    const disclose = toAuditEvent('1-2', { ...s, lifecycle: 'disclose' }, '');
    expect(disclose.type).toMatchObject({ code: '110106', display: 'Export' });
    const btg = toAuditEvent('1-3', { ...s, purpose: 'BTG', breakGlass: { reason: 'cardiac arrest' } }, '');
    expect(btg.purposeOfEvent?.[0].coding?.[0]).toMatchObject({ code: 'BTG' });
    expect(btg.outcomeDesc).toBeUndefined();
    expect(toAuditEvent('1-4', { ...s, outcome: 4, status: 403, error: 'access.forbidden' }, '').outcomeDesc).toBe('HTTP 403 access.forbidden');
  });
});
