import { createHash, randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Composition, Encounter, Observation, OperationOutcome, Patient, Resource } from '@medplum/fhirtypes';
import type { InventoryLine } from '../../src/disputes/domain/dispute-case.js';
import type { DisputeView } from '../../src/disputes/dto/dispute.view.js';
import { expectOutcome, expectStatus } from '../support/fhir-expect.js';
import { httpRequest, type HttpResult, seedAs } from '../support/http.js';
import { pdfPages } from '../support/pdf-text.js';
import { startTestServer, testDatabaseUrl, TestClock, type TestServer } from '../support/test-app.js';

/**
 * The papers of a dispute (issue #18, R-40…R-43), over real HTTP and PostgreSQL, read back as a
 * reader of the PDF would (pdf.js text extraction): the sealed inventory (封存清单) as a table a
 * lay person checks against the paper — Chinese document names, the records' own dates in Beijing
 * time, versions, the pages each record really occupies, the start of each hash, the digest both
 * sides confirmed — with the patient block and both sides by name; and the unseal record
 * (启封记录) produced at unsealing, kept with its SHA-256, served to the disputes office only,
 * and in the audit trail.
 */
const run = randomUUID().slice(0, 8);
const DEPT = `cw-papers-${run}`;
const DR = `Practitioner/dr-papers-${run}`;
const WITNESS = `Practitioner/witness-papers-${run}`;
const OFFICER = `Practitioner/officer-papers-${run}`;
const APPROVER = `Practitioner/ma-papers-${run}`;
const PATIENT_SIDE = { name: '王小明', relationship: 'spouse', idDocument: { type: 'resident-id-card', number: '110101199001011234' }, confirmed: true };
/** The discharge record's own date: 00:29:15 UTC is 08:29 in Beijing. */
const DISCHARGE_DATE = '2026-03-01T00:29:15Z';
/** The lab result's time: 16:30 UTC on 28 February is 00:30 on 1 March in Beijing (the day changes). */
const LAB_TIME = '2026-02-28T16:30:00Z';
const MR = 'http://terminology.hl7.org/CodeSystem/v2-0203';
/** The stay: admitted two days ago at 01:00 UTC, discharged this morning (UTC). */
const STAY = {
  start: new Date(Math.floor(Date.now() / 86_400_000 - 2) * 86_400_000 + 3_600_000).toISOString(),
  end: new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000 + 2 * 3_600_000).toISOString(),
};

/** Beijing wall-clock time of an instant (UTC+8, no daylight saving), restated here: `YYYY-MM-DD HH:mm`. */
const beijing = (instant: string | Date): string => new Date(new Date(instant).getTime() + 8 * 3_600_000).toISOString().slice(0, 16).replace('T', ' ');
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
/** Page text as a reader's search would match it: no line breaks or spaces inserted by the layout. */
const flat = (text: string): string => text.replace(/\s+/g, '');

describe('Dispute papers: the sealed inventory and the unseal record (e2e, real HTTP + PostgreSQL)', () => {
  const clock = new TestClock();
  let server: TestServer;
  let root: string;
  let db: pg.Client;
  let his: string;
  let attending: string;
  let officer: string;
  let witness: string;
  let medicalAffairs: string;

  const fhir = <T = OperationOutcome>(token: string, method: string, path: string, body?: unknown): Promise<HttpResult<T>> =>
    httpRequest<T>(`${server.fhirBase}/${path}`, method, { token, body });
  const disputes = <T = DisputeView>(token: string, method: string, path: string, body?: unknown) =>
    httpRequest<T>(`${root}/disputes${path}`, method, { token, body, contentType: 'application/json', headers: { accept: 'application/json' } });
  const seed = <T extends Resource>(resource: T): Promise<T & { id: string }> => seedAs(server.fhirBase, his, resource);
  const download = async (token: string, id: string, file: string) => {
    const res = await fetch(`${root}/disputes/${id}/copies/${file}`, { headers: { authorization: `Bearer ${token}` } });
    return { res, bytes: Buffer.from(await res.arrayBuffer()) };
  };
  const auditOf = async (requestId: string | null) =>
    (await db.query<{ subtype: string; outcome: number; patient: string | null; actor: string; entity_id: string | null }>(
      'SELECT subtype, outcome, patient, actor, entity_id FROM audit_entry WHERE request_id = $1 ORDER BY seq',
      [requestId],
    )).rows;

  /**
   * An inpatient stay in the department: a signed discharge record long enough to take more
   * than one page (its last line marked), a final lab result, and an unfinished progress note.
   */
  const record = async () => {
    const patient = await seed<Patient>({
      resourceType: 'Patient',
      name: [{ family: '王', given: ['小明'] }],
      gender: 'male',
      birthDate: '1980-05-01',
      identifier: [{ type: { coding: [{ system: MR, code: 'MR' }] }, value: `MR-${run}` }],
    });
    const encounter = await seed<Encounter>({
      resourceType: 'Encounter',
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
      // Recent, so the attending is still within the care window.
      period: { start: STAY.start, end: STAY.end },
      subject: { reference: `Patient/${patient.id}` },
      serviceProvider: { reference: `Organization/${DEPT}` },
      participant: [{ individual: { reference: DR } }],
    });
    // Each record's own words (R-16 refuses a passage copied from another patient's record).
    const paragraphs = Array.from({ length: 90 }, (_, i) => `<p>第${i + 1}日（${randomUUID().slice(0, 8)}）：体温36.${i % 10}℃，脉搏${60 + i}次/分（${randomUUID().slice(0, 8)}），病情平稳。</p>`).join('');
    const discharge = await seed<Composition>({
      resourceType: 'Composition',
      status: 'final',
      type: { coding: [{ system: 'http://loinc.org', code: '18842-5' }] },
      subject: { reference: `Patient/${patient.id}` },
      encounter: { reference: `Encounter/${encounter.id}` },
      date: DISCHARGE_DATE,
      author: [{ reference: DR }],
      title: '出院记录',
      section: [{ title: '诊疗经过', text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${paragraphs}<p>（出院记录全文完）</p></div>` } }],
    });
    const lab = await seed<Observation>({
      resourceType: 'Observation',
      status: 'final',
      code: { text: '血红蛋白' },
      subject: { reference: `Patient/${patient.id}` },
      encounter: { reference: `Encounter/${encounter.id}` },
      effectiveDateTime: LAB_TIME,
      valueQuantity: { value: 132, unit: 'g/L' },
    });
    const draft = await fhir<Composition>(attending, 'POST', 'Composition', {
      resourceType: 'Composition',
      status: 'preliminary',
      type: { coding: [{ system: 'http://loinc.org', code: '11506-3' }] },
      subject: { reference: `Patient/${patient.id}` },
      encounter: { reference: `Encounter/${encounter.id}` },
      date: '2026-02-28T02:00:00Z',
      author: [{ reference: DR }],
      title: '病程记录',
      section: [{ title: '病程记录', text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">病情平稳。</div>' } }],
    });
    expectStatus(draft, 201);
    return { patient: patient.id, encounter: encounter.id, discharge, lab, draft: draft.body as Composition & { id: string } };
  };
  const preview = async (id: string) => (await disputes<{ digest: string; lines: InventoryLine[] }>(officer, 'GET', `/${id}/inventory`)).body;
  /** Opened for the stay, shown to both sides, confirmed by the hospital witness, sealed with the patient side present. */
  const sealed = async (r: Awaited<ReturnType<typeof record>>) => {
    const opened = await disputes(officer, 'POST', '', { patient: `Patient/${r.patient}`, reason: '患方对诊疗过程有异议', scope: { kind: 'encounters', encounters: [r.encounter] } });
    expectStatus(opened, 201);
    const shown = await preview(opened.body.id);
    expectStatus(await disputes(witness, 'POST', `/${opened.body.id}/confirmations`, { step: 'seal', inventoryDigest: shown.digest }), 201);
    const res = await disputes(officer, 'POST', `/${opened.body.id}/seal`, { inventoryDigest: shown.digest, patientWitness: PATIENT_SIDE });
    expectStatus(res, 200);
    return { c: res.body, shown };
  };

  beforeAll(async () => {
    server = await startTestServer({ clock });
    root = server.root;
    db = new pg.Client({ connectionString: testDatabaseUrl() });
    await db.connect();
    his = await server.token();
    attending = await server.token({ sub: `dr-papers-${run}`, roles: ['attending'], department: DEPT, licence: 'licensed', fhirUser: DR });
    officer = await server.token({ sub: `officer-papers-${run}`, roles: ['disputes-officer'], fhirUser: OFFICER });
    witness = await server.token({ sub: `witness-papers-${run}`, roles: ['medical-affairs'], fhirUser: WITNESS });
    medicalAffairs = await server.token({ sub: `ma-papers-${run}`, roles: ['medical-affairs'], fhirUser: APPROVER });
    expectStatus(await fhir(his, 'PUT', `Organization/${DEPT}`, { resourceType: 'Organization', id: DEPT, name: '心血管内科' }), 201);
    for (const [ref, family, given] of [
      [DR, '陈', '医生'],
      [WITNESS, '李', '卫东'],
      [OFFICER, '赵', '敏'],
      [APPROVER, '周', '建国'],
    ]) {
      const id = ref.split('/')[1];
      expectStatus(await fhir(his, 'PUT', ref, { resourceType: 'Practitioner', id, name: [{ family, given: [given] }] }), 201);
    }
  });
  afterAll(async () => {
    await db?.end();
    await server?.close();
  });

  it('R-40: the sealed inventory is a table with Chinese document names, Beijing dates, versions, the pages each record really occupies and its hash, with the confirmed digest', async () => {
    const r = await record();
    const { c, shown } = await sealed(r);
    const [copy] = c.copies;
    expect(copy.inventorySha256).toBe(shown.digest);
    const { res, bytes } = await download(officer, c.id, '1.pdf');
    expect(res.status).toBe(200);
    expect(sha256(bytes)).toBe(copy.pdfSha256);
    const pages = await pdfPages(bytes);
    expect(pages).toHaveLength(copy.pages);
    const all = flat(pages.join('\n'));

    // The table's headers, and the patient as a Chinese hospital prints them.
    for (const header of ['序号', '文书名称', '日期', '版本', '页数', '摘要']) expect(all).toContain(header);
    const [admitted, discharged] = [beijing(STAY.start).slice(0, 10), beijing(STAY.end).slice(0, 10)];
    for (const field of ['姓名王小明', '性别男', `病案号MR-${run}`, '科室心血管内科', `入院日期${admitted}`, `出院日期${discharged}`]) expect(all).toContain(field);
    // Both sides by name and role, the patient side's relationship in Chinese and ID masked; no reference printed for a person.
    expect(all).toContain('医方Hospitalside:李卫东（医务处）');
    expect(all).toContain('经办人Officer:赵敏患方');
    expect(all).toContain('王小明（配偶），居民身份证****1234');
    expect(all).not.toContain('110101199001011234');
    expect(all).not.toContain('Practitioner/');
    // The seal's time in Beijing time, never as ISO UTC.
    const sealedAt = c.sealedAt as string;
    expect(all).toContain(flat(`封存时间 Time: ${beijing(sealedAt)}（北京时间）`));
    expect(all).not.toContain(sealedAt);

    // Each line of the inventory: 序号, name, own date (Beijing), version, pages, the hash's first 16 hex digits; full hash in the details.
    const lines = new Map(shown.lines.map((l) => [`${l.type}/${l.id}`, l]));
    const discharge = lines.get(`Composition/${r.discharge.id}`) as InventoryLine;
    const lab = lines.get(`Observation/${r.lab.id}`) as InventoryLine;
    const encounter = lines.get(`Encounter/${r.encounter}`) as InventoryLine;
    const draft = lines.get(`Composition/${r.draft.id}`) as InventoryLine;
    expect([discharge.status, lab.status, encounter.status, draft.status]).toEqual(['sealed', 'sealed', 'sealed', 'pending']);
    expect(all).toContain(`出院记录2026-03-01${beijing(DISCHARGE_DATE).slice(10)}`.replace(/\s/g, ''));
    expect(beijing(DISCHARGE_DATE)).toBe('2026-03-01 08:29');
    expect(all).toContain(flat('检验检查结果（血红蛋白）2026-03-01 00:30'));
    expect(all).toContain(flat(`就诊记录（住院）${admitted} 至 ${discharged}`));
    expect(all).toContain(flat('日常病程记录2026-02-28 10:00'));
    for (const line of [discharge, lab, encounter]) {
      expect(all).toContain((line.sha256 as string).slice(0, 16));
      expect(all).toContain(flat(`${line.type}/${line.id} v${line.version} SHA-256 ${line.sha256}`));
    }
    // The unfinished note is listed, marked for a later supplement, without pages or hash.
    expect(all).toContain(flat(`${draft.version}—待补充封存`));
    expect(all).toContain(flat(`待补充封存 pending: Composition/${r.draft.id} v${draft.version}`));

    // 页数: where each sealed record really starts (its numbered heading) and ends (the page of its last line).
    const startOf = (no: number, line: InventoryLine, name: string) => {
      const heading = flat(`${no}. ${name} · ${line.type}/${line.id} v${line.version}`);
      const at = pages.findIndex((p) => flat(p).includes(heading));
      expect({ heading, at }).toEqual({ heading, at: expect.any(Number) });
      expect(at).toBeGreaterThan(0);
      return at + 1;
    };
    // Sealed lines are numbered in the order their records follow the table: the Compositions, the Encounter, the Observation.
    const dischargeFirst = startOf(1, discharge, '出院记录');
    const dischargeLast = pages.findIndex((p) => p.includes('（出院记录全文完）')) + 1;
    expect(dischargeLast).toBeGreaterThan(dischargeFirst);
    const encounterFirst = startOf(2, encounter, '就诊记录（住院）');
    const labFirst = startOf(3, lab, '检验检查结果（血红蛋白）');
    const cell = (first: number, last: number) => (first === last ? `1（第${first}页）` : `${last - first + 1}（第${first}–${last}页）`);
    expect(all).toContain(`${discharge.version}${cell(dischargeFirst, dischargeLast)}${discharge.sha256?.slice(0, 16)}`);
    expect(all).toContain(`${encounter.version}${cell(encounterFirst, encounterFirst)}${encounter.sha256?.slice(0, 16)}`);
    expect(all).toContain(`${lab.version}${cell(labFirst, labFirst)}${lab.sha256?.slice(0, 16)}`);

    // R-40 (G3): the inventory as the console shows it states each sealed line's 页数, the pages the PDF shows it taking; shown before sealing, no line had any.
    expect(shown.lines.filter((l) => 'pages' in l)).toEqual([]);
    const onScreen = await disputes<{ digest: string; lines: (InventoryLine & { pages?: number })[] }>(officer, 'GET', `/${c.id}/inventory`);
    expectStatus(onScreen, 200);
    expect(onScreen.body.digest).toBe(shown.digest);
    const pagesOf = new Map(onScreen.body.lines.map((l) => [`${l.type}/${l.id}`, l.pages]));
    expect({
      discharge: pagesOf.get(`Composition/${r.discharge.id}`),
      encounter: pagesOf.get(`Encounter/${r.encounter}`),
      lab: pagesOf.get(`Observation/${r.lab.id}`),
      draft: pagesOf.get(`Composition/${r.draft.id}`),
    }).toEqual({ discharge: dischargeLast - dischargeFirst + 1, encounter: 1, lab: 1, draft: undefined });
    expect(dischargeLast - dischargeFirst + 1).toBeGreaterThan(1);
    for (const l of onScreen.body.lines.filter((x) => x.status === 'sealed')) expect({ line: l.id, pages: Number.isInteger(l.pages) && (l.pages as number) > 0 }).toEqual({ line: l.id, pages: true });

    // The digest both sides confirmed, set apart with what it means, and in every page's footer; the stamp on every page.
    expect(all).toContain(flat(`SHA-256 ${shown.digest}`));
    expect(all).toContain('医患双方核对并确认的数值');
    pages.forEach((page, i) => {
      expect({ page: i + 1, footer: flat(page).includes(flat(`清单摘要 Inventory digest ${shown.digest}`)) }).toEqual({ page: i + 1, footer: true });
      expect({ page: i + 1, stamp: page.includes('病历封存专用章') }).toEqual({ page: i + 1, stamp: true });
    });
    expect(all).not.toContain('SEALED');
    expect(all).toContain(flat('医方签字 Hospital side：'));
    expect(all).toContain(flat('患方签字 Patient side：'));
  });

  it('R-41: a supplement lists the lines sealed before as 已封存(第1次) and seals the completed note with its pages', async () => {
    const r = await record();
    const { c } = await sealed(r);
    expectStatus(await fhir(attending, 'POST', `Composition/${r.draft.id}/$sign`), 200);
    const supplemented = await disputes<DisputeView & { supplemented: string[] }>(officer, 'POST', `/${c.id}/supplement`);
    expectStatus(supplemented, 200);
    const second = supplemented.body.copies[1];
    const { bytes } = await download(officer, c.id, '2.pdf');
    expect(sha256(bytes)).toBe(second.pdfSha256);
    const pages = await pdfPages(bytes);
    const all = flat(pages.join('\n'));
    const inventory = await preview(c.id);
    const note = inventory.lines.find((l) => l.id === r.draft.id) as InventoryLine;
    expect(note.status).toBe('sealed');
    // The three lines of copy 1, each marked, then the note sealed now (the signature's Provenance with it).
    expect(all.match(/已封存\(第1次\)/g)).toHaveLength(3);
    expect(all).toContain(flat('补充封存 supplement（第2份）'));
    expect(all).toContain(flat('未到场：补充封存由医院进行 (R-41)'));
    // Its digest covers every line so far, and it says so: the one both sides confirmed is on copy 1.
    expect(second.inventorySha256).toBe(inventory.digest);
    expect(all).toContain(flat(`清单摘要 Inventory digest（截至本份 as of this copy）`));
    expect(all).toContain(flat(`SHA-256 ${second.inventorySha256}`));
    expect(all).not.toContain('医患双方确认confirmedbybothsides');
    const heading = flat(`4. 日常病程记录 · Composition/${note.id} v${note.version}`);
    const first = pages.findIndex((p) => flat(p).includes(heading)) + 1;
    expect(first).toBeGreaterThan(1);
    expect(all).toContain(`日常病程记录2026-02-2810:00${note.version}1（第${first}页）${note.sha256?.slice(0, 16)}`);
    // R-41 (G3): on screen the note takes the page copy 2 gives it; the lines of copy 1 keep the pages copy 1 gave them.
    const onScreen = inventory.lines as (InventoryLine & { pages?: number })[];
    expect(onScreen.find((l) => l.id === r.draft.id)?.pages).toBe(1);
    expect(onScreen.find((l) => l.id === r.discharge.id)?.pages).toBeGreaterThan(1);
    expect(onScreen.filter((l) => l.status === 'sealed').every((l) => Number.isInteger(l.pages) && (l.pages as number) > 0)).toBe(true);
  });

  it('R-43: unsealing with both sides produces the 启封记录, kept with its SHA-256, served to the disputes office only, and in the audit trail', async () => {
    const r = await record();
    const { c } = await sealed(r);
    // Before unsealing there is no unseal record: not found.
    const early = await disputes(officer, 'GET', `/${c.id}/copies/unseal-record.pdf`);
    expectOutcome(early, 404, 'not-found', 'disputes.not-found');
    // A refused unseal (the hospital witness has not confirmed) produces nothing.
    expectOutcome(await disputes(officer, 'POST', `/${c.id}/unseal`, { basis: 'both-sides', patientWitness: PATIENT_SIDE }), 422, 'business-rule', 'disputes.confirmation-missing');
    expect((await db.query('SELECT 1 FROM dispute_unseal_record WHERE dispute_id = $1', [c.id])).rowCount).toBe(0);

    expectStatus(await disputes(witness, 'POST', `/${c.id}/confirmations`, { step: 'unseal' }), 201);
    const unsealed = await disputes(officer, 'POST', `/${c.id}/unseal`, { basis: 'both-sides', patientWitness: PATIENT_SIDE });
    expectStatus(unsealed, 200);
    expect(unsealed.body.status).toBe('unsealed');
    // Produced in the step: the unsealing's own entry (lifecycle unhold) committed with it.
    expect(await auditOf(unsealed.headers.get('x-request-id'))).toEqual([
      expect.objectContaining({ subtype: 'dispute-unseal', outcome: 0, patient: r.patient, actor: `officer-papers-${run}`, entity_id: c.id }),
    ]);
    const [row] = (await db.query<{ pdf: Buffer; pdf_sha256: string; pages: number; created_at: Date; created_by: string; inventory_sha256: string }>(
      'SELECT pdf, pdf_sha256, pages, created_at, created_by, inventory_sha256 FROM dispute_unseal_record WHERE dispute_id = $1',
      [c.id],
    )).rows;
    expect(sha256(row.pdf)).toBe(row.pdf_sha256);
    expect(row.created_at.toISOString()).toBe(unsealed.body.unsealedAt);
    expect(row.created_by).toBe(`officer-papers-${run}`);
    expect(row.inventory_sha256).toBe((await preview(c.id)).digest);

    // Downloaded by the officer exactly as stored; the download is in the trail.
    const { res, bytes } = await download(officer, c.id, 'unseal-record.pdf');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/pdf');
    expect(res.headers.get('x-content-sha256')).toBe(row.pdf_sha256);
    expect(sha256(bytes)).toBe(row.pdf_sha256);
    expect(bytes.equals(row.pdf)).toBe(true);
    expect(await auditOf(res.headers.get('x-request-id'))).toEqual([expect.objectContaining({ subtype: 'dispute-copies', outcome: 0, patient: r.patient, entity_id: c.id })]);

    const pages = await pdfPages(bytes);
    expect(pages).toHaveLength(row.pages);
    const all = flat(pages.join('\n'));
    for (const text of [
      '病历启封记录',
      c.id,
      `病案号MR-${run}`,
      '科室心血管内科',
      '医患双方共同在场启封',
      '医方在场Hospitalside:李卫东（医务处）',
      '启封经办人Officer:赵敏',
      '患方在场Patientside:王小明（配偶），居民身份证****1234',
      flat(`启封时间 Unsealed: ${beijing(unsealed.body.unsealedAt as string)}（北京时间）`),
      flat(`封存时间 Sealed: ${beijing(c.sealedAt as string)}（北京时间）`),
      flat(`SHA-256 ${row.inventory_sha256}`),
      flat(`清单摘要 ${c.copies[0].inventorySha256}`),
      '医方签字',
      '患方签字',
    ]) {
      expect({ text, found: all.includes(text) }).toEqual({ text, found: true });
    }
    expect(all).not.toContain('Practitioner/');
    expect(all).not.toContain('110101199001011234');
    expect(all).not.toContain(unsealed.body.unsealedAt as string);
    for (const page of pages) expect(page).toContain('病历封存专用章');

    // A clinician is refused it as the sealed copies are refused (the route's permission), and the refusal is in the trail.
    const refused = await disputes(attending, 'GET', `/${c.id}/copies/unseal-record.pdf`);
    expectOutcome(refused, 403, 'forbidden', 'disputes.forbidden');
    expectOutcome(await disputes(attending, 'GET', `/${c.id}/copies/1.pdf`), 403, 'forbidden', 'disputes.forbidden');
    expect(await auditOf(refused.headers.get('x-request-id'))).toEqual([expect.objectContaining({ subtype: 'dispute-copies', outcome: 4 })]);
    // Kept as produced: the database refuses to change or remove it.
    await expect(db.query(`UPDATE dispute_unseal_record SET pages = pages + 1 WHERE dispute_id = $1`, [c.id])).rejects.toThrow();
    await expect(db.query(`DELETE FROM dispute_unseal_record WHERE dispute_id = $1`, [c.id])).rejects.toThrow();
  });

  it('R-43: a unilateral unseal after 3 years without a claim prints its basis, the date the 3 years passed, and who approved it', async () => {
    const r = await record();
    const { c } = await sealed(r);
    clock.advance(3.01 * 365.25 * 86_400_000);
    const approval = await disputes<{ confirmedAt: string }>(medicalAffairs, 'POST', `/${c.id}/confirmations`, { step: 'unseal', basis: 'no-claim', reason: '封存满三年患方未提起诉讼' });
    expectStatus(approval, 201);
    const unsealed = await disputes(officer, 'POST', `/${c.id}/unseal`, { basis: 'no-claim' });
    expectStatus(unsealed, 200);
    const { res, bytes } = await download(officer, c.id, 'unseal-record.pdf');
    expect(res.status).toBe(200);
    const [row] = (await db.query<{ pdf_sha256: string }>('SELECT pdf_sha256 FROM dispute_unseal_record WHERE dispute_id = $1', [c.id])).rows;
    expect(sha256(bytes)).toBe(row.pdf_sha256);
    const all = flat((await pdfPages(bytes)).join('\n'));
    // Three calendar years after the seal, restated: the same instant three years on.
    const sealedAt = new Date(c.sealedAt as string);
    const threeYears = new Date(sealedAt);
    threeYears.setUTCFullYear(sealedAt.getUTCFullYear() + 3);
    for (const text of [
      '封存满3年未提起诉讼，医院单方启封',
      flat(`封存日期 Sealed on: ${beijing(sealedAt).slice(0, 10)}`),
      flat(`满 3 年之日 3 years passed on: ${beijing(threeYears)}（北京时间）`),
      flat(`批准人 Approved by: 周建国（医务处），批准时间 ${beijing(approval.body.confirmedAt)}（北京时间）`),
      '启封经办人Officer:赵敏',
      '启封理由Reason:封存满三年患方未提起诉讼',
      '患方Patientside:未到场',
      '批准人签字',
    ]) {
      expect({ text, found: all.includes(text) }).toEqual({ text, found: true });
    }
  });
});
