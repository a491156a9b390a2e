import { httpRequest } from '../support/http.js';
import { closeAll, startTestServer, type TestServer } from '../support/test-app.js';

/*
 * Where the staff console is served (issue #18, decision 0019): a host embedding the module
 * gets no /console and keeps its own root unless it opts in; with the console on, the JWKS mode
 * has no development sign-in; and what is off answers exactly as a path nothing serves.
 */
describe('the staff console is served only where it is enabled (decision 0019)', () => {
  let embedded: TestServer | undefined;
  let enabled: TestServer | undefined;
  afterAll(() => closeAll(embedded, enabled));

  const notServed = async (url: string, method = 'GET') => {
    const res = await fetch(url, { method, redirect: 'manual' });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ message: `Cannot ${method} ${new URL(url).pathname}`, error: 'Not Found', statusCode: 404 });
  };

  it('a host that embeds the module without `console` gets no console, no demo sign-in and no redirect of its root', async () => {
    embedded = await startTestServer();
    for (const path of ['/', '/console', '/console/', '/console/copy-requests/1', '/console/config.json', '/console/api/demo-users', '/console/api/nothing']) {
      await notServed(`${embedded.root}${path}`);
    }
    await notServed(`${embedded.root}/console/api/demo-users/clerk-liu/token`, 'POST');
    // The API itself is untouched.
    const his = await embedded.token({ sub: 'console-serving-his', roles: ['his-system'] });
    expect((await httpRequest(`${embedded.fhirBase}/metadata`, 'GET', { token: his })).status).toBe(200);
  });

  it('enabled: / goes to the console, its config is served, and the dev sign-in signs only for a demo user, with exactly their claims', async () => {
    enabled = await startTestServer({ console: { enabled: true, redirectRoot: true } });
    const root = await fetch(`${enabled.root}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/console/');
    const config = await httpRequest<{ signIn: { dev: boolean; oidc?: unknown } }>(`${enabled.root}/console/config.json`, 'GET');
    expect(config.status).toBe(200);
    expect(config.body.signIn).toEqual({ dev: true });
    const signed = await httpRequest<{ token: string; user: { id: string; roles: string[] } }>(`${enabled.root}/console/api/demo-users/clerk-liu/token`, 'POST');
    expect(signed.status).toBe(201);
    expect(signed.body.user).toMatchObject({ id: 'clerk-liu', roles: ['record-room'] });
    const claims = JSON.parse(Buffer.from(signed.body.token.split('.')[1], 'base64url').toString()) as Record<string, unknown>;
    expect(claims).toMatchObject({ sub: 'clerk-liu', roles: ['record-room'], fhirUser: 'Practitioner/clerk-liu' });
    const refused = await httpRequest(`${enabled.root}/console/api/demo-users/admin/token`, 'POST');
    expect(refused.status).toBe(404);
    expect(refused.text).toContain('is not a demo user');
  });
});
