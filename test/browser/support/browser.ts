import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core';
import { packageRoot } from '../../../src/common/package-root.js';

/**
 * Debian's Chromium driven by playwright-core (no downloaded browser: docs/stack.md,
 * `apt-get install chromium fonts-noto-cjk`). CHARTWARDEN_CHROMIUM overrides the path.
 * Its own language is Chinese (`--lang=zh-CN`), as on the hospital's machines, so native controls
 * the page does not draw (a date input's 年/月/日) read as staff see them. Debian ships Chromium's
 * language packs apart (`chromium-l10n`): without it the flag finds no zh-CN pack and those
 * controls stay `mm/dd/yyyy`.
 */
export function launchChromium(): Promise<Browser> {
  const executablePath = process.env.CHARTWARDEN_CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    throw new Error(`No Chromium at ${executablePath}: the browser tests drive Debian's (apt-get install -y chromium fonts-noto-cjk), or set CHARTWARDEN_CHROMIUM to another Chromium`);
  }
  return chromium.launch({ executablePath, args: ['--no-sandbox', '--lang=zh-CN'] });
}

/**
 * How long a page waits for what the server does (a step, a produced PDF): generous, because the
 * browser tests share two cores with the rest of the suite, and producing a copy then takes
 * several seconds; a waiting test costs time only when something is wrong.
 */
export const PAGE_TIMEOUT_MS = 30_000;

/** A page as staff would have it: a laptop-sized window, in a zone other than the hospital's (so shown times prove they are converted). */
export async function newPage(browser: Browser, options: BrowserContextOptions = {}): Promise<{ page: Page; cspViolations: string[]; pageErrors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, timezoneId: 'America/New_York', locale: 'zh-CN', ...options });
  const page = await context.newPage();
  page.setDefaultTimeout(PAGE_TIMEOUT_MS);
  const cspViolations: string[] = [];
  const pageErrors: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  return { page, cspViolations, pageErrors };
}

/** The tablet at the table where both sides seal: a 10-inch screen held landscape, touched with a finger. */
export const TABLET: BrowserContextOptions = { viewport: { width: 1024, height: 768 }, hasTouch: true };

/**
 * A stroke drawn with a finger: touch events sent through the DevTools protocol (Playwright's
 * touchscreen only taps), which Chromium turns into the pointer events (`pointerType` "touch")
 * a tablet's screen gives. Points are in the page's CSS pixels.
 */
export async function drawByTouch(page: Page, points: readonly { x: number; y: number }[]): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  try {
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [points[0]] });
    for (const p of points.slice(1)) await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: [p] });
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
  } finally {
    await cdp.detach();
  }
}

/**
 * Screenshots of the main screens: into docs/console when CHARTWARDEN_SCREENSHOTS names it
 * (`node scripts/console-screenshots.mjs`), else into a temp dir (the same code runs in CI,
 * without touching the work tree).
 */
export function screenshotDir(): string {
  const target = process.env.CHARTWARDEN_SCREENSHOTS ? join(packageRoot(), process.env.CHARTWARDEN_SCREENSHOTS) : join(tmpdir(), 'chartwarden-console-screenshots');
  mkdirSync(target, { recursive: true });
  return target;
}

/**
 * The whole page as one picture: the window is made as tall as the page for the shot (a
 * full-page capture would paint the shell's fixed header where the window happened to be).
 */
export async function screenshot(page: Page, name: string): Promise<void> {
  const viewport = page.viewportSize() ?? { width: 1280, height: 860 };
  const height = (await page.evaluate('document.documentElement.scrollHeight')) as number;
  await page.setViewportSize({ width: viewport.width, height: Math.max(viewport.height, Math.min(height, 4000)) });
  await page.screenshot({ path: join(screenshotDir(), `${name}.png`) });
  await page.setViewportSize(viewport);
}

/** ARIA roles of controls: each must have an accessible name. */
const CONTROL_ROLES = ['button', 'link', 'textbox', 'checkbox', 'radio', 'combobox', 'listbox', 'tab', 'switch', 'slider', 'spinbutton', 'searchbox', 'menuitem', 'option', 'radiogroup'];

/**
 * Controls with no accessible name, read from the browser's own accessibility tree
 * (Playwright's ARIA snapshot: `- button "批准"`; an unnamed one is `- button` alone).
 */
export async function unnamedControls(page: Page): Promise<string[]> {
  const snapshot = await page.locator('body').ariaSnapshot();
  return snapshot
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => {
      const m = /^- (\w+)(.*)$/.exec(line);
      if (!m || !CONTROL_ROLES.includes(m[1])) return false;
      return !/^\s*"[^"]+"/.test(m[2]) && !/^\s*\/.+\//.test(m[2]);
    });
}

/** The number of controls the accessibility tree lists (so a check over none cannot pass by accident). */
export async function controlCount(page: Page): Promise<number> {
  const snapshot = await page.locator('body').ariaSnapshot();
  return snapshot.split('\n').filter((line) => CONTROL_ROLES.includes(/^\s*- (\w+)/.exec(line)?.[1] ?? '')).length;
}

/**
 * Text whose contrast with what is behind it is under WCAG AA (4.5:1; 3:1 for large text),
 * computed in the page from the rendered colours (in-page/low-contrast-text.js). Disabled
 * controls are exempt (WCAG 1.4.3).
 */
export function lowContrastText(page: Page): Promise<string[]> {
  return page.evaluate(readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'in-page', 'low-contrast-text.js'), 'utf8')) as Promise<string[]>;
}

/**
 * An instant as the console shows it: the default policy's hospital time zone (Asia/Shanghai),
 * `YYYY/MM/DD HH:mm`, as `Intl` formats zh-CN. Tests compare what a page says with it.
 */
export const shanghai = (iso: string): string =>
  new Intl.DateTimeFormat('zh-CN', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(iso));
