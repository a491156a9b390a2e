import { jest } from '@jest/globals';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import pg from 'pg';
import type { CopyRequestView } from '../../src/release/dto/copy-request.view.js';
import { httpRequest } from '../support/http.js';
import { startTestServer, testDatabaseUrl, type TestServer } from '../support/test-app.js';
import { controlCount, launchChromium, lowContrastText, newPage, screenshot, shanghai, unnamedControls } from './support/browser.js';
import { ensureConsoleBuilt } from './support/console-build.js';
import { ID_NUMBER, idCardPhoto, PNG, seedInpatientStay, seedStaff } from './support/record-room-data.js';

/**
 * The record room (病案室) in the staff console, in Debian's Chromium against a real server
 * and PostgreSQL (issue #18, R-30…R-34): a clerk signs in from the development sign-in page and
 * takes a copy request from intake (a photo of the ID card from the camera button) to
 * delivery and closing; a second clerk approves, because the first one's approval is refused
 * under separation of duties, and the page shows the server's own words. After each step the
 * test reads what the API stored, not only what the page shows. Accessibility basics: every
 * control named, one step done from the keyboard, text contrast AA. Times are shown in the
 * hospital's zone while the browser runs in New York's.
 */
jest.setTimeout(120_000);


describe('Console: the record room from intake to delivery (browser, real HTTP + PostgreSQL)', () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let cspViolations: string[];
  let pageErrors: string[];
  let db: pg.Client;
  let reader: string;
  let stay: Awaited<ReturnType<typeof seedInpatientStay>>;
  let requestId: string;
  const photo = join(tmpdir(), `id-card-${process.pid}.png`);
  let photoBytes: Buffer;

  /** What the API stored: the request as any record-room token reads it. */
  const stored = async (id = requestId) => {
    const res = await httpRequest<CopyRequestView>(`${server.root}/copy-requests/${id}`, 'GET', { token: reader, headers: { accept: 'application/json' } });
    expect(res.status).toBe(200);
    return res.body;
  };
  const step = (name: string) => page.locator(`form[data-step="${name}"]`);
  /** Waits until the API holds the request in `status` (the page sent the step; the server decides). */
  const untilStatus = async (status: string) => {
    await settled(page.locator(`h2 ~ [data-status="${status}"]`).waitFor());
    expect((await stored()).status).toBe(status);
  };
  /** Waits for `done`, or fails at once with the refusal the page shows instead. */
  const settled = (done: Promise<unknown>) =>
    Promise.race([done, page.getByTestId('refusal').first().waitFor().then(async () => Promise.reject(new Error(`the page shows a refusal: ${await page.getByTestId('refusal').first().textContent()}`)))]);
  const signInAs = async (user: string) => {
    await page.goto(`${server.root}/console/`);
    await page.locator(`button[data-user="${user}"]`).click();
    await page.getByTestId('signed-in-as').waitFor();
  };
  const expectAccessible = async () => {
    // Read as the page rests: no pointer hovering over a control.
    await page.mouse.move(0, 0);
    expect(await controlCount(page)).toBeGreaterThan(3);
    expect(await unnamedControls(page)).toEqual([]);
    expect(await lowContrastText(page)).toEqual([]);
  };

  beforeAll(async () => {
    await ensureConsoleBuilt();
    server = await startTestServer({ console: { enabled: true, redirectRoot: true } });
    db = new pg.Client({ connectionString: testDatabaseUrl() });
    await db.connect();
    reader = await server.token({ sub: 'rr-reader', roles: ['record-room'] });
    stay = await seedInpatientStay(server, 'Practitioner/dr-wang');
    await seedStaff(server, ['clerk-liu', 'clerk-sun', 'dr-wang']);
    browser = await launchChromium();
    ({ page, cspViolations, pageErrors } = await newPage(browser));
    photoBytes = await idCardPhoto(page, stay.name, ID_NUMBER);
    writeFileSync(photo, photoBytes);
  });
  afterAll(async () => {
    await browser?.close();
    await db?.end();
    await server?.close();
  });

  it('GET / sends the browser to the console; the development sign-in lists the demo users by role', async () => {
    await page.goto(`${server.root}/`);
    expect(new URL(page.url()).pathname).toBe('/console/');
    await page.getByRole('heading', { name: '开发模式登录' }).waitFor();
    for (const role of ['病案室', '医患办', '医务处', '审计', '主治医师']) await page.getByRole('heading', { name: role, exact: true }).waitFor();
    await expect(page.locator('button[data-user="clerk-liu"]').getAttribute('aria-label')).resolves.toBe('以刘芳（病案室 · 复印登记）身份登录');
    await expectAccessible();
    await screenshot(page, 'sign-in');
  });

  it('dev key mode: the sign-in signs short tokens for the listed demo users only, which the API accepts', async () => {
    const users = await httpRequest<{ id: string }[]>(`${server.root}/console/api/demo-users`, 'GET', { headers: { accept: 'application/json' } });
    expect(users.status).toBe(200);
    expect(users.body.map((u) => u.id)).toEqual(expect.arrayContaining(['clerk-liu', 'clerk-sun', 'officer-zhou', 'affairs-wu', 'auditor-zheng']));
    const nobody = await httpRequest(`${server.root}/console/api/demo-users/admin/token`, 'POST');
    expect([nobody.status, nobody.body.issue?.[0].details?.coding?.[0].code]).toEqual([404, 'console.unknown-demo-user']);
    expect(nobody.text).not.toContain('eyJ');
    const signed = await httpRequest<{ token: string; expiresAt: string; user: { id: string } }>(`${server.root}/console/api/demo-users/clerk-liu/token`, 'POST');
    expect([signed.status, signed.headers.get('cache-control'), signed.body.user.id]).toEqual([201, 'no-store', 'clerk-liu']);
    expect(Date.parse(signed.body.expiresAt) - Date.now()).toBeLessThanOrEqual(60 * 60_000);
    const queue = await httpRequest(`${server.root}/copy-requests`, 'GET', { token: signed.body.token, headers: { accept: 'application/json' } });
    expect(queue.status).toBe(200);
  });

  it('R-30: a clerk receives a request with a photo of the ID card from the camera button; the API keeps it with its hash', async () => {
    await signInAs('clerk-liu');
    expect(new URL(page.url()).pathname).toBe('/console/copy-requests');
    await expect(page.getByTestId('signed-in-as').textContent()).resolves.toBe('刘芳（病案室）');
    await page.getByRole('link', { name: '受理新申请' }).click();
    await page.getByRole('heading', { name: '受理复印申请' }).waitFor();
    await page.getByLabel('查找患者（姓名、病案号或 ID）').fill(stay.name);
    await page.getByRole('button', { name: '查找', exact: true }).click();
    await page.getByRole('radio', { name: new RegExp(`病案号 ${stay.recordNumber}`) }).check();
    await page.getByLabel('申请人姓名').fill(stay.name);
    await page.getByLabel('申请人证件号码').fill(ID_NUMBER);
    await page.getByLabel('复印用途').fill('医保报销');
    // The patient's own checklist (R-30, from the server's policy): the ID card only.
    await expect(page.getByTestId('checklist').getByRole('group').allTextContents()).resolves.toEqual([expect.stringContaining('患者（或近亲属）有效身份证明')]);
    const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.getByRole('button', { name: '拍照：患者（或近亲属）有效身份证明' }).click()]);
    expect([await chooser.element().getAttribute('accept'), await chooser.element().getAttribute('capture')]).toEqual(['image/*', 'environment']);
    await chooser.setFiles(photo);
    await page.getByRole('img', { name: '患者（或近亲属）有效身份证明的照片' }).waitFor();
    await expectAccessible();
    await screenshot(page, 'intake');
    await page.getByRole('button', { name: '受理申请' }).click();
    await settled(page.waitForURL(/\/console\/copy-requests\/[0-9a-f-]{36}$/));
    requestId = new URL(page.url()).pathname.split('/').at(-1) as string;

    const request = await stored();
    expect(request).toMatchObject({
      patient: stay.patient.id,
      requesterType: 'patient',
      requester: { name: stay.name, idNumber: ID_NUMBER },
      purpose: '医保报销',
      scope: { all: true },
      status: 'received',
      receivedBy: 'clerk-liu',
      checklist: { required: ['id-card'], presented: ['id-card'], missing: [] },
    });
    expect(request.evidence).toEqual([expect.objectContaining({ proves: 'id-card', contentType: 'image/png', size: photoBytes.length, sha256: createHash('sha256').update(photoBytes).digest('hex') })]);
    const [kept] = (await db.query<{ content: Buffer }>('SELECT content FROM copy_evidence WHERE request_id = $1', [requestId])).rows;
    expect(kept.content.equals(photoBytes)).toBe(true);
    // The page shows the hospital's time (Beijing), not the browser's (New York).
    await expect(page.getByTestId('summary').textContent()).resolves.toContain(shanghai(request.receivedAt));
  });

  it('R-30: the clerk checks the documents and identity from the keyboard alone', async () => {
    const box = page.getByRole('checkbox', { name: '已核对申请人身份证件与本人一致' });
    await box.focus();
    await page.keyboard.press('Space');
    await expect(box.isChecked()).resolves.toBe(true);
    await page.keyboard.press('Tab');
    await expect(page.evaluate('document.activeElement?.textContent')).resolves.toBe('核验通过');
    await page.keyboard.press('Enter');
    await untilStatus('verified');
    expect((await stored()).events.map((e) => [e.step, e.by])).toEqual([
      ['received', 'clerk-liu'],
      ['evidence', 'clerk-liu'],
      ['verified', 'clerk-liu'],
    ]);
  });

  it('R-34: the same clerk approving is refused under separation of duties, in the server\'s words; nothing changes', async () => {
    await step('approve').getByRole('button', { name: '批准' }).click();
    const refusal = step('approve').getByTestId('refusal');
    await refusal.waitFor();
    await expect(refusal.getByTestId('server-message').textContent()).resolves.toBe(
      `Copy request ${requestId}: clerk-liu received and verified this request; ` +
        'under separation of duties (policy copyRequests.separationOfDuties) another clerk of the record room approves it (R-34)',
    );
    await expect(refusal.textContent()).resolves.toContain('职责分离：受理或核验此申请的工作人员不能审批');
    await expect(refusal.textContent()).resolves.toContain('copy.separation-of-duties');
    expect((await stored()).status).toBe('verified');
    await screenshot(page, 'refused-separation-of-duties');
  });

  it('R-34: another clerk opens the request from a deep link and approves it', async () => {
    await page.getByRole('button', { name: '退出登录' }).click();
    await page.getByRole('heading', { name: '开发模式登录' }).waitFor();
    await expect(page.evaluate("sessionStorage.getItem('chartwarden.console.session')")).resolves.toBeNull();
    await page.locator('button[data-user="clerk-sun"]').click();
    await page.getByTestId('signed-in-as').waitFor();
    await page.goto(`${server.root}/console/copy-requests/${requestId}`);
    await page.getByRole('heading', { name: `复印申请 · ${stay.name}` }).waitFor();
    await step('approve').getByLabel('审批意见（可不填）').fill('材料齐全，同意复印');
    await step('approve').getByRole('button', { name: '批准' }).click();
    await untilStatus('approved');
    expect((await stored()).events.at(-1)).toMatchObject({ step: 'approved', by: 'clerk-sun', reason: '材料齐全，同意复印' });
  });

  it('R-31/R-32: the copy is produced; the page lists what was copied and what is pending, and previews the very PDF the API stored', async () => {
    await step('produce').getByRole('button', { name: '生成复印件' }).click();
    await untilStatus('produced');
    const [production] = (await stored()).productions;
    expect(production.manifest.map((m) => m.documentType).sort()).toEqual(['admission-record', 'discharge-record']);
    expect(production.pending.map((p) => p.documentType)).toEqual(['operation-record']);
    const card = page.locator('[data-production="1"]');
    await expect(card.textContent()).resolves.toMatch(/入院记录[\s\S]*出院记录|出院记录[\s\S]*入院记录/);
    await expect(card.getByTestId('pending').textContent()).resolves.toContain('手术记录');
    await card.getByRole('button', { name: '预览第 1 份复印件' }).click();
    const frame = page.getByTestId('preview-1');
    await frame.waitFor();
    // The frame shows a blob the page read with the token; saved, it is exactly the bytes the server produced.
    const link = card.getByRole('link', { name: '下载 PDF' });
    expect(await frame.getAttribute('src')).toMatch(/^blob:/);
    expect(await link.getAttribute('href')).toBe(await frame.getAttribute('src'));
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    expect(download.suggestedFilename()).toBe(`copy-${requestId}-1.pdf`);
    const saved = await readFile((await download.path()) as string);
    expect(createHash('sha256').update(saved).digest('hex')).toBe(production.pdfSha256);
    // Printing prints the previewed copy: the button calls print() on the frame's window (stood in for here: headless Chromium has no printer).
    await page.evaluate(`(() => {
      const frame = document.querySelector('[data-testid="preview-1"]');
      window.printedCopies = [];
      Object.defineProperty(frame, 'contentWindow', { get: () => ({ focus() {}, print() { window.printedCopies.push(frame.src); } }) });
    })()`);
    await card.getByRole('button', { name: '打印第 1 份复印件' }).click();
    await expect(page.evaluate('window.printedCopies')).resolves.toEqual([await frame.getAttribute('src')]);
    await expectAccessible();
    await page.waitForTimeout(1500);
    await screenshot(page, 'request-produced');
    // Each reading of the copy is in the audit trail, as the signed-in clerk.
    const reads = await db.query<{ actor: string; outcome: number; patient: string }>("SELECT actor, outcome, patient FROM audit_entry WHERE subtype = 'copy-copies' AND entity_id = $1", [requestId]);
    expect(reads.rows).toEqual([{ actor: 'clerk-sun', outcome: 0, patient: stay.patient.id }]);
  });

  it('R-33: a recipient who is not the requester is refused in words; the requester receives the copy, then the request is closed', async () => {
    const deliver = step('deliver');
    await deliver.getByLabel('领取人姓名').fill('张三');
    await deliver.getByLabel('领取人证件号码').fill('110101199001011234');
    await deliver.getByLabel('已再次核对领取人身份证件').check();
    await deliver.getByLabel('申请人已核对复印件').check();
    await deliver.getByRole('button', { name: '交付' }).click();
    await deliver.getByTestId('refusal').waitFor();
    await expect(deliver.getByTestId('refusal').textContent()).resolves.toContain('领取人不是申请人');
    expect((await stored()).status).toBe('produced');

    await deliver.getByLabel('领取人姓名').fill(stay.name);
    await deliver.getByLabel('领取人证件号码').fill(ID_NUMBER);
    await deliver.getByRole('button', { name: '交付' }).click();
    // The operation record is still a draft: the request stays open for it.
    await untilStatus('partially-delivered');
    expect((await stored()).events.at(-1)).toMatchObject({ step: 'delivered', by: 'clerk-sun', to: { name: stay.name, idNumber: ID_NUMBER }, method: 'in-person', copies: [1] });

    await step('close').getByLabel('关闭理由（如申请人撤回）').fill('手术记录不再补充，申请人同意结案');
    await step('close').getByRole('button', { name: '关闭申请' }).click();
    await untilStatus('closed');
    const closed = await stored();
    expect(closed.events.at(-1)).toMatchObject({ step: 'closed', by: 'clerk-sun', reason: '手术记录不再补充，申请人同意结案' });
    // The history in the hospital's time, each step by the name of who took it.
    const history = (await page.getByTestId('history').textContent()) ?? '';
    expect(history).toContain(`${shanghai(closed.events.at(-1)?.at as string)} · 经办人 孙丽`);
    expect(history).toContain(`${shanghai(closed.events[0].at)} · 经办人 刘芳`);
    expect(history).not.toContain('clerk-');
  });

  it('the queue lists open requests by status with how long each has waited; a closed one with how long it took; English relabels it', async () => {
    // Two more requests, received and checked, by the API as the desk would.
    const clerk = await server.token({ sub: 'clerk-liu', roles: ['record-room'], fhirUser: 'Practitioner/clerk-liu' });
    const open = async (requesterType: string, requester: Record<string, string>) => {
      const res = await httpRequest<CopyRequestView>(`${server.root}/copy-requests`, 'POST', { token: clerk, contentType: 'application/json', headers: { accept: 'application/json' }, body: { patient: stay.patient.id, requesterType, requester, purpose: '商业保险理赔', scope: { all: true } } });
      expect(res.status).toBe(201);
      return res.body.id;
    };
    const agentRequest = await open('agent', { name: '李四', idNumber: '110101197501011111' });
    const checkedRequest = await open('patient', { name: stay.name, idNumber: ID_NUMBER });
    const upload = await fetch(`${server.root}/copy-requests/${checkedRequest}/evidence?proves=id-card`, { method: 'POST', headers: { authorization: `Bearer ${clerk}`, 'content-type': 'image/png' }, body: PNG });
    expect(upload.status).toBe(201);
    expect((await httpRequest(`${server.root}/copy-requests/${checkedRequest}/verify`, 'POST', { token: clerk, contentType: 'application/json', body: { identityChecked: true } })).status).toBe(200);
    // 47 minutes later (the browser's clock; the sign-in lasts an hour).
    await page.clock.install();
    await page.clock.setSystemTime(Date.now() + 47 * 60_000);
    await page.getByRole('link', { name: '复印申请', exact: true }).click();
    await page.getByRole('button', { name: '刷新' }).click();
    const row = (id: string) => page.locator(`tr[data-request="${id}"]`);
    await row(agentRequest).waitFor();
    await expect(row(agentRequest).textContent()).resolves.toMatch(/^.*4[6-8]分钟.*李四 · 患者代理人已受理—/);
    await expect(row(checkedRequest).textContent()).resolves.toMatch(/4[6-8]分钟.*已核验/);
    expect(await row(requestId).count()).toBe(0);
    await expectAccessible();
    await screenshot(page, 'queue');
    await page.getByRole('tab', { name: /已关闭/ }).click();
    await row(requestId).waitFor();
    const closed = (await row(requestId).textContent()) ?? '';
    expect(closed).toContain(shanghai((await stored()).receivedAt));
    expect(closed).toContain(`${stay.name} · 患者本人`);
    // Closed within the minute: how long it took, not how long since.
    expect(closed).toContain('不到1分钟');
    expect(closed).toContain('1 份待补');
    await page.locator('label', { hasText: 'English' }).click();
    await page.getByRole('heading', { name: 'Copy requests' }).waitFor();
    await expect(page.evaluate('document.documentElement.lang')).resolves.toBe('en');
    await expect(row(requestId).textContent()).resolves.toContain('Closed');
    await expect(row(requestId).textContent()).resolves.toContain('under a minute');
    await page.locator('label', { hasText: '中文' }).click();
    await page.getByRole('heading', { name: '复印申请' }).waitFor();
  });

  it('R-34: refusing says why: without a reason the server\'s refusal is shown; with one the request is refused and closed', async () => {
    const [agentRequest] = (await httpRequest<CopyRequestView[]>(`${server.root}/copy-requests?patient=${stay.patient.id}&status=received`, 'GET', { token: reader, headers: { accept: 'application/json' } })).body.map((r) => r.id);
    await page.goto(`${server.root}/console/copy-requests/${agentRequest}`);
    // The agent's checklist, all of it missing.
    await expect(page.getByTestId('checklist-status').textContent()).resolves.toMatch(/缺少患者（或近亲属）有效身份证明缺少代理人有效身份证明缺少代理关系证明缺少授权委托书/);
    await step('refuse').getByRole('button', { name: '拒绝' }).click();
    await step('refuse').getByTestId('refusal').waitFor();
    await expect(step('refuse').getByTestId('server-message').textContent()).resolves.toBe('A refusal says why: send {"reason": "…"} (R-34)');
    expect((await stored(agentRequest)).status).toBe('received');
    await step('refuse').getByLabel('拒绝理由').fill('委托书未经公证');
    await step('refuse').getByRole('button', { name: '拒绝' }).click();
    await page.locator('h2 ~ [data-status="refused"]').waitFor();
    const refused = await stored(agentRequest);
    expect(refused).toMatchObject({ status: 'refused', closedAt: expect.any(String) });
    expect(refused.events.at(-1)).toMatchObject({ step: 'refused', by: 'clerk-sun', reason: '委托书未经公证' });
    await page.getByText('此申请已办结。').waitFor();
  });

  it('the console ran under its strict CSP without a violation or a script error', () => {
    expect(cspViolations).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
