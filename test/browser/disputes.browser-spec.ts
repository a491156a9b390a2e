import { jest } from '@jest/globals';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import pg from 'pg';
import type { DisputeView, InventoryView } from '../../src/disputes/dto/dispute.view.js';
import type { Bundle, Composition } from '@medplum/fhirtypes';
import { editable, expectOutcome } from '../support/fhir-expect.js';
import { httpRequest, seedAs } from '../support/http.js';
import { startTestServer, testDatabaseUrl, type TestServer } from '../support/test-app.js';
import { pdfPages } from '../support/pdf-text.js';
import { controlCount, drawByTouch, launchChromium, lowContrastText, newPage, screenshot, shanghai, TABLET, unnamedControls } from './support/browser.js';
import { ensureConsoleBuilt } from './support/console-build.js';
import { seedInpatientStay, seedStaff } from './support/record-room-data.js';

/**
 * Chooses the witness in the sign-in dialog's searchable select, as a person does: types the name,
 * picks the option, and looks that it took. On a loaded machine a click can land while the list
 * re-renders after the typing, and the choice is lost; the person would pick again.
 */
async function chooseWitness(page: Page, dialog: ReturnType<Page['getByRole']>, name: string): Promise<void> {
  const confirm = dialog.getByRole('button', { name: '登录并确认' });
  for (let attempt = 1; ; attempt++) {
    await dialog.getByLabel('见证人', { exact: true }).fill(name);
    await page.getByRole('option', { name: new RegExp(name) }).click();
    if (await confirm.isEnabled()) return;
    await page.waitForTimeout(500);
    if (await confirm.isEnabled()) return;
    if (attempt === 3) throw new Error(`the witness ${name} could not be chosen in three tries`);
  }
}

/**
 * The disputes office (医患办) in the staff console, in Debian's Chromium against a real server
 * and PostgreSQL (issue #18, R-40…R-44): officer 周伟 signs in, opens a case for one stay from the
 * patient's visits, shows both sides the inventory (文书名称, 日期, 版本, the digest), and seals it
 * with both sides on the same screen, the tablet at the table (1024×768, touch): the hospital
 * side's witness signs in on a dialog with their own account (周伟 himself is refused, in words:
 * disputes.self-witness), the patient side says who they are (the relationship has no default)
 * and draws their signature with a finger. A write to the sealed record is then refused (423).
 * A second case is opened by a date range as a public-opinion incident with its team.
 * After each step the test reads what the API and the database stored: the case's status, scope
 * and team, the witnesses, and that the signature's recorded SHA-256 is the hash of the PNG kept.
 */
jest.setTimeout(120_000);

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const flat = (text: string): string => text.replace(/\s+/g, '');
/** A day in the hospital's zone (Asia/Shanghai), as a date input holds it: YYYY-MM-DD. */
const hospitalDay = (at: number): string => new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(new Date(at));
const ID_NUMBER = '110101199001011234';

describe('Console: the disputes office from opening a case to sealing it (browser, real HTTP + PostgreSQL)', () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  /** Every page of the run (the officer's laptop, the tablet at the table), with what it reported: CSP violations and script errors. */
  const opened: Awaited<ReturnType<typeof newPage>>[] = [];
  const open = async (options: Parameters<typeof newPage>[1] = {}): Promise<Page> => {
    opened.push(await newPage(browser, options));
    return opened[opened.length - 1].page;
  };
  const signIn = async (user: string) => {
    await page.goto(`${server.root}/console/`);
    await page.locator(`button[data-user="${user}"]`).click();
    await page.getByTestId('signed-in-as').waitFor();
  };
  let db: pg.Client;
  let reader: string;
  let stay: Awaited<ReturnType<typeof seedInpatientStay>>;
  let caseId: string;
  let shownDigest: string;
  let outpatient: string;

  const api = async <T>(path: string) => {
    const res = await httpRequest<T>(`${server.root}/disputes${path}`, 'GET', { token: reader, headers: { accept: 'application/json' } });
    expect(res.status).toBe(200);
    return res.body;
  };
  /** What the API stored: the case as a disputes-office token reads it. */
  const stored = () => api<DisputeView>(`/${caseId}`);
  const settled = (done: Promise<unknown>) =>
    Promise.race([
      done,
      page
        .getByTestId('dispute-refusal')
        .first()
        .waitFor()
        .then(async () => Promise.reject(new Error(`the page shows a refusal: ${await page.getByTestId('dispute-refusal').first().textContent()}`))),
    ]);
  const expectAccessible = async () => {
    await page.mouse.move(0, 0);
    expect(await controlCount(page)).toBeGreaterThan(3);
    expect(await unnamedControls(page)).toEqual([]);
    expect(await lowContrastText(page)).toEqual([]);
  };
  const choose = async (label: string, option: string, scope = page.locator('body')) => {
    // The label of a required field ends in an asterisk: matched as a part.
    await scope.getByLabel(label).click();
    await page.getByRole('option', { name: option, exact: true }).click();
  };

  beforeAll(async () => {
    await ensureConsoleBuilt();
    server = await startTestServer({ console: { enabled: true, redirectRoot: true } });
    db = new pg.Client({ connectionString: testDatabaseUrl() });
    await db.connect();
    reader = await server.token({ sub: 'disputes-reader', roles: ['disputes-officer'] });
    stay = await seedInpatientStay(server, 'Practitioner/dr-wang');
    await seedStaff(server, ['officer-zhou', 'affairs-wu', 'dr-wang']);
    // An earlier outpatient visit to cardiology, which the case leaves out.
    const his = await server.token();
    expect((await httpRequest(`${server.fhirBase}/Organization/dept-cardiology`, 'PUT', { token: his, body: { resourceType: 'Organization', id: 'dept-cardiology', name: '心内科' } })).status).toBeLessThan(300);
    outpatient = (
      await seedAs(server.fhirBase, his, {
        resourceType: 'Encounter',
        status: 'finished',
        class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
        subject: { reference: `Patient/${stay.patient.id}` },
        serviceProvider: { reference: 'Organization/dept-cardiology' },
        period: { start: '2026-10-09T01:30:00Z', end: '2026-10-09T02:10:00Z' },
      })
    ).id;
    browser = await launchChromium();
    page = await open();
  });
  afterAll(async () => {
    await browser?.close();
    await db?.end();
    await server?.close();
  });

  it('R-40: the officer lands on the board and opens a case for one stay, chosen from the patient\'s visits', async () => {
    await signIn('officer-zhou');
    expect(new URL(page.url()).pathname).toBe('/console/disputes');
    await page.getByRole('heading', { name: '纠纷案件' }).waitFor();

    await page.getByRole('link', { name: '新建封存案件' }).first().click();
    await page.getByRole('heading', { name: '新建封存案件' }).waitFor();
    await page.getByLabel('查找患者（姓名、病案号或 ID）').fill(stay.name);
    await page.getByRole('button', { name: '查找', exact: true }).click();
    await page.getByRole('radio', { name: new RegExp(`病案号 ${stay.recordNumber}`) }).check();
    await page.getByRole('radio', { name: '指定就诊' }).check();
    // The visit as the officer reads it: 就诊类型, 科室, admitted and discharged in Beijing time.
    const visit = page.locator(`tr[data-encounter="${stay.encounter}"]`);
    await visit.waitFor();
    const { body: encounter } = await httpRequest<{ period: { start: string; end: string } }>(`${server.fhirBase}/Encounter/${stay.encounter}`, 'GET', { token: reader });
    await expect(visit.textContent()).resolves.toBe(`住院—${shanghai(encounter.period.start)}${shanghai(encounter.period.end)}`);
    await expect(page.locator(`tr[data-encounter="${outpatient}"]`).textContent()).resolves.toBe(`门诊心内科${shanghai('2026-10-09T01:30:00Z')}${shanghai('2026-10-09T02:10:00Z')}`);
    await visit.getByRole('checkbox').check();
    await page.getByLabel('封存原因').fill('患方对手术结果有异议');
    await expectAccessible();
    await screenshot(page, 'disputes-open');
    await page.getByRole('button', { name: '立案', exact: true }).click();
    await settled(page.waitForURL(/\/console\/disputes\/[0-9a-f-]{36}$/));
    caseId = new URL(page.url()).pathname.split('/').at(-1) as string;

    expect(await stored()).toMatchObject({
      patient: stay.patient.id,
      status: 'open',
      trigger: 'dispute',
      scope: { kind: 'encounters', encounters: [stay.encounter] },
      reason: '患方对手术结果有异议',
      openedBy: 'officer-zhou',
      copies: [],
    });

    // The board lists it, newest first, under 待封存, with the patient's name.
    await page.getByRole('link', { name: '纠纷案件' }).click();
    const row = page.locator(`tr[data-case="${caseId}"]`);
    await row.getByText(stay.name).waitFor();
    await expect(row.textContent()).resolves.toBe(`${shanghai((await stored()).openedAt)}${stay.name}医疗纠纷患方对手术结果有异议待封存——打开`);
    // Other suites open cases in the same database meanwhile: this patient's open cases are this one alone.
    expect((await api<DisputeView[]>('?status=open')).map((c) => c.id)).toContain(caseId);
    expect((await api<DisputeView[]>(`?status=open&patient=Patient/${stay.patient.id}`)).map((c) => c.id)).toEqual([caseId]);
    await expectAccessible();
    await screenshot(page, 'disputes-board');
  });

  it('R-40: both sides are shown the inventory in words (文书名称, 日期, 版本; 页数 once sealed) and the digest the API computed', async () => {
    await page.locator(`tr[data-case="${caseId}"]`).getByRole('link').click();
    await page.getByRole('heading', { name: `封存案件 · ${stay.name}` }).waitFor();
    const inventory = await api<InventoryView>(`/${caseId}/inventory`);
    shownDigest = inventory.digest;
    const table = page.getByTestId('inventory-table');
    await table.waitFor();
    expect(await table.locator('tbody tr').count()).toBe(inventory.lines.length);
    const names = await table.locator('tbody tr td:nth-child(2)').allTextContents();
    for (const name of ['入院记录', '出院记录', '手术记录']) expect(names.join('|')).toContain(name);
    const pending = inventory.lines.filter((l) => l.status === 'pending');
    expect(pending.map((l) => inventory.described[`${l.type}/${l.id}`].name)).toEqual([expect.stringContaining('手术记录')]);
    await expect(table.locator(`tr[data-line="${pending[0].type}/${pending[0].id}"]`).textContent()).resolves.toContain('待补充封存');
    // 页数 are counted when the copy is made: before sealing each line says so, to the pointer and to a screen reader.
    expect(inventory.lines.map((l) => l.pages)).toEqual(inventory.lines.map(() => undefined));
    const unknown = table.locator('td[data-column="pages"]');
    expect(await unknown.allTextContents()).toEqual(inventory.lines.map(() => '—页数在封存时计算'));
    expect(await table.getByTestId('pages-unknown').evaluateAll((cells) => cells.map((c) => c.getAttribute('title')))).toEqual(inventory.lines.map(() => '页数在封存时计算'));
    await expect(page.getByTestId('digest').textContent()).resolves.toBe(shownDigest.match(/.{8}/g)?.join(' '));
    await expectAccessible();
    await screenshot(page, 'disputes-inventory');
  });

  it('R-40: at the table, on the tablet, the officer cannot witness his own case (refused in words, nothing stored); medical affairs signs in on the same screen and confirms', async () => {
    // Both sides sit at a tablet: the officer signs in on it and opens the case from the board.
    page = await open(TABLET);
    await signIn('officer-zhou');
    await page.locator(`tr[data-case="${caseId}"]`).getByRole('link').click();
    await page.getByRole('heading', { name: `封存案件 · ${stay.name}` }).waitFor();
    expect(page.viewportSize()).toEqual({ width: 1024, height: 768 });
    expect(await page.evaluate('navigator.maxTouchPoints')).toBeGreaterThan(0);
    const witness = page.getByTestId('witness-seal');
    await witness.getByRole('button', { name: '见证人登录并确认' }).click();
    const dialog = page.getByRole('dialog', { name: '见证人登录' });
    await chooseWitness(page, dialog, '周伟');
    await dialog.getByRole('button', { name: '登录并确认' }).click();
    const refusal = dialog.getByTestId('dispute-refusal');
    await refusal.waitFor();
    await expect(refusal.getByTestId('refusal-explained').textContent()).resolves.toBe('经办人不能作本案的见证人：请医务处或另一位医患办工作人员用本人账号确认（R-40）。');
    await expect(refusal.getByTestId('server-message').textContent()).resolves.toBe(
      `You opened or sealed dispute ${caseId}: the hospital side's witness is another person, with their own request (R-40, R-43)`,
    );
    await expect(refusal.textContent()).resolves.toContain('disputes.self-witness');
    expect((await db.query('SELECT 1 FROM dispute_confirmation WHERE dispute_id = $1', [caseId])).rows).toEqual([]);

    await chooseWitness(page, dialog, '吴敏');
    await dialog.getByRole('button', { name: '登录并确认' }).click();
    await witness.getByTestId('witness-confirmed').waitFor();
    await expect(witness.getByTestId('witness-confirmed').textContent()).resolves.toContain('吴敏 已确认');
    const confirmations = await db.query<{ actor_id: string; inventory_digest: string; step: string }>('SELECT actor_id, inventory_digest, step FROM dispute_confirmation WHERE dispute_id = $1', [caseId]);
    expect(confirmations.rows).toEqual([{ actor_id: 'affairs-wu', inventory_digest: shownDigest, step: 'seal' }]);
    // The witness's token was for that request only: the officer is still the one signed in, and nothing of it is kept.
    await expect(page.getByTestId('signed-in-as').textContent()).resolves.toBe('周伟（医患办）');
    const storage = (await page.evaluate('JSON.stringify({ ...sessionStorage, ...localStorage })')) as string;
    expect(storage.match(/eyJ[\w-]+\.[\w-]+\.[\w-]+/g)).toHaveLength(1);
    expect((await stored()).status).toBe('open');
  });

  it('R-40: the patient side says who they are (no relationship assumed) and draws a signature with a finger; the officer seals; the copy records the signature\'s hash, which is the PNG stored', async () => {
    const side = page.getByTestId('patient-side');
    const seal = page.locator('form[data-step="seal"]').getByRole('button', { name: '封存' });
    await side.getByLabel('患方姓名').fill('李梅');
    await side.getByLabel('证件号码').fill(ID_NUMBER);
    // Nobody is taken for the patient: until the relationship is chosen the seal waits, and says why.
    await expect(side.getByLabel('与患者关系').inputValue()).resolves.toBe('');
    await expect(seal.isDisabled()).resolves.toBe(true);
    await expect(page.getByTestId('relationship-missing').textContent()).resolves.toContain('请先选择患方与患者的关系');
    await choose('与患者关系', '配偶', side);
    await expect(seal.isEnabled()).resolves.toBe(true);
    await expect(page.getByTestId('relationship-missing').count()).resolves.toBe(0);
    // The signature, drawn with a finger on the tablet's screen: the pad sees touch pointers.
    const pad = side.getByTestId('signature-pad');
    await pad.scrollIntoViewIfNeeded();
    await pad.evaluate((c) => {
      c.setAttribute('data-pointers', '');
      c.addEventListener('pointerdown', (e: unknown) => c.setAttribute('data-pointers', `${c.getAttribute('data-pointers') ?? ''}${(e as unknown as { pointerType: string }).pointerType} `));
    });
    const box = await pad.boundingBox();
    if (!box) throw new Error('the signature pad is not shown');
    await drawByTouch(
      page,
      Array.from({ length: 25 }, (_, i) => ({ x: box.x + 30 + i * box.width * 0.035, y: box.y + box.height * (0.6 - 0.3 * Math.sin(i / 3)) })),
    );
    await expect(pad.getAttribute('data-pointers')).resolves.toBe('touch ');
    await expect(pad.getAttribute('data-drawn')).resolves.toBe('yes');
    // The confirmation from the keyboard.
    const confirm = side.getByRole('checkbox', { name: '患方 李梅 已核对封存清单及清单摘要，确认无误' });
    await confirm.focus();
    await page.keyboard.press('Space');
    await expect(confirm.isChecked()).resolves.toBe(true);
    await expectAccessible();
    await screenshot(page, 'disputes-seal');

    await seal.click();
    await settled(page.locator('h2 ~ [data-status="sealed"]').waitFor());
    const sealed = await stored();
    expect(sealed.status).toBe('sealed');
    const [copy] = sealed.copies;
    expect(copy.witnesses.hospital).toMatchObject({ id: 'affairs-wu', practitioner: 'Practitioner/affairs-wu', officer: 'Practitioner/officer-zhou' });
    expect(copy.witnesses.patient).toMatchObject({ name: '李梅', relationship: 'spouse', idDocument: { type: 'resident-id-card', number: ID_NUMBER }, confirmed: true });
    expect(copy.inventorySha256).toBe(shownDigest);
    // 页数: each sealed record's pages on the sealed copy (a whole number, within the copy's pages), as the API states them, on screen.
    const { lines } = await api<InventoryView>(`/${caseId}/inventory`);
    const sealedLines = lines.filter((l) => l.status === 'sealed');
    expect(sealedLines.length).toBeGreaterThan(0);
    for (const l of sealedLines) expect([l.type, l.id, Number.isInteger(l.pages) && (l.pages as number) > 0 && (l.pages as number) <= copy.pages]).toEqual([l.type, l.id, true]);
    const first = sealedLines[0];
    await page.locator(`tr[data-line="${first.type}/${first.id}"] td[data-column="pages"]`, { hasText: new RegExp(`^${first.pages}$`) }).waitFor();
    const pagesShown = page.getByTestId('inventory-table').locator('td[data-column="pages"]');
    expect(await pagesShown.allTextContents()).toEqual(lines.map((l) => (l.status === 'sealed' ? String(l.pages) : '—页数在封存时计算')));
    const signature = copy.witnesses.patient?.signature as { sha256: string; size: number; contentType: string };
    const [kept] = (await db.query<{ content: Buffer; sha256: string; step: string }>('SELECT content, sha256, step FROM dispute_signature WHERE dispute_id = $1', [caseId])).rows;
    expect(kept.content.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    expect([signature.contentType, signature.size, signature.sha256, kept.sha256, kept.step]).toEqual(['image/png', kept.content.length, sha256(kept.content), sha256(kept.content), 'seal']);

    // The page shows the signature (read with the token) and its hash, and from when the hospital may unseal alone.
    await page.getByRole('img', { name: '李梅 在平板上的手写签名' }).waitFor();
    await expect(page.getByTestId('signature-sha256').textContent()).resolves.toBe(`SHA-256 ${kept.sha256}`);
    await expect(page.getByTestId('no-claim-from').textContent()).resolves.toContain(`无争议单方启封：自 ${shanghai(sealed.unilateralUnsealFrom as string)} 起可申请`);
    expect(Date.parse(sealed.unilateralUnsealFrom as string) - Date.parse(sealed.sealedAt as string)).toBeGreaterThan(3 * 365 * 86_400_000);

    // The sealed inventory PDF, fetched as a blob with the token: the bytes the API stored.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: '下载第 1 份封存清单 PDF' }).click()]);
    expect(download.suggestedFilename()).toBe(`dispute-${caseId}-1.pdf`);
    expect(sha256(await readFile((await download.path()) as string))).toBe(copy.pdfSha256);
    await expectAccessible();
    await screenshot(page, 'disputes-sealed');
  });

  it('R-41: the sealed admission record refuses the HIS\'s write (423 disputes.sealed); the record keeps its version', async () => {
    const his = await server.token();
    const url = `${server.fhirBase}/Composition/${stay.documents[0]}`;
    const before = await httpRequest<Composition>(url, 'GET', { token: his });
    expect(before.status).toBe(200);
    const sealedLine = (await api<InventoryView>(`/${caseId}/inventory`)).lines.find((l) => l.id === stay.documents[0]);
    expect(sealedLine).toMatchObject({ type: 'Composition', status: 'sealed', version: Number(before.body.meta?.versionId) });
    const write = await httpRequest(url, 'PUT', { token: his, body: { ...editable(before.body), title: '入院记录（修改）' }, headers: { 'x-edit-reason': 'late entry' } });
    const outcome = expectOutcome(write, 423, 'business-rule', 'disputes.sealed');
    expect(outcome.issue?.[0].details?.text).toContain(`Composition/${stay.documents[0]}`);
    const after = await httpRequest<Composition>(url, 'GET', { token: his });
    expect([after.body.meta?.versionId, after.body.title]).toEqual([before.body.meta?.versionId, '入院记录']);
  });

  it('R-41/R-43: the completed operation record is named and supplemented; then both sides unseal (typed confirmation) and the 启封记录 downloads as stored', async () => {
    // Its author, on the stay's care team, signs the operation record that was pending at sealing.
    const surgeon = await server.token({ sub: 'dr-wang', roles: ['resident'], licence: 'licensed', fhirUser: 'Practitioner/dr-wang' });
    const pending = (await api<InventoryView>(`/${caseId}/inventory`)).lines.find((l) => l.status === 'pending');
    const signed = await httpRequest(`${server.fhirBase}/Composition/${pending?.id}/$sign`, 'POST', { token: surgeon });
    expect([signed.status, signed.status === 200 ? '' : signed.text]).toEqual([200, '']);
    await page.reload();
    const alert = page.getByTestId('supplement-alert');
    await alert.waitFor();
    await expect(alert.textContent()).resolves.toContain('手术记录');
    await alert.getByRole('button', { name: '补充封存' }).click();
    await settled(page.locator('[data-copy="2"]').waitFor());
    const supplemented = await stored();
    expect(supplemented.copies.map((k) => [k.n, k.kind])).toEqual([[1, 'seal'], [2, 'supplement']]);
    expect(supplemented.inventory.pending).toBe(0);

    // Both sides again: the witness confirms the unsealing on this screen; the patient side confirms by the typed name, from the keyboard.
    const witness = page.getByTestId('witness-unseal');
    await witness.getByRole('button', { name: '见证人登录并确认' }).click();
    const dialog = page.getByRole('dialog', { name: '见证人登录' });
    await chooseWitness(page, dialog, '吴敏');
    await dialog.getByRole('button', { name: '登录并确认' }).click();
    await witness.getByTestId('witness-confirmed').waitFor();
    const side = page.getByTestId('patient-side');
    const unseal = page.locator('form[data-step="unseal"]').getByRole('button', { name: '启封' });
    await side.getByLabel('患方姓名').fill('李梅');
    await side.getByLabel('证件号码').fill(ID_NUMBER);
    await side.getByRole('checkbox', { name: '患方 李梅 已核对启封，确认无误' }).check();
    // The patient's spouse, not the patient: the unsealing waits until the relationship is chosen.
    await expect(unseal.isDisabled()).resolves.toBe(true);
    await choose('与患者关系', '配偶', side);
    await unseal.click();
    await settled(page.locator('h2 ~ [data-status="unsealed"]').waitFor());
    const unsealed = await stored();
    expect(unsealed.unsealing).toMatchObject({ basis: 'both-sides', hospital: { id: 'affairs-wu' }, patient: { name: '李梅', relationship: 'spouse', confirmed: true } });
    expect(unsealed.unsealRecord?.pdf).toBe(`${server.root}/disputes/${caseId}/copies/unseal-record.pdf`);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: '下载启封记录 PDF' }).click()]);
    const record = await readFile((await download.path()) as string);
    expect(sha256(record)).toBe(unsealed.unsealRecord?.pdfSha256);
    // The 启封记录 names her as the patient's spouse, never as the patient (本人).
    const text = flat((await pdfPages(record)).join('\n'));
    expect(text).toContain('患方在场Patientside:李梅（配偶）');
    expect(text).not.toContain('李梅（本人）');
  });

  it('R-44: the officer opens a public-opinion incident for a period, with its team: sealed at once, the stored scope and team are as chosen, and a chief outside the team no longer reads the records', async () => {
    const his = await server.token();
    const incident = await seedInpatientStay(server, 'Practitioner/dr-wang', { department: 'dept-cardiology' });
    // A visit two months before, outside the period the case seals.
    const earlier = (
      await seedAs(server.fhirBase, his, {
        resourceType: 'Encounter',
        status: 'finished',
        class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
        subject: { reference: `Patient/${incident.patient.id}` },
        serviceProvider: { reference: 'Organization/dept-cardiology' },
        period: { start: new Date(Date.now() - 60 * 86_400_000).toISOString(), end: new Date(Date.now() - 60 * 86_400_000 + 3_600_000).toISOString() },
      })
    ).id;
    const admission = `${server.fhirBase}/Composition/${incident.documents[0]}`;
    // The department's chief reads the stay's records before the incident…
    const chief = await server.token({ sub: 'chief-cardiology', roles: ['chief'], department: 'dept-cardiology', licence: 'licensed' });
    expect((await httpRequest(admission, 'GET', { token: chief })).status).toBe(200);

    // …the officer, back at his desk, opens the case by a period: the stay's days, in the hospital's calendar.
    page = opened[0].page;
    const from = hospitalDay(Date.now() - 7 * 86_400_000);
    const to = hospitalDay(Date.now());
    await page.getByRole('link', { name: '新建封存案件' }).first().click();
    await page.getByRole('heading', { name: '新建封存案件' }).waitFor();
    // Found by the 病案号 the desk knows, and shown by it, not by the record's id.
    await page.getByLabel('查找患者（姓名、病案号或 ID）').fill(incident.recordNumber);
    await page.getByRole('button', { name: '查找', exact: true }).click();
    const found = page.getByRole('radio', { name: `${incident.name} · 男 · 1988-01-01 · 病案号 ${incident.recordNumber}`, exact: true });
    await found.check();
    await expect(found.getAttribute('data-patient')).resolves.toBe(incident.patient.id);
    expect(await page.getByRole('radiogroup', { name: '选择患者' }).getByRole('radio').count()).toBe(1);
    await page.getByRole('radio', { name: '按时间段' }).check();
    await page.getByLabel('起始日期').fill(from);
    await page.getByLabel('截止日期').fill(to);
    await page.getByRole('radio', { name: '舆情事件' }).check();
    await page.getByLabel('案件组成员').fill('dr-wang');
    await page.getByLabel('封存原因').fill('患者家属在网络发布手术视频，引发舆情');
    await expectAccessible();
    await page.getByRole('button', { name: '立案并立即封存', exact: true }).click();
    await settled(page.waitForURL(/\/console\/disputes\/[0-9a-f-]{36}$/));
    const id = new URL(page.url()).pathname.split('/').at(-1) as string;
    await page.locator('h2 ~ [data-status="sealed"]').waitFor();

    // What the API stored, read by the officer on its team (another officer's token is refused: R-44).
    const officer = await server.token({ sub: 'officer-zhou', roles: ['disputes-officer'], fhirUser: 'Practitioner/officer-zhou' });
    const asOfficer = await httpRequest<DisputeView>(`${server.root}/disputes/${id}`, 'GET', { token: officer, headers: { accept: 'application/json' } });
    expect(asOfficer.status).toBe(200);
    expect(asOfficer.body).toMatchObject({
      patient: incident.patient.id,
      status: 'sealed',
      trigger: 'public-incident',
      scope: { kind: 'date-range', from, to },
      reason: '患者家属在网络发布手术视频，引发舆情',
      openedBy: 'officer-zhou',
    });
    expect(asOfficer.body.team).toEqual(expect.arrayContaining(['Practitioner/dr-wang']));
    expect(asOfficer.body.copies.map((k) => [k.n, k.kind, k.witnesses.immediate !== undefined])).toEqual([[1, 'seal', true]]);
    expect((await httpRequest(`${server.root}/disputes/${id}`, 'GET', { token: reader, headers: { accept: 'application/json' } })).status).toBe(403);
    // The period took the stay and left the earlier visit out.
    const inventory = await httpRequest<InventoryView>(`${server.root}/disputes/${id}/inventory`, 'GET', { token: officer, headers: { accept: 'application/json' } });
    const refs = inventory.body.lines.map((l) => `${l.type}/${l.id}`);
    expect(refs).toEqual(expect.arrayContaining([`Encounter/${incident.encounter}`, ...incident.documents.slice(0, 2).map((d) => `Composition/${d}`)]));
    expect(refs).not.toContain(`Encounter/${earlier}`);
    // The case page says the period and the team.
    const summary = await page.getByTestId('summary').textContent();
    expect(summary).toContain(`患者${incident.name} (病案号 ${incident.recordNumber})案件类型舆情事件封存范围${from} 至 ${to} 的就诊`);
    expect(summary).toContain('案件组周伟、王建国');

    // The chief is not on the team: the record is withheld from him now; the team's doctor reads it as before.
    expectOutcome(await httpRequest(admission, 'GET', { token: chief }), 403, 'forbidden', 'access.forbidden');
    expect((await httpRequest<Bundle>(`${server.fhirBase}/Composition?patient=Patient/${incident.patient.id}`, 'GET', { token: chief })).body.total).toBe(0);
    const doctor = await server.token({ sub: 'dr-wang', roles: ['attending'], department: 'dept-cardiology', licence: 'licensed', fhirUser: 'Practitioner/dr-wang' });
    expect((await httpRequest(admission, 'GET', { token: doctor })).status).toBe(200);
  });

  it('the console ran under its strict CSP without a violation or a script error', () => {
    expect(opened.length).toBe(2);
    expect(opened.flatMap((p) => p.cspViolations)).toEqual([]);
    expect(opened.flatMap((p) => p.pageErrors)).toEqual([]);
  });
});
