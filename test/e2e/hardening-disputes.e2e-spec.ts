import { createHash, randomUUID } from 'node:crypto';
import { canonicalize } from 'json-canonicalize';
import pg from 'pg';
import type { AuditEvent, Bundle, Composition, Encounter, Observation, OperationOutcome, Patient, Resource } from '@medplum/fhirtypes';
import type { DisputeView } from '../../src/disputes/dto/dispute.view.js';
import type { InventoryLine } from '../../src/disputes/domain/dispute-case.js';
import { verifySeal } from '../../src/cli/offline-checks.js';
import { asReplica } from '../support/database-admin.js';
import { expectOutcome, expectStatus } from '../support/fhir-expect.js';
import { httpRequest, type HttpResult, seedAs } from '../support/http.js';
import { pdfPages } from '../support/pdf-text.js';
import { startTestServer, testDatabaseUrl, type TestServer } from '../support/test-app.js';

/**
 * Issue #12, items 9 and 10, over real HTTP and PostgreSQL:
 * - only the roles the policy names confirm for the hospital side (`witness` on Dispute) or approve
 *   a unilateral unseal (`approve` on Dispute); anyone else is refused with 403, nothing is stored,
 *   and the refusal is in the trail; the officer of the case confirming for themselves gets 422 at once;
 * - the digest both sides confirm is the one stored with, printed on and stated in the sealed copy,
 *   pending records included, and `seal verify` recomputes it.
 */
const run = randomUUID().slice(0, 8);
const DR = `Practitioner/dr-hd-${run}`;
const DEPT = `cw-hd-${run}`;
const PATIENT_SIDE = { name: '张三', relationship: 'self', idDocument: { type: 'resident-id-card', number: '110101198001011234' }, confirmed: true };

/**
 * The inventory digest as the disputes guide states it, restated here rather than imported: SHA-256 of RFC 8785 JSON of the lines
 * by type and id, each line its type, id, version, status and (complete) the version's SHA-256. What a line also says for people
 * to read (`pages`, 页数 in the sealed copy) is not inventoried.
 */
const digestOf = (lines: readonly InventoryLine[]): string => {
  const order = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
  const inventoried = lines.map(({ type, id, version, status, sha256 }) => ({ type, id, version, status, ...(sha256 === undefined ? {} : { sha256 }) }));
  const ordered = inventoried.sort((a, b) => order(a.type, b.type) || order(a.id, b.id));
  return createHash('sha256').update(canonicalize(ordered), 'utf8').digest('hex');
};

describe('Hardening: who confirms a seal or unseal, and which digest the sealed copy carries (e2e)', () => {
  let server: TestServer;
  let root: string;
  let db: pg.Client;
  let his: string;
  let attending: string;
  let chief: string;
  let nurse: string;
  let officer: string;
  let otherOfficer: string;
  let medicalAffairs: string;
  let auditor: string;

  const fhir = <T = OperationOutcome>(token: string, method: string, path: string, body?: unknown): Promise<HttpResult<T>> =>
    httpRequest<T>(`${server.fhirBase}/${path}`, method, { token, body });
  const disputes = <T = DisputeView>(token: string, method: string, path: string, body?: unknown) =>
    httpRequest<T>(`${root}/disputes${path}`, method, { token, body, contentType: 'application/json', headers: { accept: 'application/json' } });
  const confirm = (token: string, id: string, body: Record<string, unknown>) => disputes<{ id: string; kind: string; by: { id: string } }>(token, 'POST', `/${id}/confirmations`, body);
  const preview = async (id: string) => (await disputes<{ status: string; digest: string; lines: InventoryLine[] }>(officer, 'GET', `/${id}/inventory`)).body;
  const confirmations = async (id: string) =>
    (await db.query<{ actor_id: string; step: string; kind: string }>('SELECT actor_id, step, kind FROM dispute_confirmation WHERE dispute_id = $1 ORDER BY confirmed_at', [id])).rows;
  const auditOf = async (res: HttpResult<unknown>) =>
    (await db.query<{ subtype: string; outcome: number; patient: string | null; actor: string; entity_id: string | null }>(
      'SELECT subtype, outcome, patient, actor, entity_id FROM audit_entry WHERE request_id = $1 ORDER BY seq',
      [res.headers.get('x-request-id')],
    )).rows;

  /** A discharged inpatient: a finished encounter, a signed discharge note, a final lab result, and a progress note still unsigned (pending). */
  const record = async () => {
    const seed = <T extends Resource>(resource: T) => seedAs(server.fhirBase, his, resource);
    const patient = await seed<Patient>({ resourceType: 'Patient', name: [{ text: '张三' }] });
    const encounter = await seed<Encounter>({
      resourceType: 'Encounter',
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
      period: { start: new Date(Date.now() - 86_400_000).toISOString(), end: new Date().toISOString() },
      subject: { reference: `Patient/${patient.id}` },
      serviceProvider: { reference: `Organization/${DEPT}` },
      participant: [{ individual: { reference: DR } }],
    });
    const note = (status: Composition['status'], title: string): Composition => ({
      resourceType: 'Composition',
      status,
      type: { coding: [{ system: 'http://loinc.org', code: status === 'final' ? '18842-5' : '11506-3' }] },
      subject: { reference: `Patient/${patient.id}` },
      encounter: { reference: `Encounter/${encounter.id}` },
      date: new Date().toISOString(),
      author: [{ reference: DR }],
      title,
      section: [{ title, text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${title}</div>` } }],
    });
    const signed = await seed(note('final', '出院记录'));
    const lab = await seed<Observation>({
      resourceType: 'Observation',
      status: 'final',
      code: { text: '血红蛋白' },
      subject: { reference: `Patient/${patient.id}` },
      encounter: { reference: `Encounter/${encounter.id}` },
      valueQuantity: { value: 128, unit: 'g/L' },
    });
    const draft = await fhir<Composition>(attending, 'POST', 'Composition', note('preliminary', '病程记录'));
    expectStatus(draft, 201);
    return { patient: patient.id, encounter: encounter.id, signed, lab, draft: draft.body as Composition & { id: string } };
  };
  const open = async (patient: string, by = officer) => {
    const res = await disputes(by, 'POST', '', { patient: `Patient/${patient}`, reason: '患方对诊疗有异议', scope: { kind: 'whole-record' } });
    expectStatus(res, 201);
    return res.body;
  };
  const seal = async (id: string, witness = medicalAffairs, by = officer) => {
    const { digest } = await preview(id);
    expectStatus(await confirm(witness, id, { step: 'seal', inventoryDigest: digest }), 201);
    const sealed = await disputes(by, 'POST', `/${id}/seal`, { inventoryDigest: digest, patientWitness: PATIENT_SIDE });
    expectStatus(sealed, 200);
    return { digest, sealed: sealed.body };
  };

  beforeAll(async () => {
    server = await startTestServer();
    root = server.fhirBase.replace(/\/fhir$/, '');
    db = new pg.Client({ connectionString: testDatabaseUrl() });
    await db.connect();
    his = await server.token({ sub: `his-hd-${run}` });
    attending = await server.token({ sub: `dr-hd-${run}`, roles: ['attending'], department: DEPT, licence: 'licensed', fhirUser: DR });
    chief = await server.token({ sub: `chief-hd-${run}`, roles: ['chief'], department: DEPT, licence: 'licensed' });
    nurse = await server.token({ sub: `nurse-hd-${run}`, roles: ['nurse'], department: DEPT });
    officer = await server.token({ sub: `officer-hd-${run}`, roles: ['disputes-officer'] });
    otherOfficer = await server.token({ sub: `officer2-hd-${run}`, roles: ['disputes-officer'] });
    medicalAffairs = await server.token({ sub: `ma-hd-${run}`, roles: ['medical-affairs'], fhirUser: `Practitioner/ma-hd-${run}` });
    auditor = await server.token({ sub: `auditor-hd-${run}`, roles: ['auditor'] });
    expectStatus(await fhir(his, 'PUT', `Organization/${DEPT}`, { resourceType: 'Organization', id: DEPT, name: DEPT }), 201);
  });
  afterAll(async () => {
    await db?.end();
    await server?.close();
  });

  it('R-40: the HIS client, a nurse, a chief and an attending are not the hospital side\'s witness of a seal: 403, nothing stored, the refusal audited', async () => {
    const r = await record();
    const c = await open(r.patient);
    const { digest } = await preview(c.id);
    for (const [who, token] of [['his', his], ['nurse', nurse], ['chief', chief], ['attending', attending]] as const) {
      const res = await confirm(token, c.id, { step: 'seal', inventoryDigest: digest });
      const outcome = expectOutcome(res, 403, 'forbidden', 'disputes.witness-rejected');
      expect({ who, text: outcome.issue?.[0].details?.text }).toEqual({ who, text: expect.stringContaining('witness on Dispute') });
      // The refused attempt is in the trail, as a failure, against the case's patient.
      expect({ who, audit: await auditOf(res) }).toEqual({ who, audit: [expect.objectContaining({ subtype: 'dispute-confirm', outcome: 4, patient: r.patient, entity_id: c.id })] });
    }
    expect(await confirmations(c.id)).toEqual([]);
    // Nothing refused counts: the officer still lacks the hospital side's witness.
    const refused = await disputes(officer, 'POST', `/${c.id}/seal`, { inventoryDigest: digest, patientWitness: PATIENT_SIDE });
    expect(expectOutcome(refused, 422, 'business-rule', 'disputes.confirmation-missing').issue?.[0].details?.text).toContain("the hospital side's witness confirms");
    expect((await disputes(officer, 'GET', `/${c.id}`)).body).toMatchObject({ status: 'open', copies: [] });

    // The auditor sees the attempts in the trail as failures, and no successful confirmation.
    const events = await fhir<Bundle>(auditor, 'GET', `AuditEvent?patient=Patient/${r.patient}&subtype=dispute-confirm`);
    expectStatus(events, 200);
    const outcomes = (events.body.entry ?? []).map((e) => [(e.resource as AuditEvent).agent?.[0].who?.identifier?.value, (e.resource as AuditEvent).outcome]);
    expect(outcomes.sort()).toEqual([[`chief-hd-${run}`, '4'], [`dr-hd-${run}`, '4'], [`his-hd-${run}`, '4'], [`nurse-hd-${run}`, '4']]);

    // Medical affairs, and another officer than the case's, may witness (policy: witness on Dispute).
    const byOther = await confirm(otherOfficer, c.id, { step: 'seal', inventoryDigest: digest });
    expectStatus(byOther, 201);
    expect(byOther.body).toMatchObject({ kind: 'hospital-witness', by: { id: `officer2-hd-${run}` } });
    expect(await auditOf(byOther)).toEqual([expect.objectContaining({ subtype: 'dispute-confirm', outcome: 0, actor: `officer2-hd-${run}` })]);
    const sealed = await disputes(officer, 'POST', `/${c.id}/seal`, { inventoryDigest: digest, patientWitness: PATIENT_SIDE });
    expectStatus(sealed, 200);
    expect(sealed.body.copies[0].witnesses).toMatchObject({ hospital: { id: `officer2-hd-${run}` } });
  });

  it('R-43: the HIS client or a nurse confirming an unseal is refused (403); the unseal then fails and the case stays sealed, his-system recorded nowhere', async () => {
    const r = await record();
    const c = await open(r.patient);
    await seal(c.id);
    for (const token of [his, nurse]) {
      const res = await confirm(token, c.id, { step: 'unseal' });
      expectOutcome(res, 403, 'forbidden', 'disputes.witness-rejected');
      expect(await auditOf(res)).toEqual([expect.objectContaining({ subtype: 'dispute-confirm', outcome: 4, patient: r.patient })]);
    }
    // Nor may they approve the hospital's unilateral unseal (policy: approve on Dispute).
    const approval = await confirm(his, c.id, { step: 'unseal', basis: 'resolved', reason: '已调解' });
    expectOutcome(approval, 403, 'forbidden', 'disputes.forbidden');
    expect(await auditOf(approval)).toEqual([expect.objectContaining({ subtype: 'dispute-confirm', outcome: 4, patient: r.patient })]);
    expect((await confirmations(c.id)).map((x) => x.step)).toEqual(['seal']);

    const unseal = await disputes(officer, 'POST', `/${c.id}/unseal`, { basis: 'both-sides', patientWitness: PATIENT_SIDE });
    expectOutcome(unseal, 422, 'business-rule', 'disputes.confirmation-missing');
    expectOutcome(await disputes(officer, 'POST', `/${c.id}/unseal`, { basis: 'resolved' }), 422, 'business-rule', 'disputes.confirmation-missing');
    const still = await disputes(officer, 'GET', `/${c.id}`);
    expect(still.body).toMatchObject({ status: 'sealed' });
    expect(JSON.stringify(still.body)).not.toContain(`his-hd-${run}`);
    // Still sealed: a write is refused.
    const lab = (await fhir<Observation>(his, 'GET', `Observation/${r.lab.id}`)).body;
    expectOutcome(await fhir(his, 'PUT', `Observation/${r.lab.id}`, { ...lab, meta: undefined, note: [{ text: 'x' }] }), 423, 'business-rule', 'disputes.sealed');

    // The witness the policy names unseals it with the patient side.
    expectStatus(await confirm(medicalAffairs, c.id, { step: 'unseal' }), 201);
    const unsealed = await disputes(officer, 'POST', `/${c.id}/unseal`, { basis: 'both-sides', patientWitness: PATIENT_SIDE });
    expectStatus(unsealed, 200);
    expect(unsealed.body).toMatchObject({ status: 'unsealed', unsealing: { hospital: { id: `ma-hd-${run}` } } });
  });

  it('R-40/R-43: a caller the policy refuses learns nothing of the case: an unknown case is 403 to them, 404 to a witness', async () => {
    const unknown = randomUUID();
    expectOutcome(await confirm(nurse, unknown, { step: 'seal' }), 403, 'forbidden', 'disputes.witness-rejected');
    expectOutcome(await confirm(medicalAffairs, unknown, { step: 'seal' }), 404, 'not-found', 'disputes.not-found');
    // A case in another state than the step needs: the refusal comes first for the nurse, the state for a witness.
    const c = await open((await record()).patient);
    expectOutcome(await confirm(nurse, c.id, { step: 'unseal' }), 403, 'forbidden', 'disputes.witness-rejected');
    expectOutcome(await confirm(medicalAffairs, c.id, { step: 'unseal' }), 409, 'conflict', 'disputes.wrong-state');
    expect(await confirmations(c.id)).toEqual([]);
  });

  it('R-40/R-43: the officer who opened or sealed a case confirming as its witness or approver gets 422 at once, and nothing is stored', async () => {
    const r = await record();
    const c = await open(r.patient);
    const { digest } = await preview(c.id);
    const self = await confirm(officer, c.id, { step: 'seal', inventoryDigest: digest });
    expect(expectOutcome(self, 422, 'business-rule', 'disputes.self-witness').issue?.[0].details?.text).toContain('another person');
    expect(await auditOf(self)).toEqual([expect.objectContaining({ subtype: 'dispute-confirm', outcome: 4, patient: r.patient, actor: `officer-hd-${run}` })]);
    expect(await confirmations(c.id)).toEqual([]);

    // An officer who is also medical affairs opens and seals: neither their witness nor their approval is accepted.
    const dual = await server.token({ sub: `dual-hd-${run}`, roles: ['disputes-officer', 'medical-affairs'] });
    const r2 = await record();
    const c2 = await open(r2.patient, dual);
    expectOutcome(await confirm(dual, c2.id, { step: 'seal' }), 422, 'business-rule', 'disputes.self-witness');
    await seal(c2.id, medicalAffairs, dual);
    expectOutcome(await confirm(dual, c2.id, { step: 'unseal' }), 422, 'business-rule', 'disputes.self-witness');
    expectOutcome(await confirm(dual, c2.id, { step: 'unseal', basis: 'resolved', reason: '已调解' }), 422, 'business-rule', 'disputes.self-witness');
    expect((await confirmations(c2.id)).map((x) => x.actor_id)).toEqual([`ma-hd-${run}`]);
    expectOutcome(await disputes(dual, 'POST', `/${c2.id}/unseal`, { basis: 'resolved' }), 422, 'business-rule', 'disputes.confirmation-missing');

    // Another officer may witness a case they did not open; if they then seal it themselves, their own witness still does not count.
    const r3 = await record();
    const c3 = await open(r3.patient);
    const shown = await preview(c3.id);
    expectStatus(await confirm(otherOfficer, c3.id, { step: 'seal', inventoryDigest: shown.digest }), 201);
    expectOutcome(await disputes(otherOfficer, 'POST', `/${c3.id}/seal`, { inventoryDigest: shown.digest, patientWitness: PATIENT_SIDE }), 422, 'business-rule', 'disputes.confirmation-missing');
    expect((await disputes(officer, 'GET', `/${c3.id}`)).body).toMatchObject({ status: 'open', copies: [] });
  });

  it('R-40/R-42: with a pending record, the digest both sides confirm is the one stored, printed on every page and stated in the sealed copy; seal verify passes', async () => {
    const r = await record();
    const c = await open(r.patient);
    const shown = await preview(c.id);
    const pendingLine = { type: 'Composition', id: r.draft.id, version: 1, status: 'pending' };
    expect(shown.lines).toContainEqual(pendingLine);
    // The confirmed digest covers every line, complete and pending.
    expect(shown.digest).toBe(digestOf(shown.lines));
    const sealedOnly = digestOf(shown.lines.filter((l) => l.status === 'sealed'));
    expect(sealedOnly).not.toBe(shown.digest);

    const { sealed } = await seal(c.id);
    expect(sealed).toMatchObject({ status: 'sealed', inventory: { pending: 1 } });
    const [copy] = sealed.copies;
    expect(copy.inventorySha256).toBe(shown.digest);
    const [row] = (await db.query<{ inventory_sha256: string }>('SELECT inventory_sha256 FROM dispute_copy WHERE dispute_id = $1 AND copy_no = 1', [c.id])).rows;
    expect(row.inventory_sha256).toBe(shown.digest);
    // After sealing, the inventory shows the same lines and digest as were confirmed; a sealed line also says its 页数 in the copy, a pending one none.
    const after = await preview(c.id);
    const pagesOf = (l: InventoryLine & { pages?: number }) => ({ ...l, ...(l.status === 'sealed' ? { pages: expect.any(Number) } : {}) });
    expect({ digest: after.digest, lines: after.lines }).toEqual({ digest: shown.digest, lines: expect.arrayContaining(shown.lines.map(pagesOf)) });
    expect(after.lines).toHaveLength(shown.lines.length);
    expect(digestOf(after.lines)).toBe(shown.digest);

    // The PDF prints that digest on every page, labelled, and never the sealed-lines-only digest; the Bundle's hash is labelled apart.
    const pdf = await fetch(copy.pdf, { headers: { authorization: `Bearer ${officer}` } });
    const pages = await pdfPages(Buffer.from(await pdf.arrayBuffer()));
    for (const page of pages) expect(page.replace(/\s+/g, ' ')).toContain(`清单摘要 Inventory digest ${shown.digest}`);
    const all = pages.join('\n');
    expect(all).not.toContain(sealedOnly);
    expect(all).toContain(`Composition/${r.draft.id} v1`);
    expect(all.replace(/\s+/g, ' ')).toContain(`电子副本 Electronic copy SHA-256: ${copy.bundleSha256}`);
    expect(copy.bundleSha256).not.toBe(shown.digest);

    // The electronic copy states the same digest and its pending line, as a version-specific reference.
    const bundle = (await disputes<Bundle>(officer, 'GET', `/${c.id}/copies/1.json`)).body;
    const manifest = bundle.entry?.[0].resource as Composition;
    expect(manifest.extension).toEqual([
      {
        url: 'https://chartwarden.dev/fhir/StructureDefinition/sealed-inventory',
        extension: [
          { url: 'digest', valueString: shown.digest },
          { url: 'pending', valueReference: { reference: `Composition/${r.draft.id}/_history/1` } },
        ],
      },
    ]);
    expect(await verifySeal(testDatabaseUrl(), c.id)).toMatchObject({ status: 'sealed', pending: 1, copies: 1, problems: [] });

    // Completed and supplemented: the second copy's digest covers every line sealed so far; the inventory agrees; verify passes.
    expectStatus(await fhir(attending, 'POST', `Composition/${r.draft.id}/$sign`), 200);
    const supplemented = await disputes(officer, 'POST', `/${c.id}/supplement`);
    expectStatus(supplemented, 200);
    const second = supplemented.body.copies[1];
    const now = await preview(c.id);
    expect(now.lines.every((l) => l.status === 'sealed')).toBe(true);
    expect(second.inventorySha256).toBe(digestOf(now.lines));
    expect(now.digest).toBe(second.inventorySha256);
    const secondPages = await pdfPages(Buffer.from(await (await fetch(second.pdf, { headers: { authorization: `Bearer ${officer}` } })).arrayBuffer()));
    for (const page of secondPages) expect(page.replace(/\s+/g, ' ')).toContain(`清单摘要 Inventory digest ${second.inventorySha256}`);
    expect(await verifySeal(testDatabaseUrl(), c.id)).toMatchObject({ pending: 0, copies: 2, problems: [] });

    // Had the first copy recorded the sealed-lines-only digest (the defect), verify names it.
    await asReplica(testDatabaseUrl(), [[`UPDATE dispute_copy SET inventory_sha256 = $2 WHERE dispute_id = $1 AND copy_no = 1`, [c.id, sealedOnly]]]);
    const report = await verifySeal(testDatabaseUrl(), c.id);
    expect(report.problems.map((p) => [p.problem, p.ref])).toEqual([
      ['copy-mismatch', 'copy 1'],
      ['copy-mismatch', 'copy 1'],
    ]);
    expect(report.problems.map((p) => p.detail).join('\n')).toContain(`states inventory digest ${shown.digest}, recorded ${sealedOnly}`);
  });

  it('R-20/R-40: the seal and a download of the sealed copy name each version the copy holds, so the auditor finds them by the document', async () => {
    const r = await record();
    const c = await open(r.patient);
    const { sealed } = await seal(c.id);
    const [copy] = sealed.copies;
    const pdf = await fetch(copy.pdf, { headers: { authorization: `Bearer ${officer}` } });
    expect(pdf.status).toBe(200);
    // Sealed: the signed discharge note (version 1) and the final lab; the unsigned draft is pending, not in the copy.
    for (const [type, id] of [
      ['Composition', r.signed.id],
      ['Observation', r.lab.id],
    ]) {
      const found = await fhir<Bundle>(auditor, 'GET', `AuditEvent?entity=${type}/${id}/_history/1`);
      expectStatus(found, 200);
      const subtypes = (found.body.entry ?? []).map((e) => (e.resource as AuditEvent).subtype?.[0]?.code).sort();
      expect(subtypes).toEqual(expect.arrayContaining(['dispute-seal', 'dispute-copies']));
    }
    const draft = await fhir<Bundle>(auditor, 'GET', `AuditEvent?entity=Composition/${r.draft.id}&subtype=dispute-seal`);
    expectStatus(draft, 200);
    expect(draft.body.entry ?? []).toHaveLength(0);
  });

  it('R-41/R-42: a supplement lists a still-pending record as first inventoried, its digest covers every line so far, and seal verify passes', async () => {
    const r = await record();
    const pendingLab = await seedAs<Observation>(server.fhirBase, his, {
      resourceType: 'Observation',
      status: 'preliminary',
      code: { text: '培养' },
      subject: { reference: `Patient/${r.patient}` },
      encounter: { reference: `Encounter/${r.encounter}` },
    });
    const c = await open(r.patient);
    const { digest, sealed } = await seal(c.id);
    expect(sealed.copies[0].inventorySha256).toBe(digest);
    // The progress note moves on but stays unfinished; the culture result is completed.
    const draft = (await fhir<Composition>(attending, 'GET', `Composition/${r.draft.id}`)).body;
    expectStatus(await fhir(attending, 'PUT', `Composition/${r.draft.id}`, { ...draft, meta: undefined, title: '病程记录（续）' }), 200);
    expectStatus(await fhir(his, 'PUT', `Observation/${pendingLab.id}`, { ...pendingLab, meta: undefined, status: 'final' }), 200);
    const supplemented = await disputes<DisputeView & { supplemented: string[] }>(officer, 'POST', `/${c.id}/supplement`);
    expectStatus(supplemented, 200);
    expect(supplemented.body.supplemented).toEqual([`Observation/${pendingLab.id}`]);
    const second = supplemented.body.copies[1];
    const inventory = await preview(c.id);
    expect(inventory.lines).toContainEqual({ type: 'Composition', id: r.draft.id, version: 1, status: 'pending' });
    expect(inventory.lines).toContainEqual(expect.objectContaining({ type: 'Observation', id: pendingLab.id, version: 2, status: 'sealed' }));
    expect(second.inventorySha256).toBe(digestOf(inventory.lines));
    expect(inventory.digest).toBe(second.inventorySha256);
    const bundle = (await disputes<Bundle>(officer, 'GET', `/${c.id}/copies/2.json`)).body;
    const stated = (bundle.entry?.[0].resource as Composition).extension?.[0].extension;
    expect(stated).toEqual([
      { url: 'digest', valueString: second.inventorySha256 },
      { url: 'pending', valueReference: { reference: `Composition/${r.draft.id}/_history/1` } },
    ]);
    expect(await verifySeal(testDatabaseUrl(), c.id)).toMatchObject({ pending: 1, copies: 2, problems: [] });
  });
});
