import { jest } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import pg from 'pg';
import type { DisputeView, InventoryView } from '../../src/disputes/dto/dispute.view.js';
import { httpRequest } from '../support/http.js';
import { startTestServer, testDatabaseUrl, type TestServer } from '../support/test-app.js';
import { launchChromium, newPage, screenshot, unnamedControls } from './support/browser.js';
import { ensureConsoleBuilt } from './support/console-build.js';
import { FakeIdpWithLogin } from './support/fake-idp-users.js';
import { seedInpatientStay } from './support/record-room-data.js';

/**
 * The disputes witness signs in on the officer's screen with the hospital's identity provider
 * (issue #18, R-40): the case page opens the provider in a popup with its own PKCE request and
 * prompt=login; the popup comes back to /console/callback, hands the code to the officer's page
 * and closes; the page trades it for the witness's token, sends the one confirmation with it and
 * forgets it. The confirmation is stored as the witness's; the officer stays signed in as
 * himself. A popup closed without signing in, and the officer signing in as his own witness,
 * are said in words.
 */
jest.setTimeout(120_000);

const CLIENT_ID = 'chartwarden-console';
const SESSION = 'chartwarden.console.session';
const WITNESS_PENDING = 'chartwarden.console.oidc.witness';
const OFFICER = { sub: 'oidc-officer-qian', name: '钱进', roles: ['disputes-officer'] };
const AFFAIRS = { sub: 'oidc-affairs-sun', name: '孙丽', roles: ['medical-affairs'] };

describe('Console: the disputes witness signs in at the identity provider in a popup (browser, OIDC + PKCE, JWKS mode)', () => {
  let idp: FakeIdpWithLogin;
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let cspViolations: string[];
  let pageErrors: string[];
  let db: pg.Client;
  let caseId: string;
  let digest: string;

  const confirmations = async () =>
    (await db.query<{ actor_id: string; practitioner: string; inventory_digest: string; step: string }>('SELECT actor_id, practitioner, inventory_digest, step FROM dispute_confirmation WHERE dispute_id = $1', [caseId])).rows;
  const officerSession = async () => JSON.parse((await page.evaluate(`sessionStorage.getItem('${SESSION}')`)) as string) as { token: string; user: { id: string }; via: string };
  const subjectOf = (jwt: string) => (JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8')) as { sub: string }).sub;
  /** Opens the popup from the dialog, as the officer's click does. */
  const openPopup = async () => {
    const dialog = page.getByRole('dialog', { name: '见证人登录' });
    const button = dialog.getByRole('button', { name: '在弹出窗口中登录并确认' });
    await button.waitFor();
    await expect(button.isEnabled()).resolves.toBe(true);
    const [popup] = await Promise.all([page.waitForEvent('popup'), button.click()]);
    await popup.getByRole('heading', { name: '统一身份认证登录' }).waitFor();
    return { dialog, popup };
  };
  const signInAs = async (popup: Page, name: string) => {
    await popup.getByLabel(name, { exact: true }).check();
    await Promise.all([popup.waitForEvent('close'), popup.getByRole('button', { name: '登录' }).click()]);
  };

  beforeAll(async () => {
    await ensureConsoleBuilt();
    idp = await new FakeIdpWithLogin(CLIENT_ID, [OFFICER, AFFAIRS]).start();
    server = await startTestServer({
      identity: { jwksUrl: `${idp.issuer}/jwks`, issuer: idp.issuer },
      console: { enabled: true, redirectRoot: true, oidc: { issuer: idp.issuer, clientId: CLIENT_ID } },
    });
    db = new pg.Client({ connectionString: testDatabaseUrl() });
    await db.connect();
    // In JWKS mode the API takes the provider's tokens only: the HIS seeds with one of those.
    const his = () => idp.accessToken({ sub: 'his-test', roles: ['his-system'], name: 'HIS' });
    const stay = await seedInpatientStay({ ...server, token: his }, 'Practitioner/dr-wang');
    for (const person of [OFFICER, AFFAIRS]) {
      const res = await httpRequest(`${server.fhirBase}/Practitioner/${person.sub}`, 'PUT', { token: await his(), body: { resourceType: 'Practitioner', id: person.sub, name: [{ text: person.name }] } });
      expect(res.status).toBeLessThan(300);
    }
    const officer = await idp.accessToken(OFFICER);
    const opened = await httpRequest<DisputeView>(`${server.root}/disputes`, 'POST', {
      token: officer,
      headers: { accept: 'application/json' },
      body: { patient: `Patient/${stay.patient.id}`, reason: '患方对诊疗过程有异议', scope: { kind: 'whole-record' } },
    });
    expect([opened.status, opened.body.openedBy, opened.body.status]).toEqual([201, OFFICER.sub, 'open']);
    caseId = opened.body.id;
    const inventory = await httpRequest<InventoryView>(`${server.root}/disputes/${caseId}/inventory`, 'GET', { token: officer, headers: { accept: 'application/json' } });
    expect(inventory.status).toBe(200);
    digest = inventory.body.digest;
    browser = await launchChromium();
    ({ page, cspViolations, pageErrors } = await newPage(browser));
  });
  afterAll(async () => {
    await browser?.close();
    await db?.end();
    await server?.close();
    await idp?.close();
  });

  it('the officer signs in at the provider and comes back to the case; the witness dialog offers the provider\'s sign-in in a new window', async () => {
    await page.goto(`${server.root}/console/disputes/${caseId}`);
    await page.getByRole('button', { name: '前往统一身份认证登录' }).click();
    await page.getByTestId('signed-in-as').waitFor();
    expect(new URL(page.url()).pathname).toBe(`/console/disputes/${caseId}`);
    expect(idp.log.token.map((t) => t.pkce)).toEqual(['verified']);
    expect(idp.log.authorize[0].prompt).toBeUndefined();
    const session = await officerSession();
    expect([session.user.id, subjectOf(session.token), session.via]).toEqual([OFFICER.sub, OFFICER.sub, 'oidc']);

    await page.getByTestId('witness-seal').getByRole('button', { name: '见证人登录并确认' }).click();
    const dialog = page.getByRole('dialog', { name: '见证人登录' });
    await dialog.getByText('请见证人在弹出的统一身份认证窗口中输入本人的账号和密码').waitFor();
    expect(await unnamedControls(page)).toEqual([]);
    await screenshot(page, 'disputes-witness-oidc');
  });

  it('a popup closed without signing in leaves the dialog usable and says so; nothing is confirmed', async () => {
    const { dialog, popup } = await openPopup();
    // The page wrote only the state for the callback to recognise; the verifier stays in its memory.
    const pending = JSON.parse((await page.evaluate(`sessionStorage.getItem('${WITNESS_PENDING}')`)) as string) as Record<string, string>;
    expect(Object.keys(pending)).toEqual(['state']);
    const asked = new URL(popup.url()).searchParams;
    expect([asked.get('prompt'), asked.get('state'), asked.get('redirect_uri')]).toEqual(['login', pending.state, `${server.root}/console/callback`]);
    // An answer not from that popup is ignored, even with the right state: no code is traded.
    await page.evaluate(`window.postMessage({ type: 'chartwarden.witness-sign-in', state: ${JSON.stringify(pending.state)}, code: 'forged' }, location.origin)`);
    await page.waitForTimeout(300);
    expect(idp.log.token).toHaveLength(1);
    await popup.close();
    await expect(dialog.getByTestId('witness-popup-notice').textContent()).resolves.toBe('登录窗口已关闭，见证人未登录，未作确认。可以再试一次。');
    await expect(dialog.getByRole('button', { name: '在弹出窗口中登录并确认' }).isEnabled()).resolves.toBe(true);
    await expect(page.evaluate(`sessionStorage.getItem('${WITNESS_PENDING}')`)).resolves.toBeNull();
    expect(await confirmations()).toEqual([]);
    expect(idp.log.token).toHaveLength(1);
  });

  it('R-40: the officer signing in as his own witness in the popup is refused in words (disputes.self-witness); nothing is stored', async () => {
    const { dialog, popup } = await openPopup();
    await signInAs(popup, OFFICER.name);
    const refusal = dialog.getByTestId('dispute-refusal');
    await refusal.waitFor();
    await expect(refusal.getByTestId('refusal-explained').textContent()).resolves.toBe('经办人不能作本案的见证人：请医务处或另一位医患办工作人员用本人账号确认（R-40）。');
    await expect(refusal.getByTestId('server-message').textContent()).resolves.toBe(
      `You opened or sealed dispute ${caseId}: the hospital side's witness is another person, with their own request (R-40, R-43)`,
    );
    await expect(refusal.textContent()).resolves.toContain('disputes.self-witness');
    expect(await confirmations()).toEqual([]);
    expect(idp.logins.at(-1)).toEqual({ sub: OFFICER.sub, prompt: 'login' });
  });

  it('R-40: medical affairs signs in in the popup (prompt=login, its own PKCE request); the confirmation is stored as theirs and the officer stays signed in as himself', async () => {
    const { popup } = await openPopup();
    await signInAs(popup, AFFAIRS.name);
    const witness = page.getByTestId('witness-seal');
    await witness.getByTestId('witness-confirmed').waitFor();
    await expect(witness.getByTestId('witness-confirmed').textContent()).resolves.toContain(`${AFFAIRS.name} 已确认`);
    expect(await confirmations()).toEqual([{ actor_id: AFFAIRS.sub, practitioner: `Practitioner/${AFFAIRS.sub}`, inventory_digest: digest, step: 'seal' }]);

    // What the provider saw: two popup sign-ins (the closed popup never left its login page), each with prompt=login, the registered callback and its own challenge and state.
    expect(idp.logins).toEqual([
      { sub: OFFICER.sub, prompt: 'login' },
      { sub: AFFAIRS.sub, prompt: 'login' },
    ]);
    const [officerSignIn, ...popups] = idp.log.authorize;
    expect(popups).toHaveLength(2);
    for (const a of popups) expect(a).toMatchObject({ prompt: 'login', redirect_uri: `${server.root}/console/callback`, client_id: CLIENT_ID, code_challenge_method: 'S256' });
    expect(new Set([officerSignIn, ...popups].map((a) => a.state)).size).toBe(3);
    expect(new Set([officerSignIn, ...popups].map((a) => a.code_challenge)).size).toBe(3);
    expect(idp.log.token.map((t) => t.pkce)).toEqual(['verified', 'verified', 'verified']);
    expect(subjectOf(idp.log.issued[2].accessToken)).toBe(AFFAIRS.sub);

    // The officer is still the one signed in, with his own token; the witness's token is nowhere in storage.
    await expect(page.getByTestId('signed-in-as').textContent()).resolves.toContain(OFFICER.name);
    const session = await officerSession();
    expect([session.user.id, subjectOf(session.token), session.token]).toEqual([OFFICER.sub, OFFICER.sub, idp.log.issued[0].accessToken]);
    const storage = (await page.evaluate('JSON.stringify({ ...sessionStorage, ...localStorage })')) as string;
    // The officer's own access token and ID token (his sign-out hint), and no token of the witness's.
    expect(storage.match(/eyJ[\w-]+\.[\w-]+\.[\w-]+/g)).toEqual([idp.log.issued[0].accessToken, idp.log.issued[0].idToken]);
    for (const { accessToken, idToken } of idp.log.issued.slice(1)) expect([storage.includes(accessToken), storage.includes(idToken)]).toEqual([false, false]);
    await expect(page.evaluate(`sessionStorage.getItem('${WITNESS_PENDING}')`)).resolves.toBeNull();
    // The API still answers the officer's token as his.
    const view = await httpRequest<DisputeView>(`${server.root}/disputes/${caseId}`, 'GET', { token: session.token, headers: { accept: 'application/json' } });
    expect([view.status, view.body.status, view.body.openedBy]).toEqual([200, 'open', OFFICER.sub]);
    expect(cspViolations).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
