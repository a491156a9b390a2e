import { jest } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import pg from 'pg';
import { httpRequest, rawRequest } from '../support/http.js';
import { startTestServer, testDatabaseUrl, type TestServer } from '../support/test-app.js';
import { launchChromium, newPage, screenshot, unnamedControls } from './support/browser.js';
import { ensureConsoleBuilt } from './support/console-build.js';
import { FakeIdp } from './support/fake-idp.js';

/**
 * Signing in to the console when the hospital has an identity provider (issue #18): the server
 * verifies tokens with the provider's JWKS, so the development sign-in does not exist (its
 * routes answer exactly as routes that do not), and the console signs staff in with OpenID
 * Connect, authorization code + PKCE S256, in Debian's Chromium against a small provider. The
 * token it gets is what the API sees; a token the API refuses ends the session in the
 * server's words; signing out clears the session here and at the provider. Also how the
 * server serves the console: the root, deep links, files, and its CSP.
 */
jest.setTimeout(120_000);

const CLIENT_ID = 'chartwarden-console';
const SESSION = 'chartwarden.console.session';

describe('Console sign-in with the hospital\'s identity provider (browser, OIDC + PKCE, JWKS mode)', () => {
  let idp: FakeIdp;
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let cspViolations: string[];
  let pageErrors: string[];
  let db: pg.Client;

  beforeAll(async () => {
    await ensureConsoleBuilt();
    idp = await new FakeIdp(CLIENT_ID, { sub: 'oidc-clerk', name: '刘芳', roles: ['record-room'] }).start();
    server = await startTestServer({
      identity: { jwksUrl: `${idp.issuer}/jwks`, issuer: idp.issuer },
      console: { enabled: true, redirectRoot: true, oidc: { issuer: idp.issuer, clientId: CLIENT_ID } },
    });
    db = new pg.Client({ connectionString: testDatabaseUrl() });
    await db.connect();
    browser = await launchChromium();
    ({ page, cspViolations, pageErrors } = await newPage(browser));
  });
  afterAll(async () => {
    await browser?.close();
    await db?.end();
    await server?.close();
    await idp?.close();
  });

  it('with a JWKS there is no development sign-in: its routes answer exactly as routes that do not exist', async () => {
    const nothing = await rawRequest<Record<string, unknown>>(server.root, '/console-nothing-here');
    expect(nothing.status).toBe(404);
    const list = await rawRequest<Record<string, unknown>>(server.root, '/console/api/demo-users');
    expect({ status: list.status, body: list.body }).toEqual({ status: 404, body: { ...nothing.body, message: 'Cannot GET /console/api/demo-users' } });
    const token = await rawRequest<Record<string, unknown>>(server.root, '/console/api/demo-users/clerk-liu/token', { method: 'POST' });
    expect({ status: token.status, body: token.body, token: token.text.includes('eyJ') }).toEqual({
      status: 404,
      body: { ...nothing.body, message: 'Cannot POST /console/api/demo-users/clerk-liu/token' },
      token: false,
    });
    const config = await httpRequest<{ signIn: unknown; timeZone: string }>(`${server.root}/console/config.json`, 'GET', { headers: { accept: 'application/json' } });
    expect(config.body).toMatchObject({ signIn: { dev: false, oidc: { issuer: idp.issuer, clientId: CLIENT_ID, scope: 'openid profile' } }, timeZone: 'Asia/Shanghai' });
  });

  it('the server sends / to the console, answers deep links with the page under a CSP with no inline script, and never a missing file with it', async () => {
    const root = await rawRequest(server.root, '/');
    expect([root.status, root.headers.get('location')]).toEqual([302, '/console/']);
    const deep = await rawRequest(server.root, '/console/copy-requests/7d0c1c9e-0000-4000-8000-000000000000');
    expect(deep.status).toBe(200);
    expect(deep.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = deep.headers.get('content-security-policy') ?? '';
    const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
    expect(deep.text).toContain(`<meta name="csp-nonce" content="${nonce}">`);
    expect(csp).toContain("script-src 'self';");
    expect(csp).toContain(`connect-src 'self' ${idp.issuer};`);
    expect(csp).not.toContain('unsafe-inline');
    // Every script of the page is a file of the server's.
    const scripts = [...deep.text.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, content] of scripts) expect({ src: /\bsrc="\/console\/assets\/[^"]+\.js"/.test(attributes), content: content.trim() }).toEqual({ src: true, content: '' });
    const asset = /src="(\/console\/assets\/[^"]+\.js)"/.exec(deep.text)?.[1] as string;
    const file = await rawRequest(server.root, asset);
    expect([file.status, file.headers.get('cache-control'), file.headers.get('x-content-type-options')]).toEqual([200, 'public, max-age=31536000, immutable', 'nosniff']);
    const again = await rawRequest(server.root, '/console/copy-requests');
    expect(/'nonce-([^']+)'/.exec(again.headers.get('content-security-policy') ?? '')?.[1]).not.toBe(nonce);
    const missing = await rawRequest<{ issue: { details: { coding: { code: string }[] } }[] }>(server.root, '/console/assets/missing.js');
    expect([missing.status, missing.body.issue[0].details.coding[0].code]).toEqual([404, 'console.not-found']);
    const api = await rawRequest<{ issue: { details: { coding: { code: string }[] } }[] }>(server.root, '/console/api/nothing');
    expect([api.status, api.body.issue[0].details.coding[0].code]).toEqual([404, 'console.not-found']);
  });

  it('a clerk signs in at the identity provider (authorization code + PKCE S256) and lands on the page they asked for; the API sees their token', async () => {
    await page.goto(`${server.root}/console/copy-requests?status=all`);
    await page.getByRole('heading', { name: '医院统一身份认证' }).waitFor();
    expect(await page.getByRole('heading', { name: '开发模式登录' }).count()).toBe(0);
    expect(await unnamedControls(page)).toEqual([]);
    await screenshot(page, 'sign-in-oidc');
    await page.getByRole('button', { name: '前往统一身份认证登录' }).click();
    await page.getByTestId('signed-in-as').waitFor();
    expect(new URL(page.url()).pathname + new URL(page.url()).search).toBe('/console/copy-requests?status=all');
    await expect(page.getByTestId('signed-in-as').textContent()).resolves.toBe('刘芳（病案室）');

    const [authorize] = idp.log.authorize;
    expect(authorize).toMatchObject({ response_type: 'code', client_id: CLIENT_ID, redirect_uri: `${server.root}/console/callback`, scope: 'openid profile', code_challenge_method: 'S256' });
    expect(authorize.code_challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(idp.log.token.map((t) => [t.pkce, t.form.grant_type, t.form.client_id])).toEqual([['verified', 'authorization_code', CLIENT_ID]]);
    // The verifier stays in this tab only until it is used; the session holds the provider's access token.
    await expect(page.evaluate("sessionStorage.getItem('chartwarden.console.oidc')")).resolves.toBeNull();
    const session = JSON.parse((await page.evaluate(`sessionStorage.getItem('${SESSION}')`)) as string) as { token: string; via: string };
    expect(session).toMatchObject({ token: idp.log.issued[0].accessToken, via: 'oidc' });
    // The queue was read with it (answers are sent once recorded): the audit trail names the provider's subject.
    await page.locator('[data-testid="queue"], :text("没有符合条件的申请")').first().waitFor();
    const listed = await db.query<{ outcome: number }>("SELECT outcome FROM audit_entry WHERE actor = 'oidc-clerk' AND subtype = 'copy-request-list'");
    expect(listed.rows).toEqual([{ outcome: 0 }]);
  });

  it('signing out clears the session and signs out at the provider too', async () => {
    await page.getByRole('button', { name: '退出登录' }).click();
    await page.getByRole('heading', { name: '医院统一身份认证' }).waitFor();
    expect(idp.log.logout).toEqual([{ post_logout_redirect_uri: `${server.root}/console/`, id_token_hint: idp.log.issued[0].idToken }]);
    await expect(page.evaluate(`sessionStorage.getItem('${SESSION}')`)).resolves.toBeNull();
  });

  it('a token the API refuses ends the session, and the sign-in page says so in the server\'s words', async () => {
    const wrongAudience = await idp.accessToken({ aud: 'another-app' });
    const planted = { token: wrongAudience, expiresAt: new Date(Date.now() + 600_000).toISOString(), user: { id: 'oidc-clerk', roles: ['record-room'] }, via: 'oidc' };
    await page.evaluate(`sessionStorage.setItem('${SESSION}', ${JSON.stringify(JSON.stringify(planted))})`);
    const refusedCall = page.waitForResponse((r) => new URL(r.url()).pathname === '/copy-requests' && r.status() === 401);
    await page.goto(`${server.root}/console/copy-requests`);
    const requestId = (await refusedCall).headers()['x-request-id'];
    const ended = page.getByRole('status');
    await ended.waitFor();
    await expect(ended.textContent()).resolves.toContain('服务器不再接受当前登录凭据');
    await expect(ended.textContent()).resolves.toContain('The token was refused');
    await expect(page.evaluate(`sessionStorage.getItem('${SESSION}')`)).resolves.toBeNull();
    // The refusal is in the audit trail: an unidentified call to the queue, refused.
    const refused = await db.query<{ actor: string | null; subtype: string; outcome: number }>('SELECT actor, subtype, outcome FROM audit_entry WHERE request_id = $1', [requestId]);
    expect(refused.rows).toEqual([{ actor: null, subtype: 'copy-request-list', outcome: 4 }]);
  });

  it('ran under the console\'s CSP without a violation or a script error', () => {
    expect(cspViolations).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
