import { createHash, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as mupdf from 'mupdf';
import type {
  Bundle,
  ChargeItem,
  Composition,
  DiagnosticReport,
  DocumentReference,
  Encounter,
  ImagingStudy,
  Invoice,
  MedicationAdministration,
  MedicationRequest,
  Observation,
  OperationOutcome,
  Patient,
  Resource,
  ServiceRequest,
} from '@medplum/fhirtypes';
import { contentSha256 } from '../../src/common/content-hash.js';
import { CONTENT_SHA256_EXTENSION } from '../../src/copies/document-bundle.js';
import { chartPoint, COLOURS, pulseAsCelsius } from '../../src/copies/temperature-chart.js';
import type { CopyRequestView, ProductionView } from '../../src/release/dto/copy-request.view.js';
import { expectStatus } from '../support/fhir-expect.js';
import { httpRequest, seedAs, type HttpResult } from '../support/http.js';
import { pdfPages } from '../support/pdf-text.js';
import { startTestServer, type TestServer } from '../support/test-app.js';

/**
 * A copy holds the whole objective record (issue #16, R-31, R-32), over real HTTP and
 * PostgreSQL: a stay whose record the HIS sends as it really does — a discharge record, three
 * days of vital signs, long-term and temporary orders with their administration, a final
 * blood count with its results (one high), an imaging report and study, a lab report sent as a
 * DocumentReference, a preliminary chemistry panel, charges and an invoice. The copy is read
 * back part by part: the PDF by its text, the temperature chart by its rendered page, the
 * electronic copy by its hashes; what is unfinished waits and is copied once final.
 */
const run = randomUUID().slice(0, 8);
const DEPT = `cw-whole-${run}`;
const DR = { reference: `Practitioner/dr-whole-${run}`, display: '李建国' };
const NURSE = { reference: `Practitioner/rn-whole-${run}`, display: '张护士' };
const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
const V2_0074 = 'http://terminology.hl7.org/CodeSystem/v2-0074';
const OBS_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
const INTERPRETATION = 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation';
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082', 'hex');
const ID_NUMBER = '110101198801015678';
/** The stay, in Beijing time: admitted 1 March 2025 08:00, discharged 3 March 2025 16:00. */
const DAY = ['2025-03-01', '2025-03-02', '2025-03-03'];
/** Temperatures charted: [day, Beijing hour, °C]; the slot is the hour's 4-hour block (14:00 is slot 3, of the 14 column). */
const TEMPERATURES: [number, number, number][] = [
  [0, 10, 37.2],
  [0, 14, 38.6],
  [0, 18, 39.2],
  [1, 6, 38.2],
  [1, 14, 37.6],
  [2, 10, 36.8],
];
/** Pulses charted on the same scale (40/min at 35 °C, 20/min per °C), away from the temperatures so each mark shows. */
const PULSES: [number, number, number][] = [
  [0, 14, 124],
  [1, 14, 100],
  [2, 10, 84],
];

describe('A copy holds the whole objective record (e2e, real HTTP + PostgreSQL, issue #16)', () => {
  let server: TestServer;
  let root: string;
  let his: string;
  let recordRoom: string;
  let approver: string;

  const fhir = <T = OperationOutcome>(token: string, method: string, path: string, body?: unknown): Promise<HttpResult<T>> => httpRequest<T>(`${server.fhirBase}/${path}`, method, { token, body });
  const copies = <T = CopyRequestView>(token: string, method: string, path: string, body?: unknown) =>
    httpRequest<T>(`${root}/copy-requests${path}`, method, { token, body, contentType: 'application/json', headers: { accept: 'application/json' } });
  const seed = <T extends Resource>(resource: T): Promise<T & { id: string }> => seedAs(server.fhirBase, his, resource);
  const at = (day: number, hour: number) => `${DAY[day]}T${String(hour).padStart(2, '0')}:00:00+08:00`;

  beforeAll(async () => {
    server = await startTestServer();
    root = server.root;
    his = await server.token();
    recordRoom = await server.token({ sub: `rr-whole-${run}`, roles: ['record-room'] });
    approver = await server.token({ sub: `rr-whole-approver-${run}`, roles: ['record-room'] });
    expectStatus(await fhir(his, 'PUT', `Organization/${DEPT}`, { resourceType: 'Organization', id: DEPT, name: '呼吸内科' }), 201);
  });
  afterAll(async () => {
    await server?.close();
  });

  /** The stay as the HIS sends it, every record filed under the encounter. */
  const stay = async () => {
    const patient = await seed<Patient>({ resourceType: 'Patient', name: [{ text: '王小明' }], gender: 'male', birthDate: '1990-05-01' });
    const subject = { reference: `Patient/${patient.id}` };
    const encounter = await seed<Encounter>({
      resourceType: 'Encounter',
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
      subject,
      period: { start: at(0, 8), end: at(2, 16) },
      serviceProvider: { reference: `Organization/${DEPT}` },
      participant: [{ individual: DR }],
    });
    const filed = { subject, encounter: { reference: `Encounter/${encounter.id}` } };
    const discharge = await seed<Composition>({
      resourceType: 'Composition',
      status: 'final',
      type: { coding: [{ system: LOINC, code: '18842-5' }] },
      ...filed,
      date: at(2, 15),
      author: [DR],
      attester: [{ mode: 'legal', time: at(2, 15), party: DR }],
      title: '出院记录',
      section: [{ title: '出院诊断', text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">社区获得性肺炎，治愈出院。</div>' } }],
    });
    const vital = (code: string, display: string, day: number, hour: number, value: number, unit: string, ucum: string): Observation => ({
      resourceType: 'Observation',
      status: 'final',
      category: [{ coding: [{ system: OBS_CATEGORY, code: 'vital-signs' }] }],
      code: { coding: [{ system: LOINC, code, display }] },
      ...filed,
      effectiveDateTime: at(day, hour),
      valueQuantity: { value, unit, system: UCUM, code: ucum },
    });
    const vitals = [
      ...(await Promise.all(TEMPERATURES.map(([d, h, v]) => seed(vital('8310-5', 'Body temperature', d, h, v, '°C', 'Cel'))))),
      ...(await Promise.all(PULSES.map(([d, h, v]) => seed(vital('8867-4', 'Heart rate', d, h, v, '次/分', '/min'))))),
      await seed(vital('9279-1', 'Respiratory rate', 0, 14, 24, '次/分', '/min')),
      await seed({
        ...vital('85354-9', 'Blood pressure panel', 1, 10, 0, '', ''),
        valueQuantity: undefined,
        component: [
          { code: { coding: [{ system: LOINC, code: '8480-6' }] }, valueQuantity: { value: 132, unit: 'mmHg', system: UCUM, code: 'mm[Hg]' } },
          { code: { coding: [{ system: LOINC, code: '8462-4' }] }, valueQuantity: { value: 84, unit: 'mmHg', system: UCUM, code: 'mm[Hg]' } },
        ],
      }),
    ];
    const longTerm = await seed<MedicationRequest>({
      resourceType: 'MedicationRequest',
      status: 'completed',
      intent: 'order',
      courseOfTherapyType: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy', code: 'continuous' }] },
      medicationCodeableConcept: { text: '注射用头孢曲松钠' },
      ...filed,
      authoredOn: at(0, 9),
      requester: DR,
      dosageInstruction: [{ text: '2g 静脉滴注 qd', timing: { repeat: { frequency: 1, period: 1, periodUnit: 'd', boundsPeriod: { start: at(0, 9), end: at(2, 12) } } } }],
    });
    const temporary = await seed<MedicationRequest>({
      resourceType: 'MedicationRequest',
      status: 'completed',
      intent: 'order',
      courseOfTherapyType: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy', code: 'acute' }] },
      medicationCodeableConcept: { text: '对乙酰氨基酚片' },
      ...filed,
      authoredOn: at(0, 18),
      requester: DR,
      dosageInstruction: [{ text: '0.5g 口服 st' }],
    });
    const xray = await seed<ServiceRequest>({ resourceType: 'ServiceRequest', status: 'completed', intent: 'order', code: { text: '胸部正侧位X线摄影' }, ...filed, occurrenceDateTime: at(0, 10), authoredOn: at(0, 9), requester: DR });
    const administration = await seed<MedicationAdministration>({
      resourceType: 'MedicationAdministration',
      status: 'completed',
      medicationCodeableConcept: { text: '对乙酰氨基酚片' },
      subject,
      context: filed.encounter,
      effectiveDateTime: at(0, 18),
      request: { reference: `MedicationRequest/${temporary.id}` },
      performer: [{ actor: NURSE }],
    });
    const result = (text: string, value: number, unit: string, low: number, high: number, status: Observation['status'], flag?: string): Observation => ({
      resourceType: 'Observation',
      status,
      category: [{ coding: [{ system: OBS_CATEGORY, code: 'laboratory' }] }],
      code: { text },
      ...filed,
      effectiveDateTime: at(0, 9),
      valueQuantity: { value, unit },
      referenceRange: [{ low: { value: low, unit }, high: { value: high, unit } }],
      ...(flag ? { interpretation: [{ coding: [{ system: INTERPRETATION, code: flag }] }] } : {}),
    });
    const wbc = await seed(result('白细胞计数', 13.6, '10^9/L', 3.5, 9.5, 'final', 'H'));
    const hgb = await seed(result('血红蛋白', 142, 'g/L', 130, 175, 'final', 'N'));
    const cbc = await seed<DiagnosticReport>({
      resourceType: 'DiagnosticReport',
      status: 'final',
      category: [{ coding: [{ system: V2_0074, code: 'HM' }] }],
      code: { text: '血常规' },
      ...filed,
      effectiveDateTime: at(0, 9),
      issued: at(0, 11),
      performer: [{ display: '检验科 陈检验' }],
      resultsInterpreter: [{ display: '检验科 赵审核' }],
      result: [{ reference: `Observation/${wbc.id}` }, { reference: `Observation/${hgb.id}` }],
    });
    const alt = await seed(result('丙氨酸氨基转移酶', 35, 'U/L', 9, 50, 'preliminary'));
    const lft = await seed<DiagnosticReport>({
      resourceType: 'DiagnosticReport',
      status: 'preliminary',
      category: [{ coding: [{ system: V2_0074, code: 'LAB' }] }],
      code: { text: '肝功能' },
      ...filed,
      effectiveDateTime: at(2, 7),
      result: [{ reference: `Observation/${alt.id}` }],
    });
    const study = await seed<ImagingStudy>({ resourceType: 'ImagingStudy', status: 'available', subject, encounter: filed.encounter, started: at(0, 10), modality: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'DX' }], description: '胸部正侧位' });
    const imaging = await seed<DiagnosticReport>({
      resourceType: 'DiagnosticReport',
      status: 'final',
      category: [{ coding: [{ system: V2_0074, code: 'RAD' }] }],
      code: { text: '胸部X线检查报告' },
      ...filed,
      effectiveDateTime: at(0, 10),
      issued: at(0, 12),
      resultsInterpreter: [{ display: '放射科 孙医生' }],
      imagingStudy: [{ reference: `ImagingStudy/${study.id}` }],
      conclusion: '右下肺斑片状阴影，考虑肺炎。',
    });
    // A lab report as the LIS sends it through the HIS: a DocumentReference, final, signed in the LIS (no authenticator here).
    const labDocument = await seed<DocumentReference>({
      resourceType: 'DocumentReference',
      status: 'current',
      docStatus: 'final',
      type: { coding: [{ system: LOINC, code: '11502-2' }] },
      ...{ subject, context: { encounter: [filed.encounter] } },
      date: at(1, 9),
      description: '痰培养报告',
      content: [{ attachment: { contentType: 'text/plain; charset=utf-8', data: Buffer.from('痰培养：肺炎链球菌（+）').toString('base64') } }],
    });
    const charge = (text: string, quantity: number, total: number): ChargeItem => ({
      resourceType: 'ChargeItem',
      status: 'billed',
      code: { text },
      subject,
      context: filed.encounter,
      occurrenceDateTime: at(2, 10),
      quantity: { value: quantity },
      priceOverride: { value: total, currency: 'CNY' },
    });
    const charges = [await seed(charge('床位费', 3, 150)), await seed(charge('注射用头孢曲松钠', 3, 268.5)), await seed(charge('血常规', 1, 25))];
    const invoice = await seed<Invoice>({ resourceType: 'Invoice', status: 'issued', subject, date: at(2, 16), totalNet: { value: 443.5, currency: 'CNY' }, totalGross: { value: 443.5, currency: 'CNY' } });
    // Not a part R-31 lists: listed as left out, never silently dropped.
    const smoking = await seed<Observation>({ resourceType: 'Observation', status: 'final', category: [{ coding: [{ system: OBS_CATEGORY, code: 'social-history' }] }], code: { text: '吸烟史' }, ...filed, valueString: '不吸烟' });
    return { patient, encounter, discharge, vitals, longTerm, temporary, xray, administration, wbc, hgb, cbc, alt, lft, study, imaging, labDocument, charges, invoice, smoking };
  };

  const approved = async (patient: string) => {
    const created = await copies(recordRoom, 'POST', '', { patient: `Patient/${patient}`, requesterType: 'patient', requester: { name: '王小明', idNumber: ID_NUMBER }, purpose: '医保报销', scope: { all: true } });
    expectStatus(created, 201);
    const id = created.body.id;
    const upload = await fetch(`${root}/copy-requests/${id}/evidence?proves=id-card`, { method: 'POST', headers: { authorization: `Bearer ${recordRoom}`, 'content-type': 'image/png' }, body: PNG });
    expect(upload.status).toBe(201);
    expectStatus(await copies(recordRoom, 'POST', `/${id}/verify`, { identityChecked: true }), 200);
    expectStatus(await copies(approver, 'POST', `/${id}/approve`, {}), 200);
    return id;
  };
  const read = async (url: string) => Buffer.from(await (await fetch(url, { headers: { authorization: `Bearer ${recordRoom}` } })).arrayBuffer());
  const ref = (r: Resource) => `${r.resourceType}/${r.id}`;

  it('R-31/R-32/R-33: every objective part is copied, printed as the hospital prints it and hashed in the Bundle; the unfinished lab report waits and follows once final', async () => {
    const s = await stay();
    const id = await approved(s.patient.id);
    const produced = await copies<ProductionView>(recordRoom, 'POST', `/${id}/produce`);
    expectStatus(produced, 201);
    const copy = produced.body;

    // The manifest: each record under its part, pinned to its version with the store's hash.
    const parts = Object.fromEntries(copy.manifest.map((m) => [`${m.type}/${m.id}`, m.documentType]));
    const expected: [Resource, string][] = [
      [s.discharge, 'discharge-record'],
      ...s.vitals.map((v): [Resource, string] => [v, 'temperature-chart']),
      [s.longTerm, 'orders'],
      [s.temporary, 'orders'],
      [s.xray, 'orders'],
      [s.administration, 'orders'],
      [s.cbc, 'test-report'],
      [s.wbc, 'test-report'],
      [s.hgb, 'test-report'],
      [s.labDocument, 'test-report'],
      [s.imaging, 'imaging-report'],
      [s.study, 'imaging-report'],
      ...s.charges.map((c): [Resource, string] => [c, 'cost-record']),
      [s.invoice, 'cost-record'],
    ];
    expect(Object.keys(parts).sort()).toEqual(expected.map(([r]) => ref(r)).sort());
    for (const [r, part] of expected) expect([ref(r), parts[ref(r)]]).toEqual([ref(r), part]);
    for (const m of copy.manifest) {
      const stored = (await fhir<Resource>(his, 'GET', `${m.type}/${m.id}/_history/${m.version}`)).body;
      expect([m.type, m.id, m.sha256]).toEqual([m.type, m.id, contentSha256(stored)]);
    }
    // the preliminary panel and its result wait; R-31: what is no part is named with the rule.
    expect(copy.pending).toEqual(
      expect.arrayContaining([
        { ref: ref(s.lft), documentType: 'test-report', reason: expect.stringContaining('preliminary') },
        { ref: ref(s.alt), documentType: 'test-report', reason: expect.stringContaining('preliminary') },
      ]),
    );
    expect(copy.pending).toHaveLength(2);
    expect(copy.excluded).toEqual([{ ref: ref(s.smoking), reason: expect.stringContaining('no objective part R-31 lists') }]);

    // The PDF, read as a reader sees it.
    const pdf = await read(copy.pdf);
    expect(createHash('sha256').update(pdf).digest('hex')).toBe(copy.pdfSha256);
    const pages = await pdfPages(pdf);
    const flat = pages.map((p) => p.replace(/\s+/g, ''));
    const text = flat.join('');
    // Issue #18: the patient block on the first page — no 病案号 on this record, so its id, labelled as such; the stay's department and days.
    const producedAt = new Date(Date.parse(copy.createdAt) + 8 * 3_600_000);
    const age = producedAt.getUTCFullYear() - 1990 - (producedAt.toISOString().slice(5, 10) < '05-01' ? 1 : 0);
    for (const t of ['患者信息', '姓名王小明', '性别男', `年龄${age}岁`, `患者ID${s.patient.id}`, '科室呼吸内科', '入院日期2025-03-01', '出院日期2025-03-03']) expect(flat[0]).toContain(t);
    // The manifest names each record by its part's Chinese name and its own title, with its date on Beijing's clock and its version.
    for (const t of [`检验报告·血常规2025-03-0109:00v1DiagnosticReport/${s.cbc.id}`, `医嘱单·注射用头孢曲松钠2025-03-0109:00v1MedicationRequest/${s.longTerm.id}`, `费用清单2025-03-0310:00v1ChargeItem/${s.charges[0].id}`, `医学影像检查报告·胸部X线检查报告`]) {
      expect(text).toContain(t);
    }
    // Discharge record and the lab report DocumentReference, as written.
    for (const t of ['出院记录', '社区获得性肺炎，治愈出院。', '痰培养：肺炎链球菌（+）']) expect(text).toContain(t);
    // Orders: two sheets, each row with its times (Beijing), order, usage, doctor and nurse.
    for (const t of ['长期医嘱单', '临时医嘱单', '开始时间', '医嘱内容', '剂量/用法', '停止时间', '医生', '护士', '注射用头孢曲松钠', '2g静脉滴注qd', '2025-03-0109:00', '2025-03-0312:00', '对乙酰氨基酚片', '2025-03-0118:00', '张护士', '李建国', '胸部正侧位X线摄影']) {
      expect(text).toContain(t);
    }
    const longSheet = text.slice(text.indexOf('长期医嘱单'), text.indexOf('临时医嘱单'));
    expect(longSheet).toContain('注射用头孢曲松钠');
    expect(longSheet).not.toContain('对乙酰氨基酚片');
    // The blood count as a result table: item, result, unit, range and the flag; reported and verified.
    for (const t of ['血常规', '项目', '结果', '单位', '参考范围', '提示', '白细胞计数13.610^9/L3.5–9.5↑', '血红蛋白142g/L130–175', '报告时间:2025-03-0111:00', '审核者:检验科赵审核']) expect(text).toContain(t);
    // The imaging report and its study.
    for (const t of ['胸部X线检查报告', '右下肺斑片状阴影，考虑肺炎。', '放射科孙医生', '胸部正侧位']) expect(text).toContain(t);
    // The cost record: itemised, unit prices derived, totals in yuan with two decimals.
    for (const t of ['费用清单', '数量', '单价', '金额', '床位费', '¥50.00', '¥150.00', '¥89.50', '¥268.50', '合计Total¥443.50', '发票合计Invoicedtotal:¥443.50']) expect(text).toContain(t);
    // Pending lines are printed; what is left out is not printed on the requester's copy.
    expect(text).toContain(`待完成pending:${ref(s.lft)}`);
    expect(text).not.toContain('吸烟史');

    // The temperature chart: its own page, the plotted marks where the grid puts each reading.
    const sheet = flat.findIndex((p) => p.includes('体温单Temperaturechart'));
    expect(sheet).toBeGreaterThan(0);
    for (const t of ['姓名王小明', '性别男', `年龄${age}岁`, '科室呼吸内科', '入院日期2025-03-01', `患者ID${s.patient.id}`, '脉搏', '体温', '呼吸(次/分)', '24', '132/84', '时间为北京时间']) expect(flat[sheet]).toContain(t);
    const scale = 2;
    const pixmap = mupdf.Document.openDocument(pdf, 'application/pdf').loadPage(sheet).toPixmap(mupdf.Matrix.scale(scale, scale), mupdf.ColorSpace.DeviceRGB);
    // For a reader to look at the sheet: CHARTWARDEN_CHART_PNG=/path/chart.png keeps the rendered page.
    if (process.env.CHARTWARDEN_CHART_PNG) writeFileSync(process.env.CHARTWARDEN_CHART_PNG, pixmap.asPNG());
    const width = pixmap.getWidth();
    const pixels = pixmap.getPixels();
    const rgb = (hex: string) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
    const marked = (point: { x: number; y: number }, colour: string) => {
      const want = rgb(colour);
      for (let dy = -2 * scale; dy <= 2 * scale; dy++) {
        for (let dx = -2 * scale; dx <= 2 * scale; dx++) {
          const i = (Math.round(point.y * scale + dy) * width + Math.round(point.x * scale + dx)) * 3;
          if (want.every((c, k) => Math.abs(pixels[i + k] - c) < 60)) return true;
        }
      }
      return false;
    };
    for (const [day, hour, value] of TEMPERATURES) expect({ day, hour, value, blue: marked(chartPoint(day, Math.floor(hour / 4), value), COLOURS.temperature) }).toEqual({ day, hour, value, blue: true });
    for (const [day, hour, rate] of PULSES) expect({ day, hour, rate, red: marked(chartPoint(day, Math.floor(hour / 4), pulseAsCelsius(rate)), COLOURS.pulse) }).toEqual({ day, hour, rate, red: true });
    // Before the first reading and after discharge, no mark.
    for (const [day, slot] of [[0, 0], [0, 1], [4, 3], [5, 3], [6, 3]]) {
      for (const value of [36, 37, 38, 39, 40]) expect({ day, slot, value, blue: marked(chartPoint(day, slot, value), COLOURS.temperature), red: marked(chartPoint(day, slot, value), COLOURS.pulse) }).toEqual({ day, slot, value, blue: false, red: false });
    }

    // The electronic copy: every entry hashes as the store's version, filed under its part.
    const bundleText = (await read(copy.json)).toString('utf8');
    expect(createHash('sha256').update(bundleText, 'utf8').digest('hex')).toBe(copy.bundleSha256);
    const bundle = JSON.parse(bundleText) as Bundle;
    const entries = bundle.entry?.slice(1) ?? [];
    expect(entries.map((e) => `${e.resource?.resourceType}/${e.resource?.id}`).sort()).toEqual(Object.keys(parts).sort());
    for (const e of entries) {
      const stored = (await fhir<Resource>(his, 'GET', `${e.resource?.resourceType}/${e.resource?.id}/_history/${e.resource?.meta?.versionId}`)).body;
      expect(e.extension).toEqual([{ url: CONTENT_SHA256_EXTENSION, valueString: contentSha256(stored) }]);
    }
    const manifest = (bundle.entry?.[0].resource as Composition).section?.[0];
    const under = (title: string) => manifest?.section?.find((x) => x.title === title)?.entry?.map((e) => e.reference?.replace(/^.*\/fhir\/|\/_history\/.*$/g, '')) ?? [];
    expect(under('体温单 temperature-chart').sort()).toEqual(s.vitals.map(ref).sort());
    expect(under('费用清单 cost-record').sort()).toEqual([...s.charges, s.invoice].map(ref).sort());
    expect(under('检验报告 test-report').sort()).toEqual([s.cbc, s.wbc, s.hgb, s.labDocument].map(ref).sort());
    expect((bundle.entry?.[0].resource as Composition).section?.[1]).toMatchObject({ title: 'Pending (not yet complete)' });

    // Delivered in part; the panel is finalised; the next copy holds it and its result alone.
    expect((await copies(recordRoom, 'POST', `/${id}/deliver`, { recipient: { name: '王小明', idNumber: ID_NUMBER }, identityChecked: true, requesterChecked: true })).body.status).toBe('partially-delivered');
    const { meta: _m1, ...alt } = (await fhir<Observation>(his, 'GET', ref(s.alt))).body;
    expectStatus(await fhir(his, 'PUT', ref(s.alt), { ...alt, status: 'final' }), 200);
    const { meta: _m2, ...lft } = (await fhir<DiagnosticReport>(his, 'GET', ref(s.lft))).body;
    expectStatus(await fhir(his, 'PUT', ref(s.lft), { ...lft, status: 'final', issued: at(2, 12) }), 200);
    const second = await copies<ProductionView>(recordRoom, 'POST', `/${id}/produce`);
    expectStatus(second, 201);
    expect(second.body.manifest.map((m) => [`${m.type}/${m.id}`, m.version, m.documentType]).sort()).toEqual(
      [
        [ref(s.alt), 2, 'test-report'],
        [ref(s.lft), 2, 'test-report'],
      ].sort(),
    );
    expect(second.body.pending).toEqual([]);
    const secondText = (await pdfPages(await read(second.body.pdf))).join('').replace(/\s+/g, '');
    expect(secondText).toContain('丙氨酸氨基转移酶35U/L9–50');
    expect(secondText).toContain('肝功能');
  });

  it('R-07/R-31: a structured report under a restricted label is left out with its reason, and so is its uncategorised result: both listed, neither printed', async () => {
    const patient = await seed<Patient>({ resourceType: 'Patient', name: [{ text: '王小明' }], gender: 'male' });
    const subject = { reference: `Patient/${patient.id}` };
    const temperature = await seed<Observation>({
      resourceType: 'Observation',
      status: 'final',
      category: [{ coding: [{ system: OBS_CATEGORY, code: 'vital-signs' }] }],
      code: { coding: [{ system: LOINC, code: '8310-5' }] },
      subject,
      effectiveDateTime: at(0, 10),
      valueQuantity: { value: 37.2, unit: '°C', system: UCUM, code: 'Cel' },
    });
    const antibody = await seed<Observation>({ resourceType: 'Observation', status: 'final', code: { text: 'HIV抗体' }, subject, effectiveDateTime: at(0, 9), valueString: '阴性' });
    const hiv = await seed<DiagnosticReport>({
      resourceType: 'DiagnosticReport',
      meta: { security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' }] },
      status: 'final',
      category: [{ coding: [{ system: V2_0074, code: 'SR' }] }],
      code: { text: 'HIV抗体检测' },
      subject,
      effectiveDateTime: at(0, 9),
      result: [{ reference: `Observation/${antibody.id}` }],
    });
    const id = await approved(patient.id);
    const produced = await copies<ProductionView>(recordRoom, 'POST', `/${id}/produce`);
    expectStatus(produced, 201);
    expect(produced.body.manifest.map((m) => `${m.type}/${m.id}`)).toEqual([ref(temperature)]);
    expect(produced.body.excluded).toEqual(
      expect.arrayContaining([
        { ref: ref(hiv), reason: expect.stringContaining('access policy') },
        { ref: ref(antibody), reason: expect.stringContaining('no objective part R-31 lists') },
      ]),
    );
    expect(produced.body.excluded).toHaveLength(2);
    const text = (await pdfPages(await read(produced.body.pdf))).join('').replace(/\s+/g, '');
    expect(text).toContain('体温单Temperaturechart');
    for (const hidden of ['HIV', '阴性']) expect(text).not.toContain(hidden);
  });
});
