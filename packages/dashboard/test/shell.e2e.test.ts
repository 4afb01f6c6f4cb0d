/**
 * Issue 17, the dashboard's terminal in a real Chromium against the real stack (API, a real agent
 * and PTY): "Open shell" on the Agents page (only for callers who may run), typing into xterm.js
 * runs in the remote shell and the answer is on the screen (read from xterm's buffer, not the
 * bytes), the session appears in the Sessions list, and its replay page draws the same answer.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSystem } from '@vmo/testkit';
import { DashboardTab, launchChromium } from '@vmo/testkit/browser';

const AGENT = 'dash-shell';

/** The lines of the xterm hung on `selector` under `key` (ShellTerminal: vmoShell, Session: vmoReplay), trimmed. */
function screenLines(page: Page, selector: string, key: 'vmoShell' | 'vmoReplay'): Promise<string[]> {
  return page.evaluate(
    ([sel, k]) => {
      const probe = (document.querySelector(sel!) as (HTMLElement & Record<string, any>) | null)?.[k!];
      const buffer = probe?.terminal.buffer.active;
      if (!buffer) return [];
      const lines: string[] = [];
      for (let y = 0; y < buffer.length; y++) lines.push(buffer.getLine(y).translateToString(true).trim());
      return lines;
    },
    [selector, key],
  );
}

async function waitForLine(page: Page, selector: string, key: 'vmoShell' | 'vmoReplay', line: string): Promise<void> {
  await page.waitForFunction(
    ([sel, k, wanted]) => {
      const buffer = (document.querySelector(sel!) as (HTMLElement & Record<string, any>) | null)?.[k!]?.terminal.buffer.active;
      if (!buffer) return false;
      for (let y = 0; y < buffer.length; y++) if (buffer.getLine(y).translateToString(true).trim() === wanted) return true;
      return false;
    },
    [selector, key, line],
    { timeout: 45_000 },
  );
}

describe('dashboard: a shell on an agent, and its recording', { timeout: 180_000 }, () => {
  let system: TestSystem;
  let browser: Browser;
  let viewerToken: string;

  beforeAll(async () => {
    [system, browser] = await Promise.all([TestSystem.start({ label: 'dash_shell', workers: 0 }), launchChromium()]);
    await system.startAgent(AGENT);
    await system.client.vmo.users.create({ name: 'vic', role: 'viewer' });
    ({ token: viewerToken } = await system.client.vmo.tokens.create({ name: 'dash-viewer', user: 'vic' }));
    await system.client.vmo.policies.create({ name: 'vic-reads-all', subjects: { users: ['vic'] }, actions: ['read'], targets: '' });
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await system?.stop();
  });

  it('Open shell, type echo $((6*7)), see 42 on the screen; the session is listed and its replay shows 42', async () => {
    const tab = await DashboardTab.open(browser, system.apiUrls[0]!, { token: system.token });
    try {
      await tab.goto('/agents');
      const row = tab.page.locator(`tr[data-agent="${AGENT}"]`);
      await row.getByRole('link', { name: /Open shell/ }).click();
      await tab.page.waitForURL(`**/agents/${AGENT}/shell`);
      await tab.page.locator('.shell .state[data-state="live"]').waitFor();
      await tab.page.locator('.shell .screen').click();
      await tab.page.keyboard.type('echo $((6*7))');
      await tab.page.keyboard.press('Enter');
      await waitForLine(tab.page, '.shell .screen', 'vmoShell', '42');
      const sessionId = (await tab.page.locator('.shell a.session').textContent())!.trim();
      expect(sessionId).toMatch(/^shs_[0-9a-z]{20}$/);
      // The terminal has the size of its element, and the PTY was opened with it.
      const size = await tab.page.evaluate(() => {
        const t = (document.querySelector('.shell .screen') as HTMLElement & { vmoShell: { terminal: { cols: number; rows: number } } }).vmoShell.terminal;
        return { cols: t.cols, rows: t.rows };
      });
      await tab.page.keyboard.type('stty size');
      await tab.page.keyboard.press('Enter');
      await waitForLine(tab.page, '.shell .screen', 'vmoShell', `${size.rows} ${size.cols}`);
      await tab.page.keyboard.type('exit 3');
      await tab.page.keyboard.press('Enter');
      await tab.page.locator('.shell .state[data-state="ended"]').waitFor();

      await tab.goto('/sessions');
      const listed = tab.page.locator(`tr[data-session="${sessionId}"]`);
      await expect.poll(async () => (await listed.locator('td[data-end]').textContent())?.trim(), { timeout: 30_000 }).toBe('exit 3');
      await listed.getByRole('link', { name: sessionId }).click();
      await tab.page.waitForURL(`**/sessions/${sessionId}`);
      await waitForLine(tab.page, `.screen[data-session="${sessionId}"]`, 'vmoReplay', '42');
      expect(await screenLines(tab.page, `.screen[data-session="${sessionId}"]`, 'vmoReplay')).toContain(`${size.rows} ${size.cols}`);
      // Input is not recorded by default: nothing typed is shown.
      expect(await tab.page.locator('pre[data-typed]').count()).toBe(0);
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }
  });

  it('a viewer is offered no shell', async () => {
    const tab = await DashboardTab.open(browser, system.apiUrls[0]!, { token: viewerToken });
    try {
      await tab.goto('/agents');
      await tab.page.locator(`tr[data-agent="${AGENT}"]`).waitFor();
      expect(await tab.page.getByRole('link', { name: /Open shell/ }).count()).toBe(0);
      await tab.goto(`/agents/${AGENT}/shell`);
      await tab.page.getByText('does not allow it (jobs:run)').waitFor();
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }
  });
});
