import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Composition, Encounter, Observation, OperationOutcome, Patient } from '@medplum/fhirtypes';
import { packageRoot } from '../../src/common/package-root.js';
import { freePort } from '../../src/database/embedded-postgres.launcher.js';
import { DEV_KEY_FILE } from '../../src/identity/dev-signing-key.js';
import { defaultPolicyPath } from '../../src/policy/policy.loader.js';
import { runCliOn, sql, urlOf } from '../support/database-admin.js';
import { httpRequest, type HttpResult } from '../support/http.js';
import { devToken, type DevTokenRequest } from '../support/test-app.js';
import { dropThrowawayDatabase } from '../support/throwaway-database.js';

/**
 * Several instances on one PostgreSQL (issue 14, decision 0012), as a hospital runs them
 * behind a load balancer: three built servers (`node dist/src/main.js`) on one fresh
 * database, each with its own data dir and the same dev signing key, all reading one policy
 * file. What one instance changes is in force on the others once its answer left (the caches
 * that decide access are invalidated through LISTEN/NOTIFY, and the change answers once the
 * others acknowledged it); concurrent writers through all three keep the
 * audit chains and the edit ledger verifiable; and an instance killed with SIGKILL under
 * load loses no answered request.
 */

const MAIN = join(packageRoot(), 'dist', 'src', 'main.js');
const READY_TIMEOUT_MS = 45_000;
/** "At once": a cache a cluster event invalidates must agree within this. */
const AT_ONCE_MS = 100;
/** The agreeing read's own answer, however busy the machine: far below the caches' TTLs (1 s, 2 s). */
const READ_BOUND_MS = 500;

const run = randomBytes(4).toString('hex');
const DEPT = `cw-cluster-${run}`;
const NEURO = `cw-cluster-neuro-${run}`;
const DR = `Practitioner/dr-cluster-${run}`;
const ID_SYSTEM = `urn:chartwarden-cluster:${run}`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One spawned server. */
interface Instance {
  name: string;
  child: ChildProcess;
  exited: Promise<void>;
  output: string;
  root: string;
  fhir: string;
}

const alive = (i: Instance | undefined): i is Instance => !!i && i.child.exitCode === null && i.child.signalCode === null;

describe('Three ChartWarden instances on one PostgreSQL (integration, spawned servers)', () => {
  const databaseName = `cw_cluster_${Date.now()}_${run}`;
  let databaseUrl = '';
  let databaseCreated = false;
  const dirs: string[] = [];
  let policyFile = '';
  let originalPolicy = '';
  const instances: Instance[] = [];
  /** Measured latencies, written with the logs when CHARTWARDEN_CLUSTER_TEST_LOGS names a directory. */
  const figures: Record<string, number> = {};
  const tokens: Record<'his' | 'attending' | 'chief' | 'officer' | 'neuro' | 'medicalAffairs' | 'auditor', string> = {
    his: '',
    attending: '',
    chief: '',
    officer: '',
    neuro: '',
    medicalAffairs: '',
    auditor: '',
  };

  const fhir = <T = OperationOutcome>(i: Instance, token: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpResult<T>> =>
    httpRequest<T>(`${i.fhir}/${path}`, method, { token, body, headers });
  const json = <T = OperationOutcome>(i: Instance, token: string, method: string, path: string, body?: unknown): Promise<HttpResult<T>> =>
    httpRequest<T>(`${i.root}/${path}`, method, { token, body, contentType: 'application/json', headers: { accept: 'application/json' } });
  const codeOf = (r: HttpResult<unknown>) =>
    (r.body as OperationOutcome | undefined)?.issue?.[0]?.details?.coding?.find((c) => c.system === 'https://chartwarden.dev/fhir/CodeSystem/error-code')?.code;
  const seed = async <T extends { resourceType: string }>(i: Instance, resource: T): Promise<T & { id: string }> => {
    const res = await fhir<T & { id: string }>(i, tokens.his, 'POST', resource.resourceType, resource);
    if (res.status !== 201) throw new Error(`seeding ${resource.resourceType} through ${i.name}: ${res.status} ${res.text}`);
    return res.body;
  };
  /** An inpatient of DEPT on DR's care team, with one lab result. */
  const inpatient = async (i: Instance, label: string) => {
    const patient = await seed<Patient>(i, { resourceType: 'Patient', identifier: [{ system: ID_SYSTEM, value: label }], name: [{ family: '张', given: [label] }] });
    const encounter = await seed<Encounter>(i, {
      resourceType: 'Encounter',
      status: 'in-progress',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
      subject: { reference: `Patient/${patient.id}` },
      serviceProvider: { reference: `Organization/${DEPT}` },
      participant: [{ individual: { reference: DR } }],
    });
    const lab = await seed<Observation>(i, {
      resourceType: 'Observation',
      status: 'final',
      code: { text: '血红蛋白' },
      subject: { reference: `Patient/${patient.id}` },
      encounter: { reference: `Encounter/${encounter.id}` },
      valueQuantity: { value: 132, unit: 'g/L' },
    });
    return { patient: patient.id, encounter: encounter.id, lab };
  };
  const composition = (patient: string, label: string): Composition => ({
    resourceType: 'Composition',
    status: 'preliminary',
    type: { coding: [{ system: 'http://loinc.org', code: '11506-3' }] },
    subject: { reference: `Patient/${patient}` },
    date: new Date().toISOString(),
    author: [{ reference: DR }],
    title: `病程记录 ${label}`,
  });

  /** Starts `node dist/src/main.js` on the shared database; resolves once `/fhir/metadata` answers. */
  const start = async (name: string, dataDir: string): Promise<Instance> => {
    const port = await freePort();
    // Only what the server needs: no NODE_OPTIONS from jest, no CHARTWARDEN_* from the developer's shell.
    const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CHARTWARDEN_') && k !== 'NODE_OPTIONS'));
    Object.assign(env, { DATABASE_URL: databaseUrl, PORT: String(port), CHARTWARDEN_DATA_DIR: dataDir, CHARTWARDEN_POLICY: policyFile, CHARTWARDEN_DB_POOL_SIZE: '8', NO_COLOR: '1' });
    const child = spawn(process.execPath, [MAIN], { env, cwd: packageRoot(), stdio: ['ignore', 'pipe', 'pipe'] });
    const instance: Instance = {
      name,
      child,
      exited: new Promise((resolve) => child.once('exit', () => resolve())),
      output: '',
      root: `http://127.0.0.1:${port}`,
      fhir: `http://127.0.0.1:${port}/fhir`,
    };
    const collect = (chunk: Buffer) => {
      instance.output += chunk.toString('utf8');
      if (instance.output.length > 400_000) instance.output = instance.output.slice(-200_000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    instances.push(instance);
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited before it was ready; its output:\n${instance.output.slice(-4000)}`);
      const ok = await fetch(`${instance.fhir}/metadata`).then((r) => r.status === 200, () => false);
      if (ok) return instance;
      await sleep(200);
    }
    throw new Error(`${name} did not answer /fhir/metadata within ${READY_TIMEOUT_MS} ms; its output:\n${instance.output.slice(-4000)}`);
  };

  const stop = async (i: Instance) => {
    if (alive(i)) i.child.kill('SIGKILL');
    await i.exited;
  };

  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: this test runs the built server. Run \`npx tsc -p tsconfig.build.json\` first.`);
    await sql(urlOf(), `CREATE DATABASE "${databaseName}"`);
    databaseCreated = true;
    databaseUrl = urlOf(databaseName);
    for (let n = 0; n < 3; n++) dirs.push(await mkdtemp(join(tmpdir(), `chartwarden-cluster-${n + 1}-`)));
    // One policy file for all three, as a deployment mounts one.
    const policyDir = await mkdtemp(join(tmpdir(), 'chartwarden-cluster-policy-'));
    dirs.push(policyDir);
    policyFile = join(policyDir, 'policy.yaml');
    originalPolicy = (await readFile(defaultPolicyPath(), 'utf8')).replace(/^version: .*$/m, `version: "cluster-${run}.1"`);
    await writeFile(policyFile, originalPolicy);
    // The first data dir's key signs every token; the others get a copy (one identity for the cluster).
    const token = (request: Partial<DevTokenRequest>) => devToken(dirs[0], { sub: 'his-cluster', ...request });
    tokens.his = await token({});
    for (const dir of dirs.slice(1, 3)) await copyFile(join(dirs[0], DEV_KEY_FILE), join(dir, DEV_KEY_FILE));
    tokens.attending = await token({ sub: `dr-cluster-${run}`, roles: ['attending'], department: DEPT, licence: 'licensed', fhirUser: DR });
    tokens.chief = await token({ sub: `chief-${run}`, roles: ['chief'], department: DEPT, licence: 'licensed' });
    tokens.officer = await token({ sub: `officer-${run}`, roles: ['disputes-officer'] });
    tokens.neuro = await token({ sub: `dr-neuro-${run}`, roles: ['attending'], department: NEURO, licence: 'licensed', fhirUser: `Practitioner/dr-neuro-${run}` });
    tokens.medicalAffairs = await token({ sub: `ma-${run}`, roles: ['medical-affairs'] });
    tokens.auditor = await token({ sub: `auditor-${run}`, roles: ['auditor'] });
    // The first one alone applies the migrations; the other two start together on the migrated database.
    await start('instance 1', dirs[0]);
    await Promise.all([start('instance 2', dirs[1]), start('instance 3', dirs[2])]);
    const organization = await fhir(instances[0], tokens.his, 'PUT', `Organization/${DEPT}`, { resourceType: 'Organization', id: DEPT, name: DEPT });
    expect(organization.status).toBe(201);
  }, 2 * READY_TIMEOUT_MS);

  afterAll(async () => {
    if (process.env.CHARTWARDEN_CLUSTER_TEST_LOGS) {
      for (const i of instances) await writeFile(join(process.env.CHARTWARDEN_CLUSTER_TEST_LOGS, `${i.name.replace(' ', '-')}.log`), i.output);
      await writeFile(join(process.env.CHARTWARDEN_CLUSTER_TEST_LOGS, 'figures.json'), JSON.stringify(figures, null, 2));
    }
    await Promise.all(instances.map(stop));
    if (databaseCreated) await dropThrowawayDatabase(urlOf(), databaseName);
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  }, 30_000);

  it('R-41, R-44: a public incident sealed through instance 1 refuses a write through instance 2 with 423, and withholds the record there, at once', async () => {
    const [one, two] = instances;
    const r = await inpatient(one, 'sealed');
    // Instance 2 has just read the withheld records (none): its cache is warm.
    const before = await fhir<Observation>(two, tokens.chief, 'GET', `Observation/${r.lab.id}`);
    expect(before.status).toBe(200);
    expect(before.body.id).toBe(r.lab.id);

    const sealSentAt = Date.now();
    const sealed = await json<{ id: string; status: string; trigger: string }>(one, tokens.officer, 'POST', 'disputes', {
      patient: `Patient/${r.patient}`,
      reason: '舆情事件',
      scope: { kind: 'whole-record' },
      trigger: 'public-incident',
      team: [DR],
    });
    const sealedAt = Date.now();
    figures.sealAnsweredMs = sealedAt - sealSentAt;
    expect(sealed.status).toBe(201);
    expect(sealed.body).toMatchObject({ status: 'sealed', trigger: 'public-incident' });

    // The chief is not on the case team: withheld through every instance, from the seal's answer on.
    // The read is sent at once (well within 100 ms of the answer) and decided then: instance 1
    // answered the seal only once the other two acknowledged its event (or their caches expired).
    const readSentAt = Date.now();
    const read = await fhir(two, tokens.chief, 'GET', `Observation/${r.lab.id}`);
    const readAnsweredAt = Date.now();
    expect({ status: read.status, code: codeOf(read) }).toEqual({ status: 403, code: 'access.forbidden' });
    expect(read.body.issue?.[0].details?.text).toContain(sealed.body.id);
    figures.sealToWithheldReadAnsweredMs = readAnsweredAt - sealedAt;
    expect(readSentAt - sealedAt).toBeLessThan(AT_ONCE_MS);
    expect(readAnsweredAt - sealedAt).toBeLessThan(READ_BOUND_MS);

    // The attending is on the case team (the record is not withheld from them), and still cannot change it.
    const write = await fhir(two, tokens.attending, 'PUT', `Observation/${r.lab.id}`, { ...r.lab, meta: undefined, note: [{ text: '改' }] });
    expect({ status: write.status, code: codeOf(write) }).toEqual({ status: 423, code: 'disputes.sealed' });
    expect(write.body.issue?.[0].details?.text).toContain(sealed.body.id);
    // Side effects: no new version; the refusal is in the trail.
    const versions = await sql<{ n: number }>(databaseUrl, `SELECT count(*)::int AS n FROM fhir_resource_version WHERE resource_type = 'Observation' AND id = $1`, [r.lab.id]);
    expect(versions[0].n).toBe(1);
    const refusals = await sql<{ outcome: number; subtype: string }>(
      databaseUrl,
      `SELECT outcome, subtype FROM audit_entry WHERE entity_type = 'Observation' AND entity_id = $1 AND subtype = 'update'`,
      [r.lab.id],
    );
    expect(refusals).toEqual([{ outcome: 4, subtype: 'update' }]);
  });

  it('R-05: a grant approved through instance 1 opens a read through instance 3 within 100 ms', async () => {
    const [one, two, three] = instances;
    const r = await inpatient(one, 'granted');
    // Instance 3 has just looked up the grantee's grants (none): its cache is warm.
    const refused = await fhir(three, tokens.neuro, 'GET', `Observation/${r.lab.id}`);
    expect({ status: refused.status, code: codeOf(refused) }).toEqual({ status: 403, code: 'access.forbidden' });
    const asked = await json<{ id: string; status: string }>(two, tokens.neuro, 'POST', 'access/grants', {
      grantee: `dr-neuro-${run}`,
      patient: r.patient,
      purpose: 'research',
      reason: 'Retrospective study',
      until: new Date(Date.now() + 86_400_000).toISOString(),
    });
    expect(asked.status).toBe(201);
    const approvalSentAt = Date.now();
    const approved = await json<{ status: string }>(one, tokens.medicalAffairs, 'POST', `access/grants/${asked.body.id}/approve`, {});
    const approvedAt = Date.now();
    figures.approvalAnsweredMs = approvedAt - approvalSentAt;
    expect(approved.status).toBe(200);
    expect(approved.body.status).toBe('approved');

    // Sent at once: instance 1 answered the approval only once instances 2 and 3 acknowledged its event.
    const readSentAt = Date.now();
    const read = await fhir<Observation>(three, tokens.neuro, 'GET', `Observation/${r.lab.id}`);
    const readAt = Date.now();
    expect(read.status).toBe(200);
    expect(read.body.id).toBe(r.lab.id);
    figures.approvalToGrantedReadAnsweredMs = readAt - approvedAt;
    expect(readSentAt - approvedAt).toBeLessThan(AT_ONCE_MS);
    expect(readAt - approvedAt).toBeLessThan(READ_BOUND_MS);
    // The trail names the grant the read rested on.
    const [entry] = await sql<{ content: string }>(
      databaseUrl,
      `SELECT content FROM audit_entry WHERE actor = $1 AND entity_id = $2 AND subtype = 'read' AND outcome = 0`,
      [`dr-neuro-${run}`, r.lab.id],
    );
    expect(JSON.parse(entry.content)).toMatchObject({ grantId: asked.body.id, rule: 'attending.grant' });
  });

  it('policy reload: SIGHUP on instance 1 puts the new policy in force on all three, each recording the change; a bad policy keeps the old one', async () => {
    const [one, two, three] = instances;
    const r = await inpatient(one, 'policy');
    for (const i of instances) {
      const denied = await fhir(i, tokens.auditor, 'GET', `Observation/${r.lab.id}`);
      expect({ on: i.name, status: denied.status, code: codeOf(denied) }).toEqual({ on: i.name, status: 403, code: 'access.forbidden' });
    }
    // The new policy hides what it denies (404) instead of refusing it (403).
    const v2 = `cluster-${run}.2`;
    await writeFile(policyFile, originalPolicy.replace(/^version: .*$/m, `version: "${v2}"`).replace('hiddenRecords: forbidden', 'hiddenRecords: not-found'));
    const signalledAt = Date.now();
    expect(one.child.kill('SIGHUP')).toBe(true);
    const changedAt: Record<string, number> = {};
    while (Object.keys(changedAt).length < 3 && Date.now() - signalledAt < 5000) {
      for (const i of instances) {
        if (changedAt[i.name]) continue;
        const res = await fhir(i, tokens.auditor, 'GET', `Observation/${r.lab.id}`);
        if (res.status === 404) changedAt[i.name] = Date.now();
        else expect(res.status).toBe(403);
      }
    }
    expect(Object.keys(changedAt).sort()).toEqual(['instance 1', 'instance 2', 'instance 3']);
    for (const [name, at] of Object.entries(changedAt)) figures[`sighupToNewAnswer ${name} ms`] = at - signalledAt;
    for (const i of instances) expect((await fhir(i, tokens.auditor, 'GET', `Observation/${r.lab.id}`)).status).toBe(404);
    // Every instance recorded its change of version: the signalled one, then the two the event reached.
    const reloads = await sql<{ actor: string; content: string; outcome: number }>(databaseUrl, `SELECT actor, content, outcome FROM audit_entry WHERE subtype = 'policy-reload' ORDER BY recorded`);
    expect(reloads).toHaveLength(3);
    const contents = reloads.map((x) => JSON.parse(x.content) as { method: string; path: string; policyVersion: string; entity: { type: string; id: string } });
    expect(contents.map((c) => c.method).sort()).toEqual(['NOTIFY', 'NOTIFY', 'SIGHUP']);
    for (const c of contents) {
      expect(c).toMatchObject({ policyVersion: v2, entity: { type: 'Policy', id: v2 } });
      expect(c.path).toBe(`policy cluster-${run}.1 -> ${v2} from ${policyFile}`);
    }
    expect(new Set(reloads.map((x) => x.actor)).size).toBe(3);
    expect(reloads.every((x) => x.outcome === 0)).toBe(true);
    // Decisions from now on record the new version.
    const [latest] = await sql<{ content: string }>(
      databaseUrl,
      `SELECT content FROM audit_entry WHERE actor = $1 AND entity_id = $2 ORDER BY recorded DESC LIMIT 1`,
      [`auditor-${run}`, r.lab.id],
    );
    expect(JSON.parse(latest.content)).toMatchObject({ status: 404, policyVersion: v2 });

    // A bad policy: refused with one line per problem, the old one stays everywhere.
    await writeFile(policyFile, originalPolicy.replace(/^version: .*$/m, `version: "cluster-${run}.3"`).replace('on: [AuditEvent], rule: R-20 }', 'on: [NoSuchType], rule: R-20 }'));
    const mark = one.output.length;
    one.child.kill('SIGHUP');
    const until = Date.now() + 5000;
    // The refusal and each problem are lines of their own, which may reach the pipe in separate chunks.
    while (!(/policy reload refused/.test(one.output.slice(mark)) && /NoSuchType\W+ is neither/.test(one.output.slice(mark))) && Date.now() < until) await sleep(20);
    const said = one.output.slice(mark);
    expect(said).toMatch(/policy reload refused, version cluster-\S+\.2 stays in force/);
    // Each problem on a line of its own (a JSON log line escapes the quotes).
    expect(said.split('\n').filter((l) => /NoSuchType\W+ is neither a group nor a resource type/.test(l))).toHaveLength(1);
    await sleep(200);
    for (const i of [one, two, three]) expect((await fhir(i, tokens.auditor, 'GET', `Observation/${r.lab.id}`)).status).toBe(404);
    const refusedReloads = await sql<{ n: number }>(databaseUrl, `SELECT count(*)::int AS n FROM audit_entry WHERE subtype = 'policy-reload' AND outcome = 4`);
    expect(refusedReloads[0].n).toBe(1);
    expect(alive(one)).toBe(true);
    // Back to the policy every later test expects (hidden records answer 404 still; nothing below depends on it).
    await writeFile(policyFile, originalPolicy.replace(/^version: .*$/m, `version: "${v2}"`).replace('hiddenRecords: forbidden', 'hiddenRecords: not-found'));
  });

  it('R-21: 3×100 concurrent creates through all three keep `audit verify` and `ledger verify` passing', async () => {
    const r = await inpatient(instances[0], 'writers');
    const PER_INSTANCE = 100;
    const CONCURRENCY = 6;
    const statuses: number[] = [];
    await Promise.all(
      instances.map(async (i, n) => {
        let next = 0;
        await Promise.all(
          Array.from({ length: CONCURRENCY }, async () => {
            while (next < PER_INSTANCE) {
              const k = next++;
              const body = k % 2 === 0 ? composition(r.patient, `${n}-${k}`) : { resourceType: 'Patient', identifier: [{ system: ID_SYSTEM, value: `w-${n}-${k}` }] };
              const res = await fhir(i, tokens.his, 'POST', body.resourceType, body);
              statuses.push(res.status);
            }
          }),
        );
      }),
    );
    expect(statuses).toHaveLength(3 * PER_INSTANCE);
    expect(statuses.filter((s) => s !== 201)).toEqual([]);
    const audit = await runCliOn(databaseUrl, ['audit', 'verify']);
    expect(audit.error).toBeUndefined();
    expect(audit.stdout).toMatch(/audit verify: \d+ chains, \d+ entries intact/);
    const ledger = await runCliOn(databaseUrl, ['ledger', 'verify']);
    expect(ledger.error).toBeUndefined();
    const [, documents] = /ledger verify: (\d+) documents, \d+ versions intact/.exec(ledger.stdout) ?? [];
    expect(Number(documents)).toBeGreaterThanOrEqual((3 * PER_INSTANCE) / 2);
  }, 60_000);

  it('R-20, R-51: instance 3 killed with SIGKILL under load through all three: every answered create has its version and audit entry', async () => {
    const r = await inpatient(instances[0], 'crash');
    const three = instances[2];
    type Sent = { requestId: string; on: string; kind: 'create' | 'read'; status?: number; id?: string; error?: string };
    const sent: Sent[] = [];
    let killed = false;
    let stopAt = Number.POSITIVE_INFINITY;
    const loop = async (i: Instance, client: number) => {
      for (let n = 0; Date.now() < stopAt && n < 400; n++) {
        const kind = n % 3 === 0 ? 'read' : 'create';
        const s: Sent = { requestId: `cluster-${run}-${i.name.slice(-1)}-${client}-${n}`, on: i.name, kind };
        sent.push(s);
        try {
          const res =
            kind === 'read'
              ? await fhir(i, tokens.his, 'GET', `Observation/${r.lab.id}`, undefined, { 'x-request-id': s.requestId })
              : await fhir<{ id: string }>(i, tokens.his, 'POST', 'Composition', composition(r.patient, s.requestId), { 'x-request-id': s.requestId });
          s.status = res.status;
          s.id = kind === 'create' ? (res.body as { id?: string } | undefined)?.id : r.lab.id;
        } catch (e) {
          s.error = String((e as { cause?: { code?: string } }).cause?.code ?? e);
          if (i === three && killed) return;
          throw e;
        }
      }
    };
    const loops = Promise.all(instances.flatMap((i) => Array.from({ length: 4 }, (_, c) => loop(i, c))));
    // Kill once instance 3 has answered some of its share, while its clients are in flight.
    const until = Date.now() + 15_000;
    while (sent.filter((s) => s.on === three.name && s.status !== undefined).length < 40 && Date.now() < until) await sleep(10);
    killed = true;
    const inFlightAtKill = sent.filter((s) => s.on === three.name && s.status === undefined && s.error === undefined).length;
    expect(three.child.kill('SIGKILL')).toBe(true);
    await three.exited;
    // The other two keep serving a little longer, then the load stops.
    stopAt = Date.now() + 500;
    await loops;

    const answered = sent.filter((s) => s.status !== undefined);
    const ok = answered.filter((s) => (s.status as number) >= 200 && (s.status as number) < 300);
    expect(answered.filter((s) => !ok.includes(s)).map((s) => `${s.requestId}: ${s.status}`)).toEqual([]);
    expect(ok.filter((s) => s.on === three.name).length).toBeGreaterThanOrEqual(40);
    // Mid-load: instance 3 had requests in flight when it died, and they were cut off.
    expect(inFlightAtKill).toBeGreaterThan(0);
    figures.inFlightOnKilledInstance = inFlightAtKill;
    expect(sent.filter((s) => s.error).every((s) => s.on === three.name)).toBe(true);

    // Read at once, without waiting for the database to notice the dead connections: an answered
    // request's entry committed before its answer, so nothing it needs can still be on its way.
    const rows = await sql<{ request_id: string; subtype: string; outcome: number; entity_id: string | null }>(
      databaseUrl,
      `SELECT request_id, subtype, outcome, entity_id FROM audit_entry WHERE request_id = ANY($1::text[])`,
      [ok.map((s) => s.requestId)],
    );
    const byRequest = new Map(rows.map((x) => [x.request_id, x]));
    const missing = ok.filter((s) => {
      const e = byRequest.get(s.requestId);
      return !e || e.outcome !== 0 || e.subtype !== (s.kind === 'read' ? 'read' : 'create') || e.entity_id !== s.id;
    });
    expect(missing.map((s) => `${s.requestId} (${s.kind} on ${s.on})`)).toEqual([]);
    const creates = ok.filter((s) => s.kind === 'create');
    const stored = new Set(
      (await sql<{ id: string }>(databaseUrl, `SELECT id FROM fhir_resource_version WHERE resource_type = 'Composition' AND id = ANY($1::text[])`, [creates.map((s) => s.id)])).map((x) => x.id),
    );
    expect(creates.filter((s) => !stored.has(s.id as string)).map((s) => `${s.requestId} on ${s.on}: Composition/${s.id}`)).toEqual([]);
    // The chains and the ledger still verify after the crash.
    const audit = await runCliOn(databaseUrl, ['audit', 'verify']);
    expect(audit.error).toBeUndefined();
    const ledger = await runCliOn(databaseUrl, ['ledger', 'verify']);
    expect(ledger.error).toBeUndefined();
  }, 60_000);
});
