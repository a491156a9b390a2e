import { randomUUID } from 'node:crypto';
import { HttpException, HttpStatus } from '@nestjs/common';
import type { Bundle, Composition, Encounter, Observation, OperationOutcome, Patient, Resource } from '@medplum/fhirtypes';
import type pg from 'pg';
import type { FhirContext } from '../../src/fhir/fhir-request.js';
import { WriteGuard, type WriteAttempt } from '../../src/fhir/write-chain.port.js';
import type { AuditRow, LedgerRow } from '../support/database-rows.js';
import { expectOutcome, expectStatus } from '../support/fhir-expect.js';
import { httpRequest, jsonApi, seedAs, type HttpResult } from '../support/http.js';
import { closeAll, connectTestDatabase, startTestServer, type TestServer } from '../support/test-app.js';
import { inpatientStay } from '../support/fhir-builders.js';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/**
 * JSON Patch (RFC 6902; R4 http.html#patch) end to end, over real HTTP and PostgreSQL: a PATCH
 * is an update of the current version with the patch applied, under the write's lock, through
 * the whole write chain (If-Match → 412, the legal hold R-41, the reason for a final document
 * R-12, the hospital's own guards), with its ledger and audit entries (R-51, R-20: an update in
 * the trail). Bad patches answer 400 or 422 and write nothing (docs/decisions/0015). PATCH
 * entries of batch and transaction Bundles carry the patch as a Binary.
 */
const run = randomUUID().slice(0, 8);
const LAB = `urn:chartwarden-e2e:patch:${run}`;
const LOINC = 'http://loinc.org';
const DR = `Practitioner/dr-patch-${run}`;
const JSON_PATCH = 'application/json-patch+json';
const PATIENT_SIDE = { name: '王小明', relationship: 'spouse', idDocument: { type: 'resident-id-card', number: '110101199001011234' }, confirmed: true };

type Op = { op: string; path: string; value?: unknown; from?: string };

/** The hospital's plausibility rule: a haemoglobin above 500 g/L is a typing error. It sees what a patch would write. */
class ImplausibleValueGuard extends WriteGuard {
  readonly seen: string[] = [];

  async check(_ctx: FhirContext, { resource }: WriteAttempt): Promise<void> {
    const value = resource.resourceType === 'Observation' ? (resource as Observation).valueQuantity?.value : undefined;
    if (value === undefined || !(resource as Observation).code?.coding?.some((c) => c.system === LAB)) return;
    this.seen.push(`${resource.id ?? 'new'}:${value}`);
    if (value > 500) throw new HttpException(`Haemoglobin ${value} g/L is implausible (hospital rule H-7)`, HttpStatus.UNPROCESSABLE_ENTITY);
  }
}

describe('JSON Patch through the write chain (e2e, real HTTP + PostgreSQL)', () => {
  const guard = new ImplausibleValueGuard();
  let server: TestServer;
  let db: pg.Client;
  let his: string;
  let officer: string;
  let witness: string;
  let patient: string;

  const disputes = jsonApi<{ id: string; digest: string }>(() => `${server.root}/disputes`);
  const fhir = <T = OperationOutcome>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    httpRequest<T>(`${server.fhirBase}${path ? `/${path}` : ''}`, method, { token: his, body, headers: { 'x-request-id': `patch-${randomUUID()}`, ...headers } });
  const patch = <T = OperationOutcome>(path: string, ops: unknown, headers: Record<string, string> = {}) => fhir<T>('PATCH', path, ops, { 'content-type': JSON_PATCH, ...headers });
  const seed = <T extends Resource>(resource: T) => seedAs(server.fhirBase, his, resource);
  const lab = (value: number, extra: Partial<Observation> = {}): Observation => ({
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: LAB, code: 'hb' }], text: '血红蛋白' },
    subject: { reference: `Patient/${patient}` },
    valueQuantity: { value, unit: 'g/L' },
    ...extra,
  });
  const read = async <T extends Resource>(type: string, id: string) => (await fhir<T>('GET', `${type}/${id}`)).body;
  const versions = async (type: string, id: string) => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM fhir_resource_version WHERE resource_type = $1 AND id = $2', [type, id])).rows[0].n;
  const auditOf = async (res: HttpResult<unknown>) => (await db.query<AuditRow>('SELECT * FROM audit_entry WHERE request_id = $1 ORDER BY chain, seq', [res.headers.get('x-request-id')])).rows;
  const binary = (ops: Op[]) => ({ resourceType: 'Binary', contentType: JSON_PATCH, data: Buffer.from(JSON.stringify(ops)).toString('base64') });

  beforeAll(async () => {
    server = await startTestServer({ writeGuards: [guard] });
    db = await connectTestDatabase();
    his = await server.token();
    officer = await server.token({ sub: `officer-patch-${run}`, roles: ['disputes-officer'] });
    witness = await server.token({ sub: `witness-patch-${run}`, roles: ['medical-affairs'], fhirUser: `Practitioner/witness-patch-${run}` });
    patient = (await seed<Patient>({ resourceType: 'Patient', name: [{ text: `补丁-${run}` }] })).id;
  });
  afterAll(() => closeAll(db, server));

  it('R-20 / R-51: a patch writes the next version through the chain; the audit trail records it as an update of that record', async () => {
    const stored = await seed(lab(132));
    const res = await patch<Observation>(`Observation/${stored.id}`, [
      { op: 'test', path: '/meta/versionId', value: '1' },
      { op: 'replace', path: '/valueQuantity/value', value: 131 },
      { op: 'add', path: '/note', value: [{ text: '复查' }] },
    ]);
    expectStatus(res, 200);
    expect(res.body).toMatchObject({ id: stored.id, meta: { versionId: '2' }, valueQuantity: { value: 131, unit: 'g/L' }, note: [{ text: '复查' }] });
    expect(res.headers.get('etag')).toBe('W/"2"');
    expect(await read(`Observation`, stored.id)).toEqual(res.body);
    expect(guard.seen).toContain(`${stored.id}:131`);
    const audit = await auditOf(res);
    expect(audit.map((a) => [a.action, a.subtype, a.outcome, a.entity_type, a.entity_id, a.patient])).toEqual([['U', 'update', 0, 'Observation', stored.id, patient]]);
  });

  it("If-Match: a stale version answers 412 before anything else; the hospital's guard refuses an implausible patched value (nothing written either way)", async () => {
    const stored = await seed(lab(140));
    const stale = await patch(`Observation/${stored.id}`, [{ op: 'test', path: '/status', value: 'nope' }], { 'if-match': 'W/"7"' });
    expectOutcome(stale, 412, 'conflict', 'store.version-conflict');
    const refused = await patch(`Observation/${stored.id}`, [{ op: 'replace', path: '/valueQuantity/value', value: 1400 }], { 'if-match': 'W/"1"' });
    expectStatus(refused, 422);
    expect(refused.text).toContain('H-7');
    expect(await versions('Observation', stored.id)).toBe(1);
    expect((await auditOf(refused)).map((a) => [a.action, a.subtype, a.outcome])).toEqual([['U', 'update', 4]]);
  });

  it('R-12: patching a final document needs a reason; with one, the ledger entry records the reason and exactly the patched change', async () => {
    const encounter = await seed<Encounter>({ resourceType: 'Encounter', status: 'in-progress', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' }, subject: { reference: `Patient/${patient}` } });
    const note = await seed<Composition>({
      resourceType: 'Composition',
      status: 'final',
      type: { coding: [{ system: LOINC, code: '11506-3', display: 'Progress note' }], text: '日常病程记录' },
      subject: { reference: `Patient/${patient}` },
      encounter: { reference: `Encounter/${encounter.id}` },
      date: '2026-11-29T10:00:00+08:00',
      author: [{ reference: DR }],
      title: '日常病程记录',
    });
    const ops = [{ op: 'replace', path: '/title', value: '日常病程记录（更正）' }];
    expectOutcome(await patch(`Composition/${note.id}`, ops), 422, 'business-rule', 'governance.reason-required');
    expect(await versions('Composition', note.id)).toBe(1);
    const res = await patch<Composition>(`Composition/${note.id}`, ops, { 'x-edit-reason': encodeURIComponent('更正标题') });
    expectStatus(res, 200);
    const { rows } = await db.query<LedgerRow>('SELECT * FROM edit_ledger WHERE resource_type = $1 AND resource_id = $2 ORDER BY version_id', ['Composition', note.id]);
    expect(rows.map((r) => [r.version_id, r.kind, r.reason])).toEqual([
      [1, 'create', null],
      [2, 'update', '更正标题'],
    ]);
    expect(JSON.parse(rows[1].entry).diff).toEqual(ops);
  });

  it('R-41: a record under a legal hold refuses a patch (423); nothing is written', async () => {
    const other = (await seed<Patient>({ resourceType: 'Patient', name: [{ text: `封存-${run}` }] })).id;
    const stored = await seed(lab(150, { subject: { reference: `Patient/${other}` } }));
    const opened = await disputes(officer, 'POST', '', { patient: `Patient/${other}`, reason: '患方对检验结果有异议', scope: { kind: 'whole-record' } });
    expectStatus(opened, 201);
    const { digest } = (await disputes(officer, 'GET', `/${opened.body.id}/inventory`)).body;
    expectStatus(await disputes(witness, 'POST', `/${opened.body.id}/confirmations`, { step: 'seal', inventoryDigest: digest }), 201);
    expectStatus(await disputes(officer, 'POST', `/${opened.body.id}/seal`, { inventoryDigest: digest, patientWitness: PATIENT_SIDE }), 200);
    expectOutcome(await patch(`Observation/${stored.id}`, [{ op: 'replace', path: '/valueQuantity/value', value: 151 }]), 423, 'business-rule', 'disputes.sealed');
    expect(await versions('Observation', stored.id)).toBe(1);
  });

  it('no lost update: concurrent patches each apply to the version before them (both notes kept)', async () => {
    const stored = await seed(lab(120, { note: [{ text: 'start' }] }));
    const results = await Promise.all(['甲', '乙', '丙'].map((text) => patch(`Observation/${stored.id}`, [{ op: 'add', path: '/note/-', value: { text } }])));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    const now = await read<Observation>('Observation', stored.id);
    expect(now.meta?.versionId).toBe('4');
    expect(now.note?.map((n) => n.text).sort()).toEqual(['start', '丙', '乙', '甲'].sort());
  });

  it('bad patches answer 400 or 422 with their own codes and write nothing; prototype keys reach no prototype', async () => {
    const stored = await seed(lab(110));
    const path = `Observation/${stored.id}`;
    expectOutcome(await patch(path, { op: 'replace', path: '/status', value: 'final' }), 400, 'structure', 'fhir.patch-malformed');
    expectOutcome(await patch(path, [{ op: 'frobnicate', path: '/status' }]), 400, 'structure', 'fhir.patch-malformed');
    expectOutcome(await patch(path, [{ op: 'add', path: 'status', value: 'x' }]), 400, 'structure', 'fhir.patch-malformed');
    expectOutcome(await patch(path, [null]), 400, 'structure', 'fhir.patch-malformed');
    expectOutcome(await patch(path, [{ op: 'test', path: '/status', value: 'preliminary' }]), 422, 'processing', 'fhir.patch-not-applicable');
    expectOutcome(await patch(path, [{ op: 'remove', path: '/issued' }]), 422, 'processing', 'fhir.patch-not-applicable');
    // RFC 6902 §4.4: no move into its own child (was a 500); RFC 6901: no index with a leading zero.
    expectOutcome(await patch(path, [{ op: 'add', path: '/note', value: [{ text: 'n' }] }, { op: 'move', from: '/note', path: '/note/0' }]), 400, 'structure', 'fhir.patch-malformed');
    expectOutcome(await patch(path, [{ op: 'add', path: '/note', value: [{ text: 'n' }] }, { op: 'remove', path: '/note/00' }]), 400, 'structure', 'fhir.patch-malformed');
    expectOutcome(await patch(path, [{ op: 'add', path: '/note', value: [{ text: 'n' }] }, { op: 'copy', from: '/status/length', path: '/language' }]), 422, 'processing', 'fhir.patch-not-applicable');
    for (const op of [
      { op: 'replace', path: '/id', value: 'other' },
      { op: 'replace', path: '/resourceType', value: 'Patient' },
      { op: 'replace', path: '/meta/versionId', value: '9' },
      { op: 'move', from: '/id', path: '/language' },
      // `/meta` as a whole holds meta.versionId and meta.lastUpdated (decision 0015).
      { op: 'replace', path: '/meta', value: { versionId: 'x' } },
      { op: 'remove', path: '/meta' },
      { op: 'move', from: '/meta', path: '/language' },
    ]) {
      expectOutcome(await patch(path, [op]), 400, 'invalid', 'fhir.patch-protected-element');
    }
    expectOutcome(await patch(path, [{ op: 'replace', path: '', value: { ...stored, id: 'elsewhere' } }]), 400, 'invalid', 'fhir.patch-protected-element');
    for (const pointer of ['/__proto__/polluted', '/constructor/prototype/polluted', '/valueQuantity/__proto__']) {
      expectOutcome(await patch(path, [{ op: 'add', path: pointer, value: { polluted: 'yes' } }]), 400, 'structure', 'fhir.patch-malformed');
    }
    // A key named __proto__ inside a value is data, and no FHIR element: the validator refuses it as an update's body.
    expectOutcome(await fhir('PATCH', path, '[{"op":"add","path":"/valueQuantity","value":{"__proto__":{"polluted":"yes"},"value":1}}]', { 'content-type': JSON_PATCH }), 400, 'structure', 'fhir.validation-failed');
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    // A result that is not valid R4 is refused as an update with that body would be.
    const invalid = await patch(path, [{ op: 'replace', path: '/status', value: 'whatever' }]);
    expectStatus(invalid, 400);
    expect(invalid.body.issue).toEqual([expect.objectContaining({ severity: 'error', code: 'code-invalid', expression: ['Observation.status'] })]);
    expectOutcome(await patch('Observation/no-such-record', [{ op: 'replace', path: '/status', value: 'final' }]), 404, 'not-found', 'store.not-found');
    // FHIRPath Patch is not supported; a body that is no patch format is not accepted.
    const fhirPath = { resourceType: 'Parameters', parameter: [{ name: 'operation', part: [{ name: 'type', valueCode: 'replace' }] }] };
    expectOutcome(await fhir('PATCH', path, fhirPath, { 'content-type': 'application/fhir+json' }), 400, 'not-supported', 'fhir.patch-format-not-supported');
    expectOutcome(await fhir('PATCH', path, { ...stored, status: 'amended' }, { 'content-type': 'application/fhir+json' }), 415, 'not-supported', 'fhir.unsupported-media-type');
    expect(await versions('Observation', stored.id)).toBe(1);
    expect(await read('Observation', stored.id)).toEqual(stored);
  });

  it('Bundles: a PATCH entry carries its JSON Patch as a Binary; a transaction is all or nothing; FHIRPath Patch is refused', async () => {
    const a = await seed(lab(100));
    const b = await seed(lab(101));
    const entry = (id: string, ops: Op[]) => ({ resource: binary(ops), request: { method: 'PATCH', url: `Observation/${id}` } });
    const tx = await fhir<Bundle>('POST', '', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [entry(a.id, [{ op: 'replace', path: '/valueQuantity/value', value: 102 }]), { resource: lab(103), request: { method: 'POST', url: 'Observation' } }],
    });
    expectStatus(tx, 200);
    expect(tx.body.entry?.map((e) => e.response?.status)).toEqual(['200 OK', '201 Created']);
    expect(await read<Observation>('Observation', a.id)).toMatchObject({ meta: { versionId: '2' }, valueQuantity: { value: 102 } });

    const failed = await fhir('POST', '', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [entry(a.id, [{ op: 'replace', path: '/valueQuantity/value', value: 104 }]), entry(b.id, [{ op: 'test', path: '/valueQuantity/value', value: 0 }])],
    });
    expectOutcome(failed, 422, 'processing', 'fhir.patch-not-applicable');
    expect(failed.body.issue?.[0].expression?.[0]).toBe('Bundle.entry[1]');
    expect(await versions('Observation', a.id)).toBe(2);

    const batch = await fhir<Bundle>('POST', '', {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        entry(b.id, [{ op: 'replace', path: '/valueQuantity/value', value: 105 }]),
        { resource: { resourceType: 'Parameters', parameter: [] }, request: { method: 'PATCH', url: `Observation/${b.id}` } },
        { resource: { ...binary([]), contentType: 'application/xml-patch+xml' }, request: { method: 'PATCH', url: `Observation/${b.id}` } },
        { resource: { ...binary([]), data: '%%%' }, request: { method: 'PATCH', url: `Observation/${b.id}` } },
        entry(b.id, [{ op: 'add', path: '/note', value: [] }, { op: 'move', from: '/note', path: '/note/0' }]),
      ],
    });
    expectStatus(batch, 200);
    expect(batch.body.entry?.map((e) => e.response?.status)).toEqual(['200 OK', '400 Bad Request', '400 Bad Request', '400 Bad Request', '400 Bad Request']);
    expect(batch.body.entry?.[4].response?.outcome?.issue?.[0].code).toBe('structure');
    expect(batch.body.entry?.[1].response?.outcome?.issue?.[0]).toMatchObject({ code: 'not-supported', diagnostics: expect.stringContaining('FHIRPath Patch') });
    expect(batch.body.entry?.[2].response?.outcome?.issue?.[0].code).toBe('not-supported');
    expect(batch.body.entry?.[3].response?.outcome?.issue?.[0].code).toBe('structure');
    expect(await read<Observation>('Observation', b.id)).toMatchObject({ meta: { versionId: '2' }, valueQuantity: { value: 105 } });
  });

  it('decision 0014: a patch keeps the stored lexemes with their values and brings its own (2.50 stays 2.50), over HTTP and in a Bundle', async () => {
    const text = (values: string[]) =>
      `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"${LAB}","code":"hb"}]},"subject":{"reference":"Patient/${patient}"},` +
      `"valueQuantity":{"value":1.0,"unit":"g/L"},"component":[${values.map((v, i) => `{"code":{"text":"c${i}"},"valueQuantity":{"value":${v}}}`).join(',')}]}`;
    const created = await fhir<Observation>('POST', 'Observation', text(['1.50', '1.5', '2.0']));
    expectStatus(created, 201);
    const id = created.body.id as string;
    // The HIS writes the new value as 2.50; the component sent as 1.5 keeps 1.5 when the first goes, the one sent as 2.0 keeps 2.0.
    const res = await fhir<Observation>('PATCH', `Observation/${id}`, '[{"op":"remove","path":"/component/0"},{"op":"add","path":"/valueQuantity/value","value":2.50}]', { 'content-type': JSON_PATCH });
    expectStatus(res, 200);
    expect(res.text).toContain('"valueQuantity":{"value":2.50,"unit":"g/L"}');
    expect(res.text).toContain('"component":[{"code":{"text":"c1"},"valueQuantity":{"value":1.5}},{"code":{"text":"c2"},"valueQuantity":{"value":2.0}}]');
    const read = await fhir('GET', `Observation/${id}`);
    expect(read.text).toBe(res.text);
    // A Bundle entry's Binary: its document's lexemes too.
    const document = '[{"op":"replace","path":"/component/1/valueQuantity/value","value":3.10}]';
    const tx = await fhir<Bundle>('POST', '', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ resource: { resourceType: 'Binary', contentType: JSON_PATCH, data: Buffer.from(document).toString('base64') }, request: { method: 'PATCH', url: `Observation/${id}` } }],
    });
    expectStatus(tx, 200);
    const after = await fhir('GET', `Observation/${id}`);
    expect(after.text).toContain('"valueQuantity":{"value":2.50,"unit":"g/L"}');
    expect(after.text).toContain('{"code":{"text":"c1"},"valueQuantity":{"value":1.5}},{"code":{"text":"c2"},"valueQuantity":{"value":3.10}}]');
    expect(await versions('Observation', id)).toBe(3);
  });

  it('R-03: a clinician of another department may not patch (403, no version); one of the department may', async () => {
    const dept = `dept-patch-${run}`;
    const dr = `Practitioner/dr-dept-patch-${run}`;
    const encounter = await seed<Encounter>(inpatientStay(patient, dept, [dr]));
    const stored = await seed(lab(120, { encounter: { reference: `Encounter/${encounter.id}` } }));
    const ops = [{ op: 'replace', path: '/valueQuantity/value', value: 121 }];
    const elsewhere = await server.token({ sub: `dr-other-patch-${run}`, roles: ['attending'], department: `other-${dept}`, licence: 'licensed', fhirUser: `Practitioner/dr-other-patch-${run}` });
    expectOutcome(await httpRequest(`${server.fhirBase}/Observation/${stored.id}`, 'PATCH', { token: elsewhere, body: ops, contentType: JSON_PATCH }), 403, 'forbidden', 'access.forbidden');
    expect(await versions('Observation', stored.id)).toBe(1);
    const own = await server.token({ sub: `dr-dept-patch-${run}`, roles: ['attending'], department: dept, licence: 'licensed', fhirUser: dr });
    const allowed = await httpRequest<Observation>(`${server.fhirBase}/Observation/${stored.id}`, 'PATCH', { token: own, body: ops, contentType: JSON_PATCH });
    expectStatus(allowed, 200);
    expect(allowed.body.valueQuantity?.value).toBe(121);
    expect(await versions('Observation', stored.id)).toBe(2);
  });

  it("a role the hospital's policy lets update but not read may not patch: the answer and a test would reveal the record (403, no version)", async () => {
    const policyFile = fileURLToPath(new URL('../../policy/default.policy.yaml', import.meta.url));
    const document = parse(readFileSync(policyFile, 'utf8')) as { roles: Record<string, unknown> };
    document.roles['lab-corrector'] = { title: 'update only', rules: [{ id: 'lab-corrector.update', allow: ['update'], on: ['patient-record'], rule: 'R-02' }] };
    const custom = await startTestServer({ policy: document as unknown as Record<string, unknown> });
    try {
      const record = await seedAs(custom.fhirBase, await custom.token(), lab(125));
      const corrector = await custom.token({ sub: `corrector-${run}`, roles: ['lab-corrector'] });
      for (const ops of [[{ op: 'test', path: '/valueQuantity/value', value: 125 }], [{ op: 'replace', path: '/valueQuantity/value', value: 126 }]]) {
        const res = await httpRequest(`${custom.fhirBase}/Observation/${record.id}`, 'PATCH', { token: corrector, body: ops, contentType: JSON_PATCH });
        expectOutcome(res, 403, 'forbidden', 'access.forbidden');
        expect(res.text).not.toContain('125');
      }
      expect(await versions('Observation', record.id)).toBe(1);
    } finally {
      await custom.close();
    }
  });

  it('conditional patch (PATCH /Type?identifier=…): the one match is patched; none is 404, several 412, a record the caller may not see is no match; nothing else is written', async () => {
    const system = `urn:chartwarden-e2e:cpatch:${run}`;
    const ops = [{ op: 'replace', path: '/valueQuantity/value', value: 131 }];
    const one = await seed(lab(130, { identifier: [{ system, value: 'one' }] }));
    const patched = await patch<Observation>(`Observation?identifier=${encodeURIComponent(`${system}|one`)}`, ops);
    expectStatus(patched, 200);
    expect(patched.body).toMatchObject({ id: one.id, valueQuantity: { value: 131 }, meta: { versionId: '2' } });
    expect((await auditOf(patched)).map((e) => [e.action, e.subtype, e.entity_id])).toContainEqual(['U', 'update', one.id]);

    expectOutcome(await patch(`Observation?identifier=${encodeURIComponent(`${system}|none`)}`, ops), 404, 'not-found', 'store.not-found');
    const twins = [await seed(lab(140, { identifier: [{ system, value: 'twin' }] })), await seed(lab(141, { identifier: [{ system, value: 'twin' }] }))];
    expectOutcome(await patch(`Observation?identifier=${encodeURIComponent(`${system}|twin`)}`, ops), 412, 'multiple-matches', 'store.multiple-matches');
    expectOutcome(await patch('Observation?_count=1', ops), 400, 'invalid', 'fhir.invalid-request');
    for (const twin of twins) expect(await versions('Observation', twin.id)).toBe(1);

    // A clinician of another department: the record is not his to see, so it matches nothing (404), and stays as it was.
    const dept = `dept-cpatch-${run}`;
    const encounter = await seed<Encounter>(inpatientStay(patient, dept, [`Practitioner/dr-cpatch-${run}`]));
    const hidden = await seed(lab(150, { identifier: [{ system, value: 'hidden' }], encounter: { reference: `Encounter/${encounter.id}` } }));
    const elsewhere = await server.token({ sub: `dr-other-cpatch-${run}`, roles: ['attending'], department: `other-${dept}`, licence: 'licensed', fhirUser: `Practitioner/dr-other-cpatch-${run}` });
    const refused = await httpRequest(`${server.fhirBase}/Observation?identifier=${encodeURIComponent(`${system}|hidden`)}`, 'PATCH', { token: elsewhere, body: ops, contentType: JSON_PATCH });
    expectOutcome(refused, 404, 'not-found', 'store.not-found');
    expect(await versions('Observation', hidden.id)).toBe(1);
    expect((await read<Observation>('Observation', hidden.id)).valueQuantity?.value).toBe(150);
  });
});
