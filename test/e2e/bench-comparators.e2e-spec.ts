import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Patient } from '@medplum/fhirtypes';
import { packageRoot } from '../../src/common/package-root.js';
import { freePort } from '../../src/database/embedded-postgres.launcher.js';
import { sql, urlOf } from '../support/database-admin.js';
import { devToken } from '../support/test-app.js';
import { dropThrowawayDatabase } from '../support/throwaway-database.js';

/**
 * The benchmark's comparators (`npm run bench`) must start, and be what they claim: the
 * unaudited server (`bench/unaudited-server.ts`, issue #5) is ChartWarden serving FHIR with an
 * audit log that records nothing, and the bare server (`bench/bare-server.ts`) reads the very
 * rows ChartWarden wrote. Both run built (`dist/bench/`), as the bench runs them: the unaudited
 * one once crashed at start for weeks (its fake log lacked a method the metrics began to call)
 * and nothing noticed, because nothing started it.
 */

const UNAUDITED = join(packageRoot(), 'dist', 'bench', 'unaudited-server.js');
const BARE = join(packageRoot(), 'dist', 'bench', 'bare-server.js');
const READY_TIMEOUT_MS = 30_000;
/** How long a child has to end on SIGTERM before it gets SIGKILL. */
const STOP_GRACE_MS = 5_000;

/** A comparator server this suite started, with what it printed (for failure messages). */
interface Child {
  name: string;
  proc: ChildProcess;
  output: string;
  exited: Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const alive = (proc: ChildProcess): boolean => proc.exitCode === null && proc.signalCode === null;

const tail = (child: Child): string => child.output.slice(-4000);

describe('Benchmark comparators (e2e, the built unaudited and bare servers)', () => {
  const runTag = randomBytes(4).toString('hex');
  const databaseName = `cw_bench_comparators_${Date.now()}_${runTag}`;
  let databaseUrl = '';
  let databaseCreated = false;
  let dataDir: string | undefined;
  const children: Child[] = [];
  let unauditedBase = '';
  let token = '';
  /** The Patient the unaudited server created and read back, for the bare server to read. */
  let created: Patient | undefined;

  /**
   * Starts `node <script>` with `vars` and resolves once `readyUrl` answers with a status
   * `ready` accepts; fails with the child's output if it exits first or never gets there.
   */
  const start = async (name: string, script: string, vars: Record<string, string>, readyUrl: string, ready: (status: number) => boolean): Promise<Child> => {
    // Only what the child needs: no NODE_OPTIONS from jest, no CHARTWARDEN_* or BARE_* from the developer's shell.
    const env: NodeJS.ProcessEnv = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('CHARTWARDEN_') && !k.startsWith('BARE_') && k !== 'NODE_OPTIONS' && k !== 'DATABASE_URL' && k !== 'PORT'),
    );
    Object.assign(env, vars, { NO_COLOR: '1' });
    const proc = spawn(process.execPath, [script], { env, cwd: packageRoot(), stdio: ['ignore', 'pipe', 'pipe'] });
    const child: Child = { name, proc, output: '', exited: new Promise((resolve) => proc.once('exit', () => resolve())) };
    children.push(child);
    const onData = (chunk: Buffer) => {
      child.output += chunk.toString('utf8');
      if (child.output.length > 200_000) child.output = child.output.slice(-100_000);
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    let spawnError: Error | undefined;
    proc.once('error', (e) => (spawnError = e));

    const deadline = Date.now() + READY_TIMEOUT_MS;
    let last = 'no answer yet';
    while (Date.now() < deadline) {
      if (spawnError) throw new Error(`${name} could not be spawned: ${spawnError.message}`);
      if (!alive(proc)) {
        // Let the last of its output arrive before quoting it.
        await sleep(100);
        throw new Error(`${name} exited before it was ready (code ${proc.exitCode}, signal ${proc.signalCode}); its output:\n${tail(child)}`);
      }
      try {
        const res = await fetch(readyUrl, { signal: AbortSignal.timeout(3000) });
        await res.arrayBuffer();
        if (ready(res.status)) return child;
        last = `HTTP ${res.status}`;
      } catch (e) {
        last = ((e as { cause?: Error }).cause ?? (e as Error)).message;
      }
      await sleep(100);
    }
    throw new Error(`${name}: ${readyUrl} did not answer within ${READY_TIMEOUT_MS} ms (last: ${last}); its output:\n${tail(child)}`);
  };

  const fhirHeaders = (): Record<string, string> => ({ accept: 'application/fhir+json', authorization: `Bearer ${token}` });

  beforeAll(async () => {
    for (const script of [UNAUDITED, BARE]) {
      if (!existsSync(script)) throw new Error(`${script} is missing: this test runs the built comparators. Run \`npm run build\` first.`);
    }
    await sql(urlOf(), `CREATE DATABASE "${databaseName}"`);
    databaseCreated = true;
    databaseUrl = urlOf(databaseName);
    dataDir = await mkdtemp(join(tmpdir(), 'chartwarden-bench-comparators-'));
    // Creates the data dir's dev key: the server started on it uses the same key. The HIS
    // client (his-system) may create and read Patients, as the bench's seeding client does.
    token = await devToken(dataDir, { sub: 'his-bench-comparators' });
    const port = await freePort();
    unauditedBase = `http://127.0.0.1:${port}/fhir`;
    // On a fresh database: it applies the migrations itself, as ChartWarden does.
    await start(
      'the unaudited server',
      UNAUDITED,
      { PORT: String(port), DATABASE_URL: databaseUrl, CHARTWARDEN_DATA_DIR: dataDir },
      `${unauditedBase}/metadata`,
      (status) => status === 200,
    );
  }, READY_TIMEOUT_MS + 15_000);

  afterAll(async () => {
    for (const child of children) {
      if (!alive(child.proc)) continue;
      child.proc.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const stopped = await Promise.race([child.exited.then(() => true), new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), STOP_GRACE_MS)))]);
      clearTimeout(timer);
      if (!stopped) {
        child.proc.kill('SIGKILL');
        await child.exited;
      }
    }
    if (databaseCreated) await dropThrowawayDatabase(urlOf(), databaseName);
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }, 2 * STOP_GRACE_MS + 15_000);

  it('issue #5: the unaudited comparator serves FHIR as ChartWarden does (create, read back) and records no audit entry', async () => {
    const patient: Patient = {
      resourceType: 'Patient',
      identifier: [{ system: `urn:chartwarden-bench-comparators:${runTag}`, value: 'comparator-1' }],
      name: [{ family: 'Comparator', given: ['Unaudited'] }],
    };
    const posted = await fetch(`${unauditedBase}/Patient`, {
      method: 'POST',
      headers: { ...fhirHeaders(), 'content-type': 'application/fhir+json' },
      body: JSON.stringify(patient),
    });
    const postedBody = (await posted.json()) as Patient;
    expect({ status: posted.status, resourceType: postedBody.resourceType }).toEqual({ status: 201, resourceType: 'Patient' });
    expect(postedBody.id).toEqual(expect.any(String));
    const id = postedBody.id as string;

    const read = await fetch(`${unauditedBase}/Patient/${id}`, { headers: fhirHeaders() });
    const readBody = (await read.json()) as Patient;
    expect(read.status).toBe(200);
    expect({ resourceType: readBody.resourceType, id: readBody.id, name: readBody.name }).toEqual({ resourceType: 'Patient', id, name: patient.name });
    created = readBody;

    // The write reached the database (the control), and nothing was audited: what makes it the unaudited comparator.
    const [{ stored }] = await sql<{ stored: number }>(urlOf(databaseName), `SELECT count(*)::int AS stored FROM fhir_resource WHERE resource_type = 'Patient' AND id = $1`, [id]);
    expect(stored).toBeGreaterThan(0);
    const [{ entries }] = await sql<{ entries: number }>(urlOf(databaseName), 'SELECT count(*)::int AS entries FROM audit_entry');
    expect(entries).toBe(0);
  }, 30_000);

  it('the bare comparator reads the very row ChartWarden wrote (the bench compares the same rows)', async () => {
    if (!created?.id) throw new Error('the unaudited comparator created no Patient (see the test before): nothing for the bare server to read');
    const port = await freePort();
    const bareBase = `http://127.0.0.1:${port}`;
    // Any answer means it listens; what it answers is asserted below.
    await start('the bare server', BARE, { PORT: String(port), DATABASE_URL: databaseUrl }, `${bareBase}/Patient/${created.id}`, () => true);

    const res = await fetch(`${bareBase}/Patient/${created.id}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Patient;
    expect({ resourceType: body.resourceType, id: body.id, name: body.name }).toEqual({ resourceType: 'Patient', id: created.id, name: created.name });
    // An id no row holds is not found: it answers from the table, not from whatever it was asked.
    expect((await fetch(`${bareBase}/Patient/no-such-${runTag}`)).status).toBe(404);
  }, READY_TIMEOUT_MS + 10_000);
});
