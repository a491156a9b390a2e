import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';
import { packageRoot } from '../common/package-root.js';
import type { ConsoleSignIn } from './console-settings.js';

/** Where `vite build` writes the console (console/vite.config.ts): `dist/console` of the package. */
export function consoleDistDir(root: string = packageRoot()): string {
  return join(root, 'dist', 'console');
}

/** What a request under `/console/` is served: the app's page, one of its files, or nothing. */
export type ConsoleFile = { kind: 'page' } | { kind: 'file'; path: string; immutable: boolean } | { kind: 'missing' };

/**
 * The built console: its page (`index.html`, for every path of the app, so a deep link such as
 * `/console/copy-requests/…` opens it) and its files (`assets/…`, named by their content
 * hash, so cached for good). A path with an extension is a file and is never answered with the
 * page: a missing script is a 404, not HTML a browser would try to run.
 */
export class ConsoleFiles {
  private page?: { text: string; mtimeMs: number };

  constructor(readonly dir: string = consoleDistDir()) {}

  /** Whether the console was built (`npm run build`). */
  get built(): boolean {
    return existsSync(join(this.dir, 'index.html'));
  }

  /** What `/console/<path>` is. */
  resolve(path: string): ConsoleFile {
    if (!extname(path)) return { kind: 'page' };
    const full = normalize(join(this.dir, path));
    if (!full.startsWith(this.dir + sep) || path.split('/').some((p) => p.startsWith('.'))) return { kind: 'missing' };
    if (!existsSync(full) || !statSync(full).isFile()) return { kind: 'missing' };
    return { kind: 'file', path: full, immutable: path.startsWith('assets/') };
  }

  /** The page with this response's style nonce (Mantine's style elements carry it; the CSP names it). */
  pageWith(nonce: string): string {
    const file = join(this.dir, 'index.html');
    const mtimeMs = statSync(file).mtimeMs;
    if (this.page?.mtimeMs !== mtimeMs) this.page = { text: readFileSync(file, 'utf8'), mtimeMs };
    return this.page.text.replace('</head>', `<meta name="csp-nonce" content="${nonce}"></head>`);
  }
}

/** A fresh nonce for one response. */
export function newNonce(): string {
  return randomBytes(16).toString('base64');
}

/**
 * The console's Content-Security-Policy: scripts only from the server (no inline script, no
 * eval), styles from the server or carrying this response's nonce, pictures and the PDF
 * preview from blob URLs the page made itself, calls only to the server and to the identity
 * provider, and never framed by another page.
 */
export function consoleCsp(nonce: string, signIn: ConsoleSignIn): string {
  const idp = signIn.oidc ? ` ${new URL(signIn.oidc.issuer).origin}` : '';
  return [
    "default-src 'self'",
    "script-src 'self'",
    `style-src 'self' 'nonce-${nonce}'`,
    "img-src 'self' blob: data:",
    "font-src 'self' data:",
    `connect-src 'self'${idp}`,
    "frame-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Headers every console response carries. */
export const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};
