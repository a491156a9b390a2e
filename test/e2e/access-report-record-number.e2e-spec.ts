import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Identifier, OperationOutcome, Patient } from '@medplum/fhirtypes';
import type pg from 'pg';
import { parse } from 'yaml';
import type { AccessReport } from '../../src/audit/access-report.js';
import { PostgresRecordIndex } from '../../src/store/postgres/postgres-record-index.js';
import type { AuditRow } from '../support/database-rows.js';
import { httpRequest, seedAs, type HttpResult } from '../support/http.js';
import { closeAll, connectTestDatabase, startTestServer, type TestServer } from '../support/test-app.js';

/**
 * R-20 "who looked at my record" by 病案号 (issue #18 follow-up): complaints arrive with the
 * patient's medical-record number, and the auditors' policy has no patient search and no read
 * of a patient record, so `GET /audit/access-report?recordNumber=<病案号>` looks the patient up
 * itself. A 病案号 is what the papers print as one: an identifier in the policy's
 * `settings.medicalRecordNumberSystems`, or of type MR (v2-0203) whatever its system; an ID-card
 * number finds nobody, so an auditor cannot probe ID numbers. Over real HTTP and PostgreSQL;
 * each request's audit entry is read from the trail itself.
 */
const run = randomUUID().slice(0, 8);
const MRN_SYSTEM = `urn:chartwarden-e2e:mrn:${run}`;
const ID_CARD_SYSTEM = 'urn:oid:2.16.156.10011.1.1';
const OTHER_HOSPITAL = `urn:chartwarden-e2e:other-hospital:${run}`;
const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';
const ERROR_CODE_SYSTEM = 'https://chartwarden.dev/fhir/CodeSystem/error-code';

const MRN = `MR-${run}`;
const SHARED = `MR-SHARED-${run}`;
const TYPED = `MR-TYPED-${run}`;
const OLD = `MR-OLD-${run}`;
const ID_NUMBER = residentIdNumber(`11010119880101${String(parseInt(run.slice(0, 4), 16) % 1000).padStart(3, '0')}`);
const LONELY_ID_NUMBER = residentIdNumber(`31010119900202${String(parseInt(run.slice(4, 8), 16) % 1000).padStart(3, '0')}`);

/** A Chinese resident ID number (GB 11643): 17 digits and the ISO 7064 MOD 11-2 check character, computed here. */
function residentIdNumber(first17: string): string {
  const sum = [...first17].reduce((s, c, i) => s + Number(c) * ((2 ** (17 - i)) % 11), 0);
  return first17 + '10X98765432'[sum % 11];
}

/** The shipped policy, with the system its 病案号 is in. */
function policyWithRecordNumbers(): Record<string, unknown> {
  const file = fileURLToPath(new URL('../../policy/default.policy.yaml', import.meta.url));
  const document = parse(readFileSync(file, 'utf8')) as { settings: Record<string, unknown> };
  return { ...document, settings: { ...document.settings, medicalRecordNumberSystems: [MRN_SYSTEM] } };
}

const mr = (system: string, value: string, more: Partial<Identifier> = {}): Identifier => ({ system, value, type: { coding: [{ system: V2_0203, code: 'MR' }] }, ...more });

describe('R-20: the access report by 病案号 (recordNumber)', () => {
  let server: TestServer;
  let db: pg.Client;
  let his: string;
  let auditor: string;
  let clerk: string;
  let doctor: string;
  /** Has MRN in the policy's system and the ID-card number ID_NUMBER. */
  let main: string;
  let sharing: string[];
  let typed: string;

  const token = (sub: string, roles: string[], department?: string) => server.token({ sub, roles, fhirUser: `Practitioner/${sub}`, ...(department ? { department } : {}) });
  const report = <T = AccessReport>(who: string, query: string, headers: Record<string, string> = {}) =>
    httpRequest<T>(`${server.root}/audit/access-report?${query}`, 'GET', { token: who, headers: { accept: 'application/json', ...headers } });
  const byNumber = (who: string, value: string) => report(who, `recordNumber=${encodeURIComponent(value)}`);
  const entriesOf = async (res: HttpResult<unknown>) => {
    const rid = res.headers.get('x-request-id');
    expect(rid).toBeTruthy();
    const rows = (await db.query<AuditRow>('SELECT * FROM audit_entry WHERE request_id = $1 ORDER BY chain, seq', [rid])).rows;
    return rows.map((r) => ({ row: r, entry: JSON.parse(r.content) as { status: number; error?: string; rule?: string; path: string } }));
  };
  const issueOf = (res: HttpResult<unknown>) => {
    const outcome = res.body as OperationOutcome;
    const issue = outcome.issue?.[0];
    return { resourceType: outcome.resourceType, code: issue?.code, error: issue?.details?.coding?.find((c) => c.system === ERROR_CODE_SYSTEM)?.code, expression: issue?.expression };
  };
  const withoutActor = (rows: AccessReport['rows'], actor: string) => rows.filter((r) => r.actor !== actor);

  beforeAll(async () => {
    server = await startTestServer({ policy: policyWithRecordNumbers() });
    db = await connectTestDatabase();
    his = await server.token();
    auditor = await token(`rn-auditor-${run}`, ['auditor']);
    clerk = await token(`rn-clerk-${run}`, ['record-room']);
    doctor = await token(`rn-dr-${run}`, ['attending'], 'dept-cardiology');
    const patient = (identifier: Identifier[]) => seedAs<Patient>(server.fhirBase, his, { resourceType: 'Patient', identifier, name: [{ text: '测试患者' }] }).then((p) => p.id);
    main = await patient([{ system: MRN_SYSTEM, value: MRN }, { system: ID_CARD_SYSTEM, value: ID_NUMBER }]);
    sharing = [await patient([{ system: MRN_SYSTEM, value: SHARED }]), await patient([{ system: MRN_SYSTEM, value: SHARED }])];
    typed = await patient([mr(OTHER_HOSPITAL, TYPED)]);
    await patient([{ system: ID_CARD_SYSTEM, value: LONELY_ID_NUMBER, type: { coding: [{ system: V2_0203, code: 'NNCHN' }] } }]);
    // A 病案号 the patient no longer has (`use: old`), in the policy's system: no longer theirs to be found by.
    await patient([{ system: MRN_SYSTEM, value: OLD, use: 'old' }, { system: MRN_SYSTEM, value: `MR-NEW-${run}` }]);
  });
  afterAll(() => closeAll(db, server));

  it('R-20: an auditor asking by 病案号 gets the same report as by id, with the 病案号 said, and the request\'s entry names the patient', async () => {
    const found = await byNumber(auditor, MRN);
    expect(found.status).toBe(200);
    expect(found.body).toMatchObject({ patient: `Patient/${main}`, recordNumber: MRN });
    const [{ row, entry }, ...more] = await entriesOf(found);
    expect(more).toEqual([]);
    expect(row).toMatchObject({ actor: `rn-auditor-${run}`, patient: main, subtype: 'access-report', outcome: 0 });
    expect(entry).toMatchObject({ status: 200, rule: 'auditor.audit', path: '/audit/access-report' });

    const byId = await report(auditor, `patient=Patient/${main}`);
    expect(byId.status).toBe(200);
    expect(byId.body.recordNumber).toBeUndefined();
    // The same rows; only the auditor's own row grew, by the request by 病案号 just recorded.
    const others = withoutActor(byId.body.rows, `rn-auditor-${run}`);
    expect(others.length).toBeGreaterThan(0);
    expect(others).toEqual(withoutActor(found.body.rows, `rn-auditor-${run}`));
    const mine = (r: AccessReport) => r.rows.filter((x) => x.actor === `rn-auditor-${run}`).reduce((n, x) => n + x.accesses, 0);
    expect(mine(byId.body)).toBe(mine(found.body) + 1);
    // Leading and trailing spaces, as pasted from a complaint, are not part of the number.
    expect((await byNumber(auditor, `  ${MRN} `)).body).toMatchObject({ patient: `Patient/${main}`, recordNumber: MRN });
  });

  it('R-20: the CSV by 病案号 is offered under the patient id; the record room reads one patient by 病案号 as by id', async () => {
    const csv = await report(auditor, `recordNumber=${encodeURIComponent(MRN)}&_format=csv`);
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-disposition')).toBe(`attachment; filename="access-report-Patient-${main}.csv"`);
    expect(csv.text.split('\r\n')[0]).toBe('day,actor,practitioner,roles,department,accesses,reads,searches,writes,refused,first,last');

    const room = await byNumber(clerk, MRN);
    expect(room.status).toBe(200);
    expect(room.body).toMatchObject({ patient: `Patient/${main}`, recordNumber: MRN });
    expect((await entriesOf(room)).map(({ row }) => [row.actor, row.patient, row.outcome])).toEqual([[`rn-clerk-${run}`, main, 0]]);
  });

  it('R-20: an identifier of type MR is a 病案号 whatever its system, with none of the policy\'s systems', async () => {
    const res = await byNumber(auditor, TYPED);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ patient: `Patient/${typed}`, recordNumber: TYPED });
    expect((await entriesOf(res)).map(({ row }) => row.patient)).toEqual([typed]);
  });

  it('R-20: a 病案号 nobody has is 404 not-found, recorded with no patient', async () => {
    const res = await byNumber(auditor, `MR-NOBODY-${run}`);
    expect(res.status).toBe(404);
    expect(issueOf(res)).toEqual({ resourceType: 'OperationOutcome', code: 'not-found', error: 'audit.record-number-unknown', expression: ['recordNumber'] });
    expect(res.text).toContain('No patient has this 病案号');
    const entries = await entriesOf(res);
    expect(entries.map(({ row }) => [row.actor, row.patient, row.subtype, row.outcome])).toEqual([[`rn-auditor-${run}`, null, 'access-report', 4]]);
    expect(entries[0].entry).toMatchObject({ status: 404, error: 'audit.record-number-unknown', rule: 'auditor.audit' });
    // The number asked about is on the record: an auditor probing numbers leaves each one in the trail.
    expect((entries[0].entry as { entity?: { query?: string } }).entity?.query).toBe(`recordNumber=MR-NOBODY-${run}`);
  });

  it('R-20: an ID-card number is no 病案号: 404 whether or not a patient holds it (an auditor cannot probe ID numbers); an old 病案号 finds nobody either', async () => {
    for (const value of [ID_NUMBER, LONELY_ID_NUMBER, OLD]) {
      const res = await byNumber(auditor, value);
      expect([value, res.status, issueOf(res).error]).toEqual([value, 404, 'audit.record-number-unknown']);
      expect((await entriesOf(res)).map(({ row }) => [row.patient, row.outcome])).toEqual([[null, 4]]);
    }
    // The same patients are there to be found by what is their 病案号.
    expect((await byNumber(auditor, `MR-NEW-${run}`)).status).toBe(200);
  });

  it('R-20: two patients sharing a 病案号 is 409 multiple-matches, naming neither', async () => {
    const res = await byNumber(auditor, SHARED);
    expect(res.status).toBe(409);
    expect(issueOf(res)).toEqual({ resourceType: 'OperationOutcome', code: 'multiple-matches', error: 'audit.record-number-ambiguous', expression: ['recordNumber'] });
    expect(res.text).toContain('patient=Patient/<id>');
    for (const id of sharing) expect(res.text).not.toContain(id);
    expect((await entriesOf(res)).map(({ row, entry }) => [row.patient, row.outcome, entry.status])).toEqual([[null, 4, 409]]);
    // By id, each of them has their report.
    for (const id of sharing) expect((await report(auditor, `patient=Patient/${id}`)).status).toBe(200);
    // The store's candidates, sorted and paged by id (what the lookup reads, past the policy).
    const index = PostgresRecordIndex.overClient(db);
    const sorted = [...sharing].sort();
    expect(await index.patientsWithIdentifierValue(SHARED, { limit: 10 })).toEqual(sorted);
    expect(await index.patientsWithIdentifierValue(SHARED, { limit: 1 })).toEqual([sorted[0]]);
    expect(await index.patientsWithIdentifierValue(SHARED, { limit: 10, after: sorted[0] })).toEqual([sorted[1]]);
  });

  it('R-20: the current version counts: a patient given a new 病案号 is found by it, no longer by the one taken away', async () => {
    const id = sharing[1];
    const moved = await httpRequest(`${server.fhirBase}/Patient/${id}`, 'PUT', {
      token: his,
      body: { resourceType: 'Patient', id, identifier: [{ system: MRN_SYSTEM, value: `MR-MOVED-${run}` }], name: [{ text: '测试患者' }] },
    });
    expect(moved.status).toBe(200);
    expect((await byNumber(auditor, `MR-MOVED-${run}`)).body).toMatchObject({ patient: `Patient/${id}` });
    // The shared number now names one patient only.
    expect((await byNumber(auditor, SHARED)).body).toMatchObject({ patient: `Patient/${sharing[0]}`, recordNumber: SHARED });
  });

  it('R-20: a clinician without audit rights is refused as before, the same whether the 病案号 exists or not', async () => {
    for (const value of [MRN, `MR-NOBODY-${run}`]) {
      const res = await byNumber(doctor, value);
      expect([res.status, issueOf(res).code, issueOf(res).error]).toEqual([403, 'forbidden', 'access.forbidden']);
      expect((await entriesOf(res)).map(({ row }) => [row.actor, row.patient, row.outcome])).toEqual([[`rn-dr-${run}`, null, 4]]);
    }
    const anonymous = await httpRequest(`${server.root}/audit/access-report?recordNumber=${MRN}`, 'GET');
    expect(anonymous.status).toBe(401);
  });

  it('R-20: the OpenAPI document describes recordNumber and the 404 and 409 it answers, with their codes', async () => {
    type Operation = { parameters: { name: string; required: boolean; description?: string }[]; responses: Record<string, { 'x-chartwarden-codes'?: { code: string; issue: string }[] }> };
    const doc = await httpRequest<{ paths: Record<string, Record<string, Operation>> }>(`${server.root}/docs-json`, 'GET', { headers: { accept: 'application/json' } });
    expect(doc.status).toBe(200);
    const op = doc.body.paths['/audit/access-report'].get;
    expect(op.parameters.filter((p) => ['patient', 'recordNumber'].includes(p.name)).map((p) => [p.name, p.required]).sort()).toEqual([
      ['patient', false],
      ['recordNumber', false],
    ]);
    expect(op.parameters.find((p) => p.name === 'recordNumber')?.description).toContain('病案号');
    expect(op.responses['404']['x-chartwarden-codes']).toContainEqual({ code: 'audit.record-number-unknown', issue: 'not-found' });
    expect(op.responses['409']['x-chartwarden-codes']).toEqual([{ code: 'audit.record-number-ambiguous', issue: 'multiple-matches' }]);
    expect(op.responses['400']['x-chartwarden-codes']).toContainEqual({ code: 'fhir.invalid-request', issue: 'invalid' });
  });

  it('R-20: both, neither, repeated, empty, too long or control characters: 400 naming the parameters, recorded; no input gives a 5xx', async () => {
    const invalid = async (query: string, expression: string[], code = 'fhir.invalid-request') => {
      const res = await report(auditor, query);
      expect([query, res.status, issueOf(res)]).toEqual([query, 400, { resourceType: 'OperationOutcome', code: 'invalid', error: code, expression }]);
      expect((await entriesOf(res)).map(({ row, entry }) => [row.outcome, entry.status])).toEqual([[4, 400]]);
    };
    const both = ['patient', 'recordNumber'];
    await invalid(`patient=Patient/${main}&recordNumber=${MRN}`, both);
    await invalid('', both);
    await invalid('from=2026-01-01', both);
    await invalid(`recordNumber=${MRN}&recordNumber=${MRN}`, both);
    await invalid('recordNumber=', ['recordNumber']);
    await invalid('recordNumber=%20%20', ['recordNumber']);
    await invalid(`recordNumber=${'9'.repeat(65)}`, ['recordNumber']);
    await invalid(`recordNumber=${encodeURIComponent('病'.repeat(65))}`, ['recordNumber']);
    await invalid('recordNumber=MR%0A42', ['recordNumber']);
    await invalid('recordNumber=MR%0142', ['recordNumber']);
    await invalid('recordNumber=MR%7F42', ['recordNumber']);
    // NUL is refused by the input guard before any handler, as in every URL.
    await invalid('recordNumber=MR%0042', ['query parameter recordNumber'], 'fhir.invalid-characters');
    // 64 characters is within bounds: looked up, and nobody has it.
    expect((await byNumber(auditor, '9'.repeat(64))).status).toBe(404);
    expect((await byNumber(auditor, '病'.repeat(64))).status).toBe(404);
    // A lone surrogate (invalid UTF-8 percent-encoded) is refused by the input guard; a hundred values are a repeat,
    // and a thousand make a request line longer than the server reads (431, before any lookup).
    const surrogate = await report(auditor, 'recordNumber=MR%ED%A0%80');
    expect([surrogate.status, issueOf(surrogate).error]).toEqual([400, 'fhir.invalid-characters']);
    await invalid(Array.from({ length: 100 }, (_, i) => `recordNumber=MR-${i}`).join('&'), both);
    const thousand = await report(auditor, Array.from({ length: 1000 }, (_, i) => `recordNumber=MR-${i}`).join('&'));
    expect([thousand.status, issueOf(thousand).error]).toEqual([431, 'fhir.headers-too-large']);
    // Prototype keys are values like any other: looked up, nobody has them.
    for (const value of ['__proto__', 'constructor', 'toString']) expect([value, (await byNumber(auditor, value)).status]).toEqual([value, 404]);
    for (const value of ["' OR 1=1 --", 'a|b', 'a,b', 'a\\b', '%', '$', 'MR*', '\u{1F600}', '\u00A0']) {
      const res = await byNumber(auditor, value);
      expect([value, res.status]).toEqual([value, value === '\u00A0' ? 400 : 404]);
    }
  });
});
