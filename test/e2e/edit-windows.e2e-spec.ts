import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Bundle, Composition, DocumentReference, Encounter, Observation, OperationOutcome, Organization, Patient, Provenance, Resource } from '@medplum/fhirtypes';
import { parse } from 'yaml';
import type { AuditEntry } from '../../src/audit/domain/audit-entry.js';
import { defaultPolicyPath } from '../../src/policy/policy.loader.js';
import type { AuditRow } from '../support/database-rows.js';
import { inpatientStay } from '../support/fhir-builders.js';
import { httpRequest, type HttpResult } from '../support/http.js';
import { editable, expectOutcome } from '../support/fhir-expect.js';
import { closeAll, connectTestDatabase, startTestServer, TestClock, type TestServer } from '../support/test-app.js';

/**
 * Edit windows (issue #4, R-10 / R-11) end to end, over real HTTP and PostgreSQL, with the
 * server's time moved by a TestClock instead of waited for: an update of a governed document
 * (Composition, DocumentReference) outside the operator's window, or with no window for their
 * roles, is refused with 422 `business-rule` / `governance.edit-window-closed` naming the
 * instant the window closed, and nothing changes (same version, same history, no ledger row),
 * while the audit trail records the refusal. Creating a document is never window-bound.
 *
 * The windows are the shipped policy's (`governance.editWindows`): attending/chief/resident
 * 72 h from creation or 24 h from signing (the most generous applies), intern 24 h from
 * creation, nurse 24 h on nursing-record / temperature-chart, his-system 720 h.
 *
 * The clock of a server only moves forward and is shared by its tests: each test creates its
 * own documents first, then moves time, so no test depends on another's documents. The
 * database is shared by every test file of the run: every check filters by this suite's own
 * ids (server-assigned UUIDs), request ids and token subs, all unique.
 */

const run = randomUUID();
const short = run.slice(0, 8);
const LOINC = 'http://loinc.org';
const HOUR = 3_600_000;
const DEPT = `win-dept-${short}`;
const HIS = `win-his-${run}`;
const ATTENDING = `win-att-${run}`;
const ATTENDING_REF = `Practitioner/win-att-${short}`;
const INTERN = `win-intern-${run}`;
const INTERN_REF = `Practitioner/win-intern-${short}`;
const NURSE = `win-nurse-${run}`;
/** How every edit-window refusal ends: only an approved amendment can change the document now (the request route may be named in between). */
const AMEND_TAIL = /after its edit window a record changes only by a formal amendment\b.*with a reason, approved by a chief physician or medical affairs \(R-11\); nothing was changed$/;

type Res<T = OperationOutcome> = HttpResult<T> & { rid: string };
type Doc = (Composition | DocumentReference) & { id: string };

const narrative = (text: string) => ({ status: 'generated' as const, div: `<div xmlns="http://www.w3.org/1999/xhtml">${text}</div>` });
const reason = (text: string) => ({ 'x-edit-reason': encodeURIComponent(text) });
/** An instant as the refusal states it to people (G6): the hospital's clock (the shipped policy: Beijing time, UTC+8 all year), to the minute, zone named. */
const beijing = (ms: number) => `${new Date(ms + 8 * HOUR).toISOString().slice(0, 16).replace('T', ' ')} 北京时间`;

/** The refusal text: exactly `head` (what closed, when, why), then the amendment tail. */
function expectRefusalText(text: string, head: string): void {
  expect(text.slice(0, head.length)).toBe(head);
  expect(text.slice(head.length)).toMatch(AMEND_TAIL);
}



/**
 * A server, its clock and the calls the tests make, over one department with one inpatient
 * whose care team (Encounter participants) is the attending and the intern.
 */
async function windowsFixture(policy?: Record<string, unknown>) {
  const clock = new TestClock();
  const server: TestServer = await startTestServer({ clock, ...(policy ? { policy } : {}) });
  const db = await connectTestDatabase();
  const his = await server.token({ sub: HIS });
  const attending = await server.token({ sub: ATTENDING, roles: ['attending'], department: DEPT, licence: 'licensed', fhirUser: ATTENDING_REF });
  const intern = await server.token({ sub: INTERN, roles: ['intern'], department: DEPT, licence: 'intern', fhirUser: INTERN_REF });
  const nurse = await server.token({ sub: NURSE, roles: ['nurse'], department: DEPT });

  async function send<T = OperationOutcome>(token: string, method: string, path: string, options: { body?: unknown; headers?: Record<string, string> } = {}): Promise<Res<T>> {
    const rid = `win-${randomUUID()}`;
    const headers = { accept: 'application/fhir+json, application/json', 'x-request-id': rid, ...options.headers };
    const res = await httpRequest<T>(`${server.fhirBase}/${path}`, method, { token, body: options.body, headers });
    expect(res.headers.get('x-request-id')).toBe(rid);
    return { ...res, rid };
  }

  const org: Organization = { resourceType: 'Organization', id: DEPT, name: 'Cardiology (edit-window e2e)' };
  let orgRes = await send(his, 'PUT', `Organization/${DEPT}`, { body: org });
  // The other server of this file may PUT the same department: a lost race is retried once.
  if (orgRes.status >= 300) orgRes = await send(his, 'PUT', `Organization/${DEPT}`, { body: org });
  expect([200, 201]).toContain(orgRes.status);
  const p = await send<Patient>(his, 'POST', 'Patient', { body: { resourceType: 'Patient', identifier: [{ system: `urn:chartwarden-e2e:edit-windows:${run}`, value: randomUUID() }], name: [{ text: '李秀英' }] } });
  expect(p.status).toBe(201);
  const patient = p.body.id as string;
  const e = await send<Encounter>(his, 'POST', 'Encounter', {
    body: inpatientStay(patient, DEPT, [ATTENDING_REF, INTERN_REF]),
  });
  expect(e.status).toBe(201);
  const encounter = e.body.id as string;

  const composition = (loinc: string, title: string, extra: Partial<Composition> = {}): Composition => ({
    resourceType: 'Composition',
    status: 'preliminary',
    type: { coding: [{ system: LOINC, code: loinc }] },
    subject: { reference: `Patient/${patient}` },
    encounter: { reference: `Encounter/${encounter}` },
    date: '2026-11-29T10:00:00+08:00',
    author: [{ reference: ATTENDING_REF }],
    title,
    section: [{ title: '记录', text: narrative(title) }],
    ...extra,
  });
  /** A progress note (LOINC 11506-3: daily-progress-note). */
  const progressNote = (title: string, extra: Partial<Composition> = {}) => composition('11506-3', title, extra);
  /** A nurse note (LOINC 34746-8: nursing-record). */
  const nursingRecord = (title: string, extra: Partial<Composition> = {}) => composition('34746-8', title, { author: [{ reference: `Practitioner/${NURSE}` }], ...extra });
  const dischargeSummary = (extra: Partial<DocumentReference> = {}): DocumentReference => ({
    resourceType: 'DocumentReference',
    status: 'current',
    docStatus: 'preliminary',
    type: { coding: [{ system: LOINC, code: '18842-5' }] },
    subject: { reference: `Patient/${patient}` },
    context: { encounter: [{ reference: `Encounter/${encounter}` }] },
    author: [{ reference: ATTENDING_REF }],
    description: '出院记录',
    content: [{ attachment: { contentType: 'text/plain; charset=utf-8', data: Buffer.from('出院诊断：冠心病', 'utf8').toString('base64') } }],
    ...extra,
  });

  async function create<T extends Resource>(token: string, resource: T): Promise<T & { id: string }> {
    const res = await send<T & { id: string }>(token, 'POST', resource.resourceType, { body: resource });
    expect({ status: res.status, text: res.status === 201 ? '' : res.text }).toEqual({ status: 201, text: '' });
    expect(res.body.meta?.versionId).toBe('1');
    return res.body;
  }
  const put = <T extends Resource>(token: string, resource: T, headers: Record<string, string> = {}) =>
    send<T & { id: string }>(token, 'PUT', `${resource.resourceType}/${resource.id}`, { body: editable(resource), headers });
  const read = async <T extends Resource>(type: string, id: string) => {
    const res = await send<T & { id: string }>(his, 'GET', `${type}/${id}`);
    expect(res.status).toBe(200);
    return res.body;
  };
  const historyTotal = async (type: string, id: string) => {
    const res = await send<Bundle>(his, 'GET', `${type}/${id}/_history`);
    expect(res.status).toBe(200);
    return res.body.total;
  };
  const ledgerCount = async (type: string, id: string) =>
    (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM edit_ledger WHERE resource_type = $1 AND resource_id = $2', [type, id])).rows[0].n;
  const ledgerRowsOfRequest = async (rid: string) => (await db.query(`SELECT resource_id, version_id FROM edit_ledger WHERE entry LIKE '%' || $1 || '%'`, [rid])).rows;
  const auditOf = async (rid: string) => (await db.query<AuditRow>('SELECT * FROM audit_entry WHERE request_id = $1 ORDER BY chain, seq', [rid])).rows;

  /** What a document looks like in the store and the ledger, to compare before and after a refusal. */
  const snapshot = async (doc: Doc) => {
    const current = await read<Doc>(doc.resourceType, doc.id);
    return { version: current.meta?.versionId, lastUpdated: current.meta?.lastUpdated, history: await historyTotal(doc.resourceType, doc.id), ledger: await ledgerCount(doc.resourceType, doc.id) };
  };

  /**
   * `res` is the edit-window refusal and nothing changed: same version, history and ledger,
   * no ledger row for the request, and the audit trail holds one failure entry for it.
   */
  async function expectRefusedUnchanged(res: Res<unknown>, doc: Doc, before: Awaited<ReturnType<typeof snapshot>>, actor: string): Promise<string> {
    const outcome = expectOutcome(res, 422, 'business-rule', 'governance.edit-window-closed');
    const text = outcome.issue?.[0].details?.text as string;
    expect(outcome.issue?.[0].diagnostics).toBe(text);
    expect(text).toMatch(AMEND_TAIL);
    expect(await snapshot(doc)).toEqual(before);
    expect(await ledgerRowsOfRequest(res.rid)).toEqual([]);
    const audit = await auditOf(res.rid);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor, action: 'U', subtype: 'update', outcome: 4, entity_type: doc.resourceType, entity_id: doc.id });
    expect(JSON.parse(audit[0].content) as AuditEntry).toMatchObject({ requestId: res.rid, status: 422, outcome: 4, error: 'governance.edit-window-closed', patient });
    return text;
  }

  return {
    clock,
    server,
    db,
    tokens: { his, attending, intern, nurse },
    patient,
    send,
    create,
    put,
    read,
    snapshot,
    progressNote,
    nursingRecord,
    dischargeSummary,
    historyTotal,
    ledgerCount,
    expectRefusedUnchanged,
    close: () => closeAll(db, server),
  };
}

type Fixture = Awaited<ReturnType<typeof windowsFixture>>;

describe('R-10 / R-11 edit windows (e2e, real HTTP + PostgreSQL, TestClock)', () => {
  let f: Fixture;

  beforeAll(async () => {
    f = await windowsFixture();
  }, 30_000);
  afterAll(() => f?.close());

  it('R-11: an attending edits within 72 h of creation (200) and not after: 422 edit-window-closed naming the exact closing instant, nothing changed, the refusal audited (an unsigned draft, and a note signed at creation)', async () => {
    // The draft is unsigned: the window from signing has not started, 72 h from creation bind it.
    // The note created final is signed at creation: its 24 h from signing end before the 72 h from creation.
    const draft = await f.create(f.tokens.attending, f.progressNote('日常病程记录（草稿）'));
    const signed = await f.create(f.tokens.attending, f.progressNote('日常病程记录', { status: 'final' }));
    const cases = [
      { doc: draft, headers: {} as Record<string, string> },
      // A final document changes only with a stated reason: the reason is given, the window still decides.
      { doc: signed, headers: reason('补充查体结果') },
    ];

    f.clock.advance(71 * HOUR);
    const edited: Composition[] = [];
    for (const { doc, headers } of cases) {
      const within = await f.put(f.tokens.attending, { ...doc, title: `${doc.title}（71 h 补充）` }, headers);
      expect({ status: within.status, text: within.status === 200 ? '' : within.text }).toEqual({ status: 200, text: '' });
      expect(within.body.meta?.versionId).toBe('2');
      expect(Date.parse(within.body.meta?.lastUpdated as string) - Date.parse(doc.meta?.lastUpdated as string)).toBeGreaterThanOrEqual(71 * HOUR);
      edited.push(within.body);
    }

    f.clock.advance(2 * HOUR);
    for (const [i, { doc, headers }] of cases.entries()) {
      const created = Date.parse(doc.meta?.lastUpdated as string);
      const before = await f.snapshot(doc);
      expect(before).toMatchObject({ version: '2', history: 2, ledger: 2 });
      const late = await f.put(f.tokens.attending, { ...edited[i], title: `${doc.title}（73 h 修改）` }, headers);
      const text = await f.expectRefusedUnchanged(late, doc, before, ATTENDING);
      expectRefusalText(
        text,
        `The edit window for Composition/${doc.id} (Daily progress note 日常病程记录) closed at ${beijing(created + 72 * HOUR)} ` +
          `(72 h after its creation at ${beijing(created)}, rule for attending/chief/resident): `,
      );
      // G6: people read it on the hospital's clock; no UTC instant is left in the refusal.
      expect(text).not.toMatch(/\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z/);
      expect((await f.read<Composition>('Composition', doc.id)).title).toBe(`${doc.title}（71 h 补充）`);
    }

    // On the signed note, without a reason it is the window that refuses too (checked first), not the missing reason.
    const before = await f.snapshot(signed);
    expectOutcome(await f.put(f.tokens.attending, { ...edited[1], title: 'x' }), 422, 'business-rule', 'governance.edit-window-closed');
    expect(await f.snapshot(signed)).toEqual(before);
  });

  it('R-11: after $sign an attending has 24 h from the signing (creation 100 h earlier): with X-Edit-Reason at signing + 23 h → 200, at signing + 25 h → 422 naming signing + 24 h', async () => {
    const doc = await f.create(f.tokens.attending, f.progressNote('上级医师查房记录'));
    f.clock.advance(100 * HOUR);
    // Unsigned, 100 h after creation: the attending's 72 h are over.
    expectOutcome(await f.put(f.tokens.attending, { ...doc, title: '上级医师查房记录（逾期修改）' }), 422, 'business-rule', 'governance.edit-window-closed');
    const signed = await f.send<Provenance>(f.tokens.attending, 'POST', `Composition/${doc.id}/$sign`);
    expect({ status: signed.status, text: signed.status === 200 ? '' : signed.text }).toEqual({ status: 200, text: '' });
    const v2 = await f.read<Composition>('Composition', doc.id);
    expect(v2).toMatchObject({ status: 'final', meta: { versionId: '2' } });
    // The window runs from the first final version's time.
    const signedAt = Date.parse(v2.meta?.lastUpdated as string);
    expect(signedAt - Date.parse(doc.meta?.lastUpdated as string)).toBeGreaterThanOrEqual(100 * HOUR);

    f.clock.advance(23 * HOUR);
    const within = await f.put(f.tokens.attending, { ...v2, title: '上级医师查房记录（补充）' }, reason('补充上级医师意见'));
    expect({ status: within.status, text: within.status === 200 ? '' : within.text }).toEqual({ status: 200, text: '' });
    expect(within.body.meta?.versionId).toBe('3');

    f.clock.advance(2 * HOUR);
    const before = await f.snapshot(doc);
    expect(before).toMatchObject({ version: '3', history: 3, ledger: 3 });
    const late = await f.put(f.tokens.attending, { ...within.body, title: '上级医师查房记录（再改）' }, reason('再次补充'));
    const text = await f.expectRefusedUnchanged(late, doc, before, ATTENDING);
    expectRefusalText(
      text,
      `The edit window for Composition/${doc.id} (Daily progress note 日常病程记录) closed at ${beijing(signedAt + 24 * HOUR)} ` +
        `(24 h after its signing at ${beijing(signedAt)}, rule for attending/chief/resident): `,
    );
  });

  it('R-11: an intern\'s window is 24 h from creation: an edit at 23 h → 200, at 25 h → 422 naming creation + 24 h', async () => {
    const doc = await f.create(f.tokens.intern, f.progressNote('首次病程记录（实习医师）', { author: [{ reference: INTERN_REF }] }));
    const created = Date.parse(doc.meta?.lastUpdated as string);
    f.clock.advance(23 * HOUR);
    const within = await f.put(f.tokens.intern, { ...doc, title: '首次病程记录（实习医师，修改）' });
    expect({ status: within.status, text: within.status === 200 ? '' : within.text }).toEqual({ status: 200, text: '' });
    expect(within.body.meta?.versionId).toBe('2');

    f.clock.advance(2 * HOUR);
    const before = await f.snapshot(doc);
    const late = await f.put(f.tokens.intern, { ...within.body, title: '首次病程记录（实习医师，25 h）' });
    const text = await f.expectRefusedUnchanged(late, doc, before, INTERN);
    expectRefusalText(text, `The edit window for Composition/${doc.id} (Daily progress note 日常病程记录) closed at ${beijing(created + 24 * HOUR)} (24 h after its creation at ${beijing(created)}, rule for intern): `);
  });

  it('R-11: the window applies to DocumentReference as well: an intern\'s discharge summary, 25 h after creation → 422', async () => {
    const doc = await f.create(f.tokens.intern, f.dischargeSummary({ author: [{ reference: INTERN_REF }] }));
    const created = Date.parse(doc.meta?.lastUpdated as string);
    f.clock.advance(25 * HOUR);
    const before = await f.snapshot(doc);
    const late = await f.put(f.tokens.intern, { ...doc, description: '出院记录（修改）' });
    const text = await f.expectRefusedUnchanged(late, doc, before, INTERN);
    expect(text).toContain(`The edit window for DocumentReference/${doc.id} (Discharge record 出院记录) closed at ${beijing(created + 24 * HOUR)}`);
  });

  it('R-02 / R-11: with the shipped policy a nurse may not update a Composition at all (403 access.forbidden), whether a nursing record or a progress note; nothing changes', async () => {
    // The shipped policy lets nurses write Observations only (`nurse.observations`); the
    // nursing-record edit window only matters to a policy that also lets them update
    // Compositions (see the next describe). Access is decided before the edit window: 403, not 422.
    const nursing = await f.create(f.tokens.his, f.nursingRecord('护理记录'));
    const note = await f.create(f.tokens.his, f.progressNote('日常病程记录'));
    for (const doc of [nursing, note]) {
      // The nurse may read the department's records…
      expect((await f.send<Composition>(f.tokens.nurse, 'GET', `Composition/${doc.id}`)).status).toBe(200);
      const before = await f.snapshot(doc);
      // …but not change them.
      const res = await f.put(f.tokens.nurse, { ...doc, title: `${doc.title}（护士修改）` });
      expectOutcome(res, 403, 'forbidden', 'access.forbidden');
      expect(await f.snapshot(doc)).toEqual(before);
    }
  });

  it('R-10: creating is never window-bound: long after other documents\' windows closed, the intern, the attending (POST and PUT to a new id) and the HIS create documents (201), each with its own fresh window', async () => {
    f.clock.advance(1000 * HOUR);
    const byIntern = await f.create(f.tokens.intern, f.progressNote('抢救记录（补记）', { author: [{ reference: INTERN_REF }] }));
    await f.create(f.tokens.attending, f.progressNote('日常病程记录（补记）', { status: 'final' }));
    await f.create(f.tokens.his, f.dischargeSummary({ docStatus: 'final' }));
    const id = `win-put-${randomUUID()}`;
    const putCreated = await f.send<Composition>(f.tokens.attending, 'PUT', `Composition/${id}`, { body: { ...f.progressNote('PUT 新建'), id } });
    expect({ status: putCreated.status, text: putCreated.status === 201 ? '' : putCreated.text }).toEqual({ status: 201, text: '' });
    expect(await f.ledgerCount('Composition', id)).toBe(1);
    // The intern's fresh document has a fresh 24 h.
    f.clock.advance(HOUR);
    const edited = await f.put(f.tokens.intern, { ...byIntern, title: '抢救记录（补记，修改）' });
    expect({ status: edited.status, text: edited.status === 200 ? '' : edited.text }).toEqual({ status: 200, text: '' });
  });

  it('R-11: edit windows govern clinical documents only: an Observation (not governed) is updated long after its creation (200)', async () => {
    const obs: Observation = {
      resourceType: 'Observation',
      status: 'preliminary',
      code: { coding: [{ system: LOINC, code: '8867-4' }] },
      subject: { reference: `Patient/${f.patient}` },
      valueQuantity: { value: 80, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
    };
    const created = await f.create(f.tokens.his, obs);
    f.clock.advance(2000 * HOUR);
    const updated = await f.put(f.tokens.his, { ...created, status: 'final' });
    expect({ status: updated.status, text: updated.status === 200 ? '' : updated.text }).toEqual({ status: 200, text: '' });
    expect(updated.body.meta?.versionId).toBe('2');
  });

  it('R-11: the HIS edits until 720 h after creation: at 719 h → 200, at 721 h → 422 naming creation + 720 h (Composition and DocumentReference)', async () => {
    const note = await f.create(f.tokens.his, f.progressNote('日常病程记录（HIS）'));
    const summary = await f.create(f.tokens.his, f.dischargeSummary());
    f.clock.advance(719 * HOUR);
    const editedNote = await f.put(f.tokens.his, { ...note, title: '日常病程记录（HIS 更新）' });
    const editedSummary = await f.put(f.tokens.his, { ...summary, description: '出院记录（HIS 更新）' });
    for (const res of [editedNote, editedSummary]) {
      expect({ status: res.status, text: res.status === 200 ? '' : res.text }).toEqual({ status: 200, text: '' });
      expect(res.body.meta?.versionId).toBe('2');
    }

    f.clock.advance(2 * HOUR);
    for (const [doc, changed, label] of [
      [note, { ...editedNote.body, title: '日常病程记录（HIS 721 h）' }, 'Composition'],
      [summary, { ...editedSummary.body, description: '出院记录（HIS 721 h）' }, 'DocumentReference'],
    ] as const) {
      const created = Date.parse(doc.meta?.lastUpdated as string);
      const before = await f.snapshot(doc);
      const late = await f.put(f.tokens.his, changed as Doc);
      const text = await f.expectRefusedUnchanged(late, doc, before, HIS);
      expect(text).toContain(`The edit window for ${label}/${doc.id}`);
      expect(text).toContain(`closed at ${beijing(created + 720 * HOUR)} (720 h after its creation at ${beijing(created)}, rule for his-system)`);
    }
  });
});

describe('R-11 nurse edit windows, under a policy that lets nurses update Compositions of their department (e2e, TestClock)', () => {
  // The shipped policy's `nurse.observations` covers Observation only, so its nursing-record
  // window can only be exercised with an access rule added: the shipped policy plus one rule.
  let f: Fixture;

  beforeAll(async () => {
    const policy = parse(readFileSync(defaultPolicyPath(), 'utf8')) as { version: string; roles: Record<string, { rules: unknown[] }> };
    policy.version = `${policy.version}+nurse-documents-e2e`;
    policy.roles.nurse.rules.push({ id: 'nurse.documents', allow: ['update'], on: ['Composition'], when: { sameDepartment: true }, rule: 'R-02' });
    f = await windowsFixture(policy);
  }, 30_000);
  afterAll(() => f?.close());

  it('R-11: a nurse edits a nursing record (LOINC 34746-8) within 24 h (200) and not at 25 h (422 naming creation + 24 h)', async () => {
    const doc = await f.create(f.tokens.his, f.nursingRecord('一般护理记录'));
    const created = Date.parse(doc.meta?.lastUpdated as string);
    f.clock.advance(23 * HOUR);
    const within = await f.put(f.tokens.nurse, { ...doc, title: '一般护理记录（补充）' });
    expect({ status: within.status, text: within.status === 200 ? '' : within.text }).toEqual({ status: 200, text: '' });
    expect(within.body.meta?.versionId).toBe('2');

    f.clock.advance(2 * HOUR);
    const before = await f.snapshot(doc);
    const late = await f.put(f.tokens.nurse, { ...within.body, title: '一般护理记录（25 h）' });
    const text = await f.expectRefusedUnchanged(late, doc, before, NURSE);
    expectRefusalText(text, `The edit window for Composition/${doc.id} (Nursing record 护理记录) closed at ${beijing(created + 24 * HOUR)} (24 h after its creation at ${beijing(created)}, rule for nurse): `);
  });

  it('R-11: a nurse has no edit window on a progress note (LOINC 11506-3): 422 naming the missing window, even a minute after creation; nothing changed', async () => {
    const doc = await f.create(f.tokens.his, f.progressNote('日常病程记录'));
    f.clock.advance(60_000);
    const before = await f.snapshot(doc);
    const res = await f.put(f.tokens.nurse, { ...doc, title: '日常病程记录（护士修改）' });
    const text = await f.expectRefusedUnchanged(res, doc, before, NURSE);
    expectRefusalText(text, `No edit window of the policy (governance.editWindows) lets roles nurse change Composition/${doc.id} (Daily progress note 日常病程记录): `);
  });
});
