import { createHash, randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Bundle, Composition, Encounter, OperationOutcome, Patient, Resource } from '@medplum/fhirtypes';
import type { CopyRequestView, ProductionView } from '../../src/release/dto/copy-request.view.js';
import { DEFAULT_CHECKLISTS, REQUESTER_TYPES, type ChecklistItem, type RequesterType } from '../../src/policy/domain/copy-checklists.js';
import { contentSha256 } from '../../src/common/content-hash.js';
import { CONTENT_SHA256_EXTENSION } from '../../src/copies/document-bundle.js';
import { expectOutcome, expectStatus } from '../support/fhir-expect.js';
import { httpRequest, type HttpResult, seedAs } from '../support/http.js';
import { pdfPages } from '../support/pdf-text.js';
import { startTestServer, testDatabaseUrl, type TestServer } from '../support/test-app.js';

/**
 * The record room's release of information end to end (issue #6, R-20, R-22, R-30…R-34), over
 * real HTTP and PostgreSQL: every requester type's full flow, every missing-evidence case,
 * refusal, subjective documents refused, a partly completed record produced in two steps, the
 * certified PDF read back as text, the electronic copy's hashes checked against the store, the
 * audit trail holding every step; and clinicians' `$print` and `$everything` as disclosures.
 */
const run = randomUUID().slice(0, 8);
const DEPT = `cw-copy-${run}`;
const DR = `Practitioner/dr-copy-${run}`;
/** The attending as the store knows them: papers print this name, never the reference (issue #18). */
const DR_NAME = '王建国';
const LOINC = 'http://loinc.org';
/** Smallest valid files of each kind the desk scans. */
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082', 'hex');
const JPEG = Buffer.from('ffd8ffe000104a46494600010100000100010000ffd9', 'hex');
const PDF = Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n', 'latin1');
const ID_NUMBER = '110101198801015678';
/** Beijing's wall clock of an instant, computed here without the server's code: UTC+8, no daylight saving. */
const beijing = (ms: number) => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 16).replace('T', '');

describe('Copy requests, printing and export (e2e, real HTTP + PostgreSQL)', () => {
  let server: TestServer;
  let root: string;
  let db: pg.Client;
  let his: string;
  let recordRoom: string;
  /** Another clerk of the record room: separation of duties (R-34, policy default) keeps the intake clerk from approving. */
  let approver: string;
  let attending: string;
  let nurse: string;

  const fhir = <T = OperationOutcome>(token: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpResult<T>> =>
    httpRequest<T>(`${server.fhirBase}/${path}`, method, { token, body, headers });
  const copies = <T = CopyRequestView>(token: string, method: string, path: string, body?: unknown) =>
    httpRequest<T>(`${root}/copy-requests${path}`, method, { token, body, contentType: 'application/json', headers: { accept: 'application/json' } });
  const upload = async (id: string, proves: string, file: Buffer = PNG, type = 'image/png') => {
    const res = await fetch(`${root}/copy-requests/${id}/evidence?proves=${proves}&filename=${proves}.scan`, { method: 'POST', headers: { authorization: `Bearer ${recordRoom}`, 'content-type': type }, body: file });
    return { status: res.status, headers: res.headers, text: await res.text() };
  };
  const seed = <T extends Resource>(resource: T): Promise<T & { id: string }> => seedAs(server.fhirBase, his, resource);
  const doc = (patient: string, encounter: string, code: string, title: string, status: Composition['status']): Composition => ({
    resourceType: 'Composition',
    status,
    type: { coding: [{ system: LOINC, code }] },
    subject: { reference: `Patient/${patient}` },
    encounter: { reference: `Encounter/${encounter}` },
    date: new Date().toISOString(),
    author: [{ reference: DR }],
    // A final document from the HIS comes signed: its legal attester.
    ...(status === 'final' ? { attester: [{ mode: 'legal' as const, time: new Date().toISOString(), party: { reference: DR } }] } : {}),
    title,
    section: [{ title, text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${title}：王小明，男，35岁。</div>` } }],
  });
  /** An inpatient stay: admission and discharge records signed, a progress note (subjective) signed, the operation record still a draft. */
  const record = async (deceased = false) => {
    const patient = await seed<Patient>({ resourceType: 'Patient', name: [{ text: '王小明' }], gender: 'male', ...(deceased ? { deceasedDateTime: new Date().toISOString() } : {}) });
    const encounter = await seed<Encounter>({
      resourceType: 'Encounter',
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
      subject: { reference: `Patient/${patient.id}` },
      period: { start: new Date(Date.now() - 5 * 86_400_000).toISOString(), end: new Date().toISOString() },
      serviceProvider: { reference: `Organization/${DEPT}` },
      participant: [{ individual: { reference: DR } }],
    });
    const admission = await seed(doc(patient.id, encounter.id, '34117-2', '入院记录', 'final'));
    const discharge = await seed(doc(patient.id, encounter.id, '18842-5', '出院记录', 'final'));
    const progress = await seed(doc(patient.id, encounter.id, '11506-3', '日常病程记录', 'final'));
    const operation = await seed(doc(patient.id, encounter.id, '11504-8', '手术记录', 'preliminary'));
    return { patient: patient.id, encounter: encounter.id, admission, discharge, progress, operation };
  };
  const forHeirs = (type: RequesterType) => type === 'heir' || type === 'heir-agent';
  const requesterOf = (type: RequesterType) => ({ name: type === 'patient' ? '王小明' : `申请人-${type}`, idNumber: ID_NUMBER, ...(['police', 'court', 'social-insurance', 'malpractice-assessment', 'commercial-insurer'].includes(type) ? { organization: `${type} 机构` } : {}) });
  const open = async (patient: string, requesterType: RequesterType, scope: Record<string, unknown> = { all: true }) => {
    const res = await copies(recordRoom, 'POST', '', { patient: `Patient/${patient}`, requesterType, requester: requesterOf(requesterType), purpose: '医保报销', scope });
    expectStatus(res, 201);
    return res.body;
  };
  const itemKinds = (item: ChecklistItem): string[] => (typeof item === 'string' ? [item] : [...item]);
  const auditOf = async (requestId: string | null) =>
    (await db.query<{ subtype: string; outcome: number; patient: string | null; content: string }>('SELECT subtype, outcome, patient, content FROM audit_entry WHERE request_id = $1 ORDER BY seq', [requestId])).rows;
  const deliverBody = { recipient: { name: '申请人', idNumber: ID_NUMBER }, identityChecked: true, requesterChecked: true };

  beforeAll(async () => {
    server = await startTestServer();
    root = server.fhirBase.replace(/\/fhir$/, '');
    db = new pg.Client({ connectionString: testDatabaseUrl() });
    await db.connect();
    his = await server.token();
    recordRoom = await server.token({ sub: `rr-${run}`, roles: ['record-room'] });
    approver = await server.token({ sub: `rr-approver-${run}`, roles: ['record-room'] });
    attending = await server.token({ sub: `dr-copy-${run}`, roles: ['attending'], department: DEPT, licence: 'licensed', fhirUser: DR });
    nurse = await server.token({ sub: `nurse-copy-${run}`, roles: ['nurse'], department: DEPT });
    expectStatus(await fhir(his, 'PUT', `Organization/${DEPT}`, { resourceType: 'Organization', id: DEPT, name: DEPT }), 201);
    expectStatus(await fhir(his, 'PUT', DR, { resourceType: 'Practitioner', id: DR.split('/')[1], name: [{ family: '王', given: ['建国'] }] }), 201);
  });
  afterAll(async () => {
    await db?.end();
    await server?.close();
  });

  it.each([...REQUESTER_TYPES])('R-30/R-34: requester type %s: a request goes from received to delivered, its evidence checked against its checklist', async (type) => {
    const r = await record(forHeirs(type));
    const request = await open(r.patient, type);
    const checklist = DEFAULT_CHECKLISTS[type];
    expect(request).toMatchObject({ status: 'received', requesterType: type, checklist: { presented: [], missing: checklist.map((i) => itemKinds(i).join(' or ')) } });
    for (const item of checklist) expectStatus(await upload(request.id, itemKinds(item)[0]) as HttpResult<unknown>, 201);
    const verified = await copies(recordRoom, 'POST', `/${request.id}/verify`, { identityChecked: true });
    expectStatus(verified, 200);
    expect(verified.body).toMatchObject({ status: 'verified', checklist: { missing: [] } });
    expectStatus(await copies(approver, 'POST', `/${request.id}/approve`, {}), 200);
    const produced = await copies<ProductionView>(recordRoom, 'POST', `/${request.id}/produce`);
    expectStatus(produced, 201);
    expect(produced.body.manifest.map((m) => m.documentType).sort()).toEqual(['admission-record', 'discharge-record']);
    const delivered = await copies(recordRoom, 'POST', `/${request.id}/deliver`, deliverBody);
    expectStatus(delivered, 200);
    // The operation record is still a draft: the request stays open for it.
    expect(delivered.body.status).toBe('partially-delivered');
    expect(delivered.body.events.map((e) => e.step)).toEqual(['received', ...checklist.map(() => 'evidence'), 'verified', 'approved', 'produced', 'delivered']);
    expect(delivered.body.events.at(-1)).toMatchObject({ to: { idNumber: ID_NUMBER }, method: 'in-person', copies: [1], pages: produced.body.pages });
  });

  it('R-30: each missing piece of evidence is named, for every requester type; nothing moves until all is there', async () => {
    const living = await record();
    const dead = await record(true);
    for (const type of REQUESTER_TYPES) {
      const checklist = DEFAULT_CHECKLISTS[type];
      for (const [i, left] of checklist.entries()) {
        const request = await open((forHeirs(type) ? dead : living).patient, type);
        for (const [j, item] of checklist.entries()) if (j !== i) expectStatus(await upload(request.id, itemKinds(item)[0]) as HttpResult<unknown>, 201);
        const res = await copies(recordRoom, 'POST', `/${request.id}/verify`, { identityChecked: true });
        const text = expectOutcome(res, 422, 'business-rule', 'copy.evidence-missing').issue?.[0].details?.text ?? '';
        expect({ type, left, text }).toEqual({ type, left, text: `A ${type} request needs (R-30): ${itemKinds(left).join(' or ')}` });
        expect((await copies(recordRoom, 'GET', `/${request.id}`)).body.status).toBe('received');
      }
    }
    // An insurer may bring the heir's consent instead of the patient's (after death).
    const insurer = await open(dead.patient, 'commercial-insurer');
    for (const kind of ['legal-request', 'officer-id', 'work-id', 'insurance-contract', 'heir-consent']) await upload(insurer.id, kind, PDF, 'application/pdf');
    expectStatus(await copies(recordRoom, 'POST', `/${insurer.id}/verify`, { identityChecked: true }), 200);
    // And the officer confirms they checked the person against the ID.
    const unchecked = await open(living.patient, 'patient');
    await upload(unchecked.id, 'id-card', JPEG, 'image/jpeg');
    expect(expectOutcome(await copies(recordRoom, 'POST', `/${unchecked.id}/verify`, {}), 422, 'business-rule', 'copy.evidence-missing').issue?.[0].details?.text).toContain('identityChecked');
  });

  it('R-30: heirs ask for a deceased patient\'s record only; a deceased patient\'s record is not asked for as the patient or their agent', async () => {
    const living = await record();
    const dead = await record(true);
    const ask = (patient: string, requesterType: RequesterType) =>
      copies(recordRoom, 'POST', '', { patient, requesterType, requester: requesterOf(requesterType), purpose: '继承', scope: { all: true } });
    for (const type of ['heir', 'heir-agent'] as const) expectOutcome(await ask(living.patient, type), 422, 'business-rule', 'copy.requester-mismatch');
    for (const type of ['patient', 'agent'] as const) expectOutcome(await ask(dead.patient, type), 422, 'business-rule', 'copy.requester-mismatch');
    expectStatus(await ask(dead.patient, 'heir'), 201);
    expectStatus(await ask(living.patient, 'court'), 201);
  });

  it('R-30: evidence is a PDF, JPEG or PNG recognised by its bytes, kept with its SHA-256', async () => {
    const r = await record();
    const request = await open(r.patient, 'patient');
    const fake = await upload(request.id, 'id-card', Buffer.from('not really a picture'), 'image/png');
    expect(fake.status).toBe(415);
    expect(fake.text).toContain('copy.evidence-type');
    const disguised = await upload(request.id, 'id-card', PDF, 'image/png');
    expect(disguised.status).toBe(415);
    const dressedUp = await upload(request.id, 'id-card', Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.from('<html><script>alert(1)</script></html>')]), 'image/jpeg');
    expect(dressedUp.status).toBe(415);
    const unknown = await upload(request.id, 'selfie');
    expect(unknown.status).toBe(400);
    const tooBig = await upload(request.id, 'id-card', Buffer.concat([PNG, Buffer.alloc(11 * 1024 * 1024)]));
    expect(tooBig.status).toBe(413);
    expectStatus(await upload(request.id, 'id-card') as HttpResult<unknown>, 201);
    const view = (await copies(recordRoom, 'GET', `/${request.id}`)).body;
    expect(view.evidence).toEqual([expect.objectContaining({ proves: 'id-card', contentType: 'image/png', size: PNG.length, sha256: contentHash(PNG) })]);
    const [stored] = (await db.query<{ content: Buffer }>('SELECT content FROM copy_evidence WHERE request_id = $1', [request.id])).rows;
    expect(stored.content.equals(PNG)).toBe(true);
    // Only the record room handles requests.
    expectOutcome(await copies(attending, 'POST', '', { patient: r.patient, requesterType: 'patient', requester: requesterOf('patient'), purpose: 'x', scope: { all: true } }), 403, 'forbidden', 'copy.forbidden');
    expectOutcome(await copies(nurse, 'GET', `/${request.id}`), 403, 'forbidden', 'copy.forbidden');
  });

  it('R-34: a refusal needs a reason and closes the request; nothing can be produced from it', async () => {
    const r = await record();
    const request = await open(r.patient, 'agent');
    expectOutcome(await copies(recordRoom, 'POST', `/${request.id}/refuse`, {}), 400, 'invalid', 'copy.invalid');
    const refused = await copies(recordRoom, 'POST', `/${request.id}/refuse`, { reason: '委托书未公证' });
    expectStatus(refused, 200);
    expect(refused.body).toMatchObject({ status: 'refused', closedAt: expect.any(String) });
    expect(refused.body.events.at(-1)).toMatchObject({ step: 'refused', reason: '委托书未公证', by: `rr-${run}` });
    expectOutcome(await copies(recordRoom, 'POST', `/${request.id}/produce`), 409, 'conflict', 'copy.wrong-state');
    expectOutcome(await copies(recordRoom, 'POST', `/${request.id}/approve`, {}), 409, 'conflict', 'copy.wrong-state');
    expect(await db.query('SELECT 1 FROM copy_production WHERE request_id = $1', [request.id]).then((x) => x.rowCount)).toBe(0);
  });

  it('R-31: subjective documents are refused for requesters by name, and left out of "all copyable" with the rule named', async () => {
    const r = await record();
    const asked = await copies(recordRoom, 'POST', '', { patient: r.patient, requesterType: 'patient', requester: requesterOf('patient'), purpose: '复诊', scope: { documentTypes: ['discharge-record', 'daily-progress-note'] } });
    expect(expectOutcome(asked, 422, 'business-rule', 'copy.subjective-refused').issue?.[0].details?.text).toMatch(/daily-progress-note is subjective.*R-31/);
    expectOutcome(await copies(recordRoom, 'POST', '', { patient: r.patient, requesterType: 'patient', requester: requesterOf('patient'), purpose: '复诊', scope: { documentTypes: ['no-such-type'] } }), 400, 'invalid', 'copy.invalid');

    const request = await open(r.patient, 'patient');
    await upload(request.id, 'id-card');
    await copies(recordRoom, 'POST', `/${request.id}/verify`, { identityChecked: true });
    await copies(approver, 'POST', `/${request.id}/approve`, {});
    const produced = (await copies<ProductionView>(recordRoom, 'POST', `/${request.id}/produce`)).body;
    expect(produced.manifest.map((m) => `${m.type}/${m.id}`)).not.toContain(`Composition/${r.progress.id}`);
    expect(produced.excluded).toEqual([{ ref: `Composition/${r.progress.id}`, documentType: 'daily-progress-note', reason: expect.stringContaining('subjective: not copied for requesters (R-31)') }]);
  });

  it('R-32/R-33: a partly completed record is produced in two steps; the PDF is stamped on every page (R-33\'s words) and the Bundle\'s hashes match the store', async () => {
    const r = await record();
    const request = await open(r.patient, 'patient', { documentTypes: ['admission-record', 'operation-record', 'discharge-record'] });
    await upload(request.id, 'id-card');
    await copies(recordRoom, 'POST', `/${request.id}/verify`, { identityChecked: true });
    await copies(approver, 'POST', `/${request.id}/approve`, {});
    const first = await copies<ProductionView>(recordRoom, 'POST', `/${request.id}/produce`);
    expectStatus(first, 201);
    expect(first.body.manifest).toEqual([
      { type: 'Composition', id: r.admission.id, version: 1, sha256: contentSha256((await fhir<Resource>(his, 'GET', `Composition/${r.admission.id}`)).body), documentType: 'admission-record' },
      { type: 'Composition', id: r.discharge.id, version: 1, sha256: contentSha256((await fhir<Resource>(his, 'GET', `Composition/${r.discharge.id}`)).body), documentType: 'discharge-record' },
    ]);
    expect(first.body.pending).toEqual([{ ref: `Composition/${r.operation.id}`, documentType: 'operation-record', reason: expect.stringContaining('R-32') }]);
    // Nothing new is complete: a second production now has nothing to copy.
    const early = expectOutcome(await copies(recordRoom, 'POST', `/${request.id}/produce`), 422, 'business-rule', 'copy.nothing-to-produce');
    expect(early.issue?.[0].details?.text).toContain(`Composition/${r.operation.id}`);

    // The certified PDF, read back as a reader sees it.
    const pdf = await fetch(first.body.pdf, { headers: { authorization: `Bearer ${recordRoom}` } });
    expect(pdf.status).toBe(200);
    const bytes = Buffer.from(await pdf.arrayBuffer());
    expect(contentHash(bytes)).toBe(first.body.pdfSha256);
    const pages = await pdfPages(bytes);
    expect(pages.length).toBe(first.body.pages);
    pages.forEach((page, i) => {
      const flat = page.replace(/\s+/g, '');
      // The stamp as R-33 words it (policy settings.stamp.copy), with the hospital's name (settings.hospitalName).
      expect(flat).toContain('ChartWarden示例医院病历管理专用章');
      expect(flat).not.toContain('病案管理专用章');
      expect(flat).toContain(request.id);
      expect(flat).toContain(`第${i + 1}/${pages.length}页`);
      expect(flat).toContain(first.body.bundleSha256);
    });
    const text = pages.join('').replace(/\s+/g, '');
    expect(text).toContain('王小明');
    expect(text).toContain('入院记录');
    expect(text).not.toContain('日常病程记录');
    // Issue #18: the patient block, the time on Beijing's clock (API JSON keeps ISO 8601), the manifest by Chinese names, signers by name.
    expect(first.body.createdAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
    for (const t of ['患者信息', '姓名王小明', '性别男', `患者ID${r.patient}`, `科室${DEPT}`, `复印时间Produced:${beijing(Date.parse(first.body.createdAt))}北京时间`, '文书名称', `出院记录·出院记录`, `待完成pending:Composition/${r.operation.id}·手术记录`]) {
      expect(text).toContain(t);
    }
    expect(text).toContain(`作者author:${DR_NAME}`);
    expect(text).toContain(`签署attester:法定签名${DR_NAME}`);
    expect(text).not.toContain(DR);

    // The electronic copy: a document Bundle whose every entry hashes as the store's version does.
    const json = await fetch(first.body.json, { headers: { authorization: `Bearer ${recordRoom}` } });
    const bundleText = await json.text();
    expect(contentHash(Buffer.from(bundleText, 'utf8'))).toBe(first.body.bundleSha256);
    const bundle = JSON.parse(bundleText) as Bundle;
    expect(bundle.type).toBe('document');
    for (const e of bundle.entry?.slice(1) ?? []) {
      const stored = (await fhir<Resource>(his, 'GET', `${e.resource?.resourceType}/${e.resource?.id}/_history/${e.resource?.meta?.versionId}`)).body;
      expect(e.extension).toEqual([{ url: CONTENT_SHA256_EXTENSION, valueString: contentSha256(stored) }]);
      expect(e.resource).toEqual(stored);
    }

    const partly = await copies(recordRoom, 'POST', `/${request.id}/deliver`, deliverBody);
    expect(partly.body.status).toBe('partially-delivered');
    // The operation record is signed later; the second production copies it alone; the request then closes.
    expectStatus(await fhir(attending, 'POST', `Composition/${r.operation.id}/$sign`), 200);
    const second = await copies<ProductionView>(recordRoom, 'POST', `/${request.id}/produce`);
    expectStatus(second, 201);
    expect(second.body).toMatchObject({ n: 2, pending: [] });
    expect(second.body.manifest.map((m) => [m.id, m.version])).toEqual([[r.operation.id, 2]]);
    const closed = await copies(recordRoom, 'POST', `/${request.id}/deliver`, deliverBody);
    expect(closed.body).toMatchObject({ status: 'delivered', closedAt: expect.any(String) });
    expect(closed.body.events.at(-1)).toMatchObject({ step: 'delivered', copies: [2] });
  });

  it('R-07/R-44: a document under a restricted label, or withheld under a public incident, is left out of a copy and said so', async () => {
    const r = await record();
    const restricted = await seed({ ...doc(r.patient, r.encounter, '11502-2', '检验报告（HIV）', 'final'), meta: { security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' }] } });
    const second = await seed<Encounter>({
      resourceType: 'Encounter',
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
      subject: { reference: `Patient/${r.patient}` },
      period: { start: new Date(Date.now() - 86_400_000).toISOString(), end: new Date().toISOString() },
    });
    const incident = await seed(doc(r.patient, second.id, '18842-5', '出院记录（舆情）', 'final'));
    const officer = await server.token({ sub: `officer-copy-${run}`, roles: ['disputes-officer'] });
    const sealed = await httpRequest<{ status: string }>(`${root}/disputes`, 'POST', {
      token: officer,
      contentType: 'application/json',
      body: { patient: r.patient, reason: '舆情事件', trigger: 'public-incident', team: ['Practitioner/case-lead'], scope: { kind: 'encounters', encounters: [second.id] } },
    });
    expect(sealed.body.status).toBe('sealed');

    const request = await open(r.patient, 'patient');
    await upload(request.id, 'id-card');
    await copies(recordRoom, 'POST', `/${request.id}/verify`, { identityChecked: true });
    await copies(approver, 'POST', `/${request.id}/approve`, {});
    const produced = await copies<ProductionView>(recordRoom, 'POST', `/${request.id}/produce`);
    expectStatus(produced, 201);
    const copied = produced.body.manifest.map((m) => m.id);
    expect(copied).toEqual(expect.arrayContaining([r.admission.id, r.discharge.id]));
    expect(copied).not.toContain(restricted.id);
    expect(copied).not.toContain(incident.id);
    expect(produced.body.excluded).toEqual(
      expect.arrayContaining([
        { ref: `Composition/${restricted.id}`, reason: expect.stringContaining('access policy') },
        { ref: `Composition/${incident.id}`, reason: expect.stringContaining('R-44') },
      ]),
    );
  });

  it('R-32/R-13/R-31: a document marked final without a signature is pending; one coded subjective anywhere is not copied', async () => {
    const r = await record();
    const { attester: _attester, ...unsigned } = doc(r.patient, r.encounter, '18842-5', '出院记录（未签名）', 'final');
    const marked = await seed(unsigned as Composition);
    const twoCodes = await seed({
      ...doc(r.patient, r.encounter, '34117-2', '入院记录/病程', 'final'),
      type: { coding: [{ system: LOINC, code: '34117-2' }, { system: 'https://chartwarden.dev/fhir/CodeSystem/document-type', code: 'daily-progress-note' }] },
    });
    const request = await open(r.patient, 'patient');
    await upload(request.id, 'id-card');
    await copies(recordRoom, 'POST', `/${request.id}/verify`, { identityChecked: true });
    await copies(approver, 'POST', `/${request.id}/approve`, {});
    const produced = (await copies<ProductionView>(recordRoom, 'POST', `/${request.id}/produce`)).body;
    expect(produced.manifest.map((m) => m.id)).not.toContain(marked.id);
    expect(produced.pending).toContainEqual({ ref: `Composition/${marked.id}`, documentType: 'discharge-record', reason: expect.stringContaining('no legal attester') });
    expect(produced.excluded).toContainEqual({ ref: `Composition/${twoCodes.id}`, documentType: 'daily-progress-note', reason: expect.stringContaining('R-31') });
  });

  it('R-34: one step at a time: concurrent produces make one copy, approve and refuse cannot both win, a copy is delivered once; the server stays responsive', async () => {
    const r = await record();
    const ready = async () => {
      const request = await open(r.patient, 'patient');
      await upload(request.id, 'id-card');
      await copies(recordRoom, 'POST', `/${request.id}/verify`, { identityChecked: true });
      return request;
    };
    const race = await ready();
    const decisions = await Promise.all([
      copies(approver, 'POST', `/${race.id}/approve`, {}),
      copies(recordRoom, 'POST', `/${race.id}/refuse`, { reason: '并发' }),
    ]);
    expect(decisions.map((d) => d.status).sort()).toEqual([200, 409]);
    const request = await ready();
    await copies(approver, 'POST', `/${request.id}/approve`, {});
    // More concurrent produces than the test server's pool has connections (5).
    const produces = await Promise.all(Array.from({ length: 7 }, () => copies<ProductionView>(recordRoom, 'POST', `/${request.id}/produce`)));
    expect(produces.filter((p) => p.status === 201)).toHaveLength(1);
    expect(produces.filter((p) => p.status !== 201).every((p) => p.status === 422 || p.status === 409)).toBe(true);
    expect(await db.query('SELECT copy_no FROM copy_production WHERE request_id = $1', [request.id]).then((x) => x.rowCount)).toBe(1);
    expectStatus(await fhir(his, 'GET', `Patient/${r.patient}`), 200);
    const deliveries = await Promise.all([copies(recordRoom, 'POST', `/${request.id}/deliver`, deliverBody), copies(recordRoom, 'POST', `/${request.id}/deliver`, deliverBody)]);
    expect(deliveries.map((d) => d.status).sort()).toEqual([200, 409]);
    const view = (await copies(recordRoom, 'GET', `/${request.id}`)).body;
    expect(view.events.filter((e) => e.step === 'delivered')).toHaveLength(1);
  });

  it('R-44/R-34: a copy made before a public incident sealed its records is no longer handed out; a request that cannot be completed is closed with a reason', async () => {
    const r = await record();
    const request = await open(r.patient, 'patient');
    await upload(request.id, 'id-card');
    await copies(recordRoom, 'POST', `/${request.id}/verify`, { identityChecked: true });
    await copies(approver, 'POST', `/${request.id}/approve`, {});
    const produced = (await copies<ProductionView>(recordRoom, 'POST', `/${request.id}/produce`)).body;
    const officer = await server.token({ sub: `officer-copy2-${run}`, roles: ['disputes-officer'] });
    const sealed = await httpRequest<{ status: string }>(`${root}/disputes`, 'POST', { token: officer, contentType: 'application/json', body: { patient: r.patient, reason: '舆情', trigger: 'public-incident', team: ['Practitioner/case-lead'] } });
    expect(sealed.body.status).toBe('sealed');
    expectOutcome(await httpRequest(produced.json, 'GET', { token: recordRoom }), 403, 'forbidden', 'copy.withheld');
    expectOutcome(await copies(recordRoom, 'POST', `/${request.id}/deliver`, deliverBody), 403, 'forbidden', 'copy.withheld');
    expectOutcome(await copies(recordRoom, 'POST', `/${request.id}/close`, {}), 400, 'invalid', 'copy.invalid');
    const closed = await copies(recordRoom, 'POST', `/${request.id}/close`, { reason: '病历因舆情事件封存，无法提供' });
    expectStatus(closed, 200);
    expect(closed.body).toMatchObject({ status: 'closed', closedAt: expect.any(String) });
    expect(closed.body.events.at(-1)).toMatchObject({ step: 'closed', reason: '病历因舆情事件封存，无法提供' });
    expectOutcome(await copies(recordRoom, 'POST', `/${request.id}/close`, { reason: 'again' }), 409, 'conflict', 'copy.wrong-state');
  });

  it('R-33: the copy is handed to the requester only: another ID number is refused', async () => {
    const r = await record();
    const request = await open(r.patient, 'agent');
    for (const kind of ['id-card', 'agent-id', 'proof-of-agency', 'power-of-attorney']) await upload(request.id, kind);
    await copies(recordRoom, 'POST', `/${request.id}/verify`, { identityChecked: true });
    await copies(approver, 'POST', `/${request.id}/approve`, {});
    await copies(recordRoom, 'POST', `/${request.id}/produce`);
    expectOutcome(await copies(recordRoom, 'POST', `/${request.id}/deliver`, { ...deliverBody, recipient: { name: '他人', idNumber: '110101199909099999' } }), 422, 'business-rule', 'copy.recipient-mismatch');
    expectOutcome(await copies(recordRoom, 'POST', `/${request.id}/deliver`, { recipient: { name: '申请人', idNumber: ID_NUMBER } }), 400, 'invalid', 'copy.invalid');
    expect((await copies(recordRoom, 'GET', `/${request.id}`)).body.status).toBe('produced');
  });

  it('R-20/R-22/R-34: every step is in the audit trail; production and delivery are disclosures of the patient (DCM 110106)', async () => {
    const r = await record();
    const create = await copies(recordRoom, 'POST', '', { patient: r.patient, requesterType: 'patient', requester: requesterOf('patient'), purpose: '复诊', scope: { all: true } });
    const id = create.body.id;
    const evidence = await upload(id, 'id-card');
    const verify = await copies(recordRoom, 'POST', `/${id}/verify`, { identityChecked: true });
    const approve = await copies(approver, 'POST', `/${id}/approve`, {});
    const produce = await copies(recordRoom, 'POST', `/${id}/produce`);
    const deliver = await copies(recordRoom, 'POST', `/${id}/deliver`, deliverBody);
    const steps = [
      [create, 'copy-request'],
      [evidence, 'copy-evidence'],
      [verify, 'copy-verify'],
      [approve, 'copy-approve'],
      [produce, 'copy-produce'],
      [deliver, 'copy-deliver'],
    ] as const;
    for (const [res, subtype] of steps) {
      const entries = await auditOf(res.headers.get('x-request-id'));
      expect({ subtype, entries: entries.map((e) => [e.subtype, e.outcome, e.patient]) }).toEqual({ subtype, entries: [[subtype, 0, r.patient]] });
    }
    for (const res of [produce, deliver]) expect((await auditOf(res.headers.get('x-request-id')))[0].content).toContain('"lifecycle":"disclose"');
    const queue = await copies<CopyRequestView[]>(recordRoom, 'GET', `?patient=${r.patient}`);
    expect(queue.body.map((q) => q.id)).toEqual([id]);
    const auditor = await server.token({ sub: `auditor-copy-${run}`, roles: ['auditor'] });
    const events = await fhir<Bundle>(auditor, 'GET', `AuditEvent?patient=Patient/${r.patient}&subtype=copy-produce`);
    expect(events.body.entry?.[0].resource).toMatchObject({ type: { code: '110106' } });
  });

  it('the desk\'s API is documented with OpenAPI at /docs-json', async () => {
    const doc = await httpRequest<{ paths: Record<string, unknown> }>(`${root}/docs-json`, 'GET', { headers: { accept: 'application/json' } });
    expectStatus(doc, 200);
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(['/copy-requests', '/copy-requests/{id}/evidence', '/copy-requests/{id}/verify', '/copy-requests/{id}/produce', '/copy-requests/{id}/deliver', '/copy-requests/{id}/close']),
    );
  });

  it('R-20: a clinician prints a record as a PDF watermarked with who (by name) and when; a nurse may not; the print is a disclosure', async () => {
    const r = await record();
    const res = await fetch(`${server.fhirBase}/Composition/${r.discharge.id}/$print`, { headers: { authorization: `Bearer ${attending}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/pdf');
    const pages = await pdfPages(Buffer.from(await res.arrayBuffer()));
    const text = pages.join('').replace(/\s+/g, '');
    // Who printed it by name (issue #18), never the reference.
    expect(text).toContain(`${DR_NAME}打印`);
    expect(text).not.toContain(DR);
    expect(text).toContain('出院记录');
    expect(text).toContain(contentSha256((await fhir<Resource>(his, 'GET', `Composition/${r.discharge.id}`)).body));
    const [entry] = await auditOf(res.headers.get('x-request-id'));
    expect(entry).toMatchObject({ subtype: 'print', outcome: 0, patient: r.patient });
    expect(entry.content).toContain('"lifecycle":"disclose"');
    const refused = await fhir(nurse, 'GET', `Composition/${r.discharge.id}/$print`);
    expectOutcome(refused, 403, 'forbidden', 'access.forbidden');
  });

  it('R-20/R-22: Patient/$everything is an export: allowed to the treating doctor, not to a nurse who may read, and logged as a disclosure', async () => {
    const r = await record();
    const mine = await fhir<Bundle>(attending, 'GET', `Patient/${r.patient}/$everything`);
    expectStatus(mine, 200);
    expect(mine.body.total).toBeGreaterThanOrEqual(6);
    const [entry] = await auditOf(mine.headers.get('x-request-id'));
    expect(entry).toMatchObject({ subtype: 'everything', outcome: 0, patient: r.patient });
    expect(entry.content).toContain('"lifecycle":"disclose"');
    expectStatus(await fhir(nurse, 'GET', `Composition/${r.discharge.id}`), 200);
    expectOutcome(await fhir(nurse, 'GET', `Patient/${r.patient}/$everything`), 403, 'forbidden', 'access.forbidden');
  });
});

function contentHash(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
