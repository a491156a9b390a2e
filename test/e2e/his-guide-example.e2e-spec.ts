import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { Patient } from '@medplum/fhirtypes';
import { expectStatus } from '../support/fhir-expect.js';
import { httpRequest } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/test-app.js';

/**
 * The fhir-kit-client example of docs/guides/his-integration.md is docs/walkthroughs/his-client.mjs,
 * shown in the guide from that very file. This runs it, as it stands, against a real server, and
 * checks what it prints and what it stored (R-12 versions, R-17 no deletion).
 */
const example = fileURLToPath(new URL('../../docs/walkthroughs/his-client.mjs', import.meta.url));
const run = promisify(execFile);

describe('the HIS guide\'s fhir-kit-client example (e2e, real HTTP + PostgreSQL)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('R-12/R-17: it reads, searches and creates through fhir-kit-client, and its delete is refused with 405 fhir.delete-refused', async () => {
    const his = await server.token();
    const created = await httpRequest<Patient>(`${server.fhirBase}/Patient`, 'POST', { token: his, body: { resourceType: 'Patient', name: [{ family: '张', given: ['三'] }] } });
    expectStatus(created, 201);
    const patient = created.body.id as string;
    const base = server.fhirBase.replace(/\/fhir$/, '');
    const { stdout } = await run(process.execPath, [example], { env: { ...process.env, BASE: base, HIS: his, PATIENT: patient }, timeout: 30_000 });
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toBe('read 200 W/"1" 张');
    expect(lines[1]).toBe('search total 1');
    const observation = /^created Observation (\S+) version 1$/.exec(lines[2])?.[1];
    expect(observation).toBeDefined();
    expect(lines[3]).toBe('delete 405 not-supported fhir.delete-refused');
    // The Observation it created is there, for the patient, and was not deleted.
    const stored = await httpRequest<{ subject?: { reference?: string } }>(`${server.fhirBase}/Observation/${observation}`, 'GET', { token: his });
    expectStatus(stored, 200);
    expect(stored.body.subject?.reference).toBe(`Patient/${patient}`);
  });
});
