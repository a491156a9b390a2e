import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as mupdf from 'mupdf';
import pg from 'pg';
import { parse } from 'yaml';
import type { Composition, Encounter, Observation, OperationOutcome, Patient, Practitioner } from '@medplum/fhirtypes';
import { MARGINS, PAGE } from '../../src/copies/pdf-renderer.js';
import type { Explanation } from '../../src/policy/explain.service.js';
import type { CopyRequestView, ProductionView } from '../../src/release/dto/copy-request.view.js';
import { expectStatus } from '../support/fhir-expect.js';
import { httpRequest, seedAs, type HttpResult } from '../support/http.js';
import { pdfPages } from '../support/pdf-text.js';
import { connectTestDatabase, startTestServer, TestClock, type TestServer } from '../support/test-app.js';

/**
 * Issue #18 "The papers", over real HTTP and PostgreSQL: a certified copy (R-31…R-33), a
 * clinician's print and an explanation read as a Chinese hospital's papers — times on the
 * hospital's clock in the policy's zone, the patient block (姓名, 性别, 年龄, 病案号 from a
 * policy system, 科室, 入院/出院日期), document types by their Chinese names, signers by name,
 * and the stamp's words and ink from policy. The same record copied by a hospital whose policy
 * says Europe/Berlin reads that zone's clock.
 */
const run = randomUUID().slice(0, 8);
const DEPT = `cw-papers-${run}`;
const DR_ID = `dr-wang-${run}`;
const DR = `Practitioner/${DR_ID}`;
const MRN_SYSTEM = `urn:chartwarden-e2e:mrn:${run}`;
const ID_NUMBER = '11010519491231002X';
const LOINC = 'http://loinc.org';
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082', 'hex');
const HOSPITAL = '仁心医院';
const STAMP_INK = '#1040c0';
/** The record's own time, as the HIS sent it (UTC): 08:29 in Beijing, 01:29 in Berlin. */
const WRITTEN = '2026-03-01T00:29:15Z';
/** When the copy is produced (the server's clock is moved there): 08:29 on 1 March 2027 in Beijing. */
const PRODUCED = Date.parse('2027-03-01T00:29:15Z');

/** The shipped policy with the hospital's paper settings: its name, stamp, zone and the system its 病案号 is in. */
function policyWith(settings: Record<string, unknown>): Record<string, unknown> {
  const file = fileURLToPath(new URL('../../policy/default.policy.yaml', import.meta.url));
  const document = parse(readFileSync(file, 'utf8')) as { settings: Record<string, unknown> };
  return { ...document, settings: { ...document.settings, hospitalName: HOSPITAL, medicalRecordNumberSystems: [MRN_SYSTEM], ...settings } };
}

/** Beijing's wall clock of an instant, computed here without the server's code: UTC+8, no daylight saving. */
const beijing = (ms: number) => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 16).replace('T', ' ');

const flat = (text: string) => text.replace(/\s+/g, '');

describe('Papers as a Chinese hospital prints them (e2e, real HTTP + PostgreSQL, issue #18)', () => {
  const clock = new TestClock();
  let server: TestServer;
  let berlin: TestServer;
  let db: pg.Client;
  let his: string;
  let record: { patient: string; encounter: string; admission: Composition; vital: Observation };

  const fhir = <T = OperationOutcome>(s: TestServer, token: string, method: string, path: string, body?: unknown): Promise<HttpResult<T>> => httpRequest<T>(`${s.fhirBase}/${path}`, method, { token, body });
  const copies = <T = CopyRequestView>(s: TestServer, token: string, method: string, path: string, body?: unknown) =>
    httpRequest<T>(`${s.root}/copy-requests${path}`, method, { token, body, contentType: 'application/json', headers: { accept: 'application/json' } });
  const read = async (url: string, token: string) => Buffer.from(await (await fetch(url, { headers: { authorization: `Bearer ${token}` } })).arrayBuffer());

  /** A patient's request taken to approval on `s`: opened, evidence uploaded, verified, approved by a second clerk. */
  const approved = async (s: TestServer, clerk: string, approver: string) => {
    const created = await copies(s, clerk, 'POST', '', { patient: `Patient/${record.patient}`, requesterType: 'patient', requester: { name: '王小明', idNumber: ID_NUMBER }, purpose: '医保报销', scope: { all: true } });
    expectStatus(created, 201);
    const id = created.body.id;
    const upload = await fetch(`${s.root}/copy-requests/${id}/evidence?proves=id-card`, { method: 'POST', headers: { authorization: `Bearer ${clerk}`, 'content-type': 'image/png' }, body: PNG });
    expect(upload.status).toBe(201);
    expectStatus(await copies(s, clerk, 'POST', `/${id}/verify`, { identityChecked: true }), 200);
    expectStatus(await copies(s, approver, 'POST', `/${id}/approve`, {}), 200);
    return id;
  };

  beforeAll(async () => {
    server = await startTestServer({ clock, policy: policyWith({ stamp: { copy: '病历管理专用章', colour: STAMP_INK } }) });
    berlin = await startTestServer({ policy: policyWith({ timeZone: 'Europe/Berlin' }) });
    db = await connectTestDatabase();
    his = await server.token();
    expectStatus(await fhir(server, his, 'PUT', `Organization/${DEPT}`, { resourceType: 'Organization', id: DEPT, name: '心血管内科' }), 201);
    const doctor: Practitioner = { resourceType: 'Practitioner', id: DR_ID, name: [{ use: 'official', family: '王', given: ['建国'] }] };
    expectStatus(await fhir(server, his, 'PUT', `Practitioner/${DR_ID}`, doctor), 201);
    const patient = await seedAs<Patient>(server.fhirBase, his, {
      resourceType: 'Patient',
      name: [{ family: '王', given: ['小明'] }],
      gender: 'male',
      birthDate: '1959-03-02',
      identifier: [
        { type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] }, value: `MR-TYPED-${run}` },
        { system: MRN_SYSTEM, value: `BA-${run}` },
        { system: 'urn:oid:2.16.156.10011.1.3', value: ID_NUMBER },
      ],
    });
    const subject = { reference: `Patient/${patient.id}` };
    // Admitted 2026-02-27 21:00 UTC (28 Feb in Beijing), discharged 2026-03-05 16:30 UTC (6 March in Beijing).
    const encounter = await seedAs<Encounter>(server.fhirBase, his, {
      resourceType: 'Encounter',
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
      subject,
      period: { start: '2026-02-27T21:00:00Z', end: '2026-03-05T16:30:00Z' },
      serviceProvider: { reference: `Organization/${DEPT}` },
      participant: [{ individual: { reference: DR } }],
    });
    const filed = { subject, encounter: { reference: `Encounter/${encounter.id}` } };
    // The stay ended long ago (outside the care window): Dr Wang prints as a member of the patient's active care team.
    await seedAs(server.fhirBase, his, { resourceType: 'CareTeam', status: 'active', subject, participant: [{ member: { reference: DR } }] });
    const admission = await seedAs<Composition>(server.fhirBase, his, {
      resourceType: 'Composition',
      status: 'final',
      type: { coding: [{ system: LOINC, code: '34117-2' }] },
      ...filed,
      date: WRITTEN,
      author: [{ reference: DR }],
      attester: [{ mode: 'legal', time: WRITTEN, party: { reference: DR } }],
      title: '入院记录',
      section: [{ title: '主诉', text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">胸闷气短三年。</div>' } }],
    });
    const vital = await seedAs<Observation>(server.fhirBase, his, {
      resourceType: 'Observation',
      status: 'final',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
      code: { coding: [{ system: LOINC, code: '8310-5', display: 'Body temperature' }] },
      ...filed,
      effectiveDateTime: '2026-03-01T06:00:00Z',
      performer: [{ reference: DR }],
      valueQuantity: { value: 38.2, unit: '°C', system: 'http://unitsofmeasure.org', code: 'Cel' },
    });
    record = { patient: patient.id, encounter: encounter.id, admission, vital };
  });
  afterAll(async () => {
    await db?.end();
    await berlin?.close();
    await server?.close();
  });

  it('R-05/R-02: an explanation of an access resting on a grant says until when, on the hospital\'s clock', async () => {
    const grantee = `dr-papers-grantee-${run}`;
    const medicalAffairs = await server.token({ sub: `ma-papers-${run}`, roles: ['medical-affairs'] });
    const asker = await server.token({ sub: `dr-papers-asker-${run}`, roles: ['attending'], department: `other-${run}` });
    const until = Math.floor((clock.now().getTime() + 2 * 86_400_000) / 60_000) * 60_000;
    const access = <T>(token: string, method: string, path: string, body?: unknown) =>
      httpRequest<T>(`${server.root}/access/${path}`, method, { token, body, contentType: 'application/json', headers: { accept: 'application/json' } });
    const grant = await access<{ id: string }>(asker, 'POST', 'grants', { grantee, patient: record.patient, purpose: 'research', reason: '回顾性研究', until: new Date(until).toISOString() });
    expectStatus(grant, 201);
    expectStatus(await access(medicalAffairs, 'POST', `grants/${grant.body.id}/approve`, {}), 200);
    const auditor = await server.token({ sub: `auditor-papers-${run}`, roles: ['auditor'] });
    const query = new URLSearchParams({ actor: grantee, roles: 'attending', dept: `other-${run}`, action: 'read', resource: `Observation/${record.vital.id}` });
    const res = await access<Explanation>(auditor, 'GET', `explain?${query}`);
    expectStatus(res, 200);
    expect(res.body).toMatchObject({ allowed: true, decidedBy: 'attending.grant' });
    expect(res.body.explanation).toContain(`The grant lasts until ${beijing(until)} 北京时间.`);
    expect(res.body.explanation).not.toContain(new Date(until).toISOString());
  });

  it('R-20: a clinician\'s print names who printed it and when on the hospital\'s clock, heads the record with the patient block and signs by name', async () => {
    const attending = await server.token({ sub: `dr-papers-${run}`, roles: ['attending'], department: DEPT, licence: 'licensed', fhirUser: DR });
    const before = clock.now().getTime();
    const res = await fetch(`${server.fhirBase}/Composition/${record.admission.id}/$print`, { headers: { authorization: `Bearer ${attending}` } });
    expect(res.status).toBe(200);
    const pages = (await pdfPages(Buffer.from(await res.arrayBuffer()))).map(flat);
    const text = pages.join('');
    // The watermark: the printer by name, the minute on Beijing's clock (the print took under a minute).
    const minutes = [beijing(before), beijing(before + 60_000)].map((t) => `王建国打印${flat(t)}北京时间`);
    expect(minutes.some((m) => pages[0].includes(m))).toBe(true);
    for (const t of [`${HOSPITAL}打印件`, '患者信息', '姓名王小明', '性别男', `病案号BA-${run}`, '科室心血管内科', '入院日期2026-02-28', '出院日期2026-03-06', '日期date:2026-03-0108:29', '作者author:王建国', '签署attester:法定签名王建国2026-03-0108:29']) {
      expect(text).toContain(t);
    }
    expect(text).not.toContain(DR);
    expect(text).not.toContain(WRITTEN);
    const [entry] = (await db.query<{ subtype: string; outcome: number; patient: string }>('SELECT subtype, outcome, patient FROM audit_entry WHERE request_id = $1', [res.headers.get('x-request-id')])).rows;
    expect(entry).toEqual({ subtype: 'print', outcome: 0, patient: record.patient });
  });

  it('R-31/R-32/R-33: the certified copy: patient block, times in Beijing, document types in Chinese, signers by name, the stamp\'s words and ink from policy', async () => {
    const clerk = await server.token({ sub: `rr-papers-${run}`, roles: ['record-room'] });
    const approver = await server.token({ sub: `rr-papers-approver-${run}`, roles: ['record-room'] });
    const id = await approved(server, clerk, approver);
    clock.advanceTo(PRODUCED);
    const produced = await copies<ProductionView>(server, clerk, 'POST', `/${id}/produce`);
    expectStatus(produced, 201);
    expect(produced.body.manifest.map((m) => [`${m.type}/${m.id}`, m.documentType]).sort()).toEqual(
      [
        [`Composition/${record.admission.id}`, 'admission-record'],
        [`Observation/${record.vital.id}`, 'temperature-chart'],
      ].sort(),
    );
    const bytes = await read(produced.body.pdf, clerk);
    const [row] = (await db.query<{ pdf_sha256: string; pages: number; created_at: Date }>('SELECT pdf_sha256, pages, created_at FROM copy_production WHERE request_id = $1', [id])).rows;
    expect(row.pdf_sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    const producedAt = row.created_at.getTime();
    expect(producedAt - PRODUCED).toBeGreaterThanOrEqual(0);
    expect(producedAt - PRODUCED).toBeLessThan(45_000);

    const pages = (await pdfPages(bytes)).map(flat);
    expect(pages).toHaveLength(row.pages);
    // Every page: the hospital's name over the copy, its stamp in the policy's words (R-33's 病历管理专用章, not 病案管理专用章).
    for (const page of pages) {
      expect(page).toContain(`${HOSPITAL}病历复印件`);
      expect(page).toContain(`${HOSPITAL}病历管理专用章`);
      expect(page).not.toContain('病案管理专用章');
    }
    // The first page: the patient block, the request on Beijing's clock, the manifest by Chinese names.
    const first = pages[0];
    for (const t of ['患者信息', '姓名王小明', '性别男', '年龄67岁', `病案号BA-${run}`, '科室心血管内科', '入院日期2026-02-28', '出院日期2026-03-06', '身份证号****002X']) expect(first).toContain(t);
    expect(first).not.toContain(`MR-TYPED-${run}`);
    expect(first).not.toContain(ID_NUMBER);
    expect(first).toContain('复印时间Produced:2027-03-0108:29北京时间');
    expect(first).toContain('本复印件所列时间均为北京时间');
    for (const t of ['复印清单', '序号', '文书名称', '日期', '版本', `入院记录·入院记录2026-03-0108:29v1Composition/${record.admission.id}`, `体温单·Bodytemperature2026-03-0114:00v1Observation/${record.vital.id}`]) expect(first).toContain(t);
    // The record itself: its times on Beijing's clock, its signer by name; never the reference or the UTC time.
    const text = pages.join('');
    for (const t of ['日期date:2026-03-0108:29', '作者author:王建国', '患者subject:王小明', '签署attester:法定签名王建国2026-03-0108:29', '更新时间lastUpdated:', '时间为北京时间']) expect(text).toContain(t);
    expect(text).not.toContain(DR);
    expect(text).not.toContain(WRITTEN);
    // The temperature chart's sheet carries the block too: department and age.
    const sheet = pages.find((p) => p.includes('体温单Temperaturechart')) ?? '';
    for (const t of ['姓名王小明', '年龄67岁', '科室心血管内科', '入院日期2026-02-28', `病案号BA-${run}`]) expect(sheet).toContain(t);

    // The stamp is drawn in the policy's ink: a blue pixel on the seal's circle, no default red there.
    const pixmap = mupdf.Document.openDocument(bytes, 'application/pdf').loadPage(0).toPixmap(mupdf.Matrix.scale(2, 2), mupdf.ColorSpace.DeviceRGB);
    const [width, pixels] = [pixmap.getWidth(), pixmap.getPixels()];
    const inked = (hex: string) => {
      const want = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
      const [x, y] = [(PAGE.width - MARGINS.right) * 2, (PAGE.height - MARGINS.bottom / 2 - 4) * 2];
      for (let dy = -6; dy <= 6; dy++) for (let dx = -6; dx <= 6; dx++) if (want.every((c, k) => Math.abs(pixels[(Math.round(y + dy) * width + Math.round(x + dx)) * 3 + k] - c) < 40)) return true;
      return false;
    };
    expect({ blue: inked(STAMP_INK), red: inked('#c8102e') }).toEqual({ blue: true, red: false });

    // The production is in the trail as a disclosure of the patient.
    const audit = (await db.query<{ subtype: string; outcome: number; patient: string }>('SELECT subtype, outcome, patient FROM audit_entry WHERE request_id = $1', [produced.headers.get('x-request-id')])).rows;
    expect(audit).toEqual([{ subtype: 'copy-produce', outcome: 0, patient: record.patient }]);
  });

  it('R-31/R-33: a hospital whose policy says Europe/Berlin prints the same record on its own clock, naming its zone', async () => {
    const clerk = await berlin.token({ sub: `rr-berlin-${run}`, roles: ['record-room'] });
    const approver = await berlin.token({ sub: `rr-berlin-approver-${run}`, roles: ['record-room'] });
    const id = await approved(berlin, clerk, approver);
    const produced = await copies<ProductionView>(berlin, clerk, 'POST', `/${id}/produce`);
    expectStatus(produced, 201);
    const pages = (await pdfPages(await read(produced.body.pdf, clerk))).map(flat);
    const text = pages.join('');
    // 00:29 UTC on 1 March is 01:29 in Berlin (UTC+1 in winter); admitted 27 Feb 22:00, discharged 5 March 17:30 there.
    for (const t of ['日期date:2026-03-0101:29', '入院日期2026-02-27', '出院日期2026-03-05', '本复印件所列时间均为Europe/Berlin', '时间为Europe/Berlin']) expect(text).toContain(t);
    expect(text).not.toContain('北京时间');
    expect(text).not.toContain('2026-03-0108:29');
    // The default stamp words when the policy does not set them: R-33's.
    expect(pages[0]).toContain(`${HOSPITAL}病历管理专用章`);
  });
});
