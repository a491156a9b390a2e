import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle, Composition, Encounter, Organization, Patient, Practitioner, Provenance } from '@medplum/fhirtypes';
import { verifyAuditChains } from '../../src/audit/audit-verifier.js';
import { CliFailure } from '../../src/cli/cli.js';
import { verifyLedger } from '../../src/cli/offline-checks.js';
import { DataDirLock, SERVER_LOCK_FILE } from '../../src/database/data-dir-lock.js';
import { DEMO_USERS, demoTokenRequest, demoUser } from '../../src/demo/demo-users.js';
import { issueDevToken } from '../../src/identity/dev-token.issuer.js';
import { runCliOn, sql, urlOf, type CliRun } from '../support/database-admin.js';
import { expectStatus } from '../support/fhir-expect.js';
import { httpRequest } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/test-app.js';
import { dropThrowawayDatabase } from '../support/throwaway-database.js';

/**
 * `npx chartwarden demo seed` (issue #18) on databases made for this file alone: the demo
 * hospital is written through the API (so the audit trail, the edit ledger and the workflows'
 * states are what real use makes), then read back as rows and through the API as the demo users
 * see it in the console. A second seed, a seed beside a running server, a seed over someone's
 * patients and a seed in JWKS mode refuse, changing nothing.
 */
const RUN = randomBytes(4).toString('hex');
const STATUSES = ['approved', 'closed', 'delivered', 'partially-delivered', 'produced', 'received', 'refused', 'verified'];
const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';

/** Row counts of every table a seed writes (the audit trail aside: a refused seed's reads are recorded, R-20). */
async function rowCounts(url: string): Promise<Record<string, number>> {
  const tables = ['fhir_resource', 'fhir_resource_version', 'edit_ledger', 'copy_request', 'copy_evidence', 'copy_production', 'dispute', 'dispute_item', 'dispute_copy', 'dispute_confirmation', 'access_grant'];
  const counts: Record<string, number> = {};
  for (const table of tables) counts[table] = Number((await sql<{ n: string }>(url, `SELECT count(*) AS n FROM ${table}`))[0].n);
  return counts;
}

/** The audit trail's length, to tell what a refused seed recorded. */
const auditLength = async (url: string) => Number((await sql<{ n: string }>(url, 'SELECT count(*) AS n FROM audit_entry'))[0].n);

/** Current resources of `type` as stored (past every policy). */
async function resources<T>(url: string, type: string): Promise<(T & { id: string })[]> {
  return (await sql<{ content: T & { id: string } }>(url, 'SELECT content FROM fhir_resource WHERE resource_type = $1', [type])).map((r) => r.content);
}

/** GB 11643 restated: 17 digits (region, birth date, sequence) and the ISO 7064 MOD 11-2 check character. */
function wellFormedResidentId(id: string, birthDate: string, gender: string): boolean {
  if (!/^\d{17}[\dX]$/.test(id) || id.slice(6, 14) !== birthDate.replaceAll('-', '')) return false;
  const sum = [...id.slice(0, 17)].reduce((s, c, i) => s + Number(c) * (2 ** (17 - i) % 11), 0);
  const check = (12 - (sum % 11)) % 11;
  return id[17] === (check === 10 ? 'X' : String(check)) && Number(id[16]) % 2 === (gender === 'male' ? 1 : 0);
}

describe('demo seed: a small hospital through the API (issue #18)', () => {
  const database = `cw_demo_${Date.now()}_${RUN}`;
  const url = urlOf(database);
  const made: string[] = [database];
  const dirs: string[] = [];
  const newDataDir = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chartwarden-demo-'));
    dirs.push(dir);
    return dir;
  };
  const newDatabase = async (label: string) => {
    const name = `cw_demo_${label}_${Date.now()}_${RUN}`;
    await sql(urlOf(), `CREATE DATABASE "${name}"`);
    made.push(name);
    return urlOf(name);
  };
  let dataDir = '';
  let seeded: CliRun;
  let seconds = 0;

  beforeAll(async () => {
    await sql(urlOf(), `CREATE DATABASE "${database}"`);
    dataDir = await newDataDir();
    const started = Date.now();
    seeded = await runCliOn(url, ['demo', 'seed'], { CHARTWARDEN_DATA_DIR: dataDir });
    seconds = (Date.now() - started) / 1000;
  }, 180_000);
  afterAll(async () => {
    for (const name of made) await dropThrowawayDatabase(urlOf(), name);
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('prints what it made and how to look at it: /console and whom to sign in as; the data dir is released', () => {
    expect({ error: seeded.error, stderr: seeded.error ? seeded.stderr : '' }).toEqual({ error: undefined, stderr: '' });
    const out = seeded.stdout;
    expect(out).toMatch(/^demo seed: ChartWarden 示例医院 is ready in postgres:\/\/.*cw_demo_.* \(\d+\.\d s\)\n/);
    for (const name of ['张伟', '李秀英', '王强', '刘洋', '赵丽', '黄磊']) expect(out).toMatch(new RegExp(`${name} 病案号 \\d{8}`));
    expect(out).toContain(`copy requests, one in each status: received, verified, approved, refused, produced, partially-delivered, delivered, closed`);
    expect(out).toContain('Next: npm start, open http://localhost:8080/console and sign in (development sign-in) as');
    for (const user of DEMO_USERS) expect(out).toContain(`${user.id} (${user.name})`);
    expect(existsSync(join(dataDir, SERVER_LOCK_FILE))).toBe(false);
    // Well under half a minute on a two-core machine; the bound leaves room for a slow CI host.
    expect(seconds).toBeLessThan(60);
  });

  it('R-01: the hospital, its departments and staff, and six patients with 病案号 and a well-formed resident ID', async () => {
    const organizations = await resources<Organization>(url, 'Organization');
    expect(organizations.map((o) => `${o.id} ${o.name} ${o.partOf?.reference ?? '-'}`).sort()).toEqual([
      'demo-hospital ChartWarden 示例医院 -',
      'dept-cardiology 心内科 Organization/demo-hospital',
      'dept-surgery 普外科 Organization/demo-hospital',
    ]);
    expect(organizations.find((o) => o.id === 'demo-hospital')?.identifier).toEqual([{ system: 'https://chartwarden.dev/fhir/demo/seed', value: 'complete' }]);
    const staff = await resources<Practitioner>(url, 'Practitioner');
    expect(staff.map((p) => `${p.id} ${p.name?.[0].text} ${p.name?.[0].family}`).sort()).toEqual(DEMO_USERS.map((u) => `${u.id} ${u.name} ${u.name[0]}`).sort());
    const patients = await resources<Patient>(url, 'Patient');
    expect(patients).toHaveLength(6);
    for (const p of patients) {
      const mrn = p.identifier?.find((i) => i.type?.coding?.some((c) => c.system === V2_0203 && c.code === 'MR'));
      const id = p.identifier?.find((i) => i.system === 'urn:oid:2.16.156.10011.1.3');
      expect({ name: p.name?.[0].text, mrn: mrn?.value, mrnSystem: mrn?.system }).toEqual({ name: expect.stringMatching(/^[\u4e00-\u9fa5]{2,3}$/), mrn: expect.stringMatching(/^\d{8}$/), mrnSystem: 'urn:oid:2.16.156.10011.1.13' });
      expect({ id: id?.value, ok: wellFormedResidentId(id?.value ?? '', p.birthDate ?? '', p.gender ?? '') }).toEqual({ id: id?.value, ok: true });
    }
  });

  it('R-03/R-13: visits with their care teams; each document written by its author and signed by them, two left unsigned', async () => {
    const encounters = await resources<Encounter>(url, 'Encounter');
    expect(encounters.map((e) => `${e.class.code} ${e.serviceProvider?.reference}`).sort()).toEqual([
      'AMB Organization/dept-cardiology',
      'IMP Organization/dept-cardiology',
      'IMP Organization/dept-cardiology',
      'IMP Organization/dept-surgery',
      'IMP Organization/dept-surgery',
      'IMP Organization/dept-surgery',
    ]);
    for (const e of encounters) expect(e.participant?.length).toBeGreaterThan(0);
    const documents = await resources<Composition>(url, 'Composition');
    expect(documents).toHaveLength(25);
    const unsigned = documents.filter((d) => d.status !== 'final');
    expect(unsigned.map((d) => `${d.status} ${d.title}`).sort()).toEqual(['preliminary 手术记录', 'preliminary 日常病程记录']);
    const signatures = await resources<Provenance>(url, 'Provenance');
    expect(signatures).toHaveLength(23);
    for (const d of documents.filter((x) => x.status === 'final')) {
      const author = d.author[0].reference;
      expect(d.attester).toEqual([expect.objectContaining({ mode: 'legal', party: expect.objectContaining({ reference: author }) })]);
      const signature = signatures.find((s) => s.target[0].reference?.startsWith(`Composition/${d.id}/`));
      expect(signature?.signature?.[0].who.reference).toBe(author);
    }
    // The ledger names the author as the editor of each document's creation and signature.
    const ledger = await sql<{ editor: string; kind: string; n: string }>(url, `SELECT editor, kind, count(*) AS n FROM edit_ledger WHERE resource_type = 'Composition' GROUP BY editor, kind`);
    expect(ledger.reduce((n, r) => n + (r.kind === 'sign' ? Number(r.n) : 0), 0)).toBe(23);
    expect(ledger.reduce((n, r) => n + (r.kind === 'create' ? Number(r.n) : 0), 0)).toBe(25);
    expect(new Set(ledger.map((r) => r.editor))).toEqual(new Set(['dr-wang', 'dr-li', 'dr-zhao', 'dr-ma']));
  });

  it('labs, orders and a few days of vital signs charted by the ward nurses; two records archived (R-15)', async () => {
    const kinds = await sql<{ type: string; n: string }>(url, `SELECT resource_type AS type, count(*) AS n FROM fhir_resource GROUP BY resource_type`);
    const count = (type: string) => Number(kinds.find((k) => k.type === type)?.n ?? 0);
    expect({ reports: count('DiagnosticReport'), medications: count('MedicationRequest'), exams: count('ServiceRequest'), costs: count('ChargeItem'), pathology: count('DocumentReference') }).toEqual({
      reports: 11,
      medications: 19,
      exams: 7,
      costs: 15,
      pathology: 1,
    });
    const vitals = await sql<{ code: string; performer: string; days: string; n: string }>(
      url,
      `SELECT content->'code'->'coding'->0->>'code' AS code, content->'performer'->0->>'reference' AS performer,
              count(DISTINCT substr(content->>'effectiveDateTime', 1, 10)) AS days, count(*) AS n
         FROM fhir_resource WHERE resource_type = 'Observation' AND content->'category'->0->'coding'->0->>'code' = 'vital-signs'
        GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    const temperatures = vitals.filter((v) => v.code === '8310-5');
    expect(temperatures.map((v) => v.performer)).toEqual(['Practitioner/nurse-chen', 'Practitioner/nurse-he']);
    expect(temperatures.every((v) => Number(v.days) >= 4 && Number(v.n) >= 12)).toBe(true);
    expect(vitals.filter((v) => v.code === '8867-4').length).toBe(2);
    // The nurses' writes are theirs in the trail.
    const nurses = await sql<{ actor: string }>(url, `SELECT DISTINCT actor FROM audit_entry WHERE subtype = 'create' AND entity_type = 'Observation' AND outcome = 0 ORDER BY actor`);
    expect(nurses.map((r) => r.actor)).toEqual(expect.arrayContaining(['nurse-chen', 'nurse-he']));
    const archived = (await resources<Encounter>(url, 'Encounter')).filter((e) => e.meta?.tag?.some((t) => t.code === 'archived'));
    expect(archived.map((e) => e.class.code).sort()).toEqual(['AMB', 'IMP']);
  });

  it('R-30…R-34: one copy request in each status, received by one clerk and decided by the other', async () => {
    const rows = await sql<{ id: string; status: string; received_by: string; events: { step: string; by: string; reason?: string }[] }>(url, 'SELECT id, status, received_by, events FROM copy_request');
    expect(rows.map((r) => r.status).sort()).toEqual(STATUSES);
    for (const r of rows) {
      expect(r.received_by).toBe('clerk-liu');
      const decision = r.events.find((e) => e.step === 'approved' || e.step === 'refused');
      if (decision) expect(decision.by).toBe('clerk-sun');
    }
    expect(rows.find((r) => r.status === 'refused')?.events.at(-1)).toMatchObject({ step: 'refused', reason: expect.stringContaining('授权委托书') });
    expect(rows.find((r) => r.status === 'closed')?.events.at(-1)).toMatchObject({ step: 'closed', reason: expect.any(String) });
    const evidence = await sql<{ status: string; n: string }>(url, `SELECT r.status, count(*) AS n FROM copy_evidence e JOIN copy_request r ON r.id = e.request_id GROUP BY r.status`);
    expect(Object.fromEntries(evidence.map((e) => [e.status, Number(e.n)]))).toEqual({ received: 2, verified: 1, approved: 3, refused: 3, produced: 5, 'partially-delivered': 1, delivered: 1, closed: 1 });
    const productions = await sql<{ status: string; pending: unknown[] }>(url, `SELECT r.status, p.pending FROM copy_production p JOIN copy_request r ON r.id = p.request_id ORDER BY r.status`);
    expect(productions.map((p) => `${p.status} ${p.pending.length}`)).toEqual(['delivered 0', 'partially-delivered 1', 'produced 0']);
  });

  it('R-40/R-44: a case sealed with both sides, a public incident sealed at once with its team, and a case open to seal', async () => {
    const cases = await sql<{ id: string; status: string; trigger: string; team: string[]; sealed_by: string | null }>(url, 'SELECT id, status, trigger, team, sealed_by FROM dispute ORDER BY opened_at');
    expect(cases.map((c) => `${c.trigger} ${c.status}`)).toEqual(['dispute sealed', 'public-incident sealed', 'dispute open']);
    const [sealed, incident] = cases;
    expect(sealed.sealed_by).toBe('officer-zhou');
    expect(incident.team).toEqual(expect.arrayContaining(['Practitioner/dr-zhao', 'Practitioner/dr-ma']));
    const inventory = await sql<{ status: string; n: string }>(url, `SELECT status, count(*) AS n FROM dispute_item WHERE dispute_id = $1 GROUP BY status`, [sealed.id]);
    expect(Number(inventory.find((i) => i.status === 'sealed')?.n)).toBeGreaterThan(20);
    const witness = await sql<{ actor_id: string; inventory_digest: string }>(url, 'SELECT actor_id, inventory_digest FROM dispute_confirmation WHERE dispute_id = $1', [sealed.id]);
    expect(witness).toEqual([{ actor_id: 'affairs-wu', inventory_digest: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
    const copies = await sql<{ dispute_id: string; witnesses: { patient?: { name: string } } }>(url, 'SELECT dispute_id, witnesses FROM dispute_copy');
    expect(copies.map((c) => c.dispute_id).sort()).toEqual([sealed.id, incident.id].sort());
  });

  it('the demo users see a working hospital through the API, as the console shows it', async () => {
    let server: TestServer | undefined;
    try {
      server = await startTestServer({ databaseUrl: url, dataDir });
      const as = (id: string) => issueDevToken(dataDir, demoTokenRequest(demoUser(id), '1h'));
      const json = { accept: 'application/json' };
      const queue = await httpRequest<{ status: string }[]>(`${server.root}/copy-requests`, 'GET', { token: await as('clerk-liu'), headers: json });
      expectStatus(queue, 200);
      expect(queue.body.map((r) => r.status).sort()).toEqual(STATUSES);
      const board = await httpRequest<{ status: string }[]>(`${server.root}/disputes`, 'GET', { token: await as('officer-zhou'), headers: json });
      expectStatus(board, 200);
      expect(board.body.map((c) => c.status).sort()).toEqual(['open', 'sealed', 'sealed']);
      const grants = await httpRequest<{ status: string; grantee: string }[]>(`${server.root}/access/grants`, 'GET', { token: await as('affairs-wu'), headers: json });
      expect(grants.body.map((g) => `${g.grantee} ${g.status}`)).toEqual(['dr-wang requested']);
      const glass = await httpRequest<{ grantee: string }[]>(`${server.root}/access/break-glass?unreviewed=true`, 'GET', { token: await as('affairs-wu'), headers: json });
      expect(glass.body.map((b) => b.grantee)).toEqual(['dr-li']);
      // The public incident's records: its team reads them, a nurse of the same ward outside the team does not.
      const [huang] = (await resources<Patient>(url, 'Patient')).filter((p) => p.name?.[0].text === '黄磊');
      const notes = async (id: string) => (await httpRequest<Bundle>(`${server?.fhirBase}/Composition?patient=Patient/${huang.id}`, 'GET', { token: await as(id) })).body.total;
      expect({ team: await notes('dr-zhao'), outsider: await notes('nurse-he') }).toEqual({ team: 4, outsider: 0 });
      // The attending reads their patient's temperature chart.
      const [zhang] = (await resources<Patient>(url, 'Patient')).filter((p) => p.name?.[0].text === '张伟');
      const chart = await httpRequest<Bundle>(`${server.fhirBase}/Observation?patient=Patient/${zhang.id}&code=http://loinc.org|8310-5&_count=100`, 'GET', { token: await as('dr-wang') });
      expectStatus(chart, 200);
      expect(chart.body.entry?.length).toBeGreaterThanOrEqual(28);
    } finally {
      await server?.close();
    }
  }, 60_000);

  it('R-12/R-21: every step is in the audit trail, which verifies intact, as does the edit ledger', async () => {
    const actors = await sql<{ actor: string }>(url, 'SELECT DISTINCT actor FROM audit_entry WHERE outcome = 0');
    expect(actors.map((a) => a.actor).sort()).toEqual(expect.arrayContaining(['his-demo', 'dr-wang', 'dr-li', 'dr-zhao', 'dr-ma', 'nurse-chen', 'nurse-he', 'clerk-liu', 'clerk-sun', 'officer-zhou', 'affairs-wu']));
    expect((await verifyAuditChains(url)).broken).toBeUndefined();
    const ledger = await verifyLedger(url);
    // 25 notes and the pathology report.
    expect({ broken: ledger.broken, documents: ledger.documents }).toEqual({ broken: undefined, documents: 26 });
  });

  it('a second seed says the data dir is already seeded, succeeds (so `demo seed && npm start` runs again) and changes nothing', async () => {
    const before = await rowCounts(url);
    const since = new Date();
    const again = await runCliOn(url, ['demo', 'seed'], { CHARTWARDEN_DATA_DIR: dataDir });
    expect(again.error).toBeUndefined();
    expect(again.stdout).toMatch(/^demo seed: postgres:\/\/.* is already seeded \(the demo hospital ChartWarden 示例医院, seeded \d{4}-\d{2}-\d{2} \d{2}:\d{2} 北京时间\); nothing was changed/);
    expect(await rowCounts(url)).toEqual(before);
    // Only the seed's own look (reading the marker, R-20) was recorded.
    const recorded = await sql<{ actor: string; subtype: string; outcome: number }>(url, 'SELECT actor, subtype, outcome FROM audit_entry WHERE recorded >= $1', [since]);
    expect(recorded).toEqual([{ actor: 'his-demo', subtype: 'read', outcome: 0 }]);
    expect(existsSync(join(dataDir, SERVER_LOCK_FILE))).toBe(false);
  });

  it('a seed refuses while a server holds the data dir, naming it, and changes nothing', async () => {
    const held = await newDataDir();
    const lock = await DataDirLock.acquire(held, 'external');
    try {
      const before = await rowCounts(url);
      const trail = await auditLength(url);
      const run = await runCliOn(url, ['demo', 'seed'], { CHARTWARDEN_DATA_DIR: held });
      expect(run.error).toBeInstanceOf(CliFailure);
      expect((run.error as Error).message).toBe(
        `demo seed: a ChartWarden server (pid ${process.pid}, started ${lock.owner.startedAt}) is running on ${held}; nothing was changed. ` +
          'The seed writes through a server of its own: stop that server (Ctrl-C), run `npx chartwarden demo seed` again, then `npm start`',
      );
      expect({ rows: await rowCounts(url), trail: await auditLength(url) }).toEqual({ rows: before, trail });
      expect((await DataDirLock.runningServer(held))?.pid).toBe(process.pid);
    } finally {
      await lock.release();
    }
  });

  it('a seed refuses a database holding patients it did not write, one where a seed stopped part way, and JWKS mode, changing nothing', async () => {
    const other = await newDatabase('theirs');
    const otherDir = await newDataDir();
    const server = await startTestServer({ databaseUrl: other, dataDir: otherDir });
    try {
      const his = await server.token();
      expectStatus(await httpRequest(`${server.fhirBase}/Patient`, 'POST', { token: his, body: { resourceType: 'Patient', name: [{ text: '真实患者' }] } }), 201);
      const before = await rowCounts(other);
      const theirs = await runCliOn(other, ['demo', 'seed'], { CHARTWARDEN_DATA_DIR: otherDir });
      expect((theirs.error as Error).message).toMatch(/^demo seed: postgres:\/\/.* already holds 1 patients: the demo hospital goes into a fresh data dir only; nothing was changed$/);
      expect(await rowCounts(other)).toEqual(before);

      // A seed that stopped part way left the hospital marked `seeding`: the next one does not pile onto it.
      const marker = { resourceType: 'Organization', id: 'demo-hospital', identifier: [{ system: 'https://chartwarden.dev/fhir/demo/seed', value: 'seeding' }], name: '示例医院' };
      expectStatus(await httpRequest(`${server.fhirBase}/Organization/demo-hospital`, 'PUT', { token: his, body: marker }), 201);
      const marked = await rowCounts(other);
      const stopped = await runCliOn(other, ['demo', 'seed'], { CHARTWARDEN_DATA_DIR: otherDir });
      expect((stopped.error as Error).message).toMatch(/^demo seed: a demo seed began on postgres:\/\/.* \(\d{4}-\d{2}-\d{2} \d{2}:\d{2} 北京时间\) and did not finish; nothing was changed/);
      expect(await rowCounts(other)).toEqual(marked);

      const jwks = await runCliOn(other, ['demo', 'seed'], { CHARTWARDEN_DATA_DIR: otherDir, CHARTWARDEN_JWKS_URL: 'https://idp.example/jwks', CHARTWARDEN_ISSUER: 'https://idp.example' });
      expect(jwks.error).toBeInstanceOf(CliFailure);
      expect((jwks.error as Error).message).toMatch(/^demo seed: CHARTWARDEN_JWKS_URL is set: /);
      expect(await rowCounts(other)).toEqual(marked);
    } finally {
      await server.close();
    }
  }, 60_000);
});
