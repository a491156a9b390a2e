import { canonicalize } from 'json-canonicalize';
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

  it('R-21: a value clipped to its column never ends in half a surrogate pair (the entry stays storable)', () => {
    const audit = request('GET', '/fhir/Observation/o1');
    audit.actor = { ...actor, id: `${'a'.repeat(126)}😀😀` };
    const [e] = entriesFor(audit, { status: 200 }, NOW);
    expect(e.agent.id).toBe(`${'a'.repeat(126)}…`);
    expect(e.agent.id).not.toMatch(/[\ud800-\udbff]…/);
  });

  it('R-21: an entry is built with its keys in canonical order, so its chain text is the entry as built (no sorted copy)', () => {
    const full = request('GET', '/fhir/Observation', '_id=o1,o2');
    full.breakGlass = { reason: '抢救' };
    full.decided({ allowed: true, rule: 'attending.break-glass', policyVersion: 'v7', breakGlassId: 'btg-1', grantId: 'g-1' }, 'p1');
    const disclosing = {
      action: 'E' as const,
      subtype: 'copy-produce',
      lifecycle: 'disclose',
      entity: { type: 'CopyRequest', id: 'c1', version: '2' },
      disclosed: [{ type: 'Observation', id: 'o1', version: '3' }],
    };
    const refused = request('GET', '/fhir/Observation/o9');
    const entries = [
      ...entriesFor(full, { status: 200 }, NOW),
      entryFor(full, { status: 201, headers: { Location: '/fhir/CopyRequest/c1/_history/2' } }, NOW, { interaction: disclosing, patient: 'p1' }),
      ...entriesFor(refused, { status: 403, body: { resourceType: 'OperationOutcome', issue: [{ details: { coding: [{ system: 'https://chartwarden.dev/fhir/CodeSystem/error-code', code: 'access.forbidden' }] } }] } }, NOW),
    ];
    // Every optional part is there: the order of each is checked.
    expect(entries[0]).toMatchObject({ breakGlass: { id: 'btg-1', reason: '抢救' }, grantId: 'g-1', purpose: 'BTG', entity: { query: '_id=o1,o2' }, patient: 'p1' });
    expect(entries[1]).toMatchObject({ disclosed: [{ type: 'Observation', id: 'o1', version: '3' }], lifecycle: 'disclose', entity: { id: 'c1', version: '2' } });
    expect(entries[2]).toMatchObject({ error: 'access.forbidden', outcome: 4 });
    for (const e of entries) expect(JSON.stringify(e)).toBe(canonicalize(e));
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

  it('R-20/R-34: a disclosure names each version it handed out, once, on success only; the AuditEvent lists each as a role-4 entity', () => {
    const produce = request('POST', '/copy-requests/cr1/produce');
    const versions = [
      { type: 'Composition', id: 'c1', version: '2' },
      { type: 'Composition', id: 'c2', version: '1' },
      { type: 'Composition', id: 'c1', version: '2' },
    ];
    produce.as({ disclosed: versions });
    const ok = entryFor(produce, { status: 201 }, NOW, { patient: 'p1' });
    expect(ok).toMatchObject({ subtype: 'copy-produce', lifecycle: 'disclose', entity: { type: 'CopyRequest', id: 'cr1' }, patient: 'p1' });
    expect(ok.disclosed).toEqual([versions[0], versions[1]]);
    const failed = entryFor(produce, { status: 409 }, NOW, { patient: 'p1' });
    expect(failed.disclosed).toBeUndefined();
    const event = toAuditEvent('2-1', ok, '');
    expect(event.type).toMatchObject({ code: '110106' });
    expect(event.entity?.map((e) => [e.what?.reference, e.role?.code])).toEqual([
      ['Patient/p1', '1'],
      ['CopyRequest/cr1', '4'],
      ['Composition/c1/_history/2', '4'],
      ['Composition/c2/_history/1', '4'],
    ]);
  });

  it('R-20: a print names its version as the entity and is not listed twice', () => {
    const print = request('GET', '/fhir/Composition/c1/$print');
    const version = { type: 'Composition', id: 'c1', version: '3' };
    print.as({ entity: version, disclosed: [version] });
    const [e] = entriesFor(print, { status: 200 }, NOW);
    expect(e).toMatchObject({ subtype: 'print', lifecycle: 'disclose', entity: version, disclosed: [version] });
    expect(toAuditEvent('2-2', e, '').entity?.map((x) => x.what?.reference)).toEqual(['Composition/c1/_history/3']);
  });
});
