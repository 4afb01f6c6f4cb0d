/**
 * Issue 13, the dashboard's front door in a real Chromium against the real stack: the API serves the
 * built pages at / with a strict CSP; sign-in with a token (a wrong one shows the API's message),
 * every page has its own URL that survives a reload and the back button, and a token revoked while
 * the tab is open returns to sign-in and then to the page it was on.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSystem } from '@vmo/testkit';
import { DashboardTab, launchChromium } from '@vmo/testkit/browser';

describe('dashboard: sign-in and pages with their own URLs', { timeout: 120_000 }, () => {
  let system: TestSystem;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    [system, browser] = await Promise.all([TestSystem.start({ label: 'dash_signin', workers: 0 }), launchChromium()]);
    base = system.apiUrls[0]!;
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await system?.stop();
  });

  it('serves the pages at any app path with a CSP that allows no inline script, and a JSON 404 for a missing file', async () => {
    const page = await fetch(`${base}/jobs/job_doesnotexist`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(await page.text()).toContain('<div id="app">');
    const missing = await fetch(`${base}/assets/nothing-here.js`);
    expect(missing.status).toBe(404);
    expect((await missing.json()).error.code).toBe('not_found');
    // A path escaping the folder names no built file.
    const escape = await fetch(`${base}/assets/..%2f..%2fpackage.json`);
    expect(escape.status).toBe(404);
  });

  it('signs in with a token, refuses a wrong one with the API\'s message, and keeps the page across a reload', async () => {
    const tab = await DashboardTab.open(browser, base);
    try {
      await tab.goto('/agents');
      await tab.page.waitForURL('**/sign-in?next=%2Fagents');
      await tab.screenshot('sign-in');
      // Chromium logs the refused request itself; that one is the test's doing.
      tab.allowConsoleErrors(/status of 401 .*\/v1\/me\b/);
      await tab.page.getByLabel('API token').fill('vmo_usr_not-a-real-token');
      await tab.page.getByRole('button', { name: 'Sign in' }).click();
      await tab.page.getByRole('alert').waitFor();
      expect(await tab.page.getByRole('alert').textContent()).toMatch(/unauthorized|token/i);

      await tab.page.getByLabel('API token').fill(system.token);
      await tab.page.getByRole('button', { name: 'Sign in' }).click();
      await tab.page.waitForURL('**/agents');
      await tab.page.getByRole('heading', { name: 'Agents', level: 1 }).waitFor();
      await tab.page.reload();
      await tab.page.getByRole('heading', { name: 'Agents', level: 1 }).waitFor();

      await tab.page.getByRole('link', { name: 'Hosts' }).click();
      await tab.page.waitForURL('**/hosts');
      await tab.page.goBack();
      await tab.page.waitForURL('**/agents');
      await tab.page.getByRole('heading', { name: 'Agents', level: 1 }).waitFor();
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }
  });

  it('a signed-out visit logs nothing in the console; a revoked token returns to sign-in, then to the page', async () => {
    const signedOut = await DashboardTab.open(browser, base);
    try {
      await signedOut.goto('/');
      await signedOut.page.waitForURL('**/sign-in?next=%2Fjobs');
      signedOut.expectNoConsoleErrors();
    } finally {
      await signedOut.close();
    }

    await system.client.vmo.users.create({ name: 'dora', role: 'operator' });
    const { token, id } = await system.client.vmo.tokens.create({ name: 'dash-expiring', user: 'dora' });
    const tab = await DashboardTab.open(browser, base, { token });
    try {
      await tab.goto('/runs');
      await tab.page.getByRole('heading', { name: 'Runs', level: 1 }).waitFor();
      await system.client.vmo.tokens.revoke(id);
      tab.allowConsoleErrors(/status of 401 .*\/v1\/me\b/); // the refused request, logged by Chromium
      // The stored token is refused at the next load: sign-in, saying why, with the way back.
      await tab.page.reload();
      await tab.page.waitForURL('**/sign-in?next=%2Fruns');
      await tab.page.getByText(/no longer valid/).waitFor();
      await tab.page.getByLabel('API token').fill(system.token);
      await tab.page.getByRole('button', { name: 'Sign in' }).click();
      await tab.page.waitForURL('**/runs');
      await tab.page.getByRole('heading', { name: 'Runs', level: 1 }).waitFor();
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }
  });

  it('never leaves the site after sign-in, whatever `next` says', async () => {
    const tab = await DashboardTab.open(browser, base, { token: system.token });
    try {
      for (const next of ['%2F%09%2Fevil.example', '%2F%5Cevil.example', '%2F%2Fevil.example', 'https%3A%2F%2Fevil.example%2Fjobs', 'javascript%3Aalert(1)', '%2F%0A%2Fevil.example']) {
        await tab.goto(`/sign-in?next=${next}`);
        await tab.page.getByRole('heading', { name: 'Jobs', level: 1 }).waitFor();
        expect(new URL(tab.page.url()).origin, next).toBe(base);
      }
      await tab.goto('/sign-in?next=%2Fhosts%3Fselector%3Denv%253Dprod');
      await tab.page.waitForURL('**/hosts?selector=env%3Dprod');
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }
  });
});
