/**
 * Issue 13, pages live without a reload (src/lib/live.svelte.ts) in a real Chromium against the
 * real stack: one events socket (GET /v1/events) per tab, shared by the pages that subscribe,
 * kept across a page change and closed once no page listens; a job submitted elsewhere appears on
 * the Jobs page when the feed says `jobs` changed; and a job submitted while the tab's connection
 * was cut appears once the feed is back: the list is asked for again right after the new hello
 * (every subscriber is called on a reconnect), not at the 10 s fallback poll.
 */
import type { Browser, WebSocket as PageSocket } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TcpProxy, TestSystem, waitFor } from '@vmo/testkit';
import { DashboardTab, launchChromium } from '@vmo/testkit/browser';

const DEADLINE_MS = 30_000;
/**
 * A reconnect's refetch follows its hello at once; the fallback poll (every 10 s while the feed is
 * down, stopped by the hello) cannot stand in for it within this. Generous for a loaded machine.
 */
const REFETCH_AFTER_HELLO_MS = 2_500;

describe('dashboard: live pages over the events socket', { timeout: 180_000 }, () => {
  let system: TestSystem;
  let browser: Browser;
  let proxy: TcpProxy;

  beforeAll(async () => {
    // No worker: submitted jobs stay queued, so each one changes the list once.
    [system, browser] = await Promise.all([TestSystem.start({ label: 'dash_live', workers: 0 }), launchChromium()]);
    // The tab reaches the API through a proxy the test can cut (the page's own origin is the proxy's).
    proxy = await TcpProxy.start(Number(new URL(system.apiUrls[0]!).port));
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await proxy?.close();
    await system?.stop();
  });

  it('one socket for the tab: a job submitted elsewhere shows up when told, the socket outlives a page change, closes when no page listens, and a reconnect refetches', async () => {
    const tab = await DashboardTab.open(browser, proxy.url, { token: system.token });
    const sockets: { ws: PageSocket; frames: string[]; closed: boolean; helloAt?: number }[] = [];
    tab.page.on('websocket', (ws) => {
      if (!ws.url().endsWith('/v1/events')) return;
      const entry: (typeof sockets)[number] = { ws, frames: [], closed: false };
      ws.on('framereceived', (f) => {
        entry.frames.push(String(f.payload));
        if (String(f.payload) === '{"type":"hello"}') entry.helloAt ??= Date.now();
      });
      ws.on('close', () => (entry.closed = true));
      sockets.push(entry);
    });
    /** When the page asked for the jobs list (the test's clock, as the hello's: both are events of the page, in order). */
    const listAsked: number[] = [];
    tab.page.on('request', (req) => {
      if (req.method() === 'GET' && new URL(req.url()).pathname === '/v1/jobs') listAsked.push(Date.now());
    });
    const helloOn = (n: number) => waitFor(`hello on events socket #${n + 1}`, () => sockets[n]?.frames.includes('{"type":"hello"}'), DEADLINE_MS);
    try {
      await tab.goto('/jobs');
      await tab.page.getByText('No jobs yet.').waitFor();
      await helloOn(0);

      await system.client.submit({ command: 'echo told-by-the-feed', target: { type: 'local' } });
      await tab.page.getByText('echo told-by-the-feed').first().waitFor({ timeout: DEADLINE_MS });
      expect(sockets[0]!.frames).toContain('{"type":"changed","topics":["jobs"]}');
      await tab.screenshot('live-jobs-told');

      // Jobs → Agents (both listen): the same socket; → New job (nobody listens): it closes.
      await tab.page.getByRole('link', { name: 'Agents', exact: true }).click();
      await tab.page.getByRole('heading', { name: 'Agents', level: 1 }).waitFor();
      await tab.page.getByRole('link', { name: 'Jobs', exact: true }).click();
      await tab.page.getByText('echo told-by-the-feed').first().waitFor();
      expect(sockets).toHaveLength(1);
      expect(sockets[0]!.closed).toBe(false);
      await tab.page.getByRole('link', { name: 'New job' }).click();
      await tab.page.getByRole('heading', { name: 'New job', level: 1 }).waitFor();
      await waitFor('the events socket closed once no page listens', () => sockets[0]!.closed, DEADLINE_MS);

      // Back to the list: a new socket. Then the tab's connections are cut, a job is submitted
      // meanwhile (straight to the API), and the page shows it once the feed is back.
      await tab.page.goBack();
      await tab.page.getByText('echo told-by-the-feed').first().waitFor();
      await helloOn(1);
      // What Chromium logs while the connection is cut (refused sockets, failed polls) is this test's doing.
      tab.allowConsoleErrors(/WebSocket connection to '.*\/v1\/events' failed/, /Failed to load resource: net::ERR_\w+ \(.*\/v1\/jobs\b/);
      proxy.cut();
      await waitFor('the events socket dropped', () => sockets[1]!.closed, DEADLINE_MS);
      await system.client.submit({ command: 'echo made-while-cut', target: { type: 'local' } });
      expect(await tab.page.getByText('echo made-while-cut').count()).toBe(0);
      proxy.restore();
      const back = await waitFor('the feed back (a hello on a new socket)', () => sockets.slice(2).find((s) => s.helloAt !== undefined), DEADLINE_MS);
      // The hello itself makes the page ask again (the poll stopped at it): a GET /v1/jobs follows at once.
      await waitFor('GET /v1/jobs right after the new hello', () => listAsked.some((at) => at >= back.helloAt!), REFETCH_AFTER_HELLO_MS);
      await tab.page.getByText('echo made-while-cut').first().waitFor({ timeout: DEADLINE_MS });
      await tab.screenshot('live-jobs-after-reconnect');
      await tab.page.getByText('echo told-by-the-feed').first().waitFor();
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }
  });
});
