import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import type { Encounter, Patient, Resource } from '@medplum/fhirtypes';
import { runCliOn } from '../support/database-admin.js';
import { httpRequest } from '../support/http.js';
import { startTestServer, testDatabaseUrl, type TestServer } from '../support/test-app.js';

/**
 * R-18 over real HTTP and PostgreSQL: `chartwarden retention report` names the patients whose
 * records have reached the policy's retention (15 years after the last outpatient visit, 30
 * after the last discharge, the later of the two), never one with an encounter still open,
 * and deletes nothing.
 */
const RUN = randomBytes(4).toString('hex');

describe('R-18 record retention report (CLI, real PostgreSQL)', () => {
  let server: TestServer;
  let his: string;
  const ids: Record<'outpatient2005' | 'inpatient2000' | 'stillOpen' | 'mixed', string> = { outpatient2005: '', inpatient2000: '', stillOpen: '', mixed: '' };

  const post = async <T extends Resource>(resource: T): Promise<T & { id: string }> => {
    const res = await httpRequest<T & { id: string }>(`${server.fhirBase}/${resource.resourceType}`, 'POST', { token: his, body: resource });
    if (res.status !== 201) throw new Error(`${resource.resourceType}: ${res.status} ${res.text}`);
    return res.body;
  };
  const visit = (patient: string, code: 'AMB' | 'IMP', start: string, end?: string): Encounter => ({
    resourceType: 'Encounter',
    status: end ? 'finished' : 'in-progress',
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code },
    subject: { reference: `Patient/${patient}` },
    period: { start, ...(end ? { end } : {}) },
  });

  beforeAll(async () => {
    server = await startTestServer();
    his = await server.token({ sub: `his-retention-${RUN}` });
    for (const key of Object.keys(ids) as (keyof typeof ids)[]) ids[key] = (await post<Patient>({ resourceType: 'Patient', name: [{ text: `保存期限-${key}-${RUN}` }] })).id;
    // A partial date, as FHIR allows: the end of that day counts.
    await post(visit(ids.outpatient2005, 'AMB', '2005-03-01', '2005-03-01'));
    await post(visit(ids.inpatient2000, 'IMP', '1999-12-20T09:00:00+08:00', '2000-01-01T10:00:00+08:00'));
    await post(visit(ids.stillOpen, 'AMB', '1990-05-01T09:00:00+08:00', '1990-05-01T10:00:00+08:00'));
    await post(visit(ids.stillOpen, 'IMP', '2026-11-20T09:00:00+08:00'));
    // Discharged in 1990 (kept to 2020), seen as an outpatient in 2015 (kept to 2030): the later counts.
    await post(visit(ids.mixed, 'IMP', '1990-01-01T09:00:00+08:00', '1990-01-10T10:00:00+08:00'));
    await post(visit(ids.mixed, 'AMB', '2015-06-01T09:00:00+08:00', '2015-06-01T10:00:00+08:00'));
  });
  afterAll(async () => {
    await server?.close();
  });

  it('R-18: lists a record past 15 years after the last visit; not one within 30 years of a discharge, one still open, or one seen again since', async () => {
    const run = await runCliOn(testDatabaseUrl(), ['retention', 'report', '--as-of', '2026-11-29']);
    expect(run.error).toBeUndefined();
    expect(run.stdout).toMatch(/^retention report as of 2026-11-29T15:59:59\.999Z: \d+ of \d+ patients have reached their retention \(15 years after the last outpatient visit, 30 after the last discharge\); nothing was deleted/);
    expect(run.stdout).toContain(`Patient/${ids.outpatient2005}  kept until 2020-03-01  (last visit 2005-03-01, last discharge —)`);
    for (const key of ['inpatient2000', 'stillOpen', 'mixed'] as const) expect({ key, listed: run.stdout.includes(`Patient/${ids[key]} `) }).toEqual({ key, listed: false });
    // Judged on another day, the inpatient record reaches its 30 years too.
    const later = await runCliOn(testDatabaseUrl(), ['retention', 'report', '--as-of', '2030-01-02']);
    expect(later.stdout).toContain(`Patient/${ids.inpatient2000}  kept until 2030-01-01`);
    // Nothing was removed.
    const read = await httpRequest(`${server.fhirBase}/Patient/${ids.outpatient2005}`, 'GET', { token: his });
    expect(read.status).toBe(200);
  });

  it('refuses a malformed date', async () => {
    const run = await runCliOn(testDatabaseUrl(), ['retention', 'report', '--as-of', '29/11/2026']);
    expect(run.stderr).toContain('use YYYY-MM-DD');
  });
});
