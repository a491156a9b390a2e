import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Composition, Patient, Resource } from '@medplum/fhirtypes';
import type { Amendment } from '../../src/governance/amendment.service.js';
import { inpatientStay } from '../support/fhir-builders.js';
import { fhirApi, jsonApi, seedAs } from '../support/http.js';
import { closeAll, connectTestDatabase, startTestServer, TestClock, type TestServer } from '../support/test-app.js';

/**
 * R-11 end to end: past the edit window a document changes only through a formal amendment:
 * the author asks with a reason, a chief physician or medical affairs (never the asker)
 * approves, and the approval is a one-time, expiring permit; the version written under it is
 * marked in the edit ledger with the amendment, its reason and its approver.
 */
const run = randomUUID().slice(0, 8);
const DEPT = `cw-amend-${run}`;
const DR = `Practitioner/dr-amend-${run}`;
const HOUR = 3_600_000;

describe('R-11 amendments (e2e, real HTTP + PostgreSQL, a clock the test moves)', () => {
  let server: TestServer;
  let clock: TestClock;
  let db: pg.Client;
  let his: string;
  let author: string;
  let colleague: string;
  let chief: string;
  let medicalAffairs: string;

  const fhir = fhirApi(() => server.fhirBase);
  const gov = jsonApi<Amendment>(() => `${server.root}/governance/`);
  const seed = async <T extends Resource>(resource: T): Promise<string> => (await seedAs(server.fhirBase, his, resource)).id;
  const ledger = async (id: string) =>
    (await db.query<{ version_id: number; kind: string; reason: string | null; entry: string }>(
      `SELECT version_id, kind, reason, entry FROM edit_ledger WHERE resource_type = 'Composition' AND resource_id = $1 ORDER BY version_id`,
      [id],
    )).rows;

  /** The author's progress note, written now, then the clock moved past the 72 h window. */
  const noteOutsideWindow = async () => {
    const patient = await seed<Patient>({ resourceType: 'Patient', name: [{ family: `修改${run}` }] });
    const encounter = await seed(inpatientStay(patient, DEPT, [DR]));
    const created = await fhir<Composition>(author, 'POST', 'Composition', {
      resourceType: 'Composition',
      status: 'preliminary',
      type: { coding: [{ system: 'http://loinc.org', code: '11506-3' }] },
      subject: { reference: `Patient/${patient}` },
      encounter: { reference: `Encounter/${encounter}` },
      date: clock.now().toISOString(),
      author: [{ reference: DR }],
      title: '病程记录',
    } satisfies Composition);
    expect(created.status).toBe(201);
    clock.advance(73 * HOUR);
    return created.body;
  };
  const edit = (token: string, doc: Composition, title: string, headers: Record<string, string> = {}) => fhir<Composition>(token, 'PUT', `Composition/${doc.id}`, { ...doc, title }, headers);

  beforeAll(async () => {
    clock = new TestClock();
    server = await startTestServer({ clock });
    db = await connectTestDatabase();
    his = await server.token();
    author = await server.token({ sub: `dr-amend-${run}`, roles: ['attending'], department: DEPT, licence: 'licensed', fhirUser: DR });
    colleague = await server.token({ sub: `dr-colleague-${run}`, roles: ['attending'], department: DEPT, licence: 'licensed' });
    chief = await server.token({ sub: `chief-${run}`, roles: ['chief'], department: DEPT, licence: 'licensed' });
    medicalAffairs = await server.token({ sub: `ma-${run}`, roles: ['medical-affairs'] });
    expect((await fhir(his, 'PUT', `Organization/${DEPT}`, { resourceType: 'Organization', id: DEPT, name: DEPT })).status).toBeLessThan(300);
  });
  afterAll(() => closeAll(db, server));

  it('R-11: outside the window the edit is refused naming the amendment route; request → chief approves → one edit (kind amend, reason, approver) → the permit is spent', async () => {
    const doc = await noteOutsideWindow();
    const late = await fhir(author, 'PUT', `Composition/${doc.id}`, { ...doc, title: '病程记录（补充）' });
    expect(late.status).toBe(422);
    expect(late.body.issue?.[0]).toMatchObject({ code: 'business-rule', details: { coding: [{ code: 'governance.edit-window-closed' }] } });
    expect(late.body.issue?.[0].details?.text).toContain(`Composition/${doc.id}/$amend-request`);

    const asked = await fhir<Amendment>(author, 'POST', `Composition/${doc.id}/$amend-request`, { reason: '补充遗漏的查体结果' }, { 'content-type': 'application/json' });
    expect(asked.status).toBe(201);
    expect(asked.body).toMatchObject({ document: `Composition/${doc.id}`, requestedBy: `dr-amend-${run}`, reason: '补充遗漏的查体结果', status: 'requested' });

    const self = await gov(author, 'POST', `amendments/${asked.body.id}/approve`, {});
    expect(self.status).toBe(403);
    const approved = await gov(chief, 'POST', `amendments/${asked.body.id}/approve`, { note: '同意' });
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ status: 'approved', decidedBy: `chief-${run}`, decisionNote: '同意' });
    expect(Date.parse(approved.body.validUntil as string) - clock.now().getTime()).toBeGreaterThan(23.9 * HOUR);

    // Only the author holds the permit.
    expect((await edit(colleague, doc, '别人的修改')).status).toBe(422);
    const amended = await edit(author, doc, '病程记录（补充）');
    expect(amended.status).toBe(200);
    expect(amended.body.meta?.versionId).toBe('2');
    const rows = await ledger(doc.id as string);
    expect(rows.map((r) => [r.version_id, r.kind, r.reason])).toEqual([
      [1, 'create', null],
      [2, 'amend', '补充遗漏的查体结果'],
    ]);
    expect(JSON.parse(rows[1].entry)).toMatchObject({ amendment: { id: asked.body.id, approvedBy: `chief-${run}` } });

    const again = await edit(author, doc, '再改一次');
    expect(again.status).toBe(422);
    expect((await fhir<Composition>(his, 'GET', `Composition/${doc.id}`)).body.meta?.versionId).toBe('2');
    const mine = await gov<Amendment[]>(author, 'GET', 'amendments');
    expect(mine.body.find((a) => a.id === asked.body.id)).toMatchObject({ status: 'used', usedVersion: 2 });
    // A decided amendment is not decided again.
    expect((await gov(medicalAffairs, 'POST', `amendments/${asked.body.id}/approve`, {})).status).toBe(409);
  });

  it('R-11: a refusal needs a note and leaves the document closed; an approved permit expires after the policy\'s 24 h', async () => {
    const doc = await noteOutsideWindow();
    const a = await fhir<Amendment>(author, 'POST', `Composition/${doc.id}/$amend-request`, { reason: '更正' }, { 'content-type': 'application/json' });
    expect((await gov(medicalAffairs, 'POST', `amendments/${a.body.id}/refuse`, {})).status).toBe(400);
    const refused = await gov(medicalAffairs, 'POST', `amendments/${a.body.id}/refuse`, { note: '理由不充分' });
    expect(refused.body).toMatchObject({ status: 'refused', decisionNote: '理由不充分' });
    expect((await edit(author, doc, '被拒后修改')).status).toBe(422);

    const b = await fhir<Amendment>(author, 'POST', `Composition/${doc.id}/$amend-request`, { reason: '更正日期' }, { 'content-type': 'application/json' });
    expect((await gov(medicalAffairs, 'POST', `amendments/${b.body.id}/approve`, {})).status).toBe(200);
    clock.advance(25 * HOUR);
    const expired = await edit(author, doc, '过期后修改');
    expect(expired.status).toBe(422);
    expect((await ledger(doc.id as string)).map((r) => r.version_id)).toEqual([1]);
  });

  it('R-11: only the author asks, with a reason; a colleague cannot approve; the amendment queue is for deciders', async () => {
    const doc = await noteOutsideWindow();
    const noReason = await fhir(author, 'POST', `Composition/${doc.id}/$amend-request`, { reason: '  ' }, { 'content-type': 'application/json' });
    expect(noReason.status).toBe(400);
    expect(noReason.body.issue?.[0].details?.coding?.[0].code).toBe('governance.reason-missing');
    const notAuthor = await fhir(colleague, 'POST', `Composition/${doc.id}/$amend-request`, { reason: '我想改' }, { 'content-type': 'application/json' });
    expect(notAuthor.status).toBe(403);
    expect(notAuthor.body.issue?.[0].details?.coding?.[0].code).toBe('governance.not-author');
    const a = await fhir<Amendment>(author, 'POST', `Composition/${doc.id}/$amend-request`, { reason: '更正' }, { 'content-type': 'application/json' });
    const byColleague = await gov(colleague, 'POST', `amendments/${a.body.id}/approve`, {});
    expect(byColleague.status).toBe(403);
    expect((await gov(chief, 'POST', 'amendments/not-a-uuid/approve', {})).status).toBe(404);
    const queue = await gov<Amendment[]>(chief, 'GET', 'amendments?status=requested');
    expect(queue.body.some((x) => x.id === a.body.id)).toBe(true);
    expect((await gov<Amendment[]>(colleague, 'GET', 'amendments')).body.some((x) => x.id === a.body.id)).toBe(false);
  });
});
