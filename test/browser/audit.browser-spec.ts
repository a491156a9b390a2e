import { jest } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import type { Bundle, Composition } from '@medplum/fhirtypes';
import type { Browser, Page } from 'playwright-core';
import pg from 'pg';
import type { AccessReport } from '../../src/audit/access-report.js';
import type { IntegrityKindState } from '../../src/audit/integrity-run.service.js';
import { DEMO_DEPARTMENTS, demoTokenRequest, demoUser } from '../../src/demo/demo-users.js';
import { sql, urlOf } from '../support/database-admin.js';
import { httpRequest } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/test-app.js';
import { controlCount, launchChromium, lowContrastText, newPage, screenshot, shanghai, unnamedControls } from './support/browser.js';
import { ensureConsoleBuilt } from './support/console-build.js';
import { seedInpatientStay, seedStaff } from './support/record-room-data.js';
import { dropThrowawayDatabase } from '../support/throwaway-database.js';

/**
 * The auditors (审计) in the staff console, in Debian's Chromium against a real server and a
 * PostgreSQL database of its own (issue #18, R-20… ): an auditor reads a patient's
 * access report — a treating doctor's read, another department's refused read, a break-the-glass
 * read — as a timeline, downloads the API's CSV byte for byte, searches the trail and opens an
 * entry, and runs `audit verify` from the integrity screen until it finishes intact; a second
 * ledger run while one is in progress is refused (409) in words. After each step the test reads
 * what the API holds. Times are in the hospital's zone while the browser runs in New York's.
 */
jest.setTimeout(120_000);

const BTG_CATEGORY = 'http://terminology.hl7.org/CodeSystem/v3-ActReason#BTG; scheme="http://hl7.org/fhir/tag/security"';

type IntegrityState = Record<'audit' | 'ledger', IntegrityKindState>;

describe('Console: an auditor reading a patient\'s access report, searching the trail and verifying it (browser, real HTTP + PostgreSQL)', () => {
  const database = `cw_audit_console_${Date.now()}_${process.pid}`;
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let cspViolations: string[];
  let pageErrors: string[];
  let auditor: string;
  let stay: Awaited<ReturnType<typeof seedInpatientStay>>;

  const tokenOf = (id: string) => server.token(demoTokenRequest(demoUser(id), '1h'));
  const report = async (format: 'json' | 'csv' = 'json') => {
    const res = await fetch(`${server.root}/audit/access-report?patient=Patient/${stay.patient.id}${format === 'csv' ? '&_format=csv' : ''}`, {
      headers: { authorization: `Bearer ${auditor}`, accept: 'application/json' },
    });
    expect(res.status).toBe(200);
    return format === 'csv' ? Buffer.from(await res.arrayBuffer()) : ((await res.json()) as AccessReport);
  };
  const integrity = async () => {
    const res = await httpRequest<IntegrityState>(`${server.root}/audit/integrity`, 'GET', { token: auditor, headers: { accept: 'application/json' } });
    expect(res.status).toBe(200);
    return res.body;
  };
  /** Waits for `done`, or fails at once with the refusal the page shows instead. */
  const settled = (done: Promise<unknown>) =>
    Promise.race([done, page.getByTestId('refusal').first().waitFor().then(async () => Promise.reject(new Error(`the page shows a refusal: ${await page.getByTestId('refusal').first().textContent()}`)))]);
  const expectAccessible = async () => {
    await page.mouse.move(0, 0);
    expect(await controlCount(page)).toBeGreaterThan(3);
    expect(await unnamedControls(page)).toEqual([]);
    expect(await lowContrastText(page)).toEqual([]);
  };

  beforeAll(async () => {
    await ensureConsoleBuilt();
    // A database of its own: the integrity run verifies every chain, which no other suite may touch meanwhile.
    await sql(urlOf(), `CREATE DATABASE "${database}"`);
    server = await startTestServer({ databaseUrl: urlOf(database), console: { enabled: true, redirectRoot: true } });
    auditor = await tokenOf('auditor-zheng');
    stay = await seedInpatientStay(server, 'Practitioner/dr-wang');
    await seedStaff(server, ['dr-wang', 'dr-zhao', 'dr-ma', 'auditor-zheng']);
    const his = await server.token();
    for (const d of DEMO_DEPARTMENTS) {
      const res = await httpRequest(`${server.fhirBase}/Organization/${d.id}`, 'PUT', { token: his, body: { resourceType: 'Organization', id: d.id, name: d.name } });
      expect([200, 201]).toContain(res.status);
    }
    const docs = await httpRequest<Bundle<Composition>>(`${server.fhirBase}/Composition?patient=${stay.patient.id}`, 'GET', { token: await server.token() });
    const admission = docs.body.entry?.find((e) => e.resource?.title === '入院记录')?.resource?.id as string;
    // The treating doctor reads; another department's chief is refused; a surgical resident breaks the glass.
    const read = (token: string, headers: Record<string, string> = {}) => httpRequest(`${server.fhirBase}/Composition/${admission}`, 'GET', { token, headers });
    expect((await read(await tokenOf('dr-wang'))).status).toBe(200);
    expect((await read(await tokenOf('dr-zhao'))).status).toBe(403);
    expect((await read(await tokenOf('dr-ma'), { category: BTG_CATEGORY, 'x-break-glass-reason': encodeURIComponent('夜间急诊，患者意识不清') })).status).toBe(200);
    browser = await launchChromium();
    ({ page, cspViolations, pageErrors } = await newPage(browser, { acceptDownloads: true }));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await dropThrowawayDatabase(urlOf(), database).catch(() => undefined);
  });

  it('R-20/R-04: the auditor lands on the access report, types the patient ID and sees who, when, why, allowed/refused and break-the-glass as the API reports it', async () => {
    await page.goto(`${server.root}/console/`);
    await page.locator('button[data-user="auditor-zheng"]').click();
    await page.getByTestId('signed-in-as').waitFor();
    expect(new URL(page.url()).pathname).toBe('/console/audit/access-report');
    // The auditor's policy has no patient search: the page says so and takes the ID.
    await expect(page.getByTestId('patient-hint').textContent()).resolves.toContain('不能检索患者');
    await page.getByLabel('患者 ID').fill(`Patient/${stay.patient.id}`);
    await page.getByLabel('患者 ID').press('Enter');
    const timeline = page.getByTestId('access-timeline');
    await settled(timeline.waitFor());

    const api = (await report()) as AccessReport;
    const byActor = Object.fromEntries(api.rows.map((r) => [r.actor, r]));
    expect(byActor['dr-wang']).toMatchObject({ reads: 1, refused: 0, breakGlass: 0 });
    expect(byActor['dr-zhao']).toMatchObject({ refused: 1, breakGlass: 0 });
    expect(byActor['dr-ma']).toMatchObject({ reads: 1, breakGlass: 1, purposes: ['BTG'] });
    // the page's own read of the report is recorded too, after its answer was made: the API now
    // also names the auditor, the page's timeline holds every other row, and nothing more.
    expect(byActor['auditor-zheng']).toMatchObject({ roles: ['auditor'], refused: 0 });
    const shown = await timeline.locator('[data-actor]').evaluateAll((items) => items.map((i) => i.getAttribute('data-actor')));
    expect(shown.sort()).toEqual(api.rows.map((r) => r.actor).filter((a) => a !== 'auditor-zheng').sort());
    for (const [id, role, department] of [['dr-wang', '主治医师', '心内科'], ['dr-zhao', '主任医师', '普外科'], ['dr-ma', '住院医师', '普外科']] as const) {
      const row = byActor[id];
      const item = timeline.locator(`[data-actor="${id}"]`);
      await expect(item.getAttribute('data-refused')).resolves.toBe(String(row.refused));
      await expect(item.getAttribute('data-break-glass')).resolves.toBe(String(row.breakGlass));
      expect(row.practitioner).toBe(`Practitioner/${id}`);
      await expect(item.getByTestId('who').textContent()).resolves.toBe(demoUser(id).name);
      await expect(item.getByTestId('department').textContent()).resolves.toBe(`科室：${department}`);
      await expect(item.textContent()).resolves.toContain(role);
      await expect(item.getByTestId('when').textContent()).resolves.toContain(shanghai(row.first));
      const outcome = (await item.getByTestId('outcome').textContent()) as string;
      if (row.accesses - row.refused > 0) expect(outcome).toContain(`允许 ${row.accesses - row.refused} 次`);
      if (row.refused > 0) expect(outcome).toContain(`拒绝 ${row.refused} 次`);
      else expect(outcome).not.toContain('拒绝');
    }
    await expect(timeline.locator('[data-actor="dr-ma"]').getByTestId('break-glass').textContent()).resolves.toBe('紧急破窗访问 1 次');
    await expect(timeline.locator('[data-actor="dr-ma"]').getByTestId('why').textContent()).resolves.toBe('目的：紧急破窗');
    await expect(timeline.locator('[data-break-glass="1"]').count()).resolves.toBe(1);
    await expectAccessible();
    await screenshot(page, 'audit-report');
  });

  it('R-20: the CSV button downloads exactly the API\'s CSV, read with the auditor\'s token', async () => {
    // What the server sends the page, kept as it passes (the page reads it with the token, as a blob).
    let sent: Buffer | undefined;
    await page.route(/\/audit\/access-report\?.*_format=csv/, async (route) => {
      const answer = await route.fetch();
      sent = await answer.body();
      await route.fulfill({ response: answer, body: sent });
    });
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: '下载 CSV' }).click()]);
    await page.unroute(/\/audit\/access-report\?.*_format=csv/);
    expect(download.suggestedFilename()).toBe(`access-report-Patient-${stay.patient.id}.csv`);
    const saved = await readFile((await download.path()) as string);
    // The file is the API's answer, byte for byte (BOM included)…
    expect([...saved.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(sent?.length).toBeGreaterThan(100);
    expect(saved.equals(sent as Buffer)).toBe(true);
    // …and what the API answers now, but for the auditor's own line: each read of the report is recorded.
    const api = (await report('csv')) as Buffer;
    const others = (csv: Buffer) => csv.toString('utf8').split('\r\n').filter((line) => !line.split(',').includes('auditor-zheng'));
    expect(others(saved)).toEqual(others(api));
    // A header, then one line per person and day of the JSON report.
    expect(saved.toString('utf8').split('\r\n').filter(Boolean).length).toBe(1 + ((await report('json')) as AccessReport).rows.length);
  });

  it('R-22: from a timeline item, the trail search lists that person\'s entries of the day; an entry opens with its outcome, purpose and break-the-glass reason', async () => {
    await page.locator('[data-actor="dr-ma"]').getByRole('link', { name: '查看这一天的逐条记录' }).click();
    const results = page.getByTestId('audit-results');
    await settled(results.waitFor());
    const params = new URL(page.url()).searchParams;
    expect(params.get('agent')).toBe('dr-ma');
    const q = new URLSearchParams({ patient: stay.patient.id, agent: 'dr-ma', _count: '20' });
    q.append('date', `ge${params.get('from') as string}`);
    q.append('date', `le${params.get('to') as string}`);
    const api = await httpRequest<Bundle>(`${server.fhirBase}/AuditEvent?${q.toString()}`, 'GET', { token: auditor });
    expect(api.status).toBe(200);
    const ids = (api.body.entry ?? []).map((e) => e.resource?.id as string);
    expect(ids.length).toBeGreaterThan(0);
    await expect(results.locator('[data-event]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-event')))).resolves.toEqual(ids);
    await expect(page.getByTestId('search-total').textContent()).resolves.toBe(`共 ${api.body.total} 条，已显示 ${ids.length} 条`);
    await expectAccessible();
    await screenshot(page, 'audit-search');

    // The refused read, searched by outcome from the form (keyboard: type, then Enter submits).
    await page.getByLabel('操作人员（工号或 Practitioner/…）').fill('dr-zhao');
    await page.getByLabel('操作人员（工号或 Practitioner/…）').press('Enter');
    await settled(page.waitForURL(/agent=dr-zhao/));
    await results.locator('[data-event]').first().waitFor();
    const zhao = await httpRequest<Bundle>(`${server.fhirBase}/AuditEvent?patient=${stay.patient.id}&agent=dr-zhao&date=ge${params.get('from') as string}&date=le${params.get('to') as string}&_count=20`, 'GET', { token: auditor });
    await expect(results.locator('[data-event]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-event')))).resolves.toEqual((zhao.body.entry ?? []).map((e) => e.resource?.id));
    await expect(results.textContent()).resolves.toContain('拒绝或无效');

    // The break-the-glass entry in detail.
    await page.goto(`${server.root}/console/audit/events?patient=${stay.patient.id}&agent=dr-ma`);
    await settled(results.waitFor());
    const glassId = ids[0];
    await page.getByRole('link', { name: `查看记录 ${glassId}` }).click();
    const detail = page.getByTestId('event-detail');
    await settled(detail.waitFor());
    const event = await httpRequest<{ outcome: string; extension: { extension: { url: string; valueString?: string }[] }[] }>(`${server.fhirBase}/AuditEvent/${glassId}`, 'GET', { token: auditor });
    expect(event.status).toBe(200);
    const reason = event.body.extension[0].extension.find((e) => e.url === 'breakGlassReason')?.valueString;
    expect(reason).toBe('夜间急诊，患者意识不清');
    await expect(detail.textContent()).resolves.toContain(reason as string);
    await expect(detail.textContent()).resolves.toContain('紧急破窗');
    await expect(page.getByTestId('event-outcome').textContent()).resolves.toBe('允许（成功）');
  });

  it('R-22: a search of more than one page follows the Bundle\'s next link: the rows are the API\'s pages, in order', async () => {
    // 25 reads by the HIS (nobody else reads as it meanwhile): two pages of 20.
    const his = await server.token();
    for (let i = 0; i < 25; i++) expect((await httpRequest(`${server.fhirBase}/Patient/${stay.patient.id}`, 'GET', { token: his })).status).toBe(200);
    await page.goto(`${server.root}/console/audit/events?agent=his-test&action=R`);
    const rows = page.getByTestId('audit-results').locator('[data-event]');
    await settled(rows.first().waitFor());
    const first = await httpRequest<Bundle>(`${server.fhirBase}/AuditEvent?agent=his-test&action=R&_count=20`, 'GET', { token: auditor });
    const next = first.body.link?.find((l) => l.relation === 'next')?.url as string;
    const second = await httpRequest<Bundle>(next, 'GET', { token: auditor });
    const total = first.body.total as number;
    expect(total).toBeGreaterThanOrEqual(25);
    expect(total).toBeLessThanOrEqual(40);
    const ids = [...(first.body.entry ?? []), ...(second.body.entry ?? [])].map((e) => e.resource?.id);
    expect(ids).toHaveLength(total);
    await expect(rows.count()).resolves.toBe(20);
    await page.getByRole('button', { name: '加载更多' }).click();
    await page.getByTestId('search-total').filter({ hasText: `共 ${total} 条，已显示 ${total} 条` }).waitFor();
    await expect(rows.evaluateAll((r) => r.map((x) => x.getAttribute('data-event')))).resolves.toEqual(ids);
    await expect(page.getByRole('button', { name: '加载更多' }).count()).resolves.toBe(0);
  });

  it('R-21: an audit verify started from the integrity screen finishes intact, as GET /audit/integrity says; a ledger run while one is in progress is refused (409) in words', async () => {
    await page.getByRole('link', { name: '完整性核验' }).click();
    await page.getByRole('heading', { name: '完整性核验', level: 2 }).waitFor();
    await page.getByRole('button', { name: '开始核验：audit verify' }).click();
    const finished = page.locator('[data-testid="finished-audit"]');
    await settled(finished.waitFor());
    await expect(finished.getAttribute('data-status')).resolves.toBe('intact');
    const after = await integrity();
    expect(after.audit).toMatchObject({ inProgress: false, lastRun: { kind: 'audit', status: 'intact', scope: 'everything', startedBy: { via: 'api', id: 'auditor-zheng' } } });
    expect(after.audit.lastIntactRun?.id).toBe(after.audit.lastRun?.id);
    const lastRun = page.getByTestId('last-run-audit');
    await expect(lastRun.getAttribute('data-run')).resolves.toBe(after.audit.lastRun?.id);
    await expect(lastRun.textContent()).resolves.toContain(`核验了 ${after.audit.lastRun?.checked?.chains} 条链、${after.audit.lastRun?.checked?.entries} 条记录`);
    await expect(lastRun.textContent()).resolves.toContain(shanghai(after.audit.lastRun?.startedAt as string));
    await expectAccessible();
    await screenshot(page, 'audit-integrity');

    // A ledger run held in progress (its check waits on a lock), then the button: 409, said in words.
    const blocker = new pg.Client({ connectionString: urlOf(database) });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE edit_ledger IN ACCESS EXCLUSIVE MODE');
      const held = await httpRequest<{ id: string }>(`${server.root}/audit/integrity/runs`, 'POST', { token: auditor, body: { kind: 'ledger' }, contentType: 'application/json', headers: { accept: 'application/json' } });
      expect(held.status).toBe(202);
      await page.getByRole('button', { name: '开始核验：ledger verify' }).click();
      await page.getByTestId('already-running-ledger').waitFor();
      await expect(page.getByTestId('server-message').textContent()).resolves.toContain(`run ${held.body.id}`);
      await expect(page.getByTestId('refusal').textContent()).resolves.toContain('HTTP 409');
      expect((await integrity()).ledger).toMatchObject({ inProgress: true, running: { id: held.body.id } });
      await page.reload();
      await page.locator('[data-kind="ledger"]').getByTestId('in-progress').waitFor();
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
    }
    expect(cspViolations).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
