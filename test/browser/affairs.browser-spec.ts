import { jest } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import pg from 'pg';
import type { Bundle, Composition } from '@medplum/fhirtypes';
import type { AccessGrant } from '../../src/access/access-grant.repository.js';
import type { DisputeView } from '../../src/disputes/dto/dispute.view.js';
import type { Amendment } from '../../src/governance/amendment.service.js';
import { httpRequest } from '../support/http.js';
import { startTestServer, testDatabaseUrl, TestClock, type TestServer } from '../support/test-app.js';
import { controlCount, launchChromium, lowContrastText, newPage, screenshot, shanghai, unnamedControls } from './support/browser.js';
import { ensureConsoleBuilt } from './support/console-build.js';
import { seedInpatientStay, seedStaff } from './support/record-room-data.js';

/**
 * Medical affairs (医务处) in the staff console, in Debian's Chromium against a real server and
 * PostgreSQL (issue #18): one inbox of a sealed case waiting for an unseal approval, a
 * break-the-glass use to review, an amendment request and an access grant,
 * seeded through the API minutes apart and shown oldest first with hospital times and how long
 * each has waited. 吴敏 approves the unseal (resolved, with a reason: the confirmation is stored,
 * and the officer can then unseal alone), approves the grant (cut to the policy's 30 days),
 * reviews the break-the-glass from the keyboard, and refusing the amendment without a note is
 * refused in words. After each step the test reads what the API stored.
 */
jest.setTimeout(120_000);

const MINUTE = 60_000;
const PATIENT_SIDE = { name: '王小明', relationship: 'spouse', idDocument: { type: 'resident-id-card', number: '110101199001011234' }, confirmed: true };
const BTG = { category: 'http://terminology.hl7.org/CodeSystem/v3-ActReason#BTG; scheme="http://hl7.org/fhir/tag/security"' };

describe('Console: medical affairs approves from one inbox (browser, real HTTP + PostgreSQL)', () => {
  const clock = new TestClock();
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let cspViolations: string[];
  let pageErrors: string[];
  let db: pg.Client;
  let officer: string;
  let affairs: string;
  const names: Record<'sealed' | 'btg' | 'amended' | 'borrowed', string> = { sealed: '', btg: '', amended: '', borrowed: '' };
  let caseId: string;
  let sealedAt: string;
  let btgId: string;
  let amendmentId: string;
  let grantId: string;

  const api = <T>(token: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    httpRequest<T>(`${server.root}${path}`, method, { token, body, contentType: 'application/json', headers: { accept: 'application/json', ...headers } });
  const grant = async () => (await api<AccessGrant[]>(affairs, 'GET', '/access/grants')).body.find((g) => g.id === grantId) as AccessGrant;
  const item = (key: string) => page.locator(`tr[data-item="${key}"]`);
  const drawer = () => page.getByRole('dialog');
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
    server = await startTestServer({ clock, console: { enabled: true, redirectRoot: true } });
    db = new pg.Client({ connectionString: testDatabaseUrl() });
    await db.connect();
    await seedStaff(server, ['affairs-wu', 'officer-zhou', 'dr-wang', 'dr-li']);
    officer = await server.token({ sub: 'officer-zhou', roles: ['disputes-officer'], fhirUser: 'Practitioner/officer-zhou' });
    affairs = await server.token({ sub: 'affairs-reader', roles: ['medical-affairs'] });
    const witness = await server.token({ sub: 'officer-qian', roles: ['disputes-officer'], fhirUser: 'Practitioner/officer-qian' });
    const drWang = await server.token({ sub: 'dr-wang', roles: ['attending'], department: 'dept-cardiology', licence: 'licensed', fhirUser: 'Practitioner/dr-wang' });
    const drLi = await server.token({ sub: 'dr-li', roles: ['resident'], department: 'dept-cardiology', licence: 'licensed', fhirUser: 'Practitioner/dr-li' });
    const his = await server.token();

    // 1. A dispute sealed with both sides present (the disputes e2e sequence): open, the witness confirms the inventory, seal.
    const sealedStay = await seedInpatientStay(server, 'Practitioner/dr-zhao');
    names.sealed = sealedStay.name;
    const opened = await api<DisputeView>(officer, 'POST', '/disputes', { patient: `Patient/${sealedStay.patient.id}`, reason: '患方对手术结果有异议', scope: { kind: 'whole-record' } });
    expect(opened.status).toBe(201);
    caseId = opened.body.id;
    const { digest } = (await api<{ digest: string }>(officer, 'GET', `/disputes/${caseId}/inventory`)).body;
    expect((await api(witness, 'POST', `/disputes/${caseId}/confirmations`, { step: 'seal', inventoryDigest: digest })).status).toBe(201);
    const sealed = await api<DisputeView>(officer, 'POST', `/disputes/${caseId}/seal`, { inventoryDigest: digest, patientWitness: PATIENT_SIDE });
    expect([sealed.status, sealed.body.status]).toEqual([200, 'sealed']);
    sealedAt = sealed.body.sealedAt as string;

    // 2. Twelve minutes later: a cardiologist breaks the glass on a surgical patient, with the reason stated.
    clock.advance(12 * MINUTE);
    const btgStay = await seedInpatientStay(server, 'Practitioner/dr-zhao');
    names.btg = btgStay.name;
    const read = await httpRequest(`${server.fhirBase}/Patient/${btgStay.patient.id}`, 'GET', { token: drWang, headers: { ...BTG, 'x-break-glass-reason': encodeURIComponent('夜间急诊会诊，需查阅既往病历') } });
    expect(read.status).toBe(200);
    btgId = (await api<AccessGrant[]>(affairs, 'GET', '/access/break-glass?unreviewed=true')).body.find((b) => b.patientId === btgStay.patient.id)?.id as string;
    expect(btgId).toEqual(expect.any(String));

    // 3. Eight minutes later: the resident who wrote it asks to amend his operation record.
    clock.advance(8 * MINUTE);
    const amendedStay = await seedInpatientStay(server, 'Practitioner/dr-li');
    names.amended = amendedStay.name;
    const docs = await httpRequest<Bundle<Composition>>(`${server.fhirBase}/Composition?patient=${amendedStay.patient.id}`, 'GET', { token: his });
    const operation = docs.body.entry?.map((e) => e.resource).find((c) => c?.title === '手术记录') as Composition;
    const asked = await httpRequest<Amendment>(`${server.fhirBase}/Composition/${operation.id}/$amend-request`, 'POST', { token: drLi, body: { reason: '补充术中出血量' }, contentType: 'application/json' });
    expect([asked.status, asked.text]).toEqual([201, expect.any(String)]);
    amendmentId = asked.body.id;

    // 4. Eleven minutes later: a research grant asked for 60 days (the policy allows 30).
    clock.advance(11 * MINUTE);
    const borrowedStay = await seedInpatientStay(server, 'Practitioner/dr-zhao');
    names.borrowed = borrowedStay.name;
    const requested = await api<AccessGrant>(drWang, 'POST', '/access/grants', {
      grantee: 'dr-wang',
      patient: `Patient/${borrowedStay.patient.id}`,
      purpose: 'research',
      reason: '冠心病术后随访回顾性研究',
      until: new Date(clock.now().getTime() + 60 * 86_400_000).toISOString(),
    });
    expect([requested.status, requested.body.status]).toEqual([201, 'requested']);
    grantId = requested.body.id;

    browser = await launchChromium();
    ({ page, cspViolations, pageErrors } = await newPage(browser));
    // The browser reads the inbox 14 minutes after the grant was asked for.
    await page.clock.install({ time: clock.now().getTime() + 14 * MINUTE + 20_000 });
  });
  afterAll(async () => {
    await browser?.close();
    await db?.end();
    await server?.close();
  });

  it('吴敏 signs in and lands on one inbox: all four kinds, oldest first, with patients by name, hospital times and how long each has waited', async () => {
    await page.goto(`${server.root}/console/`);
    await page.locator('button[data-user="affairs-wu"]').click();
    await page.getByTestId('signed-in-as').waitFor();
    expect(new URL(page.url()).pathname).toBe('/console/approvals');
    await page.getByRole('heading', { name: '医务处审批待办' }).waitFor();
    const mine = [`unseal:${caseId}`, `break-glass:${btgId}`, `amendment:${amendmentId}`, `grant:${grantId}`];
    // The inbox shows each list as it arrives (unseal approvals, break-the-glass, amendments, grants): wait for every item.
    for (const key of mine) await item(key).waitFor();
    // Names are read from FHIR after the lists: wait for the last patient's.
    await item(mine[2]).getByText(names.amended, { exact: true }).waitFor();
    const order = await page.locator('tr[data-item]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-item')));
    expect(order.filter((k) => mine.includes(k as string))).toEqual(mine);

    const row = async (key: string) => ((await item(key).locator('td').allTextContents()) as string[]).slice(0, 6);
    expect(await row(mine[0])).toEqual(['启封审批', shanghai(sealedAt), '45分钟', '周伟', names.sealed, '患方对手术结果有异议']);
    expect(await row(mine[1])).toEqual(['紧急授权复核', expect.any(String), '33分钟', '王建国', names.btg, '夜间急诊会诊，需查阅既往病历']);
    expect(await row(mine[2])).toEqual(['病历修改', expect.any(String), '25分钟', '李明', names.amended, '补充术中出血量']);
    expect(await row(mine[3])).toEqual(['借阅申请', expect.any(String), '14分钟', '王建国', names.borrowed, '冠心病术后随访回顾性研究']);
    await expectAccessible();
    await screenshot(page, 'affairs-inbox');
  });

  it('R-43: medical affairs approves unsealing the case (resolved, with a reason); the confirmation is stored and the officer can unseal alone', async () => {
    await item(`unseal:${caseId}`).getByRole('button', { name: new RegExp(`^审批启封：${names.sealed}`) }).click();
    await drawer().getByTestId('item-details').waitFor();
    const details = (await drawer().getByTestId('item-details').textContent()) ?? '';
    expect(details).toContain(`封存时间${shanghai(sealedAt)}`);
    expect(details).toContain('封存经办人周伟');
    expect(details).toContain('案件事由患方对手术结果有异议');
    // The date from which no claim is a basis: the server states the default policy's 3 years, and the drawer shows the date they end.
    const config = (await httpRequest<{ disputes?: { unilateralUnsealAfterYears?: number } }>(`${server.root}/console/config.json`, 'GET', { headers: { accept: 'application/json' } })).body;
    const years = config.disputes?.unilateralUnsealAfterYears;
    expect(years).toBe(3);
    const from = new Date(sealedAt);
    from.setUTCFullYear(from.getUTCFullYear() + 3);
    await expect(drawer().getByTestId('no-claim-from').textContent()).resolves.toContain(shanghai(from.toISOString()));
    await expect(drawer().getByRole('radio', { name: /未提起诉讼/ }).isDisabled()).resolves.toBe(true);
    await drawer().getByRole('radio', { name: /纠纷已解决/ }).check();
    await drawer().getByLabel('说明（如何解决，或为何预计不会起诉）').fill('双方经人民调解委员会调解达成协议，已结案');
    await expectAccessible();
    await screenshot(page, 'affairs-unseal-approval');
    await drawer().getByRole('button', { name: '批准启封' }).click();
    await settled(drawer().getByTestId('decided').waitFor());
    await expect(drawer().getByTestId('decided').textContent()).resolves.toMatch(/^已批准启封（纠纷已解决）/);

    const stored = (await db.query<{ step: string; kind: string; basis: string; reason: string; actor_id: string }>('SELECT step, kind, basis, reason, actor_id FROM dispute_confirmation WHERE dispute_id = $1 ORDER BY confirmed_at', [caseId])).rows;
    expect(stored).toEqual([
      expect.objectContaining({ step: 'seal', kind: 'hospital-witness', actor_id: 'officer-qian' }),
      { step: 'unseal', kind: 'unseal-approval', basis: 'resolved', reason: '双方经人民调解委员会调解达成协议，已结案', actor_id: 'affairs-wu' },
    ]);
    await page.getByRole('button', { name: '关闭详情' }).click();
    await drawer().waitFor({ state: 'detached' });
    expect(await item(`unseal:${caseId}`).count()).toBe(0);
    // The patient's name comes with its own request: waited for, as a person would.
    await page.getByTestId('recent-unseals').getByText(`${names.sealed} · 纠纷已解决`).waitFor();
    // Issue #18: the approval is the API's (GET /disputes/{id}/confirmations), not this tab's memory: after a reload the case still does not wait.
    const listed = await api<{ kind: string; basis: string; by: { id: string } }[]>(officer, 'GET', `/disputes/${caseId}/confirmations`);
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual([expect.objectContaining({ kind: 'unseal-approval', basis: 'resolved', by: expect.objectContaining({ id: 'affairs-wu' }) })]);
    await page.evaluate('sessionStorage.removeItem("chartwarden.console.affairs.unseal-approvals")');
    await page.reload();
    await settled(page.getByTestId('recent-unseals').waitFor());
    await item(`grant:${grantId}`).waitFor();
    await page.getByTestId('recent-unseals').getByText(`${names.sealed} · 纠纷已解决`).waitFor();
    expect(await item(`unseal:${caseId}`).count()).toBe(0);
    // The officer now unseals alone on that basis, and the case names medical affairs' approval.
    const unsealed = await api<DisputeView>(officer, 'POST', `/disputes/${caseId}/unseal`, { basis: 'resolved' });
    expect(unsealed.status).toBe(200);
    expect(unsealed.body).toMatchObject({ status: 'unsealed', unsealing: { basis: 'resolved', reason: '双方经人民调解委员会调解达成协议，已结案', approvedBy: { id: 'affairs-wu' } } });
  });

  it('R-05: approving the grant from its row cuts it to the policy\'s 30 days, says so, and it leaves the inbox', async () => {
    await item(`grant:${grantId}`).getByRole('button', { name: new RegExp(`^批准借阅申请：${names.borrowed}`) }).click();
    await settled(page.getByTestId('notice').getByText(/^已批准。申请借阅至/).waitFor());
    const approved = await grant();
    expect(approved).toMatchObject({ status: 'approved', decidedBy: 'affairs-wu' });
    expect(Date.parse(approved.validUntil as string) - Date.parse(approved.validFrom as string)).toBe(30 * 86_400_000);
    await expect(page.getByTestId('notice').textContent()).resolves.toBe(`已批准。申请借阅至 ${shanghai(approved.requestedUntil)}，按政策上限截至 ${shanghai(approved.validUntil as string)}。`);
    await item(`grant:${grantId}`).waitFor({ state: 'detached' });
  });

  it('R-04: the break-the-glass use is reviewed from the keyboard alone, and the API keeps the review', async () => {
    await item(`break-glass:${btgId}`).getByRole('button', { name: /^查看紧急授权复核详情/ }).focus();
    await page.keyboard.press('Enter');
    const note = drawer().getByLabel('复核意见（可不填）');
    await note.waitFor();
    await note.focus();
    await page.keyboard.type('急诊会诊属实');
    await page.keyboard.press('Tab');
    await expect(page.evaluate('document.activeElement?.textContent')).resolves.toBe('确认已复核');
    await page.keyboard.press('Enter');
    await settled(drawer().getByTestId('decided').waitFor());
    const reviewed = (await api<AccessGrant[]>(affairs, 'GET', '/access/break-glass')).body.find((b) => b.id === btgId);
    expect(reviewed).toMatchObject({ reviewedBy: 'affairs-wu', reviewNote: '急诊会诊属实', reviewedAt: expect.any(String) });
    await page.keyboard.press('Escape');
    await drawer().waitFor({ state: 'detached' });
    await item(`break-glass:${btgId}`).waitFor({ state: 'detached' });
  });

  it('R-04: a use a colleague reviewed meanwhile is refused in words when reviewed again, and leaves the inbox', async () => {
    const stay = await seedInpatientStay(server, 'Practitioner/dr-zhao');
    const drWang = await server.token({ sub: 'dr-wang', roles: ['attending'], department: 'dept-cardiology', licence: 'licensed', fhirUser: 'Practitioner/dr-wang' });
    const read = await httpRequest(`${server.fhirBase}/Patient/${stay.patient.id}`, 'GET', { token: drWang, headers: { ...BTG, 'x-break-glass-reason': encodeURIComponent('抢救时需核对过敏史') } });
    expect(read.status).toBe(200);
    const second = (await api<AccessGrant[]>(affairs, 'GET', '/access/break-glass?unreviewed=true')).body.find((b) => b.patientId === stay.patient.id) as AccessGrant;
    await page.getByRole('button', { name: '刷新' }).click();
    await item(`break-glass:${second.id}`).getByRole('button', { name: /^查看紧急授权复核详情/ }).click();
    // A colleague reviews it first, with their own request.
    const colleague = await api<AccessGrant>(affairs, 'POST', `/access/break-glass/${second.id}/review`, { note: '已电话核实' });
    expect([colleague.status, colleague.body.reviewedBy]).toEqual([200, 'affairs-reader']);
    const review = drawer().locator('form[data-decision="review"]');
    await review.getByRole('button', { name: '确认已复核' }).click();
    await review.getByTestId('refusal').waitFor();
    await expect(review.getByTestId('server-message').textContent()).resolves.toBe(`Break-the-glass ${second.id} was reviewed by affairs-reader at ${colleague.body.reviewedAt}`);
    await expect(review.getByTestId('refusal-explained').textContent()).resolves.toBe('此事项已处理过，或当前状态不允许此操作。');
    await expect(review.textContent()).resolves.toContain('grant.wrong-state');
    const kept = (await api<AccessGrant[]>(affairs, 'GET', '/access/break-glass')).body.find((b) => b.id === second.id);
    expect(kept).toMatchObject({ reviewedBy: 'affairs-reader', reviewNote: '已电话核实' });
    await page.keyboard.press('Escape');
    await drawer().waitFor({ state: 'detached' });
    await item(`break-glass:${second.id}`).waitFor({ state: 'detached' });
  });

  it('R-11: refusing the amendment without a note is refused in words; with one it is refused and leaves the inbox', async () => {
    await item(`amendment:${amendmentId}`).getByRole('button', { name: /^查看病历修改详情/ }).click();
    const refuse = drawer().locator('form[data-decision="refuse"]');
    await refuse.waitFor();
    await expectAccessible();
    await refuse.getByRole('button', { name: '拒绝' }).click();
    await refuse.getByTestId('refusal').waitFor();
    await expect(refuse.getByTestId('server-message').textContent()).resolves.toBe('A refusal says why: send {"note": "…"}');
    await expect(refuse.getByTestId('refusal-explained').textContent()).resolves.toBe('拒绝须说明理由（R-11）。');
    await expect(refuse.textContent()).resolves.toContain('governance.reason-missing');
    const amendments = async () => (await api<Amendment[]>(affairs, 'GET', '/governance/amendments')).body.find((a) => a.id === amendmentId);
    expect((await amendments())?.status).toBe('requested');
    await refuse.getByLabel('拒绝理由').fill('出血量已记录于麻醉记录，无需修改手术记录');
    await refuse.getByRole('button', { name: '拒绝' }).click();
    await drawer().getByTestId('decided').waitFor();
    expect(await amendments()).toMatchObject({ status: 'refused', decidedBy: 'affairs-wu', decisionNote: '出血量已记录于麻醉记录，无需修改手术记录' });
    await page.keyboard.press('Escape');
    await item(`amendment:${amendmentId}`).waitFor({ state: 'detached' });
  });

  it('the console ran under its strict CSP without a violation or a script error', () => {
    expect({ cspViolations, pageErrors }).toEqual({ cspViolations: [], pageErrors: [] });
  });
});
