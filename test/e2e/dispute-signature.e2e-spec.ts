import { createHash, randomUUID } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import pg from 'pg';
import type { Composition, Encounter, Patient } from '@medplum/fhirtypes';
import type { DisputeView, InventoryView } from '../../src/disputes/dto/dispute.view.js';
import { MAX_SIGNATURE_BYTES } from '../../src/disputes/domain/patient-signature.js';
import { expectOutcome, expectStatus } from '../support/fhir-expect.js';
import { jsonApi, seedAs } from '../support/http.js';
import { pdfPages } from '../support/pdf-text.js';
import { closeAll, startTestServer, testDatabaseUrl, type TestServer } from '../support/test-app.js';

/**
 * The patient side's drawn signature at sealing and unsealing (issue #18, R-40, R-43), over real
 * HTTP and PostgreSQL: a PNG (by its bytes) is kept append-only with its SHA-256, which the sealed
 * copy's witnesses record and its PDF prints; anything else is refused before a thing is stored.
 * Also: the inventory's display fields (文书名称, 日期) leave its lines and digest as they were, and
 * a sealed case says from when the hospital may unseal alone.
 */
const run = randomUUID().slice(0, 8);
const DR = `Practitioner/dr-sig-${run}`;
const DEPT = `cw-sig-${run}`;
const PATIENT_SIDE = { name: '李梅', relationship: 'spouse', idDocument: { type: 'resident-id-card', number: '110101199001011234' }, confirmed: true };

/** A real PNG of `width`×`height` grey pixels (random noise when `noisy`, so it does not compress). */
function png(width: number, height: number, noisy = false): Buffer {
  const crc = (buf: Buffer) => {
    let c = ~0;
    for (const b of buf) {
      c ^= b;
      for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
    }
    return (~c >>> 0) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc(body), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 0; // greyscale
  const rows = Buffer.alloc((width + 1) * height, 0xff);
  for (let y = 0; y < height; y++) {
    rows[y * (width + 1)] = 0;
    if (noisy) for (let x = 1; x <= width; x++) rows[y * (width + 1) + x] = Math.floor(Math.random() * 256);
  }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', deflateSync(rows, { level: 0 })), chunk('IEND', Buffer.alloc(0))]);
}
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('Disputes: the patient side\'s drawn signature (e2e, real HTTP + PostgreSQL)', () => {
  let server: TestServer;
  let db: pg.Client;
  let his: string;
  let officer: string;
  let witness: string;
  let attending: string;
  const disputes = jsonApi<DisputeView>(() => `${server.root}/disputes`);
  const signatureRows = async (id: string) => (await db.query<{ sha256: string; content: Buffer; step: string; size: number; created_by: string }>('SELECT sha256, content, step, size, created_by FROM dispute_signature WHERE dispute_id = $1', [id])).rows;

  /** A patient with a finished visit, a signed discharge record and a draft progress note; a case opened for them, its inventory confirmed by the witness. */
  const confirmedCase = async () => {
    const seed = <T extends { resourceType: string }>(r: T) => seedAs(server.fhirBase, his, r as never) as Promise<T & { id: string }>;
    const patient = await seed<Patient>({ resourceType: 'Patient', name: [{ text: '王小明' }] });
    const encounter = await seed<Encounter>({
      resourceType: 'Encounter',
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
      subject: { reference: `Patient/${patient.id}` },
      serviceProvider: { reference: `Organization/${DEPT}` },
      participant: [{ individual: { reference: DR } }],
      period: { start: '2026-11-20T08:00:00+08:00', end: '2026-11-27T10:00:00+08:00' },
    });
    const note = (status: Composition['status'], code: string, title: string): Composition => ({
      resourceType: 'Composition',
      status,
      type: { coding: [{ system: 'http://loinc.org', code }] },
      subject: { reference: `Patient/${patient.id}` },
      encounter: { reference: `Encounter/${encounter.id}` },
      date: '2026-11-27T09:00:00+08:00',
      author: [{ reference: DR }],
      title,
      section: [{ title, text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${title}</div>` } }],
    });
    const discharge = await seed(note('final', '18842-5', '出院记录'));
    const draft = await seedAs(server.fhirBase, attending, note('preliminary', '11506-3', '病程记录'));
    const opened = await disputes(officer, 'POST', '', { patient: `Patient/${patient.id}`, reason: '患方对手术结果有异议', scope: { kind: 'whole-record' } });
    expectStatus(opened, 201);
    const shown = await disputes<InventoryView>(officer, 'GET', `/${opened.body.id}/inventory`);
    expectStatus(shown, 200);
    expectStatus(await disputes(witness, 'POST', `/${opened.body.id}/confirmations`, { step: 'seal', inventoryDigest: shown.body.digest }), 201);
    return { id: opened.body.id, shown: shown.body, encounter: encounter.id, discharge: discharge.id, draft: draft.id };
  };
  const seal = (id: string, digest: string, signature?: unknown) =>
    disputes(officer, 'POST', `/${id}/seal`, { inventoryDigest: digest, patientWitness: { ...PATIENT_SIDE, ...(signature === undefined ? {} : { signature }) } });

  beforeAll(async () => {
    server = await startTestServer();
    db = new pg.Client({ connectionString: testDatabaseUrl() });
    await db.connect();
    his = await server.token();
    officer = await server.token({ sub: `officer-sig-${run}`, roles: ['disputes-officer'], fhirUser: `Practitioner/officer-sig-${run}` });
    witness = await server.token({ sub: `ma-sig-${run}`, roles: ['medical-affairs'], fhirUser: `Practitioner/ma-sig-${run}` });
    attending = await server.token({ sub: `dr-sig-${run}`, roles: ['attending'], department: DEPT, licence: 'licensed', fhirUser: DR });
    expectStatus(await jsonApi(() => server.fhirBase)(his, 'PUT', `/Organization/${DEPT}`, { resourceType: 'Organization', id: DEPT, name: DEPT }, { 'content-type': 'application/fhir+json' }), 201);
  });
  afterAll(() => closeAll(db, server));

  it('R-40: a drawn PNG is kept with its SHA-256; the sealed copy records the hash with the patient side and prints it; the officer downloads the same bytes', async () => {
    const c = await confirmedCase();
    const drawn = png(300, 100);
    const res = await seal(c.id, c.shown.digest, { contentType: 'image/png', data: drawn.toString('base64') });
    expectStatus(res, 200);
    expect(res.body.status).toBe('sealed');
    const url = `${server.root}/disputes/${c.id}/signatures/${sha256(drawn)}.png`;
    expect(res.body.copies[0].witnesses.patient).toEqual({ ...PATIENT_SIDE, signature: { contentType: 'image/png', sha256: sha256(drawn), size: drawn.length, url } });

    // Stored once, as received, with the seal's officer; its hash is the one recorded.
    const rows = await signatureRows(c.id);
    expect(rows.map((r) => ({ ...r, content: sha256(r.content) }))).toEqual([{ sha256: sha256(drawn), content: sha256(drawn), step: 'seal', size: drawn.length, created_by: `officer-sig-${run}` }]);
    expect(rows[0].content.equals(drawn)).toBe(true);

    const image = await fetch(url, { headers: { authorization: `Bearer ${officer}` } });
    const bytes = Buffer.from(await image.arrayBuffer());
    expect([image.status, image.headers.get('content-type'), image.headers.get('x-content-sha256'), sha256(bytes)]).toEqual([200, 'image/png', sha256(drawn), sha256(drawn)]);
    const audit = await db.query<{ outcome: number; patient: string }>('SELECT outcome, patient FROM audit_entry WHERE request_id = $1', [image.headers.get('x-request-id')]);
    expect(audit.rows).toEqual([expect.objectContaining({ outcome: 0 })]);
    expectOutcome(await disputes(officer, 'GET', `/${c.id}/signatures/${'0'.repeat(64)}.png`), 404, 'not-found', 'disputes.not-found');

    const pdf = Buffer.from(await (await fetch(`${server.root}/disputes/${c.id}/copies/1.pdf`, { headers: { authorization: `Bearer ${officer}` } })).arrayBuffer());
    expect((await pdfPages(pdf)).join('\n').replace(/\s+/g, ' ')).toContain(`患方签名 SHA-256 Patient side's drawn signature: ${sha256(drawn)}`);
    // The drawn PNG is placed on the signature page, as an image (a copy without one has none: see below).
    const text = (await pdfPages(pdf)).join('\n');
    expect(text).toContain('患方手写签名 Drawn by the patient side:');
    expect(pdf.toString('latin1')).toMatch(/\/Subtype \/Image/);
  });

  it('R-43: unsealing with both sides keeps their new drawn signature too; the unsealing records its hash and the 启封记录 prints it', async () => {
    const c = await confirmedCase();
    expectStatus(await seal(c.id, c.shown.digest, { contentType: 'image/png', data: png(200, 80).toString('base64') }), 200);
    expectStatus(await disputes(witness, 'POST', `/${c.id}/confirmations`, { step: 'unseal' }), 201);
    const drawn = png(260, 90);
    const bad = await disputes(officer, 'POST', `/${c.id}/unseal`, { basis: 'both-sides', patientWitness: { ...PATIENT_SIDE, signature: { contentType: 'image/png', data: Buffer.from('GIF89a....').toString('base64') } } });
    expectOutcome(bad, 400, 'invalid', 'disputes.signature-invalid');
    expect((await disputes(officer, 'GET', `/${c.id}`)).body.status).toBe('sealed');
    const res = await disputes(officer, 'POST', `/${c.id}/unseal`, { basis: 'both-sides', patientWitness: { ...PATIENT_SIDE, signature: { contentType: 'image/png', data: drawn.toString('base64') } } });
    expectStatus(res, 200);
    expect(res.body.unsealing).toMatchObject({ basis: 'both-sides', patient: { name: '李梅', signature: { sha256: sha256(drawn), size: drawn.length } } });
    expect((await signatureRows(c.id)).map((r) => [r.step, sha256(r.content) === r.sha256])).toEqual([
      ['seal', true],
      ['unseal', true],
    ]);
    expect((await signatureRows(c.id)).find((r) => r.step === 'unseal')?.sha256).toBe(sha256(drawn));
    const record = Buffer.from(await (await fetch(`${server.root}/disputes/${c.id}/copies/unseal-record.pdf`, { headers: { authorization: `Bearer ${officer}` } })).arrayBuffer());
    expect((await pdfPages(record)).join('\n').replace(/\s+/g, ' ')).toContain(`患方签名 SHA-256 Patient side's drawn signature: ${sha256(drawn)}`);
  });

  it('R-17: the stored signature cannot be changed or deleted, even in the database', async () => {
    const c = await confirmedCase();
    const drawn = png(120, 40);
    expectStatus(await seal(c.id, c.shown.digest, { contentType: 'image/png', data: drawn.toString('base64') }), 200);
    await expect(db.query(`UPDATE dispute_signature SET content = '\\x00'::bytea WHERE dispute_id = $1`, [c.id])).rejects.toMatchObject({ code: '42501' });
    await expect(db.query(`DELETE FROM dispute_signature WHERE dispute_id = $1`, [c.id])).rejects.toMatchObject({ code: '42501' });
    await expect(db.query(`TRUNCATE dispute_signature`)).rejects.toMatchObject({ code: '42501' });
    const [row] = await signatureRows(c.id);
    expect(sha256(row.content)).toBe(sha256(drawn));
  });

  it('a signature that is not a PNG is refused (400 disputes.signature-invalid); one too large 413; nothing is sealed or stored', async () => {
    const c = await confirmedCase();
    const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(200, 1)]);
    const notPng = await seal(c.id, c.shown.digest, { contentType: 'image/png', data: jpeg.toString('base64') });
    expect(expectOutcome(notPng, 400, 'invalid', 'disputes.signature-invalid').issue?.[0].details?.text).toContain('not a PNG');
    expectOutcome(await seal(c.id, c.shown.digest, { contentType: 'image/png', data: '不是base64' }), 400, 'invalid', 'disputes.signature-invalid');
    expectOutcome(await seal(c.id, c.shown.digest, { contentType: 'image/jpeg', data: png(10, 10).toString('base64') }), 400, 'invalid', 'disputes.signature-invalid');
    const huge = png(800, 700, true);
    expect(huge.length).toBeGreaterThan(MAX_SIGNATURE_BYTES);
    const tooLarge = await seal(c.id, c.shown.digest, { contentType: 'image/png', data: huge.toString('base64') });
    expect(expectOutcome(tooLarge, 413, 'too-long', 'disputes.signature-too-large').issue?.[0].details?.text).toContain(String(MAX_SIGNATURE_BYTES));
    expect(await signatureRows(c.id)).toEqual([]);
    const stillOpen = await disputes(officer, 'GET', `/${c.id}`);
    expect([stillOpen.body.status, stillOpen.body.copies]).toEqual(['open', []]);
    // The typed confirmation alone still seals (the drawn signature is the tablet's way, not a new requirement).
    const sealed = await seal(c.id, c.shown.digest);
    expectStatus(sealed, 200);
    expect(sealed.body.copies[0].witnesses.patient).toEqual(PATIENT_SIDE);
    expect(await signatureRows(c.id)).toEqual([]);
    const plain = Buffer.from(await (await fetch(`${server.root}/disputes/${c.id}/copies/1.pdf`, { headers: { authorization: `Bearer ${officer}` } })).arrayBuffer());
    expect(plain.toString('latin1')).not.toMatch(/\/Subtype \/Image/);
    expect((await pdfPages(plain)).join('\n')).not.toContain('患方签名 SHA-256');
  });

  it('the inventory names each line (文书名称, 日期) outside its lines and digest; a sealed case says when a pending line is complete and from when the hospital may unseal alone', async () => {
    const c = await confirmedCase();
    expect(c.shown.described[`Composition/${c.discharge}`]).toEqual({ name: expect.stringContaining('出院记录'), date: '2026-11-27T09:00:00+08:00' });
    expect(c.shown.described[`Encounter/${c.encounter}`]).toEqual({ name: expect.stringContaining('住院'), date: '2026-11-20T08:00:00+08:00', end: '2026-11-27T10:00:00+08:00' });
    for (const line of c.shown.lines) expect(Object.keys(line).sort()).toEqual(line.status === 'sealed' ? ['id', 'sha256', 'status', 'type', 'version'] : ['id', 'status', 'type', 'version']);
    const sealed = await seal(c.id, c.shown.digest);
    expectStatus(sealed, 200);
    expect(sealed.body.copies[0].inventorySha256).toBe(c.shown.digest);
    const sealedAt = new Date(sealed.body.sealedAt as string);
    expect(sealed.body.unilateralUnsealFrom).toBe(new Date(Date.UTC(sealedAt.getUTCFullYear() + 3, sealedAt.getUTCMonth(), sealedAt.getUTCDate(), sealedAt.getUTCHours(), sealedAt.getUTCMinutes(), sealedAt.getUTCSeconds(), sealedAt.getUTCMilliseconds())).toISOString());

    const before = (await disputes<InventoryView>(officer, 'GET', `/${c.id}/inventory`)).body;
    expect(before.described[`Composition/${c.draft}`]).not.toHaveProperty('completedSince');
    // The doctor signs the pending note: the inventory now says a supplement would seal it.
    const signed = await fetch(`${server.fhirBase}/Composition/${c.draft}/$sign`, { method: 'POST', headers: { authorization: `Bearer ${attending}`, accept: 'application/fhir+json' } });
    expect(signed.status).toBe(200);
    const after = (await disputes<InventoryView>(officer, 'GET', `/${c.id}/inventory`)).body;
    expect(after.described[`Composition/${c.draft}`]).toMatchObject({ completedSince: true });
    expect([after.digest, after.lines]).toEqual([before.digest, before.lines]);
  });
});
