import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Bundle, Composition, OperationOutcome, Patient } from '@medplum/fhirtypes';
import pg from 'pg';
import { AccessError, AccessErrorCode, ChartWarden, ChartWardenModule, DisputeError, DisputeErrorCode } from '../../src/index.js';
import { FhirRequestError, FhirRequestErrorCode, FhirStore, TokenVerifier, toErrorResponse, type Actor } from '../../src/index.js';
import { issueDevToken, type DevTokenRequest } from '../../src/dev.js';
import { httpRequest, type HttpResult } from '../support/http.js';
import { testDatabaseUrl } from '../support/test-app.js';
import { RECORD_NUMBER, RecordNumberMissingError, WardModule } from './examples/host-app.js';

/**
 * The embedding API of issue #15 (docs/guides/embedding.md): a host application injects
 * `ChartWarden` and acts as an actor, `chartwarden.as(actor).read(...)`. This runs the guide's
 * own example (test/e2e/examples/host-app.ts, shown in the docs verbatim: the last test checks)
 * on real PostgreSQL, and holds the client to HTTP's behaviour: the same refusals with the same
 * status and code, a write's version, edit-ledger entry and single audit entry naming the
 * actor, nothing written when the legal hold or the hospital's own
 * write guard refuses, and every call marked in the trail as embedded.
 */

const run = randomUUID().slice(0, 8);
const ERROR_CODE_SYSTEM = 'https://chartwarden.dev/fhir/CodeSystem/error-code';
const PATIENT_SIDE = { name: '王小明', relationship: 'spouse', idDocument: { type: 'resident-id-card', number: '110101199001011234' }, confirmed: true };
const root = fileURLToPath(new URL('../..', import.meta.url));
const EXAMPLE = 'test/e2e/examples/host-app.ts';

/** A row of `audit_entry` as the checks read it, with its content parsed. */
interface AuditRow {
  actor: string | null;
  subtype: string;
  outcome: number;
  entity_id: string | null;
  content: string;
}

/** The ChartWarden error code an OperationOutcome carries. */
const codeOf = (outcome: OperationOutcome | undefined) => outcome?.issue?.[0]?.details?.coding?.find((c) => c.system === ERROR_CODE_SYSTEM)?.code;

/** What a rejected call threw (the test fails if it resolved). */
async function refusal(call: Promise<unknown>): Promise<unknown> {
  return call.then(
    () => {
      throw new Error('the call was expected to be refused');
    },
    (e: unknown) => e,
  );
}

/** `// >>> name` … `// <<< name` blocks of the example, as the docs must show them (importing the package by name). */
function exampleBlocks(): Map<string, string> {
  const blocks = new Map<string, string>();
  let open: string | undefined;
  let lines: string[] = [];
  for (const line of readFileSync(join(root, EXAMPLE), 'utf8').split('\n')) {
    const start = /^\/\/ >>> ([\w-]+)$/.exec(line);
    const end = /^\/\/ <<< ([\w-]+)$/.exec(line);
    if (start) [open, lines] = [start[1], []];
    else if (end && end[1] === open) {
      blocks.set(open, lines.join('\n').replaceAll("'../../../src/index.js'", "'chartwarden'") + '\n');
      open = undefined;
    } else if (open) lines.push(line);
  }
  return blocks;
}

/** Every token a module exports, through the modules it re-exports (as Nest resolves what an importing module may inject). */
function exportedTokens(module: object, seen = new Set<object>()): unknown[] {
  if (seen.has(module)) return [];
  seen.add(module);
  const exports = (Reflect.getMetadata('exports', module) ?? []) as unknown[];
  const isModule = (token: unknown) =>
    typeof token === 'function' && ['imports', 'providers', 'exports', 'controllers'].some((k) => Reflect.hasMetadata(k, token));
  return exports.flatMap((token) => (isModule(token) ? exportedTokens(token as object, seen) : [token]));
}

/** The blocks a Markdown file shows from the example: `<!-- example: test/e2e/examples/host-app.ts#name -->` and the fenced block after it. */
function shownBlocks(file: string): Map<string, string> {
  const shown = new Map<string, string>();
  const marker = /<!-- example: ([\w./-]+)#([\w-]+) -->\n```ts\n([\s\S]*?)```\n/g;
  for (const m of readFileSync(join(root, file), 'utf8').matchAll(marker)) {
    if (m[1] === EXAMPLE) shown.set(m[2], m[3]);
  }
  return shown;
}

describe('the embedding client: chartwarden.as(actor) in a host Nest application (e2e, real PostgreSQL)', () => {
  let app: INestApplication;
  let base: string;
  let dataDir: string;
  let db: pg.Client;
  let chartwarden: ChartWarden;
  let verifier: TokenVerifier;
  const tokens: Record<'his' | 'nurse' | 'officer' | 'witness', string> = { his: '', nurse: '', officer: '', witness: '' };
  const actors: Partial<Record<keyof typeof tokens, Actor>> = {};

  const token = (request: Partial<DevTokenRequest> & { sub: string; roles: string[] }) => issueDevToken(dataDir, { ttl: '1h', ...request });
  const actor = (who: keyof typeof tokens) => actors[who] as Actor;
  type Who = keyof typeof tokens;
  /** ChartWarden's own /fhir routes, as a HIS calls them. */
  const fhir = <T = OperationOutcome>(who: Who, method: string, path: string, body?: unknown) =>
    httpRequest<T>(`${base}/fhir/${path}`, method, { token: tokens[who], body });
  /** The host's routes and the workflow APIs: JSON in and out. */
  const host = <T = unknown>(who: Who, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    httpRequest<T>(`${base}${path}`, method, {
      token: tokens[who],
      body,
      contentType: 'application/json',
      headers: { accept: 'application/json', ...headers },
    });
  const disputes = <T = { id: string; digest: string }>(who: Who, method: string, path: string, body?: unknown) =>
    host<T>(who, method, `/disputes${path}`, body);
  const auditOf = async (requestId: string) =>
    (await db.query<AuditRow>('SELECT actor, subtype, outcome, entity_id, content FROM audit_entry WHERE request_id = $1 ORDER BY seq', [requestId])).rows;
  /** Who, what, how it ended and on which record: an entry as the checks compare it. */
  const brief = (rows: AuditRow[]) => rows.map((e) => ({ actor: e.actor, subtype: e.subtype, outcome: e.outcome, entity: e.entity_id }));
  const ledgerOf = async (type: string, id: string) =>
    (
      await db.query<{ version_id: number; editor: string; reason: string | null }>(
        'SELECT version_id, editor, reason FROM edit_ledger WHERE resource_type = $1 AND resource_id = $2 ORDER BY version_id',
        [type, id],
      )
    ).rows;
  const patient = (text: string): Patient => ({ resourceType: 'Patient', identifier: [{ system: RECORD_NUMBER, value: `MRN-${text}` }], name: [{ text }] });
  const note = (patientId: string, title: string, status: Composition['status'] = 'preliminary'): Composition => ({
    resourceType: 'Composition',
    status,
    type: { coding: [{ system: 'http://loinc.org', code: '11506-3' }] },
    subject: { reference: `Patient/${patientId}` },
    date: new Date().toISOString(),
    author: [{ reference: `Practitioner/embed-dr-${run}` }],
    title,
  });
  const seed = async <T extends Patient | Composition>(resource: T): Promise<T & { id: string }> => {
    const res = await fhir<T & { id: string }>('his', 'POST', resource.resourceType, resource);
    if (res.status !== 201) throw new Error(`seeding ${resource.resourceType}: ${res.status} ${res.text}`);
    return res.body;
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'chartwarden-embedding-'));
    // The guide's host application, as written, on this run's database.
    app = await NestFactory.create(WardModule.forRoot({ databaseUrl: testDatabaseUrl(), dataDir, databasePoolSize: 3 }), { logger: ['error'] });
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    db = new pg.Client({ connectionString: testDatabaseUrl() });
    await db.connect();
    chartwarden = app.get(ChartWarden);
    verifier = app.get(TokenVerifier);
    tokens.his = await token({ sub: `embed-his-${run}`, roles: ['his-system'] });
    tokens.nurse = await token({ sub: `embed-nurse-${run}`, roles: ['nurse'], department: `embed-elsewhere-${run}` });
    tokens.officer = await token({ sub: `embed-officer-${run}`, roles: ['disputes-officer'] });
    tokens.witness = await token({ sub: `embed-witness-${run}`, roles: ['medical-affairs'], fhirUser: `Practitioner/embed-witness-${run}` });
    // The very actors HTTP would see for these tokens.
    for (const who of Object.keys(tokens) as (keyof typeof tokens)[]) actors[who] = await verifier.verifyAuthorization(`Bearer ${tokens[who]}`);
  });
  afterAll(async () => {
    await db?.end();
    await app?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('R-02: an allowed read returns the resource; a read the actor may not see is refused exactly as /fhir and the host route refuse it', async () => {
    const p = await seed(patient(`张三-${run}`));
    const read = await chartwarden.as(actor('his')).read('Patient', p.id);
    expect(read).toMatchObject({ resourceType: 'Patient', id: p.id, meta: { versionId: '1' }, name: [{ text: `张三-${run}` }] });
    const found = await chartwarden.as(actor('his')).search('Patient', { identifier: `${RECORD_NUMBER}|MRN-张三-${run}` });
    expect(found).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: 1 });
    expect(found.entry?.[0].resource?.id).toBe(p.id);

    const overHttp = await fhir('nurse', 'GET', `Patient/${p.id}`);
    expect(overHttp.status).toBe(403);
    expect(codeOf(overHttp.body)).toBe(AccessErrorCode.Forbidden);
    const requestId = `embed-refused-${run}`;
    const refused = await refusal(chartwarden.as(actor('nurse'), { requestId }).read('Patient', p.id));
    expect(refused).toBeInstanceOf(AccessError);
    expect((refused as AccessError).code).toBe(AccessErrorCode.Forbidden);
    const answered = toErrorResponse(refused);
    expect({ status: answered.status, code: codeOf(answered.outcome), issue: answered.outcome.issue?.[0].code }).toEqual({
      status: overHttp.status,
      code: codeOf(overHttp.body),
      issue: overHttp.body.issue?.[0].code,
    });
    // The guide's host route answers it with the same status and OperationOutcome.
    const viaHost = await host<OperationOutcome>('nurse', 'GET', `/ward/patients/${p.id}`);
    expect(viaHost.status).toBe(403);
    expect(codeOf(viaHost.body)).toBe(AccessErrorCode.Forbidden);
    expect((await host<{ id: string; name: string }>('his', 'GET', `/ward/patients/${p.id}`)).body).toEqual({ id: p.id, name: `张三-${run}` });
    // The nurse searching finds nothing (the policy is pushed into the query), and learns no total.
    expect((await chartwarden.as(actor('nurse')).search('Patient', { identifier: `${RECORD_NUMBER}|MRN-张三-${run}` })).total).toBe(0);

    // the refused read is in the trail once, against the nurse, marked as an embedded call.
    const entries = await auditOf(requestId);
    expect(brief(entries)).toEqual([{ actor: actor('nurse').id, subtype: 'read', outcome: 4, entity: p.id }]);
    const content = JSON.parse(entries[0].content) as { path: string; method: string; error?: string; agent: { ip?: string; userAgent?: string } };
    expect(content).toMatchObject({ method: 'GET', path: `embedded:/fhir/Patient/${p.id}`, error: AccessErrorCode.Forbidden });
    expect(content.agent.userAgent).toBe('chartwarden-embedded');
    expect(content.agent.ip).toBeUndefined();
  });

  it('R-12/R-20/R-51: a write through the client leaves its version, its edit-ledger entry and exactly one audit entry naming the actor', async () => {
    const p = await seed(patient(`李四-${run}`));
    const createId = `embed-create-${run}`;
    const created = await chartwarden.as(actor('his'), { requestId: createId }).create(note(p.id, '病程记录'));
    expect(created).toMatchObject({ resourceType: 'Composition', meta: { versionId: '1' }, title: '病程记录' });
    const id = created.id as string;

    const updateId = `embed-update-${run}`;
    const updated = await chartwarden.as(actor('his'), { requestId: updateId, reason: '补充记录' }).update({ ...created, title: '首次病程记录' }, { ifMatch: '1' });
    expect(updated.meta?.versionId).toBe('2');

    // Both versions are in the store, as HTTP reads them.
    expect((await fhir<Composition>('his', 'GET', `Composition/${id}`)).body).toMatchObject({ title: '首次病程记录', meta: { versionId: '2' } });
    expect((await fhir<Bundle>('his', 'GET', `Composition/${id}/_history`)).body.total).toBe(2);
    // One ledger entry per version, naming the editor and the reason given.
    expect(await ledgerOf('Composition', id)).toEqual([
      { version_id: 1, editor: actor('his').id, reason: null },
      { version_id: 2, editor: actor('his').id, reason: '补充记录' },
    ]);
    // Exactly one audit entry per call, naming the actor, marked as embedded.
    for (const [requestId, subtype, method] of [[createId, 'create', 'POST'], [updateId, 'update', 'PUT']] as const) {
      const entries = await auditOf(requestId);
      expect(brief(entries)).toEqual([{ actor: actor('his').id, subtype, outcome: 0, entity: id }]);
      const content = JSON.parse(entries[0].content) as unknown;
      expect(content).toMatchObject({ method, path: expect.stringMatching(/^embedded:\/fhir\/Composition/), patient: p.id });
      expect(content).toMatchObject({ agent: { userAgent: 'chartwarden-embedded' } });
    }
    // A stale If-Match is refused as over HTTP (412), and writes nothing.
    const stale = await refusal(chartwarden.as(actor('his')).update({ ...updated, title: '过期' }, { ifMatch: '1' }));
    expect(toErrorResponse(stale).status).toBe(412);
    expect(await ledgerOf('Composition', id)).toHaveLength(2);
  });

  it('R-41: a write the legal hold refuses through the client writes nothing: no version, no ledger entry; the refusal is audited', async () => {
    const p = await seed(patient(`王五-${run}`));
    // A final document: the seal freezes it (an unfinished one would be left to be supplemented, R-42).
    const doc = await seed(note(p.id, '手术记录', 'final'));
    const opened = await disputes('officer', 'POST', '', { patient: `Patient/${p.id}`, reason: '患方对手术结果有异议', scope: { kind: 'whole-record' } });
    expect(opened.status).toBe(201);
    const { digest } = (await disputes('officer', 'GET', `/${opened.body.id}/inventory`)).body;
    expect((await disputes('witness', 'POST', `/${opened.body.id}/confirmations`, { step: 'seal', inventoryDigest: digest })).status).toBe(201);
    const sealed: HttpResult<unknown> = await disputes('officer', 'POST', `/${opened.body.id}/seal`, { inventoryDigest: digest, patientWitness: PATIENT_SIDE });
    expect(sealed.status).toBe(200);

    const requestId = `embed-sealed-${run}`;
    const refused = await refusal(chartwarden.as(actor('his'), { requestId, reason: '补充' }).update({ ...doc, title: '改写' }));
    expect(refused).toBeInstanceOf(DisputeError);
    expect((refused as DisputeError).code).toBe(DisputeErrorCode.Sealed);
    expect(toErrorResponse(refused).status).toBe(423);
    // Nothing was written: the version and the ledger are as before, and reads continue.
    expect((await chartwarden.as(actor('his')).read('Composition', doc.id)).meta?.versionId).toBe('1');
    expect(await ledgerOf('Composition', doc.id)).toHaveLength(1);
    expect(brief(await auditOf(requestId))).toEqual([{ actor: actor('his').id, subtype: 'update', outcome: 4, entity: doc.id }]);
  });

  it("the hospital's own write guard (forRoot({ writeGuards })) refuses through the client and the host route as over /fhir; nothing is written", async () => {
    const name = `赵六-${run}`;
    const requestId = `embed-guarded-${run}`;
    const refused = await refusal(chartwarden.as(actor('his'), { requestId }).create<Patient>({ resourceType: 'Patient', name: [{ text: name }] }));
    expect(refused).toBeInstanceOf(RecordNumberMissingError);
    const overHttp = await fhir('his', 'POST', 'Patient', { resourceType: 'Patient', name: [{ text: name }] });
    const answered = toErrorResponse(refused);
    expect({ status: answered.status, code: codeOf(answered.outcome) }).toEqual({ status: overHttp.status, code: codeOf(overHttp.body) });
    const viaHost = await host<OperationOutcome>('his', 'POST', '/admissions', { name }, { 'x-request-id': `${requestId}-host` });
    expect({ status: viaHost.status, code: codeOf(viaHost.body) }).toEqual({ status: overHttp.status, code: codeOf(overHttp.body) });
    // It declares its answer: 422, its own code.
    expect({ status: overHttp.status, code: codeOf(overHttp.body) }).toEqual({ status: 422, code: 'hospital.record-number-missing' });
    // No such patient was stored by any of the three attempts; each refusal is in the trail once.
    expect((await chartwarden.as(actor('his')).search('Patient', { name })).total).toBe(0);
    for (const id of [requestId, `${requestId}-host`]) {
      const entries = brief(await auditOf(id));
      expect(entries).toEqual([{ actor: actor('his').id, subtype: 'create', outcome: expect.any(Number), entity: null }]);
      expect(entries[0].outcome).not.toBe(0);
    }

    // With the record number, the same host route admits the patient: one version, one audit entry under the host's request id.
    const admittedId = `embed-admitted-${run}`;
    const admission = { name, recordNumber: `MRN-${name}` };
    const admitted = await host<{ id: string; version: string }>('his', 'POST', '/admissions', admission, { 'x-request-id': admittedId });
    expect(admitted.status).toBe(201);
    expect(admitted.body.version).toBe('1');
    expect((await chartwarden.as(actor('his')).search('Patient', { name })).total).toBe(1);
    expect(brief(await auditOf(admittedId))).toEqual([{ actor: actor('his').id, subtype: 'create', outcome: 0, entity: admitted.body.id }]);
  });

  it('R-20: a call the host malformed (a lone surrogate in an id, a conditional create whose search is not a query) is refused with a clear error and audited once', async () => {
    const surrogateId = `embed-surrogate-${run}`;
    const badId = await refusal(chartwarden.as(actor('his'), { requestId: surrogateId }).read('Patient', 'p\ud800'));
    expect(badId).toBeInstanceOf(FhirRequestError);
    expect((badId as FhirRequestError).code).toBe(FhirRequestErrorCode.InvalidCharacters);
    expect((badId as Error).message).toMatch(/unpaired UTF-16 surrogate/);
    expect(toErrorResponse(badId).status).toBe(400);
    const surrogateEntries = await auditOf(surrogateId);
    expect(brief(surrogateEntries)).toEqual([{ actor: actor('his').id, subtype: 'read', outcome: 4, entity: 'p\ufffd' }]);
    expect(JSON.parse(surrogateEntries[0].content)).toMatchObject({ path: 'embedded:/fhir/Patient/p%EF%BF%BD', error: FhirRequestErrorCode.InvalidCharacters });

    const queryId = `embed-bad-query-${run}`;
    const name = `钱七-${run}`;
    const ifNoneExist = 42 as unknown as string;
    const badQuery = await refusal(chartwarden.as(actor('his'), { requestId: queryId }).create(patient(name), { ifNoneExist }));
    expect(badQuery).toBeInstanceOf(FhirRequestError);
    expect((badQuery as FhirRequestError).code).toBe(FhirRequestErrorCode.InvalidRequest);
    expect((badQuery as Error).message).toMatch(/ifNoneExist must be a query string .*got number/);
    expect(brief(await auditOf(queryId))).toEqual([{ actor: actor('his').id, subtype: 'create', outcome: 4, entity: null }]);
    // Nothing was created by it.
    expect((await chartwarden.as(actor('his')).search('Patient', { name })).total).toBe(0);
  });

  it("R-01/R-14: an actor the host built is held to a token's rules: a licence the policy does not know, a role that is not text, a blank id are refused before anything runs", async () => {
    const intern = actor('his');
    const refusedAs = (candidate: unknown) => {
      try {
        chartwarden.as(candidate as Actor);
        return undefined;
      } catch (e) {
        return e;
      }
    };
    // A licence outside the list would drop an intern's document out of the co-signature queue.
    expect(refusedAs({ ...intern, licence: 'trainee' })).toEqual(expect.objectContaining({ name: 'TypeError', message: expect.stringMatching(/licence must be one of/) }));
    expect(refusedAs({ ...intern, roles: ['attending', 7] })).toEqual(expect.objectContaining({ name: 'TypeError', message: expect.stringMatching(/roles must be a list of non-empty strings/) }));
    expect(refusedAs({ ...intern, department: 12 })).toEqual(expect.objectContaining({ name: 'TypeError', message: expect.stringMatching(/department must be a string/) }));
    expect(refusedAs({ ...intern, id: '  ' })).toEqual(expect.objectContaining({ name: 'TypeError', message: expect.stringMatching(/needs an id/) }));
    // A well-formed actor is accepted, and an empty attribute counts as absent, as in a token.
    expect(refusedAs({ ...intern, licence: 'intern', department: '' })).toBeUndefined();
  });

  it('R-20: an edit reason or break-the-glass reason that is not text, or longer than a header could carry, is refused 400 and audited once', async () => {
    const requestId = `embed-long-reason-${run}`;
    const long = await refusal(chartwarden.as(actor('his'), { requestId, reason: '很'.repeat(6000) }).read('Patient', 'any'));
    expect(long).toBeInstanceOf(FhirRequestError);
    expect((long as Error).message).toMatch(/longer than 16384 bytes/);
    expect(toErrorResponse(long).status).toBe(400);
    expect(brief(await auditOf(requestId))).toEqual([{ actor: actor('his').id, subtype: 'read', outcome: 4, entity: 'any' }]);
    const typedId = `embed-typed-reason-${run}`;
    const typed = await refusal(chartwarden.as(actor('his'), { requestId: typedId, breakGlass: { reason: 42 as unknown as string } }).read('Patient', 'any'));
    expect(typed).toBeInstanceOf(FhirRequestError);
    expect((typed as Error).message).toMatch(/breakGlass.reason must be text/);
    expect(brief(await auditOf(typedId))).toHaveLength(1);
  });

  it('the raw store is never handed to the host: ChartWardenModule exports the client, and no FhirStore, directly or through a module', () => {
    const tokens = exportedTokens(ChartWardenModule);
    expect(tokens).toEqual(expect.arrayContaining([ChartWarden, TokenVerifier]));
    expect(tokens).not.toContain(FhirStore);
  });

  it('the guide and the README show this example verbatim, every block of it in the guide', () => {
    const blocks = exampleBlocks();
    expect([...blocks.keys()].sort()).toEqual(['guard', 'imports', 'module', 'read', 'write']);
    const guide = shownBlocks('docs/guides/embedding.md');
    expect([...guide.keys()].sort()).toEqual([...blocks.keys()].sort());
    for (const [name, text] of guide) expect({ name, text }).toEqual({ name, text: blocks.get(name) });
    const readme = shownBlocks('README.md');
    expect(readme.size).toBeGreaterThan(0);
    for (const [name, text] of readme) expect({ name, text }).toEqual({ name, text: blocks.get(name) });
  });
});
