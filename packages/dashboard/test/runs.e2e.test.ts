/**
 * Issue 13, the Runs, Run and New run pages in a real Chromium against the real stack (API, a
 * worker, four real agents: web-1..3 labelled role=web, api-1 role=api): the selector previews
 * its matches as it is typed (and shows the API's 400 for one that does not parse); a run submitted
 * from the form opens its page, whose grid shows each target's status live to the end, with the
 * summary groups and a target's output in the console; a failing target is red in the grid and its
 * own group in the summary, which shows a 503 summary_timeout as its message and asks again; a running run is canceled from its page; the list filters by status
 * and keeps the filter across a reload; a viewer has no New run or Cancel button; a run of 10,000
 * targets shows one page of tiles at a time.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import postgres from 'postgres';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSystem } from '@vmo/testkit';
import { DashboardTab, launchChromium } from '@vmo/testkit/browser';

/** The colours app.css gives the tones (light scheme), as Chromium computes them. */
const OK = 'rgb(26, 127, 55)';
const RUNNING = 'rgb(11, 95, 215)';
const DANGER = 'rgb(198, 40, 40)';
const MUTED = 'rgb(87, 96, 106)';

/** Each tile's target, status and the colour of its left edge, in grid order. */
const tiles = (page: Page) =>
  page.locator('button.tile').evaluateAll((buttons) =>
    buttons.map((b) => ({ target: b.getAttribute('data-target')!, status: b.getAttribute('data-status')!, edge: getComputedStyle(b).borderLeftColor })),
  );

async function waitForTiles(page: Page, want: Record<string, string>, timeout = 60_000): Promise<void> {
  await page.waitForFunction(
    (expected) => {
      const seen = Object.fromEntries([...document.querySelectorAll('button.tile')].map((b) => [b.getAttribute('data-target'), b.getAttribute('data-status')]));
      return Object.entries(expected).every(([target, status]) => seen[target] === status);
    },
    want,
    { timeout, polling: 100 },
  );
}

/**
 * Text the job console shows: in xterm's buffer (through the Terminal it hangs on its screen
 * element) and drawn by its DOM renderer, which draws only while the terminal is on screen.
 */
async function waitForConsoleText(page: Page, jobId: string, text: string): Promise<void> {
  await page.waitForFunction(
    ({ id, wanted }) => {
      const screen = document.querySelector(`.screen[data-job-id="${id}"]`) as (HTMLElement & { vmoConsole?: { terminal: any } }) | null;
      const buffer = screen?.vmoConsole?.terminal.buffer.active;
      if (!buffer || !screen?.querySelector('.xterm-rows')?.textContent?.includes(wanted)) return false;
      for (let y = 0; y < buffer.length; y++) if (buffer.getLine(y).translateToString(true).includes(wanted)) return true;
      return false;
    },
    { id: jobId, wanted: text },
    { timeout: 45_000, polling: 100 },
  );
}

/**
 * Chromium logs every refused request itself: a refusal a test provokes on purpose (a selector
 * that does not parse, a run the API refuses) is the test's doing, not the page's, and the test
 * allows it (tab.allowConsoleErrors) before the step. A fetch logs "… status of 404 (Not Found)
 * (…/v1/runs/run_0…)"; a stream's upgrade "WebSocket connection to '…/v1/runs/run_0…/stream'
 * failed: … response code: 404". Anything else still fails expectNoConsoleErrors.
 */
function provokedRefusal(status: number, path: string): RegExp {
  const p = path.replace(/[/.?]/g, '\\$&');
  return new RegExp(`status of ${status} .*${p}|${p}.*response code: ${status}\\b`);
}

describe('dashboard: fleet runs', { timeout: 240_000 }, () => {
  let system: TestSystem;
  let browser: Browser;
  let base: string;
  const gates: string[] = [];
  const gate = () => {
    const path = `/tmp/vmo-dash-runs-${randomBytes(6).toString('hex')}`;
    gates.push(path);
    return path;
  };
  /** Waits for the gate file, then runs `then`: a command that is running for as long as the test wants. */
  const gated = (path: string, then: string) => `while [ ! -e '${path}' ]; do sleep 0.1; done; ${then}`;

  beforeAll(async () => {
    [system, browser] = await Promise.all([TestSystem.start({ label: 'dash_runs' }), launchChromium()]);
    base = system.apiUrls[0]!;
    await Promise.all([
      ...['web-1', 'web-2', 'web-3'].map((name) => system.startAgent(name, { labels: { role: 'web' } })),
      system.startAgent('api-1', { labels: { role: 'api' } }),
    ]);
  }, 240_000);

  afterAll(async () => {
    for (const path of gates) if (!existsSync(path)) writeFileSync(path, ''); // no gated shell outlives the test
    await browser?.close();
    await system?.stop();
    for (const path of gates) rmSync(path, { force: true, recursive: true });
  });

  it('previews a selector as it is typed, refuses what the API refuses with its message, submits a run and follows it live to the end', async () => {
    const tab = await DashboardTab.open(browser, base, { token: system.token });
    try {
      await tab.goto('/runs');
      await tab.page.getByRole('link', { name: 'New run' }).click();
      await tab.page.waitForURL('**/runs/new');
      await tab.page.getByRole('heading', { name: 'New run', level: 1 }).waitFor();

      // Typed key by key: the preview follows, asking once the typing pauses.
      const selector = tab.page.getByRole('textbox', { name: /^Selector/ });
      await selector.pressSequentially('role=web', { delay: 40 });
      const preview = tab.page.getByRole('list', { name: 'Targets the selector matches' });
      await tab.page.getByTestId('preview-total').filter({ hasText: '3 targets match' }).waitFor();
      expect(await preview.locator('li').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-target')))).toEqual(['web-1', 'web-2', 'web-3']);
      expect(await preview.textContent()).toContain('online');

      await selector.fill('role in (web,api)');
      await tab.page.getByTestId('preview-total').filter({ hasText: '4 targets match' }).waitFor();
      tab.allowConsoleErrors(provokedRefusal(400, '/v1/targets'));
      await selector.fill('role in (web');
      const refusal = tab.page.getByRole('alert');
      await refusal.waitFor();
      expect(await refusal.textContent()).toMatch(/selector.*position|validation_failed/i);
      await selector.fill('role=nobody');
      await tab.page.getByTestId('preview-total').filter({ hasText: 'Matches nothing' }).waitFor();

      // The API's refusal of the run is shown as its message, and the form is kept.
      const marker = gate();
      const command = gated(marker, 'echo printed ok');
      await tab.page.getByLabel('Command').fill(command);
      tab.allowConsoleErrors(provokedRefusal(422, '/v1/runs'));
      await tab.page.getByRole('button', { name: 'Start run' }).click();
      await tab.page.getByRole('alert').filter({ hasText: 'no_targets' }).waitFor();
      expect(await tab.page.getByLabel('Command').inputValue()).toBe(command);
      await selector.fill('role=web');
      await tab.page.getByLabel('Canaries').fill('5');
      await tab.page.getByRole('button', { name: 'Start run' }).click();
      await tab.page.getByRole('alert').filter({ hasText: 'invalid_strategy' }).waitFor();
      expect(await tab.page.getByRole('alert').textContent()).toContain('5 canaries is more than the 3 targets');
      await tab.page.getByLabel('Canaries').fill('');
      await tab.page.getByLabel(/^Batch size/).fill('100%');
      await tab.page.getByLabel(/^Failure threshold/).fill('1');
      await tab.screenshot('new-run-1280');

      await tab.page.getByRole('button', { name: 'Start run' }).click();
      await tab.page.waitForURL(/\/runs\/run_[0-9a-z]{20}$/);
      const runId = new URL(tab.page.url()).pathname.split('/').pop()!;
      await tab.page.getByRole('heading', { name: `Run ${runId}`, level: 1 }).waitFor();
      expect(await tab.page.getByTestId('strategy-concurrency').textContent()).toBe('3 (given "100%") at a time');
      expect(await tab.page.getByTestId('strategy-errors').textContent()).toBe('stop after 1 failure');

      // Live: every target running (held at the gate), in the running colour; then, released, succeeded.
      await waitForTiles(tab.page, { 'web-1': 'running', 'web-2': 'running', 'web-3': 'running' });
      expect(await tiles(tab.page)).toEqual(['web-1', 'web-2', 'web-3'].map((target) => ({ target, status: 'running', edge: RUNNING })));
      await tab.page.getByTestId('run-counts').filter({ hasText: '3 running' }).waitFor();
      writeFileSync(marker, '');
      await waitForTiles(tab.page, { 'web-1': 'succeeded', 'web-2': 'succeeded', 'web-3': 'succeeded' });
      expect((await tiles(tab.page)).map((t) => t.edge)).toEqual([OK, OK, OK]);
      await tab.page.getByTestId('run-counts').filter({ hasText: '3 succeeded · 0 failed · 0 running · 0 queued of 3' }).waitFor();
      await tab.page.locator('.connection').filter({ hasText: 'ended' }).waitFor();
      await tab.page.locator('.header [data-status="succeeded"]').first().waitFor();
      expect(await tab.page.getByRole('button', { name: 'Cancel run' }).count()).toBe(0);

      // The summary: one group, three targets that printed the same.
      const group = tab.page.locator('.group[data-status="succeeded"]');
      await group.filter({ hasText: '3 targets printed' }).waitFor();
      expect(await group.locator('.sample').textContent()).toBe('printed ok');

      // A target's output, in the console; the selection is in the URL and survives a reload.
      await tab.page.locator('button.tile[data-target="web-2"]').click();
      await tab.page.waitForURL(/\?target=web-2$/);
      const web2 = (await system.client.vmo.runs.jobs(runId)).items.find((c) => c.target.name === 'web-2')!;
      await waitForConsoleText(tab.page, web2.id, 'printed ok');
      expect(await tab.page.locator('button.tile[data-target="web-2"]').getAttribute('aria-pressed')).toBe('true');
      await tab.page.reload();
      await waitForConsoleText(tab.page, web2.id, 'printed ok');
      await tab.screenshot('run-1280');
      await tab.page.setViewportSize({ width: 390, height: 844 });
      await tab.page.getByRole('heading', { name: 'Target web-2' }).waitFor();
      await tab.screenshot('run-390');
      await tab.page.setViewportSize({ width: 390, height: 844 });
      await tab.goto('/runs/new');
      await tab.page.getByRole('textbox', { name: /^Selector/ }).fill('role=api');
      await tab.page.getByTestId('preview-total').filter({ hasText: '1 target matches' }).waitFor();
      await tab.screenshot('new-run-390');

      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }
  });

  it('shows a failing target red in the grid and as its own group in the summary, after a 503 summary_timeout it asked again for', async () => {
    // One at a time, in run order (web-1, web-2, web-3): the third to count the others' marks is web-3.
    const marks = gate();
    const run = await system.client.vmo.runs.submit({
      command: `mkdir -p ${marks}; n=$(ls ${marks} | wc -l); touch ${marks}/$VMO_JOB_ID; if [ "$n" -eq 2 ]; then echo disk full; exit 3; fi; echo printed ok`,
      targets: { selector: 'role=web' },
      strategy: { maxConcurrency: 1 },
    });
    const tab = await DashboardTab.open(browser, base, { token: system.token });
    const runStreams: string[] = [];
    tab.page.on('websocket', (ws) => {
      if (ws.url().includes(`/v1/runs/${run.id}/stream`)) runStreams.push(ws.url());
    });
    // The first summary answers the documented 503 summary_timeout, as a run with gigabytes of
    // output would (this one's is too small for the server to time out on its own): the only
    // answer not from the server, put in at the browser's network layer, once.
    const timeoutMessage = "the summary was not ready within 15000 ms (its children's output is still being hashed, or Postgres is slow); retry: the hashes computed so far are kept";
    await tab.page.route(
      `**/v1/runs/${run.id}/summary`,
      (route) => route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: { code: 'summary_timeout', message: timeoutMessage } }) }),
      { times: 1 },
    );
    tab.allowConsoleErrors(provokedRefusal(503, `/v1/runs/${run.id}/summary`));
    try {
      await tab.goto(`/runs/${run.id}`);
      const summary = tab.page.getByRole('region', { name: 'Summary' });
      await summary.getByRole('alert').filter({ hasText: 'summary_timeout' }).waitFor();
      expect(await summary.getByRole('alert').textContent()).toContain(timeoutMessage);
      await summary.getByText('Asking again in a few seconds').waitFor();
      await waitForTiles(tab.page, { 'web-1': 'succeeded', 'web-2': 'succeeded', 'web-3': 'failed' });
      expect(await tiles(tab.page)).toEqual([
        { target: 'web-1', status: 'succeeded', edge: OK },
        { target: 'web-2', status: 'succeeded', edge: OK },
        { target: 'web-3', status: 'failed', edge: DANGER },
      ]);
      expect(await tab.page.locator('button.tile[data-target="web-3"]').textContent()).toContain('exit 3');
      await tab.page.locator('.header [data-status="failed"]').first().waitFor();
      await tab.page.getByTestId('run-counts').filter({ hasText: '2 succeeded · 1 failed' }).waitFor();

      const failed = tab.page.locator('.group[data-status="failed"]');
      await failed.filter({ hasText: '1 target' }).waitFor();
      expect(await failed.locator('h3').textContent()).toContain('exit code 3');
      expect(await failed.locator('.sample').textContent()).toBe('disk full');
      expect(await tab.page.locator('.group[data-status="succeeded"] .sample').textContent()).toBe('printed ok');
      // Asked again by itself: the groups replaced the message.
      expect(await summary.getByRole('alert').count()).toBe(0);

      // The grid's status filter, in the URL.
      await tab.page.getByRole('group', { name: 'Show targets by status' }).getByRole('radio', { name: /failed/ }).click();
      await tab.page.waitForURL(/\?show=failed$/);
      await expect.poll(async () => (await tiles(tab.page)).map((t) => t.target), { timeout: 15_000 }).toEqual(['web-3']);
      // A target in the summary opens its console.
      await failed.getByRole('button', { name: 'web-3' }).click();
      await tab.page.getByRole('heading', { name: 'Target web-3' }).waitFor();
      const web3 = (await system.client.vmo.runs.jobs(run.id, { status: 'failed' })).items[0]!;
      await waitForConsoleText(tab.page, web3.id, 'disk full');
      await tab.screenshot('run-failed-1280');
      await tab.page.emulateMedia({ colorScheme: 'dark' });
      await tab.screenshot('run-failed-dark-1280');

      // By keyboard: a tile is a button.
      await tab.page.getByRole('radio', { name: /^all/ }).click();
      await tab.page.locator('button.tile[data-target="web-1"]').focus();
      await tab.page.keyboard.press('Enter');
      await tab.page.getByRole('heading', { name: 'Target web-1' }).waitFor();
      expect(new URL(tab.page.url()).searchParams.get('target')).toBe('web-1');
      // Filters and selections are the page's query: the run's stream was opened once, not again per click.
      expect(runStreams).toHaveLength(1);

      // Run again: the form, filled in with its command and targets.
      await tab.page.getByRole('link', { name: 'Run again' }).click();
      await tab.page.waitForURL('**/runs/new?**');
      expect(await tab.page.getByLabel('Command').inputValue()).toBe(run.command);
      expect(await tab.page.getByRole('textbox', { name: /^Selector/ }).inputValue()).toBe('role=web');
      await tab.page.getByTestId('preview-total').filter({ hasText: '3 targets match' }).waitFor();
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }
  });

  it('cancels a running run from its page; a viewer sees it with no Cancel or New run button', async () => {
    const marker = gate();
    const run = await system.client.vmo.runs.submit({ command: gated(marker, 'echo never'), targets: { selector: 'role=web' } });
    await system.client.vmo.users.create({ name: 'vera', role: 'viewer' });
    // A run is visible to whoever may read every one of its targets.
    await system.client.vmo.policies.create({ name: 'vera-reads-all', subjects: { users: ['vera'] }, actions: ['read'], targets: '' });
    const veraToken = (await system.client.vmo.tokens.create({ name: 'vera-dash', user: 'vera' })).token;

    const viewer = await DashboardTab.open(browser, base, { token: veraToken });
    try {
      await viewer.goto(`/runs/${run.id}`);
      await waitForTiles(viewer.page, { 'web-1': 'running', 'web-2': 'running', 'web-3': 'running' });
      expect(await viewer.page.getByRole('button', { name: 'Cancel run' }).count()).toBe(0);
      await viewer.goto('/runs');
      await viewer.page.locator(`tr[data-run-id="${run.id}"]`).waitFor();
      expect(await viewer.page.getByRole('link', { name: 'New run' }).count()).toBe(0);
      await viewer.goto('/runs/new');
      await viewer.page.getByText('may look at runs but not start them').waitFor();
      expect(await viewer.page.getByRole('button', { name: 'Start run' }).count()).toBe(0);
      viewer.expectNoConsoleErrors();
    } finally {
      await viewer.close();
    }

    const tab = await DashboardTab.open(browser, base, { token: system.token });
    try {
      await tab.goto(`/runs/${run.id}`);
      await waitForTiles(tab.page, { 'web-1': 'running', 'web-2': 'running', 'web-3': 'running' });
      await tab.page.getByRole('button', { name: 'Cancel run' }).click();
      const dialog = tab.page.getByRole('alertdialog');
      await dialog.waitFor();
      await dialog.getByRole('button', { name: 'Cancel run' }).click();
      await waitForTiles(tab.page, { 'web-1': 'canceled', 'web-2': 'canceled', 'web-3': 'canceled' });
      expect((await tiles(tab.page)).map((t) => t.edge)).toEqual([MUTED, MUTED, MUTED]);
      await tab.page.locator('.header [data-status="canceled"]').first().waitFor();
      await tab.page.getByRole('button', { name: 'Cancel run' }).waitFor({ state: 'detached' });
      expect((await system.client.vmo.runs.get(run.id)).status).toBe('canceled');
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }
  });

  it('lists runs newest first with their progress, filters by status in the URL, and keeps the filter across a reload', async () => {
    const all = (await system.client.vmo.runs.list()).items;
    expect(all.length).toBeGreaterThanOrEqual(3);
    const tab = await DashboardTab.open(browser, base, { token: system.token });
    try {
      await tab.goto('/runs');
      const rowIds = () => tab.page.locator('table.runs tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-run-id')));
      await tab.page.waitForFunction((n) => document.querySelectorAll('table.runs tbody tr [data-testid="run-counts"]').length === n, all.length);
      expect(await rowIds()).toEqual(all.map((r) => r.id));
      const canceled = all.find((r) => r.status === 'canceled')!;
      const row = tab.page.locator(`tr[data-run-id="${canceled.id}"]`);
      expect(await row.getByTestId('run-counts').textContent()).toContain('3 canceled or skipped');
      expect(await row.textContent()).toContain('role=web');
      await tab.screenshot('runs-1280');

      await tab.page.getByRole('group', { name: 'Status' }).getByRole('button', { name: 'canceled' }).click();
      await tab.page.waitForURL(/\/runs\?status=canceled$/);
      await tab.page.waitForFunction((id) => [...document.querySelectorAll('table.runs tbody tr')].map((tr) => tr.getAttribute('data-run-id')).join() === id, canceled.id);
      await tab.page.reload();
      await tab.page.waitForFunction((id) => [...document.querySelectorAll('table.runs tbody tr')].map((tr) => tr.getAttribute('data-run-id')).join() === id, canceled.id);
      expect(await tab.page.getByRole('button', { name: 'canceled' }).getAttribute('aria-pressed')).toBe('true');

      await tab.page.setViewportSize({ width: 390, height: 844 });
      await tab.page.getByRole('button', { name: 'Show all' }).click();
      await tab.page.waitForURL(/\/runs$/);
      await tab.page.waitForFunction((n) => document.querySelectorAll('table.runs tbody tr').length === n, all.length);
      await tab.screenshot('runs-390');

      // Live: a run submitted elsewhere appears, and its status changes, without a reload.
      const another = await system.client.vmo.runs.submit({ command: 'echo hello from api', targets: { agents: ['api-1'] } });
      await tab.page.locator(`tr[data-run-id="${another.id}"] [data-status="succeeded"]`).waitFor({ timeout: 60_000 });
      expect((await rowIds())[0]).toBe(another.id);

      // A run that is not there: the API's message.
      tab.allowConsoleErrors(provokedRefusal(404, '/v1/runs/run_00000000000000000000'));
      await tab.goto('/runs/run_00000000000000000000');
      await tab.page.getByRole('alert').filter({ hasText: 'not_found' }).waitFor();
      expect(await tab.page.getByRole('alert').count()).toBe(1);
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }
  });

  it('pages the runs list by keyset, 25 at a time: Older, Back, Newest', async () => {
    // Enough small runs for a second page (each one child on api-1).
    for (let i = 0; i < 24; i++) await system.client.vmo.runs.submit({ command: `echo page ${i}`, targets: { agents: ['api-1'] } });
    const newest = (await system.client.vmo.runs.list({ limit: 500 })).items.map((r) => r.id);
    expect(newest.length).toBeGreaterThan(25);
    const tab = await DashboardTab.open(browser, base, { token: system.token });
    const shown = (ids: string[]) =>
      tab.page.waitForFunction((want) => [...document.querySelectorAll('table.runs tbody tr')].map((tr) => tr.getAttribute('data-run-id')).join() === want.join(), ids);
    try {
      await tab.goto('/runs');
      await shown(newest.slice(0, 25));
      await tab.page.getByRole('link', { name: 'Older' }).click();
      await tab.page.waitForURL(new RegExp(`/runs\\?cursor=${newest[24]}$`));
      await shown(newest.slice(25, 50));
      await tab.page.reload();
      await shown(newest.slice(25, 50));
      await tab.page.goBack();
      await tab.page.waitForURL(/\/runs$/);
      await shown(newest.slice(0, 25));
      await tab.page.goForward();
      await shown(newest.slice(25, 50));
      await tab.page.getByRole('link', { name: 'Newest' }).click();
      await shown(newest.slice(0, 25));
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }
  });

  it('shows a run of 10,000 targets one page of tiles at a time, with its counts and summary', async () => {
    // 10,000 SSH hosts nobody listens for: the first child fails to connect and, with no failure
    // allowed, the other 9,999 are skipped. What is measured is the page, not SSH.
    const sql = postgres(system.databaseUrl, { max: 1, onnotice: () => {} });
    try {
      await sql`
        insert into hosts (id, name, environment, host, "user", port, labels)
        select 'host_big' || lpad(g::text, 12, '0'), 'big-' || lpad(g::text, 5, '0'), 'default', '127.0.0.1', 'nobody', 1, '{"fleet":"big"}'::jsonb
        from generate_series(1, 10000) g`;
    } finally {
      await sql.end();
    }
    const run = await system.client.vmo.runs.submit({ command: 'true', targets: { selector: 'fleet=big' }, strategy: { maxConcurrency: 1, maxErrors: 0 } });
    expect(run.total).toBe(10_000);
    const tab = await DashboardTab.open(browser, base, { token: system.token });
    // The first summary of 10,000 children hashes each one's output; on a loaded machine it may
    // be the documented 503 summary_timeout, which the page shows and asks again (the request
    // Chromium logged is that answer, not an error of the page's).
    tab.allowConsoleErrors(provokedRefusal(503, `/v1/runs/${run.id}/summary`));
    try {
      await tab.goto(`/runs/${run.id}`);
      await tab.page.getByTestId('run-counts').first().filter({ hasText: '9999 canceled or skipped' }).waitFor({ timeout: 120_000 });
      await tab.page.locator('.connection').filter({ hasText: 'ended' }).waitFor({ timeout: 60_000 });
      // One page of tiles, never 10,000 nodes; the pager says where it is.
      expect(await tab.page.locator('button.tile').count()).toBe(200);
      await tab.page.getByRole('navigation', { name: 'Pages of targets' }).filter({ hasText: '1–200 of 10000' }).waitFor();
      await tab.page.getByRole('button', { name: 'Page 50' }).click();
      await tab.page.waitForURL(/\?page=50$/);
      await expect.poll(async () => (await tiles(tab.page)).at(-1), { timeout: 15_000 }).toEqual({ target: 'big-10000@default', status: 'skipped', edge: MUTED });
      // The one that failed, by the status filter; a name, by the search.
      await tab.page.getByRole('radio', { name: /^failed/ }).click();
      await expect.poll(() => tiles(tab.page), { timeout: 15_000 }).toEqual([{ target: 'big-00001@default', status: 'failed', edge: DANGER }]);
      await tab.page.getByRole('radio', { name: /^all/ }).click();
      await tab.page.getByRole('searchbox', { name: 'Find a target' }).fill('big-0999');
      await tab.page.waitForFunction(() => document.querySelectorAll('button.tile').length === 10);
      await tab.page.locator('.group[data-status="skipped"]').filter({ hasText: '9999 targets' }).waitFor();
      await tab.screenshot('run-10000-1280');
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }
  });
});
