import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/**
 * Debian's Chromium driven by playwright-core, for the dashboard's end-to-end tests
 * (packages/dashboard/test). Import as `@vmo/testkit/browser`: the other tests never load it.
 */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * Headless, and kept off the network: this machine (and CI) has none beyond loopback, and without
 * these flags Chromium keeps trying Google's hosts (update checks, sync, field trials).
 */
const CHROMIUM_ARGS = [
  '--no-sandbox', // root in CI: Chromium refuses its sandbox as root
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--metrics-recording-only',
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
}

/** test-output/screenshots at the repository's root (ignored by git): look at them before calling a page done. */
export const SCREENSHOT_DIR = fileURLToPath(new URL('../../../test-output/screenshots/', import.meta.url));

export interface DashboardOptions {
  /** Signed in with this token (stored as the sign-in page stores it) before the first page; none: signed out. */
  token?: string;
  viewport?: { width: number; height: number };
  colorScheme?: 'light' | 'dark';
}

/**
 * One browser tab on the dashboard of `baseUrl`, recording every console error and uncaught page
 * error: `expectNoConsoleErrors()` fails a test whose page logged any (the dashboard must log none).
 *
 * Chromium itself logs each refused request ("Failed to load resource: the server responded with
 * a status of 422", "WebSocket connection to … failed"): when a test provokes one on purpose, it
 * says so with `allowConsoleErrors(pattern)` before the provoking step (or `allow` at the end).
 * The record is never wiped: whatever no pattern names still fails the test.
 */
export class DashboardTab {
  private readonly errors: string[] = [];
  private readonly allowed: RegExp[] = [];

  private constructor(
    readonly context: BrowserContext,
    readonly page: Page,
    readonly baseUrl: string,
  ) {
    page.on('console', (msg) => {
      if (msg.type() === 'error') this.errors.push(`${msg.text()} (${msg.location().url})`);
    });
    page.on('pageerror', (err) => this.errors.push(`uncaught: ${err.stack ?? err.message}`));
  }

  /** Every console error and uncaught error the page logged so far, allowed or not. */
  get consoleErrors(): readonly string[] {
    return this.errors;
  }

  static async open(browser: Browser, baseUrl: string, opts: DashboardOptions = {}): Promise<DashboardTab> {
    const context = await browser.newContext({
      baseURL: baseUrl,
      viewport: opts.viewport ?? { width: 1280, height: 800 },
      colorScheme: opts.colorScheme ?? 'light',
    });
    context.setDefaultTimeout(30_000);
    if (opts.token !== undefined) {
      // The same key the sign-in page writes (packages/dashboard/src/lib/session.svelte.ts).
      // A string, not a function: it runs in the page, where `localStorage` is (the test kit has no DOM types).
      await context.addInitScript(`window.localStorage.setItem('vmo.token', ${JSON.stringify(opts.token)});`);
    }
    const page = await context.newPage();
    return new DashboardTab(context, page, baseUrl);
  }

  /** Go to a path of the dashboard (`/jobs/job_1`) and wait for the app to have drawn it. */
  async goto(path: string): Promise<void> {
    await this.page.goto(path);
    await this.page.waitForSelector('#app > *');
  }

  /** test-output/screenshots/<name>.png, the whole page. */
  async screenshot(name: string): Promise<string> {
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    const path = join(SCREENSHOT_DIR, `${name}.png`);
    await this.page.screenshot({ path, fullPage: true });
    return path;
  }

  /**
   * Console errors matching `patterns` are the test's doing (a refusal it provokes, a connection it
   * cuts): expectNoConsoleErrors lets them through from now on. Match the status and the path, as
   * narrowly as the step allows (`/status of 422 .*\/v1\/jobs/`); no `g` flag (test() would keep state).
   */
  allowConsoleErrors(...patterns: RegExp[]): void {
    this.allowed.push(...patterns);
  }

  /** Throws listing what the page logged as errors, but those `allow` or allowConsoleErrors() names (every test calls it at its end). */
  expectNoConsoleErrors(opts: { allow?: readonly RegExp[] } = {}): void {
    const allowed = [...this.allowed, ...(opts.allow ?? [])];
    const unexpected = this.errors.filter((line) => !allowed.some((pattern) => pattern.test(line)));
    if (unexpected.length > 0) throw new Error(`the page logged ${unexpected.length} error(s):\n  ${unexpected.join('\n  ')}`);
  }

  async close(): Promise<void> {
    await this.context.close();
  }
}
