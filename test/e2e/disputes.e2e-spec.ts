import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Bundle, Composition, Encounter, Observation, OperationOutcome, Patient, Resource } from '@medplum/fhirtypes';
import type { DisputeView } from '../../src/disputes/dto/dispute.view.js';
import type { InventoryLine } from '../../src/disputes/domain/dispute-case.js';
import { contentSha256 } from '../../src/common/content-hash.js';
import { CONTENT_SHA256_EXTENSION } from '../../src/copies/document-bundle.js';
import { expectOutcome, expectStatus } from '../support/fhir-expect.js';
import { httpRequest, type HttpResult, seedAs } from '../support/http.js';
import { pdfPages } from '../support/pdf-text.js';
import { startTestServer, testDatabaseUrl, TestClock, type TestServer } from '../support/test-app.js';

/**
 * Disputes end to end (issue #7, R-40… ), over real HTTP and PostgreSQL:
 * sealing with both sides present, every write refused while sealed (423, the case named),
 * reads continuing, a later-completed document supplemented, unsealing with both sides, by
 * the hospital alone after the policy's years, public-incident sealing hiding records from
 * people outside the case team, and every step in the audit trail.
 */
const run = randomUUID().slice(0, 8);
const DEPT = `cw-dispute-${run}`;
const DR = `Practitioner/dr-disp-${run}`;
const PATIENT_SIDE = { name: '王小明', relationship: 'spouse', idDocument: { type: 'resident-id-card', number: '110101199001011234' }, confirmed: true };
const YEAR_MS = 365.25 * 86_400_000;

describe('Disputes: seal and unseal (e2e, real HTTP + PostgreSQL)', () => {
  const clock = new TestClock();
  let server: TestServer;
  let root: string;
  let db: pg.Client;
  let his: string;
  let attending: string;
  let chief: string;
  let officer: string;
  let witness: string;
  let medicalAffairs: string;
  let nurse: string;

  const fhir = <T = OperationOutcome>(token: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpResult<T>> =>
    httpRequest<T>(`${server.fhirBase}/${path}`, method, { token, body, headers });
  const disputes = <T = DisputeView>(token: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    httpRequest<T>(`${root}/disputes${path}`, method, { token, body, contentType: 'application/json', headers: { accept: 'application/json', ...headers } });
  const seed = <T extends Resource>(resource: T): Promise<T & { id: string }> => seedAs(server.fhirBase, his, resource);
  const note = (patient: string, encounter: string, status: Composition['status'], title: string): Composition => ({
    resourceType: 'Composition',
    status,
    type: { coding: [{ system: 'http://loinc.org', code: status === 'final' ? '18842-5' : '11506-3' }] },
    subject: { reference: `Patient/${patient}` },
    encounter: { reference: `Encounter/${encounter}` },
    date: new Date().toISOString(),
    author: [{ reference: DR }],
    title,
    section: [{ title, text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${title}：患者王小明，病情平稳。</div>` } }],
  });
  /** A discharged inpatient with a signed discharge record, a final lab result and an unfinished progress note. */
  const record = async () => {
    const patient = await seed<Patient>({ resourceType: 'Patient', name: [{ text: '王小明', family: '王', given: ['小明'] }] });
    const encounter = await seed<Encounter>({
      resourceType: 'Encounter',
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
      period: { start: new Date(clock.now().getTime() - 86_400_000).toISOString(), end: clock.now().toISOString() },
      subject: { reference: `Patient/${patient.id}` },
      serviceProvider: { reference: `Organization/${DEPT}` },
      participant: [{ individual: { reference: DR } }],
    });
    const signed = await seed(note(patient.id as string, encounter.id as string, 'final', '出院记录'));
    const lab = await seed<Observation>({
      resourceType: 'Observation',
      status: 'final',
      code: { text: '血红蛋白' },
      subject: { reference: `Patient/${patient.id}` },
      encounter: { reference: `Encounter/${encounter.id}` },
      valueQuantity: { value: 132, unit: 'g/L' },
    });
    const draft = await fhir<Composition>(attending, 'POST', 'Composition', note(patient.id as string, encounter.id as string, 'preliminary', '病程记录'));
    expectStatus(draft, 201);
    return { patient: patient.id as string, encounter: encounter.id as string, signed, lab, draft: draft.body };
  };
  const open = async (patient: string, extra: Record<string, unknown> = {}) => {
    const res = await disputes(officer, 'POST', '', { patient: `Patient/${patient}`, reason: '患方对手术结果有异议', scope: { kind: 'whole-record' }, ...extra });
    expectStatus(res, 201);
    return res.body;
  };
  /** What both sides are shown before they confirm: the inventory sealing now would write, and its digest. */
  const preview = async (id: string) => (await disputes<{ status: string; digest: string; lines: InventoryLine[] }>(officer, 'GET', `/${id}/inventory`)).body;
  /** The hospital side's witness confirms with their own request. */
  const confirm = (token: string, id: string, body: Record<string, unknown>) => disputes<{ id: string; kind: string; validUntil: string }>(token, 'POST', `/${id}/confirmations`, body);
  /** Shown, confirmed by the hospital witness, then sealed by the officer with the patient side present. */
  const seal = async (id: string) => {
    const { digest } = await preview(id);
    expectStatus(await confirm(witness, id, { step: 'seal', inventoryDigest: digest }), 201);
    return disputes(officer, 'POST', `/${id}/seal`, { inventoryDigest: digest, patientWitness: PATIENT_SIDE });
  };
  const auditOf = async (res: HttpResult<unknown>) =>
    (await db.query<{ subtype: string; outcome: number; patient: string | null; actor: string }>('SELECT subtype, outcome, patient, actor FROM audit_entry WHERE request_id = $1 ORDER BY seq', [res.headers.get('x-request-id')])).rows;
  const versionOf = async (type: string, id: string) => (await fhir<Resource>(his, 'GET', `${type}/${id}`)).body.meta?.versionId;

  beforeAll(async () => {
    server = await startTestServer({ clock });
    root = server.fhirBase.replace(/\/fhir$/, '');
    db = new pg.Client({ connectionString: testDatabaseUrl() });
    await db.connect();
    his = await server.token();
    attending = await server.token({ sub: `dr-disp-${run}`, roles: ['attending'], department: DEPT, licence: 'licensed', fhirUser: DR });
    chief = await server.token({ sub: `chief-disp-${run}`, roles: ['chief'], department: DEPT, licence: 'licensed' });
    officer = await server.token({ sub: `officer-${run}`, roles: ['disputes-officer'] });
    witness = await server.token({ sub: `witness-${run}`, roles: ['medical-affairs'], fhirUser: `Practitioner/witness-${run}` });
    medicalAffairs = await server.token({ sub: `ma-disp-${run}`, roles: ['medical-affairs'] });
    nurse = await server.token({ sub: `nurse-disp-${run}`, roles: ['nurse'], department: DEPT });
    expectStatus(await fhir(his, 'PUT', `Organization/${DEPT}`, { resourceType: 'Organization', id: DEPT, name: DEPT }), 201);
  });
  afterAll(async () => {
    await db?.end();
    await server?.close();
  });

  it('R-40: sealing needs both sides present; what is missing is listed, and nothing is sealed meanwhile', async () => {
    const r = await record();
    const c = await open(r.patient);
    expect(c).toMatchObject({ status: 'open', patient: r.patient, trigger: 'dispute', inventory: { sealed: 0, pending: 0 }, copies: [] });

    const bare = await disputes(officer, 'POST', `/${c.id}/seal`, {});
    const outcome = expectOutcome(bare, 422, 'business-rule', 'disputes.confirmation-missing');
    for (const missing of ["the hospital side's witness confirms", 'patientWitness']) expect(outcome.issue?.[0].details?.text).toContain(missing);

    // Both sides are shown the inventory; the witness confirms it with their own request.
    const shown = await preview(c.id);
    expect(shown.status).toBe('open');
    expect(shown.lines.map((l) => `${l.type}/${l.id}:${l.status}`).sort()).toEqual(
      [`Composition/${r.draft.id}:pending`, `Composition/${r.signed.id}:sealed`, `Encounter/${r.encounter}:sealed`, `Observation/${r.lab.id}:sealed`].sort(),
    );
    const partial = await disputes(officer, 'POST', `/${c.id}/seal`, { inventoryDigest: shown.digest, patientWitness: { name: '王小明' } });
    expect(expectOutcome(partial, 422, 'business-rule', 'disputes.confirmation-missing').issue?.[0].details?.text).toContain("the hospital side's witness confirms");
    expectOutcome(await confirm(witness, c.id, { step: 'seal', inventoryDigest: 'not-a-digest' }), 400, 'invalid', 'disputes.invalid');
    expectStatus(await confirm(witness, c.id, { step: 'seal', inventoryDigest: shown.digest }), 201);
    const text = expectOutcome(await disputes(officer, 'POST', `/${c.id}/seal`, { inventoryDigest: shown.digest, patientWitness: { name: '王小明' } }), 422, 'business-rule', 'disputes.confirmation-missing').issue?.[0].details?.text;
    expect(text).toContain('patientWitness.relationship');
    expect(text).toContain('patientWitness.idDocument');
    expect(text).not.toContain("the hospital side's witness");

    // The officer is not their own witness: refused at once (issue #12), and nothing counts for the seal.
    const other = await open((await record()).patient);
    const otherDigest = (await preview(other.id)).digest;
    expectOutcome(await confirm(officer, other.id, { step: 'seal', inventoryDigest: otherDigest }), 422, 'business-rule', 'disputes.self-witness');
    expect(expectOutcome(await disputes(officer, 'POST', `/${other.id}/seal`, { inventoryDigest: otherDigest, patientWitness: PATIENT_SIDE }), 422, 'business-rule', 'disputes.confirmation-missing').issue?.[0].details?.text).toContain(
      "the hospital side's witness confirms",
    );
    // A confirmation is used within the policy's 30 minutes.
    clock.advance(31 * 60_000);
    expectOutcome(await disputes(officer, 'POST', `/${c.id}/seal`, { inventoryDigest: shown.digest, patientWitness: PATIENT_SIDE }), 422, 'business-rule', 'disputes.confirmation-missing');
    expectOutcome(await disputes(nurse, 'POST', `/${c.id}/seal`, { inventoryDigest: shown.digest, patientWitness: PATIENT_SIDE }), 403, 'forbidden', 'access.forbidden');

    // The inventory changes after it was shown and confirmed: nothing is sealed; confirm again.
    expectStatus(await confirm(witness, c.id, { step: 'seal', inventoryDigest: shown.digest }), 201);
    expectStatus(await fhir(his, 'PUT', `Observation/${r.lab.id}`, { ...r.lab, meta: undefined, note: [{ text: '复核' }] }), 200);
    const changed = expectOutcome(await disputes(officer, 'POST', `/${c.id}/seal`, { inventoryDigest: shown.digest, patientWitness: PATIENT_SIDE }), 409, 'conflict', 'disputes.inventory-changed');
    expect(changed.issue?.[0].details?.text).toContain(shown.digest);
    const still = await disputes(officer, 'GET', `/${c.id}`);
    expect(still.body).toMatchObject({ status: 'open', inventory: { sealed: 0, pending: 0 }, copies: [] });
    // Still writable: nothing was sealed by the refused attempts.
    const lab = (await fhir<Observation>(his, 'GET', `Observation/${r.lab.id}`)).body;
    expectStatus(await fhir(his, 'PUT', `Observation/${r.lab.id}`, { ...lab, meta: undefined, note: [{ text: '再复核' }] }), 200);
    expect(await db.query('SELECT 1 FROM dispute_item WHERE dispute_id = $1', [c.id]).then((x) => x.rowCount)).toBe(0);
  });

  it('R-40/R-41/R-42: sealing freezes the scope with hashes; every role\'s write is refused with 423 naming the case; reads continue', async () => {
    const r = await record();
    // The progress note signed first: the visit is complete, so that archiving it is refused by the seal alone.
    expectStatus(await fhir(attending, 'POST', `Composition/${r.draft.id}/$sign`), 200);
    const c = await open(r.patient);
    const sealed = await seal(c.id);
    expectStatus(sealed, 200);
    // The encounter, two documents, the lab result and the signature's Provenance.
    expect(sealed.body).toMatchObject({ status: 'sealed', inventory: { sealed: 5, pending: 0 } });
    expect(sealed.body.copies).toHaveLength(1);
    const [copy] = sealed.body.copies;
    expect(copy).toMatchObject({ n: 1, kind: 'seal', witnesses: { hospital: { practitioner: `Practitioner/witness-${run}` }, patient: { name: '王小明', relationship: 'spouse' } } });

    // The inventory: each sealed line's hash is the stored version's canonical SHA-256.
    const inventory = await disputes<{ digest: string; lines: (InventoryLine & { pages?: number })[] }>(officer, 'GET', `/${c.id}/inventory`);
    expectStatus(inventory, 200);
    expect(inventory.body.digest).toBe(copy.inventorySha256);
    const lines = new Map(inventory.body.lines.map((l) => [`${l.type}/${l.id}`, l]));
    for (const ref of [`Encounter/${r.encounter}`, `Composition/${r.signed.id}`, `Observation/${r.lab.id}`]) {
      const [type, id] = ref.split('/');
      const stored = (await fhir<Resource>(his, 'GET', ref)).body;
      expect(lines.get(ref)).toEqual({ type, id, version: Number(stored.meta?.versionId), status: 'sealed', sha256: contentSha256(stored), pages: expect.any(Number) });
    }
    // 页数 (G3): each line states the pages its record takes in the sealed PDF: at least one, fewer than the copy's (the inventory table comes first).
    const pages = inventory.body.lines.map((l) => l.pages as number);
    expect(pages.every((n) => Number.isInteger(n) && n >= 1 && n < copy.pages)).toBe(true);
    expect(lines.get(`Composition/${r.draft.id}`)).toMatchObject({ status: 'sealed' });
    expect([...lines.keys()].filter((k) => k.startsWith('Provenance/'))).toHaveLength(1);
    expect(lines.has(`Patient/${r.patient}`)).toBe(false);

    const before = { signed: await versionOf('Composition', r.signed.id as string), lab: await versionOf('Observation', r.lab.id as string), enc: await versionOf('Encounter', r.encounter) };
    const refused = async (res: HttpResult<unknown>, what: string) => {
      const o = expectOutcome(res, 423, 'business-rule', 'disputes.sealed');
      expect({ what, text: o.issue?.[0].details?.text }).toEqual({ what, text: expect.stringContaining(c.id) });
    };
    const signedNow = (await fhir<Composition>(his, 'GET', `Composition/${r.signed.id}`)).body;
    await refused(await fhir(attending, 'PUT', `Composition/${r.signed.id}`, { ...signedNow, meta: undefined, title: '改' }, { 'x-edit-reason': encodeURIComponent('更正') }), 'author update');
    await refused(await fhir(his, 'PUT', `Composition/${r.signed.id}`, { ...signedNow, meta: undefined, title: '改' }, { 'x-edit-reason': 'fix' }), 'HIS update');
    await refused(await fhir(chief, 'PUT', `Observation/${r.lab.id}`, { ...r.lab, meta: undefined, valueQuantity: { value: 99, unit: 'g/L' } }), 'chief update');
    await refused(await fhir(chief, 'POST', `Encounter/${r.encounter}/$archive`), 'archive');
    await refused(await fhir(his, 'POST', 'Composition', note(r.patient, r.encounter, 'final', '补记')), 'new document in a sealed encounter');
    const tx: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: { resourceType: 'Observation', status: 'final', code: { text: '新' }, subject: { reference: `Patient/${r.patient}` } }, request: { method: 'POST', url: 'Observation' } },
        { resource: { ...r.lab, meta: undefined, valueQuantity: { value: 1, unit: 'g/L' } }, request: { method: 'PUT', url: `Observation/${r.lab.id}` } },
      ],
    };
    const bundle = await fhir(his, 'POST', '', tx);
    await refused(bundle, 'transaction entry');
    expect(bundle.body.issue?.[0].expression?.[0]).toBe('Bundle.entry[1]');

    // Nothing changed: the versions are the sealed ones, and the refusals are in the trail.
    expect(await versionOf('Composition', r.signed.id as string)).toBe(before.signed);
    expect(await versionOf('Observation', r.lab.id as string)).toBe(before.lab);
    expect(await versionOf('Encounter', r.encounter)).toBe(before.enc);
    const newDocs = await fhir<Bundle>(his, 'GET', `Composition?encounter=Encounter/${r.encounter}`);
    expect(newDocs.body.total).toBe(2);
    // The Bundle's other entry (a new result) rolled back with it: the lab result is still the patient's only one.
    expect((await fhir<Bundle>(his, 'GET', `Observation?patient=Patient/${r.patient}`)).body.total).toBe(1);
    const archiveRefusal = await fhir(chief, 'POST', `Encounter/${r.encounter}/$archive`);
    expect(await auditOf(archiveRefusal)).toEqual([expect.objectContaining({ subtype: 'archive', outcome: 4 })]);

    // Reading continues under the normal policy.
    expectStatus(await fhir(attending, 'GET', `Composition/${r.signed.id}`), 200);
    expectStatus(await fhir(chief, 'GET', `Observation/${r.lab.id}`), 200);
    // New care outside the sealed visit goes on.
    expectStatus(await fhir(his, 'POST', 'Observation', { resourceType: 'Observation', status: 'final', code: { text: '随访' }, subject: { reference: `Patient/${r.patient}` } }), 201);
  });

  it('R-41/R-13: an unfinished document may be completed, then a supplement seals it as a further copy', async () => {
    const r = await record();
    const c = await open(r.patient, { scope: { kind: 'encounters', encounters: [`Encounter/${r.encounter}`] } });
    expectStatus(await seal(c.id), 200);
    const draft = (await fhir<Composition>(attending, 'GET', `Composition/${r.draft.id}`)).body;
    expectStatus(await fhir(attending, 'PUT', `Composition/${r.draft.id}`, { ...draft, meta: undefined, title: '病程记录（完成）' }), 200);
    const nothingYet = await disputes<DisputeView & { supplemented: string[] }>(officer, 'POST', `/${c.id}/supplement`);
    expectStatus(nothingYet, 200);
    expect(nothingYet.body.supplemented).toEqual([]);
    expect(nothingYet.body.copies).toHaveLength(1);

    expectStatus(await fhir(attending, 'POST', `Composition/${r.draft.id}/$sign`), 200);
    const supplemented = await disputes<DisputeView & { supplemented: string[] }>(officer, 'POST', `/${c.id}/supplement`);
    expectStatus(supplemented, 200);
    // The signature's Provenance targets the document in the sealed visit: it is sealed with it.
    expect(supplemented.body.supplemented).toEqual(expect.arrayContaining([`Composition/${r.draft.id}`]));
    expect(supplemented.body).toMatchObject({ inventory: { pending: 0 } });
    expect(supplemented.body.copies.map((k) => k.kind)).toEqual(['seal', 'supplement']);
    expect(await auditOf(supplemented)).toEqual([expect.objectContaining({ subtype: 'dispute-supplement', outcome: 0, patient: r.patient, actor: `officer-${run}` })]);

    const signed = (await fhir<Composition>(attending, 'GET', `Composition/${r.draft.id}`)).body;
    const o = expectOutcome(await fhir(attending, 'PUT', `Composition/${r.draft.id}`, { ...signed, meta: undefined, title: '再改' }, { 'x-edit-reason': 'x' }), 423, 'business-rule', 'disputes.sealed');
    expect(o.issue?.[0].details?.text).toContain(c.id);
  });

  it('R-42/R-33: the sealed copy is a PDF with the stamp, case and patient on every page, and a document Bundle whose hashes match the store', async () => {
    const r = await record();
    const c = await open(r.patient);
    const sealed = (await seal(c.id)).body;
    const pdf = await fetch(sealed.copies[0].pdf, { headers: { authorization: `Bearer ${officer}` } });
    expect(pdf.status).toBe(200);
    expect(pdf.headers.get('content-type')).toBe('application/pdf');
    const bytes = Buffer.from(await pdf.arrayBuffer());
    expect(pdf.headers.get('x-content-sha256')).toBe(sealed.copies[0].pdfSha256);
    const pages = await pdfPages(bytes);
    expect(pages.length).toBe(sealed.copies[0].pages);
    pages.forEach((page, i) => {
      expect(page).toContain('封存');
      expect(page).toContain(c.id);
      expect(page).toContain(sealed.copies[0].inventorySha256);
      expect(page.replace(/\s+/g, ' ')).toContain(`${i + 1} / ${pages.length}`);
    });
    const all = pages.join('\n');
    expect(all).toContain('王小明');
    expect(all).toContain('出院记录');
    expect(all).toContain(`Composition/${r.signed.id}`);

    const json = await fetch(sealed.copies[0].json, { headers: { authorization: `Bearer ${officer}` } });
    expect(json.status).toBe(200);
    const text = await json.text();
    expect(json.headers.get('x-content-sha256')).toBe(sealed.copies[0].bundleSha256);
    const bundle = JSON.parse(text) as Bundle;
    expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'document' });
    expect(bundle.entry?.[0].resource?.resourceType).toBe('Composition');
    const sealedEntries = bundle.entry?.slice(1) ?? [];
    expect(sealedEntries).toHaveLength(3);
    for (const e of sealedEntries) {
      const stored = (await fhir<Resource>(his, 'GET', `${e.resource?.resourceType}/${e.resource?.id}/_history/${e.resource?.meta?.versionId}`)).body;
      expect(e.extension).toEqual([{ url: CONTENT_SHA256_EXTENSION, valueString: contentSha256(stored) }]);
    }
    const reads = await auditOf(await disputes(officer, 'GET', `/${c.id}/copies/1.json`));
    expect(reads).toEqual([expect.objectContaining({ subtype: 'dispute-copies', outcome: 0, patient: r.patient })]);
    // The nurse is not the disputes office: no case, no copy.
    expectOutcome(await disputes(nurse, 'GET', `/${c.id}/copies/1.pdf`), 403, 'forbidden', 'disputes.forbidden');
  });

  it('R-43: unsealing needs both sides again; then writes work again', async () => {
    const r = await record();
    const c = await open(r.patient);
    expectStatus(await seal(c.id), 200);
    expectOutcome(await disputes(officer, 'POST', `/${c.id}/unseal`, { basis: 'both-sides', patientWitness: PATIENT_SIDE }), 422, 'business-rule', 'disputes.confirmation-missing');
    expectOutcome(await disputes(officer, 'POST', `/${c.id}/unseal`, { basis: 'whenever' }), 400, 'invalid', 'disputes.invalid');
    // The seal's confirmation does not unseal: the witness confirms this step.
    expectStatus(await confirm(witness, c.id, { step: 'unseal' }), 201);
    expectOutcome(await disputes(officer, 'POST', `/${c.id}/unseal`, { basis: 'both-sides' }), 422, 'business-rule', 'disputes.confirmation-missing');
    const unsealed = await disputes(officer, 'POST', `/${c.id}/unseal`, { basis: 'both-sides', patientWitness: PATIENT_SIDE });
    expectStatus(unsealed, 200);
    expect(unsealed.body).toMatchObject({ status: 'unsealed', unsealing: { basis: 'both-sides', patient: { name: '王小明' }, hospital: { id: `witness-${run}` } } });
    expect(await auditOf(unsealed)).toEqual([expect.objectContaining({ subtype: 'dispute-unseal', outcome: 0, patient: r.patient })]);
    expectOutcome(await disputes(officer, 'POST', `/${c.id}/unseal`, { basis: 'both-sides', patientWitness: PATIENT_SIDE }), 409, 'conflict', 'disputes.wrong-state');
    const lab = (await fhir<Observation>(his, 'GET', `Observation/${r.lab.id}`)).body;
    const changed = await fhir<Observation>(his, 'PUT', `Observation/${r.lab.id}`, { ...lab, meta: undefined, note: [{ text: '启封后补充' }] });
    expectStatus(changed, 200);
    expect(changed.body.meta?.versionId).toBe(String(Number(lab.meta?.versionId) + 1));
  });

  it('R-43: the hospital unseals alone only with medical affairs\' approval, and for no claim only after the policy\'s 3 years', async () => {
    const r = await record();
    const c = await open(r.patient);
    const sealed = await seal(c.id);
    expectStatus(sealed, 200);
    const approve = (token: string, id: string, basis: string, reason = '三年内未提起诉讼') => confirm(token, id, { step: 'unseal', basis, reason });
    const alone = (basis: string) => disputes(officer, 'POST', `/${c.id}/unseal`, { basis });
    expectOutcome(await alone('no-claim'), 422, 'business-rule', 'disputes.confirmation-missing');
    // Only medical affairs approves (policy: approve on Dispute), with a reason.
    expectOutcome(await approve(chief, c.id, 'no-claim'), 403, 'forbidden', 'disputes.forbidden');
    expectOutcome(await approve(medicalAffairs, c.id, 'no-claim', ''), 400, 'invalid', 'disputes.invalid');
    expectStatus(await approve(medicalAffairs, c.id, 'no-claim'), 201);
    const early = expectOutcome(await alone('no-claim'), 422, 'business-rule', 'disputes.unseal-not-allowed');
    expect(early.issue?.[0].details?.text).toContain('3 years');
    // G6: the refusal states the sealing and the day the hospital may unseal alone on the hospital's clock (Beijing time), not in UTC.
    const sealedMs = Date.parse(sealed.body.sealedAt as string);
    const beijing = (ms: number) => `${new Date(ms + 8 * 3_600_000).toISOString().slice(0, 16).replace('T', ' ')} 北京时间`;
    const threeYears = new Date(sealedMs);
    threeYears.setUTCFullYear(threeYears.getUTCFullYear() + 3);
    expect(early.issue?.[0].details?.text).toContain(`was sealed on ${beijing(sealedMs)}: without a claim the hospital may unseal alone from ${beijing(threeYears.getTime())} (3 years, R-43)`);
    expect(early.issue?.[0].details?.text).not.toMatch(/\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z/);
    // An approval of one basis is not one of another.
    expectOutcome(await alone('resolved'), 422, 'business-rule', 'disputes.confirmation-missing');
    clock.advance(2.9 * YEAR_MS);
    expectStatus(await approve(medicalAffairs, c.id, 'no-claim'), 201);
    expectOutcome(await alone('no-claim'), 422, 'business-rule', 'disputes.unseal-not-allowed');
    clock.advance(0.2 * YEAR_MS);
    // The approval given a tenth of a year ago is stale: medical affairs approves again, now.
    expectOutcome(await alone('no-claim'), 422, 'business-rule', 'disputes.confirmation-missing');
    expectStatus(await approve(medicalAffairs, c.id, 'no-claim'), 201);
    const done = await alone('no-claim');
    expectStatus(done, 200);
    expect(done.body).toMatchObject({ status: 'unsealed', unsealing: { basis: 'no-claim', reason: '三年内未提起诉讼', approvedBy: { id: `ma-disp-${run}` }, officer: { id: `officer-${run}` } } });

    // A resolved case may be unsealed by the hospital at once, with the approval.
    const r2 = await record();
    const c2 = await open(r2.patient);
    expectStatus(await seal(c2.id), 200);
    expectStatus(await approve(medicalAffairs, c2.id, 'resolved', '双方调解结案'), 201);
    const resolved = await disputes(officer, 'POST', `/${c2.id}/unseal`, { basis: 'resolved' });
    expectStatus(resolved, 200);
    expect(resolved.body.unsealing).toMatchObject({ basis: 'resolved', reason: '双方调解结案' });
  });

  it('R-44: a public-opinion incident seals at once and hides the sealed records from everyone outside the case team', async () => {
    const r = await record();
    const c = await open(r.patient, { trigger: 'public-incident', team: [DR] });
    expect(c).toMatchObject({ status: 'sealed', trigger: 'public-incident', inventory: { sealed: 3, pending: 1 } });
    expect(c.team).toEqual(expect.arrayContaining([DR]));

    // The chief of the same department would normally read everything: not these records.
    const hidden = expectOutcome(await fhir(chief, 'GET', `Composition/${r.signed.id}`), 403, 'forbidden', 'access.forbidden');
    expect(hidden.issue?.[0].details?.text).toContain(c.id);
    const search = await fhir<Bundle>(chief, 'GET', `Composition?patient=Patient/${r.patient}`);
    expectStatus(search, 200);
    expect(search.body.total).toBe(0);
    // The HIS is not on the team either: an export of the record leaves the sealed records out.
    const everything = await fhir<Bundle>(his, 'GET', `Patient/${r.patient}/$everything`);
    expectStatus(everything, 200);
    expect((everything.body.entry ?? []).map((e) => e.resource?.resourceType)).toEqual(['Patient']);
    // The case team reads as before.
    expectStatus(await fhir(attending, 'GET', `Composition/${r.signed.id}`), 200);
    expect((await fhir<Bundle>(attending, 'GET', `Composition?patient=Patient/${r.patient}`)).body.total).toBe(2);

    // The case itself is the team's: medical affairs and other officers outside it see neither it nor its copy.
    const otherOfficer = await server.token({ sub: `officer2-${run}`, roles: ['disputes-officer'] });
    for (const token of [medicalAffairs, otherOfficer]) {
      expectOutcome(await disputes(token, 'GET', `/${c.id}/copies/1.json`), 403, 'forbidden', 'disputes.forbidden');
      expectOutcome(await disputes(token, 'GET', `/${c.id}/inventory`), 403, 'forbidden', 'disputes.forbidden');
      expect((await disputes<DisputeView[]>(token, 'GET', `?patient=${r.patient}`)).body).toEqual([]);
    }
    expectStatus(await disputes(officer, 'GET', `/${c.id}/copies/1.json`), 200);
    expectOutcome(await disputes(otherOfficer, 'POST', `/${c.id}/supplement`), 403, 'forbidden', 'disputes.forbidden');
    expectOutcome(await disputes(otherOfficer, 'POST', `/${c.id}/unseal`, { basis: 'resolved' }), 403, 'forbidden', 'disputes.forbidden');
    // Opening a public incident is its seal in the trail: lifecycle hold.
    const [openEntry] = (await db.query<{ subtype: string; entity_id: string }>(`SELECT subtype, entity_id FROM audit_entry WHERE entity_type = 'Dispute' AND entity_id = $1 ORDER BY recorded LIMIT 1`, [c.id])).rows;
    expect(openEntry).toEqual({ subtype: 'dispute-seal', entity_id: c.id });

    // Medical affairs approves the unsealing without seeing the records.
    expectStatus(await confirm(medicalAffairs, c.id, { step: 'unseal', basis: 'resolved', reason: '舆情平息' }), 201);
    const unsealed = await disputes(officer, 'POST', `/${c.id}/unseal`, { basis: 'resolved' });
    expectStatus(unsealed, 200);
    expectStatus(await fhir(chief, 'GET', `Composition/${r.signed.id}`), 200);
  });

  it('R-21: every step of a case is in the audit trail, with lifecycle hold / unhold in the BALP view', async () => {
    const r = await record();
    const opened = await disputes(officer, 'POST', '', { patient: r.patient, reason: '审计', scope: { kind: 'whole-record' } });
    expectStatus(opened, 201);
    const sealed = await seal(opened.body.id);
    const listed = await disputes<DisputeView[]>(officer, 'GET', `?patient=${r.patient}`);
    expect(listed.body.map((d) => d.id)).toEqual([opened.body.id]);
    expect(await auditOf(opened)).toEqual([expect.objectContaining({ subtype: 'dispute-open', outcome: 0, patient: r.patient })]);
    expect(await auditOf(sealed)).toEqual([expect.objectContaining({ subtype: 'dispute-seal', outcome: 0, patient: r.patient })]);
    const auditor = await server.token({ sub: `auditor-${run}`, roles: ['auditor'] });
    const events = await fhir<Bundle>(auditor, 'GET', `AuditEvent?patient=Patient/${r.patient}&subtype=dispute-seal`);
    expectStatus(events, 200);
    const event = events.body.entry?.[0].resource as { resourceType: string; subtype?: { system?: string; code?: string }[]; entity?: { what?: { reference?: string } }[] };
    expect(event.resourceType).toBe('AuditEvent');
    expect(event.subtype).toContainEqual(expect.objectContaining({ system: 'http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle', code: 'hold' }));
    // The witness's confirmation is in the trail too, under the witness's name.
    const [confirmation] = (await db.query<{ subtype: string; actor: string }>(`SELECT subtype, actor FROM audit_entry WHERE entity_type = 'Dispute' AND entity_id = $1 AND subtype = 'dispute-confirm'`, [opened.body.id])).rows;
    expect(confirmation).toEqual({ subtype: 'dispute-confirm', actor: `witness-${run}` });
  });

  it('R-41: a sealed visit or record is recognised however it is referenced: versioned, absolute, any context entry, or signed by a new Provenance', async () => {
    const r = await record();
    const c = await open(r.patient, { scope: { kind: 'encounters', encounters: [r.encounter] } });
    expectStatus(await seal(c.id), 200);
    const observation = (reference: string) => ({ resourceType: 'Observation', status: 'final', code: { text: '补录' }, subject: { reference: `Patient/${r.patient}` }, encounter: { reference } });
    for (const reference of [`Encounter/${r.encounter}/_history/1`, `${server.fhirBase}/Encounter/${r.encounter}`]) {
      const res = await fhir(his, 'POST', 'Observation', observation(reference));
      expect({ reference, status: res.status }).toEqual({ reference, status: 423 });
    }
    const other = await seed<Encounter>({ resourceType: 'Encounter', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }, subject: { reference: `Patient/${r.patient}` } });
    const twoVisits = await fhir(his, 'POST', 'DocumentReference', {
      resourceType: 'DocumentReference',
      status: 'current',
      docStatus: 'final',
      type: { coding: [{ system: 'http://loinc.org', code: '11502-2' }] },
      subject: { reference: `Patient/${r.patient}` },
      content: [{ attachment: { contentType: 'text/plain', data: Buffer.from('化验单').toString('base64') } }],
      context: { encounter: [{ reference: `Encounter/${other.id}` }, { reference: `Encounter/${r.encounter}` }] },
    });
    expectOutcome(twoVisits, 423, 'business-rule', 'disputes.sealed');
    const signature = await fhir(his, 'POST', 'Provenance', {
      resourceType: 'Provenance',
      target: [{ reference: `Composition/${r.signed.id}` }],
      recorded: new Date().toISOString(),
      activity: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'LA' }] },
      agent: [{ who: { reference: DR } }],
    });
    expect(expectOutcome(signature, 423, 'business-rule', 'disputes.sealed').issue?.[0].details?.text).toContain(`Composition/${r.signed.id}`);
    // Another patient's record filed under this visit by mistake is not this patient's record:
    // neither held by the seal nor in the sealed copy.
    const stranger = await seed<Patient>({ resourceType: 'Patient', name: [{ text: '李四' }] });
    expectStatus(await fhir(his, 'POST', 'Observation', { ...observation(`Encounter/${r.encounter}`), subject: { reference: `Patient/${stranger.id}` } }), 201);
    const misfiled = await seed<Observation>({ resourceType: 'Observation', status: 'final', code: { text: '误归档' }, subject: { reference: `Patient/${stranger.id}` }, encounter: { reference: `Encounter/${other.id}` } });
    const c2 = await open(r.patient, { scope: { kind: 'encounters', encounters: [other.id] } });
    expect((await preview(c2.id)).lines.map((l) => l.id)).not.toContain(misfiled.id);
    // New care for the patient outside the sealed visit goes on.
    expectStatus(await fhir(his, 'POST', 'Observation', observation(`Encounter/${other.id}`)), 201);
  });

  it('the workflow is documented with OpenAPI at /docs-json, without the FHIR routes (its page: openapi-errors.e2e-spec.ts)', async () => {
    const doc = await httpRequest<{ openapi: string; paths: Record<string, Record<string, unknown>> }>(`${root}/docs-json`, 'GET', { headers: { accept: 'application/json' } });
    expectStatus(doc, 200);
    expect(doc.body.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/disputes', '/disputes/{id}/seal', '/disputes/{id}/unseal', '/disputes/{id}/supplement', '/disputes/{id}/inventory']));
    // The FHIR REST API stays out (its CapabilityStatement describes it); the workflow's record operations ($print, $sign…) are in.
    expect(Object.keys(doc.body.paths).filter((p) => p.startsWith('/fhir') && !/\/\$[a-z-]+$/.test(p))).toEqual([]);
    // The status a sealed record answers is stated where FHIR clients look for it.
    const metadata = await fhir<{ rest: { documentation: string }[] }>(his, 'GET', 'metadata');
    expect(metadata.body.rest[0].documentation).toContain('423 Locked');
    expect(metadata.body.rest[0].documentation).toContain('disputes.sealed');
  });

  it('R-41: no write commits after a seal commits: writers raced against sealing, many times', async () => {
    const rounds = 12;
    const seen: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const r = await record();
      const c = await open(r.patient);
      const writer = async (i: number) => {
        const results: number[] = [];
        for (let k = 0; k < 6; k++) {
          const current = (await fhir<Observation>(his, 'GET', `Observation/${r.lab.id}`)).body;
          const res = await fhir(his, 'PUT', `Observation/${r.lab.id}`, { ...current, meta: undefined, note: [{ text: `w${i}-${k}` }] });
          results.push(res.status);
        }
        return results;
      };
      // New results for the visit being sealed, written at the same time.
      const creator = async () => {
        const results: number[] = [];
        for (let k = 0; k < 6; k++) {
          const res = await fhir(his, 'POST', 'Observation', { resourceType: 'Observation', status: 'final', code: { text: `new-${k}` }, subject: { reference: `Patient/${r.patient}` }, encounter: { reference: `Encounter/${r.encounter}` } });
          results.push(res.status);
        }
        return results;
      };
      const [[statuses, created], sealed] = await Promise.all([
        Promise.all([Promise.all([writer(1), writer(2), writer(3)]), creator()]),
        // Sealed as it stands when the seal commits (no digest): what matters here is the lock, not the preview.
        new Promise((resolve) => setTimeout(resolve, round * 3)).then(async () => {
          expectStatus(await confirm(witness, c.id, { step: 'seal' }), 201);
          return disputes(officer, 'POST', `/${c.id}/seal`, { patientWitness: PATIENT_SIDE });
        }),
      ]);
      expectStatus(sealed, 200);
      // Every write either committed (200/201) or was refused by the hold (423) or lost a version race (412).
      expect(statuses.flat().every((s) => [200, 412, 423].includes(s))).toBe(true);
      expect(created.every((s) => [201, 423].includes(s))).toBe(true);
      seen.push(...statuses.flat(), ...created);
      // Every result of the visit that exists was there when it was sealed: inventoried, none added after.
      const [uninventoried] = (await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM fhir_search_reference x WHERE x.resource_type = 'Observation' AND x.param = 'encounter' AND x.target_type = 'Encounter' AND x.target_id = $1
           AND NOT EXISTS (SELECT 1 FROM dispute_item i WHERE i.dispute_id = $2 AND i.resource_type = 'Observation' AND i.resource_id = x.resource_id)`,
        [r.encounter, c.id],
      )).rows;
      expect({ round, uninventoried: uninventoried.n }).toEqual({ round, uninventoried: 0 });
      const [line] = (await db.query<{ version_id: number }>(`SELECT version_id FROM dispute_item WHERE dispute_id = $1 AND resource_type = 'Observation' AND resource_id = $2`, [c.id, r.lab.id])).rows;
      const [current] = (await db.query<{ version_id: number; content: Resource }>(`SELECT version_id, content FROM fhir_resource WHERE resource_type = 'Observation' AND id = $1`, [r.lab.id])).rows;
      // The sealed version is the last one: nothing committed after the seal.
      expect({ round, sealed: line.version_id }).toEqual({ round, sealed: current.version_id });
      const [newer] = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM fhir_resource_version WHERE resource_type = 'Observation' AND id = $1 AND version_id > $2`, [r.lab.id, line.version_id])).rows;
      expect(newer.n).toBe(0);
    }
    // The race was real: writes landed before seals and were refused after them.
    expect(seen.filter((s) => s === 200).length).toBeGreaterThan(0);
    expect(seen.filter((s) => s === 201).length).toBeGreaterThan(0);
    expect(seen.filter((s) => s === 423).length).toBeGreaterThan(0);
  });
});
