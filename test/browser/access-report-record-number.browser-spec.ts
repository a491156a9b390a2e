import { jest } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { Bundle, Composition, Patient } from '@medplum/fhirtypes';
import type { Browser, Page } from 'playwright-core';
import type pg from 'pg';
import type { AccessReport } from '../../src/audit/access-report.js';
import { demoTokenRequest, demoUser } from '../../src/demo/demo-users.js';
import type { AuditRow } from '../support/database-rows.js';
import { httpRequest, seedAs } from '../support/http.js';
import { closeAll, connectTestDatabase, startTestServer, type TestServer } from '../support/test-app.js';
import { controlCount, launchChromium, lowContrastText, newPage, screenshot, unnamedControls } from './support/browser.js';
import { ensureConsoleBuilt } from './support/console-build.js';
import { seedInpatientStay, seedStaff } from './support/record-room-data.js';

/**
 * The auditor (审计) types the 病案号 a complaint arrives with, not a FHIR id (R-20, issue #18):
 * the console asks `/audit/access-report?recordNumber=…`, the server finds the patient (the
 * shipped policy names no 病案号 system: the patient's identifier is of type MR), and the report's
 * header gives the 病案号 and the patient ID. A number nobody has (404) and one two patients
 * share (409) are refused in Chinese words; both fields filled is caught by the form. In
 * Debian's Chromium against a real server and PostgreSQL; the API and the trail are read after.
 */
jest.setTimeout(120_000);

const run = randomUUID().slice(0, 8);
const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';
const SHARED = `MR-SHARED-${run}`;

describe('Console: an auditor asks for the access report by 病案号 (browser, real HTTP + PostgreSQL)', () => {
  let server: TestServer;
  let db: pg.Client;
  let browser: Browser;
  let page: Page;
  let cspViolations: string[];
  let pageErrors: string[];
  let auditor: string;
  let stay: Awaited<ReturnType<typeof seedInpatientStay>>;

  const tokenOf = (id: string) => server.token(demoTokenRequest(demoUser(id), '1h'));
  const byNumber = async (value: string) =>
    httpRequest<AccessReport>(`${server.root}/audit/access-report?recordNumber=${encodeURIComponent(value)}`, 'GET', { token: auditor, headers: { accept: 'application/json' } });
  const numberField = () => page.getByLabel('病案号');
  const ask = async (recordNumber: string, patient = '') => {
    await numberField().fill(recordNumber);
    await page.getByLabel('患者 ID').fill(patient);
    await numberField().press('Enter');
  };
  /** The auditor's access-report entries with this outcome since `since` (the trail itself, past every policy). */
  const auditorEntries = async (since: Date, status: number) =>
    (
      await db.query<AuditRow>(`SELECT * FROM audit_entry WHERE actor = 'auditor-zheng' AND subtype = 'access-report' AND recorded >= $1 ORDER BY recorded`, [since])
    ).rows.filter((r) => (JSON.parse(r.content) as { status: number }).status === status);

  beforeAll(async () => {
    await ensureConsoleBuilt();
    server = await startTestServer({ console: { enabled: true, redirectRoot: true } });
    db = await connectTestDatabase();
    auditor = await tokenOf('auditor-zheng');
    stay = await seedInpatientStay(server, 'Practitioner/dr-wang');
    await seedStaff(server, ['dr-wang', 'auditor-zheng']);
    const his = await server.token();
    for (let i = 0; i < 2; i++) {
      await seedAs<Patient>(server.fhirBase, his, { resourceType: 'Patient', identifier: [{ system: `urn:branch-${i}:${run}`, value: SHARED, type: { coding: [{ system: V2_0203, code: 'MR' }] } }] });
    }
    const docs = await httpRequest<Bundle<Composition>>(`${server.fhirBase}/Composition?patient=${stay.patient.id}`, 'GET', { token: his });
    const admission = docs.body.entry?.find((e) => e.resource?.title === '入院记录')?.resource?.id as string;
    expect((await httpRequest(`${server.fhirBase}/Composition/${admission}`, 'GET', { token: await tokenOf('dr-wang') })).status).toBe(200);
    browser = await launchChromium();
    ({ page, cspViolations, pageErrors } = await newPage(browser));
  });
  afterAll(async () => {
    await browser?.close();
    await closeAll(db, server);
  });

  it('R-20: typing the 病案号 shows the patient\'s report, headed with the 病案号 and the patient ID, as the API gives it; the request is recorded against the patient', async () => {
    await page.goto(`${server.root}/console/`);
    await page.locator('button[data-user="auditor-zheng"]').click();
    await page.getByTestId('signed-in-as').waitFor();
    expect(new URL(page.url()).pathname).toBe('/console/audit/access-report');
    await expect(page.getByTestId('patient-hint').textContent()).resolves.toContain('病案号');
    const since = new Date();
    await ask(stay.recordNumber);
    const timeline = page.getByTestId('access-timeline');
    await Promise.race([timeline.waitFor(), page.getByTestId('refusal').waitFor().then(async () => Promise.reject(new Error(`refused: ${await page.getByTestId('refusal').textContent()}`)))]);
    expect(new URL(page.url()).searchParams.get('recordNumber')).toBe(stay.recordNumber);
    await expect(page.getByTestId('report-record-number').textContent()).resolves.toBe(`病案号：${stay.recordNumber}\u3000患者 ID：Patient/${stay.patient.id}`);
    // The auditor may not read the patient's name (no read of a patient record): the id is said once, beside the 病案号.
    await expect(page.getByTestId('report-patient').count()).resolves.toBe(0);

    const api = await byNumber(stay.recordNumber);
    expect(api.status).toBe(200);
    expect(api.body).toMatchObject({ patient: `Patient/${stay.patient.id}`, recordNumber: stay.recordNumber });
    expect(api.body.rows.find((r) => r.actor === 'dr-wang')).toMatchObject({ reads: 1, refused: 0 });
    const shown = await timeline.locator('[data-actor]').evaluateAll((items) => items.map((i) => i.getAttribute('data-actor')));
    // The page's own read of the report is in the API's answer now, not in what the page was sent.
    expect(shown.sort()).toEqual(api.body.rows.map((r) => r.actor).filter((a) => a !== 'auditor-zheng').sort());
    await expect(timeline.locator('[data-actor="dr-wang"]').getByTestId('who').textContent()).resolves.toBe(demoUser('dr-wang').name);
    // The page's request by 病案号 is in the trail, against the patient the server found.
    const recorded = await auditorEntries(since, 200);
    expect(recorded.length).toBeGreaterThanOrEqual(1);
    expect(recorded.map((r) => r.patient)).toEqual(recorded.map(() => stay.patient.id));
    await page.mouse.move(0, 0);
    expect(await controlCount(page)).toBeGreaterThan(3);
    expect(await unnamedControls(page)).toEqual([]);
    expect(await lowContrastText(page)).toEqual([]);
    await screenshot(page, 'audit-report-by-record-number');
  });

  it('R-20: a 病案号 nobody has (404) and one two patients share (409) are refused in Chinese words, each request recorded', async () => {
    const since = new Date();
    await ask(`MR-NOBODY-${run}`);
    const refusal = page.getByTestId('refusal');
    await refusal.waitFor();
    await expect(refusal.textContent()).resolves.toContain('HTTP 404');
    await expect(page.getByTestId('refusal-explained').textContent()).resolves.toContain('没有患者使用这个病案号');
    await expect(refusal.textContent()).resolves.toContain('audit.record-number-unknown');
    expect((await byNumber(`MR-NOBODY-${run}`)).status).toBe(404);

    await ask(SHARED);
    await refusal.filter({ hasText: 'HTTP 409' }).waitFor();
    await expect(page.getByTestId('refusal-explained').textContent()).resolves.toContain('有不止一位患者使用这个病案号');
    expect((await byNumber(SHARED)).status).toBe(409);
    await screenshot(page, 'audit-report-record-number-ambiguous');
    // The page's two refused lookups (and the test's two), each recorded with no patient.
    const refused = [...(await auditorEntries(since, 404)), ...(await auditorEntries(since, 409))];
    expect(refused.length).toBeGreaterThanOrEqual(4);
    expect(refused.map((r) => [r.patient, r.outcome])).toEqual(refused.map(() => [null, 4]));
  });

  it('the form takes one of 病案号 and patient ID: both filled is said in words and asks nothing', async () => {
    const before = page.url();
    await ask(stay.recordNumber, stay.patient.id);
    await page.getByText('病案号和患者 ID 只填一项。').first().waitFor();
    expect(page.url()).toBe(before);
    // Only the patient ID: the report by id, with no 病案号 line.
    await ask('', stay.patient.id);
    await page.getByTestId('access-timeline').waitFor();
    expect(new URL(page.url()).searchParams.get('patient')).toBe(stay.patient.id);
    await expect(page.getByTestId('report-record-number').count()).resolves.toBe(0);
    await expect(page.getByTestId('report-patient').textContent()).resolves.toBe(`患者：Patient/${stay.patient.id}`);
    expect(cspViolations).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
