import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { consoleCsp, ConsoleFiles } from './console-files.js';

describe('the console\'s files and CSP (issue #18)', () => {
  let dir: string;
  let files: ConsoleFiles;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'console-files-'));
    await mkdir(join(dir, 'assets'));
    await writeFile(join(dir, 'index.html'), '<html><head><title>x</title></head><body></body></html>');
    await writeFile(join(dir, 'assets', 'index-abc.js'), 'export {}');
    await writeFile(join(dir, '.secret.json'), '{}');
    files = new ConsoleFiles(dir);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('answers every app path with the page, a built file as itself (hashed assets for good), nothing else', () => {
    expect(files.built).toBe(true);
    expect(files.resolve('')).toEqual({ kind: 'page' });
    expect(files.resolve('copy-requests/9f1c')).toEqual({ kind: 'page' });
    expect(files.resolve('assets/index-abc.js')).toEqual({ kind: 'file', path: join(dir, 'assets', 'index-abc.js'), immutable: true });
    expect(files.resolve('index.html')).toEqual({ kind: 'file', path: join(dir, 'index.html'), immutable: false });
    expect(files.resolve('assets/missing.js')).toEqual({ kind: 'missing' });
    expect(files.resolve('../package.json')).toEqual({ kind: 'missing' });
    expect(files.resolve('assets/../../etc/passwd.txt')).toEqual({ kind: 'missing' });
    expect(files.resolve('.secret.json')).toEqual({ kind: 'missing' });
    expect(new ConsoleFiles(join(dir, 'nothing')).built).toBe(false);
  });

  it('puts the response\'s nonce in the page, for the CSP to name', () => {
    expect(files.pageWith('n0nce')).toBe('<html><head><title>x</title><meta name="csp-nonce" content="n0nce"></head><body></body></html>');
  });

  it('allows scripts from the server only, styles only from it or with the nonce, and calls to the identity provider when there is one', () => {
    const dev = consoleCsp('abc', { dev: true });
    expect(dev).toContain("script-src 'self';");
    expect(dev).toContain("style-src 'self' 'nonce-abc';");
    expect(dev).toContain("connect-src 'self';");
    expect(dev).toContain("frame-ancestors 'none'");
    expect(dev).not.toContain('unsafe');
    const oidc = consoleCsp('abc', { dev: false, oidc: { issuer: 'https://idp.example/realms/h', clientId: 'c', scope: 'openid' } });
    expect(oidc).toContain("connect-src 'self' https://idp.example;");
  });
});
