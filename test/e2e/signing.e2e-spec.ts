import { randomUUID } from 'node:crypto';
import type { Composition, DocumentReference, Encounter, Observation, OperationOutcome, Organization, Patient, Provenance, Resource } from '@medplum/fhirtypes';
import type { AuditEntry } from '../../src/audit/domain/audit-entry.js';
import type { LedgerEntry } from '../../src/governance/domain/ledger.js';
import type { AuditRow, LedgerRow } from '../support/database-rows.js';
import { httpRequest, type HttpResult } from '../support/http.js';
import { editable, expectOutcome, expectStatus } from '../support/fhir-expect.js';
import { closeAll, connectTestDatabase, startTestServer, TestClock, type TestServer } from '../support/test-app.js';

/**
 * `$sign` (issue #4, R-13 / R-14) end to end, over real HTTP and PostgreSQL: the author
 * confirms a document. It becomes final with who signed and when (Composition.attester
 * `legal`, DocumentReference.authenticator), and a Provenance carrying the electronic
 * signature is stored with it, each with its ledger and audit entries under the request's id.
 * Refusals: not an author (403), a provisional licence (422: a co-signature is needed, R-14),
 * already signed (409), not a document (400), no `sign` rule in the policy (403). Signing
 * is not an edit: it is allowed after the edit window closed, and a signed document
 * changes afterwards only with a stated reason.
 *
 * The database is shared by every test file of the run: every check filters by this suite's
 * own ids (server-assigned UUIDs), request ids and token subs, all unique.
 */

const run = randomUUID();
const short = run.slice(0, 8);
const LOINC = 'http://loinc.org';
const HOUR = 3_600_000;
const DEPT = `sig-dept-${short}`;
const OTHER_DEPT = `sig-other-${short}`;
const REASON_ZH = '补充上级医师意见';

const AUTHOR_SIGNATURE = { system: 'urn:iso-astm:E1762-95:2013', code: '1.2.840.10065.1.12.1.1' };
const LEGAL_AUTHENTICATOR = { system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'LA' };
const AUTHOR = { system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'author' };

/** The operators of this suite: token sub, the Practitioner they are, and their token. */
interface Operator {
  sub: string;
  ref: string;
  token: string;
}

type Res<T = OperationOutcome> = HttpResult<T> & { rid: string };
type Doc = (Composition | DocumentReference) & { id: string };

const narrative = (text: string) => ({ status: 'generated' as const, div: `<div xmlns="http://www.w3.org/1999/xhtml">${text}</div>` });
const reason = (text: string) => ({ 'x-edit-reason': encodeURIComponent(text) });




/** A server, its clock, one department with one inpatient, and the calls the tests make. */
async function signingFixture() {
  const clock = new TestClock();
  const server: TestServer = await startTestServer({ clock });
  const db = await connectTestDatabase();
  const label = randomUUID().slice(0, 8);
  const operator = async (name: string, claims: { roles: string[]; department?: string; licence?: 'licensed' | 'intern' | 'probation' | 'visiting'; fhirUser?: false }): Promise<Operator> => {
    const sub = `sig-${name}-${label}-${run}`;
    // With `fhirUser: false` the token has no fhirUser claim: the Practitioner is derived from the sub.
    const ref = claims.fhirUser === false ? `Practitioner/${sub}` : `Practitioner/sig-${name}-${label}`;
    const token = await server.token({ sub, roles: claims.roles, department: claims.department, licence: claims.licence, ...(claims.fhirUser === false ? {} : { fhirUser: ref }) });
    return { sub, ref, token };
  };
  const ops = {
    his: await operator('his', { roles: ['his-system'], fhirUser: false }),
    attending: await operator('attending', { roles: ['attending'], department: DEPT, licence: 'licensed' }),
    colleague: await operator('colleague', { roles: ['attending'], department: DEPT, licence: 'licensed' }),
    outsider: await operator('outsider', { roles: ['attending'], department: OTHER_DEPT, licence: 'licensed' }),
    chief: await operator('chief', { roles: ['chief'], department: DEPT, licence: 'licensed', fhirUser: false }),
    resident: await operator('resident', { roles: ['resident'], department: DEPT, licence: 'licensed' }),
    intern: await operator('intern', { roles: ['intern'], department: DEPT, licence: 'intern' }),
    probationer: await operator('probationer', { roles: ['resident'], department: DEPT, licence: 'probation' }),
    visiting: await operator('visiting', { roles: ['attending'], department: DEPT, licence: 'visiting' }),
    unstated: await operator('unstated', { roles: ['attending'], department: DEPT }),
    nurse: await operator('nurse', { roles: ['nurse'], department: DEPT }),
    admin: await operator('admin', { roles: ['admin'] }),
  };

  async function send<T = OperationOutcome>(op: Operator, method: string, path: string, options: { body?: unknown; headers?: Record<string, string> } = {}): Promise<Res<T>> {
    const rid = `sig-${randomUUID()}`;
    const headers = { accept: 'application/fhir+json, application/json', 'x-request-id': rid, ...options.headers };
    const res = await httpRequest<T>(`${server.fhirBase}/${path}`, method, { token: op.token, body: options.body, headers });
    expect(res.headers.get('x-request-id')).toBe(rid);
    return { ...res, rid };
  }

  for (const [id, name] of [
    [DEPT, 'Cardiology (signing e2e)'],
    [OTHER_DEPT, 'Neurology (signing e2e)'],
  ]) {
    const org: Organization = { resourceType: 'Organization', id, name };
    expect([200, 201]).toContain((await send(ops.his, 'PUT', `Organization/${id}`, { body: org })).status);
  }
  const p = await send<Patient>(ops.his, 'POST', 'Patient', { body: { resourceType: 'Patient', identifier: [{ system: `urn:chartwarden-e2e:signing:${run}`, value: label }], name: [{ text: '张伟' }] } });
  expectStatus(p, 201);
  const patient = p.body.id as string;
  const e = await send<Encounter>(ops.his, 'POST', 'Encounter', {
    body: {
      resourceType: 'Encounter',
      status: 'in-progress',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
      subject: { reference: `Patient/${patient}` },
      serviceProvider: { reference: `Organization/${DEPT}` },
      // The care team: the attending, the resident, the intern and the probationer.
      participant: [ops.attending, ops.resident, ops.intern, ops.probationer].map((o) => ({ individual: { reference: o.ref } })),
    } satisfies Encounter,
  });
  expectStatus(e, 201);
  const encounter = e.body.id as string;

  const progressNote = (title: string, authors: Operator[], extra: Partial<Composition> = {}): Composition => ({
    resourceType: 'Composition',
    status: 'preliminary',
    type: { coding: [{ system: LOINC, code: '11506-3', display: 'Progress note' }] },
    subject: { reference: `Patient/${patient}` },
    encounter: { reference: `Encounter/${encounter}` },
    date: '2026-11-29T10:00:00+08:00',
    author: authors.map((a) => ({ reference: a.ref })),
    title,
    section: [{ title: '病情记录', text: narrative(title) }],
    ...extra,
  });
  const dischargeSummary = (authors: Operator[], extra: Partial<DocumentReference> = {}): DocumentReference => ({
    resourceType: 'DocumentReference',
    status: 'current',
    docStatus: 'preliminary',
    type: { coding: [{ system: LOINC, code: '18842-5' }] },
    subject: { reference: `Patient/${patient}` },
    context: { encounter: [{ reference: `Encounter/${encounter}` }] },
    author: authors.map((a) => ({ reference: a.ref })),
    description: '出院记录',
    content: [{ attachment: { contentType: 'text/plain; charset=utf-8', data: Buffer.from('出院诊断：急性心肌梗死', 'utf8').toString('base64') } }],
    ...extra,
  });

  async function create<T extends Resource>(op: Operator, resource: T): Promise<T & { id: string }> {
    const res = await send<T & { id: string }>(op, 'POST', resource.resourceType, { body: resource });
    expectStatus(res, 201);
    return res.body;
  }
  const sign = (op: Operator, type: string, id: string) => send<Provenance>(op, 'POST', `${type}/${id}/$sign`);
  const put = <T extends Resource>(op: Operator, resource: T, headers: Record<string, string> = {}) =>
    send<T & { id: string }>(op, 'PUT', `${resource.resourceType}/${resource.id}`, { body: editable(resource), headers });
  const read = async <T extends Resource>(type: string, id: string) => {
    const res = await send<T & { id: string }>(ops.his, 'GET', `${type}/${id}`);
    expectStatus(res, 200);
    return res.body;
  };
  const ledgerOf = async (type: string, id: string) =>
    (await db.query<LedgerRow>('SELECT * FROM edit_ledger WHERE resource_type = $1 AND resource_id = $2 ORDER BY version_id', [type, id])).rows;
  const ledgerRowsOfRequest = async (rid: string) => (await db.query<LedgerRow>(`SELECT * FROM edit_ledger WHERE entry LIKE '%' || $1 || '%' ORDER BY resource_type, version_id`, [rid])).rows;
  const auditOf = async (rid: string) => (await db.query<AuditRow>('SELECT * FROM audit_entry WHERE request_id = $1 ORDER BY chain, seq', [rid])).rows;
  const provenancesFor = async (type: string, id: string) =>
    (await db.query<{ id: string }>(`SELECT id FROM fhir_resource WHERE resource_type = 'Provenance' AND content->'target'->0->>'reference' LIKE $1`, [`${type}/${id}/_history/%`])).rows;

  /** A refused `$sign`: the document is as it was, no ledger row, one audit failure entry with the error code. */
  async function expectSignRefused(res: Res<unknown>, doc: Doc, actor: Operator, status: number, errorCode: string): Promise<void> {
    const now = await read<Doc>(doc.resourceType, doc.id);
    expect(now.meta?.versionId).toBe(doc.meta?.versionId);
    expect(doc.resourceType === 'Composition' ? (now as Composition).status : (now as DocumentReference).docStatus).toBe(
      doc.resourceType === 'Composition' ? (doc as Composition).status : (doc as DocumentReference).docStatus,
    );
    expect(await ledgerRowsOfRequest(res.rid)).toEqual([]);
    const audit = await auditOf(res.rid);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor: actor.sub, action: 'E', subtype: 'sign', outcome: 4, entity_type: doc.resourceType, entity_id: doc.id });
    expect(JSON.parse(audit[0].content) as AuditEntry).toMatchObject({ requestId: res.rid, status, error: errorCode });
  }

  return {
    clock,
    server,
    db,
    ops,
    patient,
    send,
    create,
    sign,
    put,
    read,
    progressNote,
    dischargeSummary,
    ledgerOf,
    ledgerRowsOfRequest,
    auditOf,
    provenancesFor,
    expectSignRefused,
    close: () => closeAll(db, server),
  };
}

type Fixture = Awaited<ReturnType<typeof signingFixture>>;

describe('R-13 / R-14 $sign (e2e, real HTTP + PostgreSQL)', () => {
  let f: Fixture;

  beforeAll(async () => {
    f = await signingFixture();
  }, 30_000);
  afterAll(() => f?.close());

  describe('R-13: the author signs', () => {
    let doc: Composition & { id: string };
    let signed: Res<Provenance>;
    let signedAt = 0;

    beforeAll(async () => {
      doc = await f.create(f.ops.attending, f.progressNote('日常病程记录', [f.ops.attending]));
      signedAt = f.clock.now().getTime();
      signed = await f.sign(f.ops.attending, 'Composition', doc.id);
    });

    it('R-13: a licensed attending of the department, author of the note, signs → 200 with the stored Provenance: activity LA, agent author, ASTM author\'s signature by them, target the new version', () => {
      expectStatus(signed, 200);
      const prov = signed.body;
      expect(prov.resourceType).toBe('Provenance');
      expect(prov.id).toEqual(expect.any(String));
      expect(prov.meta?.versionId).toBe('1');
      expect(prov.target).toEqual([{ reference: `Composition/${doc.id}/_history/2` }]);
      expect(prov.activity?.coding).toEqual([expect.objectContaining(LEGAL_AUTHENTICATOR)]);
      expect(prov.agent).toEqual([{ type: { coding: [expect.objectContaining(AUTHOR)] }, who: { reference: f.ops.attending.ref } }]);
      expect(prov.signature).toHaveLength(1);
      const [signature] = prov.signature ?? [];
      expect(signature.type).toEqual([expect.objectContaining(AUTHOR_SIGNATURE)]);
      expect(signature.who).toEqual({ reference: f.ops.attending.ref });
      // The signing time is the recorded time, the server's time of the request.
      expect(signature.when).toBe(prov.recorded);
      expect(Math.abs(Date.parse(prov.recorded as string) - signedAt)).toBeLessThan(60_000);
      expect(signed.headers.get('content-location')).toBe(`${f.server.fhirBase}/Composition/${doc.id}/_history/2`);
    });

    it('R-13: GET the note → status final, version 2, attester legal with the signing time and the signer; the content otherwise as written', async () => {
      const now = await f.read<Composition>('Composition', doc.id);
      expect(now.meta?.versionId).toBe('2');
      expect(now.status).toBe('final');
      expect(now.attester).toEqual([{ mode: 'legal', time: signed.body.recorded, party: { reference: f.ops.attending.ref } }]);
      const { meta: _m1, status: _s1, attester: _a1, ...rest } = now;
      const { meta: _m2, status: _s2, ...written } = doc;
      expect(rest).toEqual(written);
      // The signed version is the one Content-Location names, and it is in the history.
      const v2 = await f.send<Composition>(f.ops.attending, 'GET', `Composition/${doc.id}/_history/2`);
      expectStatus(v2, 200);
      expect(v2.body).toEqual(now);
      const v1 = await f.send<Composition>(f.ops.attending, 'GET', `Composition/${doc.id}/_history/1`);
      expectStatus(v1, 200);
      expect(v1.body).toMatchObject({ status: 'preliminary' });
      expect(v1.body.attester).toBeUndefined();
    });

    it('R-13: the Provenance is stored and readable by GET (HIS), exactly as returned; it is the only one for the note', async () => {
      // The HIS reads it. The Provenance has no R4 link to the patient (its target is the
      // document), so clinicians see signer and time on the document itself (attester, R-13).
      const res = await f.send<Provenance>(f.ops.his, 'GET', `Provenance/${signed.body.id}`);
      expectStatus(res, 200);
      expect(res.body).toEqual(signed.body);
      expect(await f.provenancesFor('Composition', doc.id)).toEqual([{ id: signed.body.id }]);
    });

    it('R-12 / R-13: the edit ledger records the signed version (kind sign, by the signer, with the request id); the Provenance is not governed and has no ledger row', async () => {
      const ledger = await f.ledgerOf('Composition', doc.id);
      expect(ledger.map((r) => [r.version_id, r.kind, r.editor])).toEqual([
        [1, 'create', f.ops.attending.sub],
        [2, 'sign', f.ops.attending.sub],
      ]);
      expect(ledger[1]).toMatchObject({ reason: null, doc_type: 'daily-progress-note' });
      const entry = JSON.parse(ledger[1].entry) as LedgerEntry;
      expect(entry).toMatchObject({ kind: 'sign', version: 2, practitioner: f.ops.attending.ref, requestId: signed.rid });
      expect(entry.diff).toEqual(
        expect.arrayContaining([
          { op: 'replace', path: '/status', value: 'final' },
          { op: 'add', path: '/attester', value: [{ mode: 'legal', time: signed.body.recorded, party: { reference: f.ops.attending.ref } }] },
        ]),
      );
      expect(await f.ledgerOf('Provenance', signed.body.id as string)).toEqual([]);
      expect((await f.ledgerRowsOfRequest(signed.rid)).map((r) => [r.resource_type, r.resource_id, r.version_id])).toEqual([['Composition', doc.id, 2]]);
    });

    it('R-13 / R-20: the audit trail holds, under the response\'s X-Request-Id, the signing (U sign, lifecycle attest, the note\'s v2) and the Provenance\'s creation', async () => {
      const audit = await f.auditOf(signed.rid);
      const byEntity = Object.fromEntries(audit.map((a) => [a.entity_type, a]));
      expect(audit).toHaveLength(2);
      expect(byEntity.Composition).toMatchObject({ actor: f.ops.attending.sub, action: 'U', subtype: 'sign', outcome: 0, entity_id: doc.id });
      expect(JSON.parse(byEntity.Composition.content) as AuditEntry).toMatchObject({
        requestId: signed.rid,
        lifecycle: 'attest',
        status: 200,
        entity: { type: 'Composition', id: doc.id, version: '2' },
        patient: f.patient,
        agent: { id: f.ops.attending.sub, practitioner: f.ops.attending.ref, roles: ['attending'], department: DEPT },
      });
      expect(byEntity.Provenance).toMatchObject({ actor: f.ops.attending.sub, action: 'C', subtype: 'create', outcome: 0, entity_id: signed.body.id });
      expect(JSON.parse(byEntity.Provenance.content) as AuditEntry).toMatchObject({ requestId: signed.rid, lifecycle: 'originate', entity: { type: 'Provenance', id: signed.body.id, version: '1' } });
    });

    it('R-13: a second $sign → 409 governance.already-signed; no new version, no new Provenance', async () => {
      const before = await f.read<Composition>('Composition', doc.id);
      const again = await f.sign(f.ops.attending, 'Composition', doc.id);
      const outcome = expectOutcome(again, 409, 'conflict', 'governance.already-signed');
      expect(outcome.issue?.[0].diagnostics).toContain(`Composition/${doc.id} is final: it was signed already`);
      await f.expectSignRefused(again, before, f.ops.attending, 409, 'governance.already-signed');
      expect(await f.provenancesFor('Composition', doc.id)).toEqual([{ id: signed.body.id }]);
    });
  });

  it('R-13: a licensed attending of the department who is not an author → 403 governance.not-author; the note stays preliminary', async () => {
    const doc = await f.create(f.ops.attending, f.progressNote('首次病程记录', [f.ops.attending]));
    const res = await f.sign(f.ops.colleague, 'Composition', doc.id);
    const outcome = expectOutcome(res, 403, 'forbidden', 'governance.not-author');
    expect(outcome.issue?.[0].diagnostics).toContain(`${f.ops.colleague.ref} is not among its authors`);
    await f.expectSignRefused(res, doc, f.ops.colleague, 403, 'governance.not-author');
    expect(await f.provenancesFor('Composition', doc.id)).toEqual([]);
  });

  it('R-14: an intern author (licence intern) → 422 governance.cosign-required; the note stays preliminary in the same version, no Provenance', async () => {
    const doc = await f.create(f.ops.intern, f.progressNote('首次病程记录（实习医师）', [f.ops.intern]));
    const res = await f.sign(f.ops.intern, 'Composition', doc.id);
    const outcome = expectOutcome(res, 422, 'business-rule', 'governance.cosign-required');
    expect(outcome.issue?.[0].diagnostics).toContain(`Composition/${doc.id} stays provisional`);
    expect(outcome.issue?.[0].diagnostics).toContain('co-signed by a physician licensed at this hospital (R-14)');
    await f.expectSignRefused(res, doc, f.ops.intern, 422, 'governance.cosign-required');
    expect(await f.provenancesFor('Composition', doc.id)).toEqual([]);
    expect((await f.ledgerOf('Composition', doc.id)).map((r) => r.kind)).toEqual(['create']);
  });

  it('R-14: a probationer (licence probation), an unapproved visiting doctor (visiting) and a doctor whose token states no licence are refused too (422 cosign-required)', async () => {
    const doc = await f.create(f.ops.his, f.progressNote('日常病程记录（待审）', [f.ops.probationer, f.ops.visiting, f.ops.unstated]));
    for (const [op, says] of [
      [f.ops.probationer, 'a physician on probation'],
      [f.ops.visiting, 'a visiting doctor not yet approved'],
      [f.ops.unstated, 'an operator whose licence is not stated'],
    ] as const) {
      const res = await f.sign(op, 'Composition', doc.id);
      expect(expectOutcome(res, 422, 'business-rule', 'governance.cosign-required').issue?.[0].diagnostics).toContain(says);
      await f.expectSignRefused(res, doc, op, 422, 'governance.cosign-required');
    }
    expect(await f.provenancesFor('Composition', doc.id)).toEqual([]);
  });

  it('R-13: a licensed resident on the care team, author of a discharge summary (DocumentReference), signs → docStatus final + authenticator; the Provenance targets the DocumentReference version', async () => {
    const doc = await f.create(f.ops.resident, f.dischargeSummary([f.ops.resident]));
    const res = await f.sign(f.ops.resident, 'DocumentReference', doc.id);
    expectStatus(res, 200);
    expect(res.body).toMatchObject({
      resourceType: 'Provenance',
      target: [{ reference: `DocumentReference/${doc.id}/_history/2` }],
      agent: [{ who: { reference: f.ops.resident.ref } }],
      signature: [{ who: { reference: f.ops.resident.ref }, when: res.body.recorded }],
    });
    expect(res.headers.get('content-location')).toBe(`${f.server.fhirBase}/DocumentReference/${doc.id}/_history/2`);
    const now = await f.read<DocumentReference>('DocumentReference', doc.id);
    expect(now).toMatchObject({ docStatus: 'final', status: 'current', authenticator: { reference: f.ops.resident.ref }, meta: { versionId: '2' } });
    const ledger = await f.ledgerOf('DocumentReference', doc.id);
    expect(ledger.map((r) => [r.version_id, r.kind, r.editor, r.doc_type])).toEqual([
      [1, 'create', f.ops.resident.sub, 'discharge-record'],
      [2, 'sign', f.ops.resident.sub, 'discharge-record'],
    ]);
    expect((await f.auditOf(res.rid)).map((a) => [a.entity_type, a.subtype])).toEqual(
      expect.arrayContaining([
        ['DocumentReference', 'sign'],
        ['Provenance', 'create'],
      ]),
    );
    expectOutcome(await f.sign(f.ops.resident, 'DocumentReference', doc.id), 409, 'conflict', 'governance.already-signed');
  });

  it('R-13: a chief of the department whose token has no fhirUser signs as Practitioner/<sub>', async () => {
    const doc = await f.create(f.ops.his, f.progressNote('上级医师查房记录', [f.ops.chief]));
    const res = await f.sign(f.ops.chief, 'Composition', doc.id);
    expectStatus(res, 200);
    expect(f.ops.chief.ref).toBe(`Practitioner/${f.ops.chief.sub}`);
    expect(res.body.signature?.[0].who).toEqual({ reference: f.ops.chief.ref });
    expect((await f.read<Composition>('Composition', doc.id)).attester?.[0].party).toEqual({ reference: f.ops.chief.ref });
  });

  it('R-02 / R-13: roles without a `sign` rule (his-system, nurse, admin) → 403 access.forbidden, even when named as an author; a licensed attending of another department → 403 too', async () => {
    const doc = await f.create(f.ops.his, f.progressNote('护理交班', [f.ops.his, f.ops.nurse, f.ops.admin, f.ops.outsider]));
    for (const op of [f.ops.his, f.ops.nurse, f.ops.admin, f.ops.outsider]) {
      const res = await f.sign(op, 'Composition', doc.id);
      expectOutcome(res, 403, 'forbidden', 'access.forbidden');
      await f.expectSignRefused(res, doc, op, 403, 'access.forbidden');
    }
    expect(await f.provenancesFor('Composition', doc.id)).toEqual([]);
  });

  it('R-13: $sign on a resource that is not a clinical document (Observation, Patient) → 400 governance.not-governed; a document that does not exist → 404', async () => {
    const obs = await f.create(f.ops.his, {
      resourceType: 'Observation',
      status: 'preliminary',
      code: { coding: [{ system: LOINC, code: '8867-4' }] },
      subject: { reference: `Patient/${f.patient}` },
      performer: [{ reference: f.ops.attending.ref }],
    } satisfies Observation);
    const res = await f.sign(f.ops.attending, 'Observation', obs.id);
    const outcome = expectOutcome(res, 400, 'not-supported', 'governance.not-governed');
    expect(outcome.issue?.[0].diagnostics).toContain('not Observation');
    expect((await f.read<Observation>('Observation', obs.id)).meta?.versionId).toBe('1');
    expectOutcome(await f.sign(f.ops.attending, 'Patient', f.patient), 400, 'not-supported', 'governance.not-governed');
    const missing = await f.sign(f.ops.attending, 'Composition', randomUUID());
    expect(missing.status).toBe(404);
    expect(missing.body?.resourceType).toBe('OperationOutcome');
  });

  it('R-12: a signed note changes later only with X-Edit-Reason: without → 422 governance.reason-required (nothing written), with it (percent-encoded Chinese) → 200 within 24 h of signing; the ledger keeps the reason', async () => {
    const doc = await f.create(f.ops.attending, f.progressNote('日常病程记录（待修改）', [f.ops.attending]));
    expectStatus(await f.sign(f.ops.attending, 'Composition', doc.id), 200);
    const v2 = await f.read<Composition>('Composition', doc.id);
    f.clock.advance(20 * HOUR);

    const without = await f.put(f.ops.attending, { ...v2, title: '日常病程记录（已修改）' });
    const outcome = expectOutcome(without, 422, 'business-rule', 'governance.reason-required');
    expect(outcome.issue?.[0].diagnostics).toContain('X-Edit-Reason');
    expect((await f.read<Composition>('Composition', doc.id)).meta?.versionId).toBe('2');
    expect(await f.ledgerRowsOfRequest(without.rid)).toEqual([]);

    const withReason = await f.put(f.ops.attending, { ...v2, title: '日常病程记录（已修改）' }, reason(REASON_ZH));
    expectStatus(withReason, 200);
    expect(withReason.body).toMatchObject({ status: 'final', title: '日常病程记录（已修改）', meta: { versionId: '3' } });
    const ledger = await f.ledgerOf('Composition', doc.id);
    expect(ledger.map((r) => [r.version_id, r.kind, r.reason])).toEqual([
      [1, 'create', null],
      [2, 'sign', null],
      [3, 'update', REASON_ZH],
    ]);
  });

  it('R-11 / R-13: signing is not an edit: 73 h after creation the author\'s own edit of the draft is refused (422 edit-window-closed), yet $sign → 200 (final, attested, Provenance, ledger sign); then 24 h from the signing are open', async () => {
    const doc = await f.create(f.ops.attending, f.progressNote('日常病程记录（逾期签名）', [f.ops.attending]));
    f.clock.advance(73 * HOUR);
    const late = await f.put(f.ops.attending, { ...doc, title: '日常病程记录（逾期修改）' });
    expectOutcome(late, 422, 'business-rule', 'governance.edit-window-closed');
    expect((await f.read<Composition>('Composition', doc.id)).meta?.versionId).toBe('1');

    const res = await f.sign(f.ops.attending, 'Composition', doc.id);
    expectStatus(res, 200);
    expect(res.body.target).toEqual([{ reference: `Composition/${doc.id}/_history/2` }]);
    expect(res.body.signature?.[0]).toMatchObject({ who: { reference: f.ops.attending.ref }, when: res.body.recorded });
    const now = await f.read<Composition>('Composition', doc.id);
    expect(now).toMatchObject({ status: 'final', meta: { versionId: '2' }, attester: [{ mode: 'legal', time: res.body.recorded, party: { reference: f.ops.attending.ref } }] });
    expect((await f.ledgerOf('Composition', doc.id)).map((r) => [r.version_id, r.kind])).toEqual([
      [1, 'create'],
      [2, 'sign'],
    ]);
    expect(await f.provenancesFor('Composition', doc.id)).toEqual([{ id: res.body.id }]);

    f.clock.advance(HOUR);
    const amended = await f.put(f.ops.attending, { ...now, title: '日常病程记录（签名后补充）' }, reason('补充'));
    expectStatus(amended, 200);
    expect(amended.body.meta?.versionId).toBe('3');
  });
});
