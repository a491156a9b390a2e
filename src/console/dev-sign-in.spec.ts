import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, jwtVerify } from 'jose';
import { DEMO_USERS } from '../demo/demo-users.js';
import { loadOrCreateDevKey } from '../identity/dev-signing-key.js';
import { ConsoleError } from './console.errors.js';
import { demoUsers, fromThisMachine, signInAsDemoUser } from './dev-sign-in.js';

describe('the console\'s development sign-in (issue #18, dev key mode)', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'dev-sign-in-'));
  });
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  it('lists exactly the demo users', () => {
    expect(demoUsers().map((u) => [u.id, u.name, u.roles, u.title])).toEqual(DEMO_USERS.map((u) => [u.id, u.name, u.roles, u.title]));
  });

  it('signs, with the data dir\'s dev key, a token carrying exactly the demo user\'s claims, for an hour at most', async () => {
    const signed = await signInAsDemoUser({ databaseUrl: '', dataDir }, 'clerk-liu');
    const { payload } = await jwtVerify(signed.token, (await loadOrCreateDevKey(dataDir)).publicKey, { issuer: 'chartwarden-dev', audience: 'chartwarden' });
    const { iat, exp, ...claims } = payload;
    expect(claims).toEqual({ sub: 'clerk-liu', roles: ['record-room'], fhirUser: 'Practitioner/clerk-liu', iss: 'chartwarden-dev', aud: 'chartwarden' });
    expect((exp as number) - (iat as number)).toBe(3600);
    expect(signed.user).toEqual({ id: 'clerk-liu', name: '刘芳', roles: ['record-room'], title: '病案室 · 复印登记' });
    const doctor = decodeJwt((await signInAsDemoUser({ databaseUrl: '', dataDir }, 'dr-wang')).token);
    expect(doctor).toMatchObject({ sub: 'dr-wang', roles: ['attending'], dept: 'dept-cardiology', fhirUser: 'Practitioner/dr-wang' });
  });

  it('signs for no one else, and never longer than the server accepts', async () => {
    await expect(signInAsDemoUser({ databaseUrl: '', dataDir }, 'admin')).rejects.toThrow(ConsoleError);
    await expect(signInAsDemoUser({ databaseUrl: '', dataDir }, 'clerk-liu; roles=admin')).rejects.toThrow('is not a demo user');
    const short = decodeJwt((await signInAsDemoUser({ databaseUrl: '', dataDir, identity: { maxTokenLifetimeMinutes: 15 } }, 'clerk-sun')).token);
    expect((short.exp as number) - (short.iat as number)).toBe(900);
  });

  it('answers a browser on this machine only: a server left in dev key mode hands no token to the network', () => {
    for (const local of ['127.0.0.1', '127.4.5.6', '::1', '::ffff:127.0.0.1']) expect({ local, ok: fromThisMachine(local) }).toEqual({ local, ok: true });
    for (const remote of ['10.0.0.7', '192.168.1.20', '::ffff:10.0.0.7', 'fe80::1', '128.0.0.1', '127.0.0.1.evil', undefined]) {
      expect({ remote, ok: fromThisMachine(remote) }).toEqual({ remote, ok: false });
    }
  });
});
