/**
 * Issue 13, the Jobs and New job pages in a real Chromium against the real stack (API, worker, a
 * real agent `web-1`, and 100,000 older jobs in the database): a job submitted from the form runs
 * on web-1 and opens its page; the API's refusal is shown and the form kept; the list is newest
 * first, asks for one page at a time, shows a job submitted elsewhere and its status changes
 * without a reload; filters by status and creator narrow it and survive a reload; keyset paging
 * reaches older jobs; a viewer has no New job button; a token revoked while the list is open
 * returns the tab to sign-in at the next refresh.
 */
import { join } from 'node:path';
import postgres from 'postgres';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSystem, type ApiClient } from '@vmo/testkit';
import { DashboardTab, launchChromium, SCREENSHOT_DIR } from '@vmo/testkit/browser';

const SEEDED = 100_000;
const PAGE_SIZE = 50;

describe('dashboard: the jobs list and the new-job form', { timeout: 180_000 }, () => {
  let system: TestSystem;
  let browser: Browser;
  let base: string;
  let olga: ApiClient;
  let vicToken: string;

  /** The rows' job ids and statuses, top to bottom. */
  const rows = async (page: Page) =>
    page.locator('table.jobs tbody tr').evaluateAll((trs) => trs.map((tr) => ({ id: tr.getAttribute('data-job-id')!, status: tr.getAttribute('data-status')! })));
  const rowIds = async (page: Page) => (await rows(page)).map((r) => r.id);

  beforeAll(async () => {
    [system, browser] = await Promise.all([TestSystem.start({ label: 'dash_jobs' }), launchChromium()]);
    base = system.apiUrls[0]!;
    // 100,000 finished jobs from the day before: the pages must stay one index seek each.
    const sql = postgres(system.databaseUrl, { max: 1, onnotice: () => {} });
    try {
      await sql`
        insert into jobs (id, status, command, target, timeout_ms, exit_code, created_by, created_at, started_at, finished_at)
        select 'job_seed' || lpad(g::text, 16, '0'),
               (array['succeeded','failed','canceled'])[1 + g % 3],
               'echo seeded ' || g, '{"type":"local"}'::jsonb, 60000,
               case when g % 3 = 0 then 0 when g % 3 = 1 then 1 end,
               'seed', now() - interval '1 day' - make_interval(secs => ${SEEDED} - g),
               now() - interval '1 day' - make_interval(secs => ${SEEDED} - g),
               now() - interval '1 day' - make_interval(secs => ${SEEDED} - g) + interval '2 seconds'
        from generate_series(1, ${SEEDED}) g`;
      await sql`analyze jobs`;
    } finally {
      await sql.end();
    }
    await system.startAgent('web-1', { labels: { role: 'web' } });
    expect((await system.client.request('POST', '/v1/hosts', { name: 'db-1', environment: 'prod', host: '127.0.0.1', port: 2222, user: 'deploy' })).status).toBe(201);
    // Registered, never started: offline, so listed after the online one.
    expect((await system.client.request('POST', '/v1/agents', { name: 'web-2' })).status).toBe(201);

    await system.client.vmo.users.create({ name: 'olga', role: 'operator' });
    await system.client.vmo.users.create({ name: 'vic', role: 'viewer' });
    await system.client.vmo.policies.create({ name: 'olga-runs-anywhere', subjects: { users: ['olga'] }, actions: ['run'], targets: '' });
    olga = system.clientFor(0, (await system.client.vmo.tokens.create({ name: 'olga-dash', user: 'olga' })).token);
    vicToken = (await system.client.vmo.tokens.create({ name: 'vic-dash', user: 'vic' })).token;
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await system?.stop();
  });

  it('pre-fills the form from the query, shows the API\'s refusal keeping what was typed, and a submitted job opens its page', async () => {
    const tab = await DashboardTab.open(browser, base, { token: system.token });
    try {
      // "Run again" from a job page: the command, target, cwd, timeout, env and labels come in the query.
      const again = new URLSearchParams([['command', 'echo again'], ['target', 'agent:web-1'], ['cwd', '/srv'], ['timeoutMs', String(2 * 3_600_000)], ['env', 'MODE=a=b'], ['label', 'origin=again']]);
      await tab.goto(`/jobs/new?${again}`);
      await tab.page.getByRole('heading', { name: 'New job', level: 1 }).waitFor();
      expect(await tab.page.getByLabel('Command').inputValue()).toBe('echo again');
      expect(await tab.page.getByLabel('Agent name').inputValue()).toBe('web-1');
      expect(await tab.page.getByRole('radio', { name: 'Agent' }).isChecked()).toBe(true);
      expect(await tab.page.getByLabel('Working directory').inputValue()).toBe('/srv');
      expect(await tab.page.getByLabel('Timeout', { exact: true }).inputValue()).toBe('2');
      expect(await tab.page.getByLabel('Timeout unit').inputValue()).toBe('h');
      expect([await tab.page.getByLabel('Variable 1 name').inputValue(), await tab.page.getByLabel('Variable 1 value').inputValue()]).toEqual(['MODE', 'a=b']);
      expect([await tab.page.getByLabel('Label 1 name').inputValue(), await tab.page.getByLabel('Label 1 value').inputValue()]).toEqual(['origin', 'again']);

      await tab.goto('/jobs');
      await tab.page.getByRole('link', { name: 'New job' }).click();
      await tab.page.waitForURL('**/jobs/new');
      await tab.page.getByLabel('Command').fill('echo hello-from-the-form; echo "$GREETING"');

      // A name that is nobody: the API's 422, the form as it was.
      tab.allowConsoleErrors(/status of 422 .*\/v1\/jobs\b/); // Chromium logs the refused request itself
      await tab.page.getByLabel('Agent name').fill('nope');
      await tab.page.getByText('No agent in the list matches "nope"').waitFor();
      await tab.page.getByRole('button', { name: 'Run job' }).click();
      const alert = tab.page.getByRole('alert');
      await alert.waitFor();
      expect(await alert.textContent()).toMatch(/no agent.*"nope".*\(unknown_agent\)/s);
      expect(await tab.page.getByLabel('Command').inputValue()).toBe('echo hello-from-the-form; echo "$GREETING"');

      // SSH hosts are listed the same way, by name@environment.
      await tab.page.getByRole('radio', { name: 'SSH host' }).check();
      await tab.page.getByLabel('Host name').fill('db');
      await expect.poll(() => tab.page.getByRole('list', { name: 'Matching hosts' }).getByRole('button').allTextContents()).toEqual([expect.stringMatching(/^db-1@prod\s*deploy@127\.0\.0\.1:2222/)]);
      await tab.page.getByRole('radio', { name: 'Agent' }).check();

      // Typing narrows the agents, online first; a click picks one.
      await tab.page.getByLabel('Agent name').fill('web');
      const matches = tab.page.getByRole('list', { name: 'Matching agents' }).getByRole('button');
      await expect.poll(() => matches.allTextContents()).toEqual([expect.stringMatching(/^web-1\s*online/), expect.stringMatching(/^web-2\s*offline/)]);
      await tab.screenshot('new-job-picker-1280');
      await matches.first().click();
      expect(await tab.page.getByLabel('Agent name').inputValue()).toBe('web-1');

      await tab.page.getByRole('button', { name: 'Add variable' }).click();
      await tab.page.getByLabel('Variable 1 name').fill('GREETING');
      await tab.page.getByLabel('Variable 1 value').fill('hi there');
      await tab.page.getByLabel('Working directory').fill('/tmp');
      await tab.page.getByLabel('Timeout', { exact: true }).fill('5');
      await tab.page.getByRole('button', { name: 'Add label' }).click();
      await tab.page.getByLabel('Label 1 name').fill('origin');
      await tab.page.getByLabel('Label 1 value').fill('dashboard');
      await tab.screenshot('new-job-1280');

      await tab.page.getByRole('button', { name: 'Run job' }).click();
      await tab.page.waitForURL(/\/jobs\/job_[0-9a-z]{20}$/);
      const id = new URL(tab.page.url()).pathname.split('/').pop()!;
      const job = await system.client.waitForEnd(id);
      expect(job).toMatchObject({
        status: 'succeeded',
        command: 'echo hello-from-the-form; echo "$GREETING"',
        target: { type: 'agent', agent: 'web-1' },
        env: { GREETING: 'hi there' },
        cwd: '/tmp',
        timeoutMs: 5 * 60_000,
        labels: { origin: 'dashboard' },
      });
      expect((await system.client.logs(id)).toString()).toBe('hello-from-the-form\nhi there\n');
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }

    // A phone, in the dark: the form fits its width.
    const phone = await DashboardTab.open(browser, base, { token: system.token, viewport: { width: 390, height: 844 }, colorScheme: 'dark' });
    try {
      await phone.goto(`/jobs/new?command=${encodeURIComponent('uptime')}&target=agent:web`);
      await phone.page.getByRole('list', { name: 'Matching agents' }).waitFor();
      await phone.page.getByRole('button', { name: 'Add variable' }).click();
      expect(await phone.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBeLessThanOrEqual(0);
      await phone.screenshot('new-job-390-dark');
      phone.expectNoConsoleErrors();
    } finally {
      await phone.close();
    }
  });

  it('lists newest first one page at a time, and shows a job submitted elsewhere and its status changes without a reload', async () => {
    const tab = await DashboardTab.open(browser, base, { token: system.token });
    const asked: URL[] = [];
    tab.page.on('request', (req) => {
      const url = new URL(req.url());
      if (url.pathname === '/v1/jobs' && req.method() === 'GET') asked.push(url);
    });
    try {
      await tab.goto('/jobs');
      await tab.page.getByRole('heading', { name: 'Jobs', level: 1 }).waitFor();
      await tab.page.locator('table.jobs tbody tr').first().waitFor();
      const newest = await system.client.vmo.jobs.list({ limit: PAGE_SIZE });
      expect(await rowIds(tab.page)).toEqual(newest.items.map((j) => j.id));
      const times = await tab.page.locator('table.jobs tbody time').evaluateAll((ts) => ts.map((t) => Date.parse(t.getAttribute('datetime')!)));
      expect(times).toEqual([...times].sort((a, b) => b - a));
      // The full time on hover, the command in monospace.
      expect(await tab.page.locator('table.jobs tbody time').first().getAttribute('title')).toMatch(/\d{4}/);
      expect(await tab.page.locator('table.jobs tbody td.command a').first().evaluate((a) => getComputedStyle(a).fontFamily)).toMatch(/mono|Menlo|Consolas/i);

      await tab.page.evaluate(() => ((window as unknown as { stayed: boolean }).stayed = true));
      const submitted = await olga.submit({ command: 'sleep 2; echo live', target: { type: 'agent', agent: 'web-1' } });
      const row = tab.page.locator(`tr[data-job-id="${submitted.id}"]`);
      await row.waitFor({ timeout: 30_000 });
      expect((await rowIds(tab.page))[0]).toBe(submitted.id);
      expect(await row.locator('td.creator').textContent()).toBe('olga');
      expect(await row.locator('td.target').textContent()).toMatch(/agent\s*web-1/);
      await tab.page.locator(`tr[data-job-id="${submitted.id}"][data-status="succeeded"]`).waitFor({ timeout: 45_000 });
      expect(await row.locator('td.exit').textContent()).toBe('0');
      // Still the same document: no reload happened.
      expect(await tab.page.evaluate(() => (window as unknown as { stayed?: boolean }).stayed)).toBe(true);
      await tab.screenshot('jobs-1280');

      // Every request was for one page: never the whole table.
      expect(asked.length).toBeGreaterThan(1);
      for (const url of asked) expect(url.searchParams.get('limit')).toBe(String(PAGE_SIZE));
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }

    // A phone, in the dark.
    const phone = await DashboardTab.open(browser, base, { token: system.token, viewport: { width: 390, height: 844 }, colorScheme: 'dark' });
    try {
      await phone.goto('/jobs');
      await phone.page.locator('table.jobs tbody tr').first().waitFor();
      const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      await phone.screenshot('jobs-390-dark');
      await phone.page.screenshot({ path: join(SCREENSHOT_DIR, 'jobs-390-dark-top.png') }); // what the phone shows first
      phone.expectNoConsoleErrors();
    } finally {
      await phone.close();
    }
  });

  it('filters by status and by creator narrow the list, survive a reload, and an unknown creator is the API\'s message', async () => {
    const failed = await olga.submit({ command: 'echo oops; exit 3', target: { type: 'agent', agent: 'web-1' } });
    const ok = await olga.submit({ command: 'true', target: { type: 'agent', agent: 'web-1' } });
    await Promise.all([olga.waitForEnd(failed.id), olga.waitForEnd(ok.id)]);

    const tab = await DashboardTab.open(browser, base, { token: system.token });
    try {
      await tab.goto('/jobs');
      await tab.page.locator('table.jobs tbody tr').first().waitFor();

      await tab.page.getByRole('checkbox', { name: 'failed' }).check();
      await tab.page.waitForURL('**/jobs?status=failed');
      await expect.poll(async () => (await rows(tab.page))[0]?.id).toBe(failed.id);
      expect(new Set((await rows(tab.page)).map((r) => r.status))).toEqual(new Set(['failed']));
      expect(await rowIds(tab.page)).toHaveLength(PAGE_SIZE); // olga's, then the seeded failures

      await tab.page.getByLabel('Created by').fill('olga');
      await tab.page.getByRole('button', { name: 'Apply' }).click();
      await tab.page.waitForURL('**/jobs?status=failed&createdBy=olga');
      await expect.poll(() => rowIds(tab.page)).toEqual([failed.id]);

      await tab.page.reload();
      await expect.poll(() => rowIds(tab.page)).toEqual([failed.id]);
      expect(await tab.page.getByRole('checkbox', { name: 'failed' }).isChecked()).toBe(true);
      expect(await tab.page.getByLabel('Created by').inputValue()).toBe('olga');

      // Both statuses: her two jobs, newest first.
      await tab.page.getByRole('checkbox', { name: 'succeeded' }).check();
      await tab.page.waitForURL('**/jobs?status=succeeded&status=failed&createdBy=olga');
      const hers = await olga.vmo.jobs.list({ createdBy: 'olga', status: ['succeeded', 'failed'] });
      await expect.poll(() => rowIds(tab.page)).toEqual(hers.items.map((j) => j.id));
      expect(hers.items.map((j) => j.id).slice(0, 2)).toEqual([ok.id, failed.id]);

      // A creator that is nobody: the API's message, and no rows that would look like an answer.
      tab.allowConsoleErrors(/status of 422 .*\/v1\/jobs\?.*createdBy=nobody-here/); // the 422, logged by Chromium
      await tab.page.getByLabel('Created by').fill('nobody-here');
      await tab.page.getByLabel('Created by').press('Enter');
      await tab.page.getByRole('alert').getByText(/createdBy: no user with id or name "nobody-here"/).waitFor();
      expect(await tab.page.locator('table.jobs').count()).toBe(0);

      await tab.page.getByRole('button', { name: 'Clear filters' }).click();
      await tab.page.waitForURL((url) => url.pathname === '/jobs' && url.search === '');
      await expect.poll(async () => (await rowIds(tab.page)).length).toBe(PAGE_SIZE);
      expect(await tab.page.getByLabel('Created by').inputValue()).toBe('');
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }
  });

  it('pages to older jobs and back by keyset, the page in the URL and each page a history entry', async () => {
    const tab = await DashboardTab.open(browser, base, { token: system.token });
    try {
      await tab.goto('/jobs');
      await tab.page.locator('table.jobs tbody tr').first().waitFor();
      const first = await rowIds(tab.page);
      const firstPage = await system.client.vmo.jobs.list({ limit: PAGE_SIZE });
      expect(first).toEqual(firstPage.items.map((j) => j.id));

      await tab.page.getByRole('button', { name: 'Older →' }).click();
      await tab.page.waitForURL(`**/jobs?cursor=${firstPage.nextCursor}`);
      const second = await system.client.vmo.jobs.list({ limit: PAGE_SIZE, cursor: firstPage.nextCursor! });
      await expect.poll(() => rowIds(tab.page)).toEqual(second.items.map((j) => j.id));
      await tab.page.getByRole('button', { name: 'Older →' }).click();
      await tab.page.waitForURL(`**/jobs?cursor=${second.nextCursor}`);
      const third = await system.client.vmo.jobs.list({ limit: PAGE_SIZE, cursor: second.nextCursor! });
      await expect.poll(() => rowIds(tab.page)).toEqual(third.items.map((j) => j.id));
      // By now the seeded jobs of the day before.
      expect(await tab.page.locator('table.jobs tbody td.command').last().textContent()).toMatch(/^echo seeded \d+$/);

      // Back from page 3 is page 2, then page 1 (never out of the list); Forward returns.
      await tab.page.goBack();
      await tab.page.waitForURL(`**/jobs?cursor=${firstPage.nextCursor}`);
      await expect.poll(() => rowIds(tab.page)).toEqual(second.items.map((j) => j.id));
      await tab.page.goBack();
      await tab.page.waitForURL((url) => url.pathname === '/jobs' && url.search === '');
      await expect.poll(() => rowIds(tab.page)).toEqual(first);
      expect(await tab.page.getByRole('button', { name: '← Newer' }).isDisabled()).toBe(true);
      await tab.page.goForward();
      await tab.page.goForward();
      await tab.page.waitForURL(`**/jobs?cursor=${second.nextCursor}`);
      await expect.poll(() => rowIds(tab.page)).toEqual(third.items.map((j) => j.id));

      // The page survives a reload, and so does its way back: the history entry keeps the newer pages.
      await tab.page.reload();
      await expect.poll(() => rowIds(tab.page)).toEqual(third.items.map((j) => j.id));
      await tab.page.getByRole('button', { name: '← Newer' }).click();
      await tab.page.waitForURL(`**/jobs?cursor=${firstPage.nextCursor}`);
      await expect.poll(() => rowIds(tab.page)).toEqual(second.items.map((j) => j.id));
      await tab.page.getByRole('button', { name: 'Older →' }).click();
      await expect.poll(() => rowIds(tab.page)).toEqual(third.items.map((j) => j.id));
      await tab.page.getByRole('button', { name: 'Newest' }).click();
      await tab.page.waitForURL((url) => url.pathname === '/jobs' && url.search === '');
      await expect.poll(async () => (await rowIds(tab.page))[0]).toBe(first[0]);
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }
  });

  it('a viewer sees the list but no New job button, and the form says why', async () => {
    const tab = await DashboardTab.open(browser, base, { token: vicToken });
    try {
      await tab.goto('/jobs');
      await tab.page.getByRole('heading', { name: 'Jobs', level: 1 }).waitFor();
      await tab.page.getByText('No jobs yet.').waitFor(); // a viewer with no policy sees no one's jobs
      expect(await tab.page.getByRole('link', { name: 'New job' }).count()).toBe(0);
      await tab.goto('/jobs/new');
      await tab.page.getByText(/may look at jobs but not run them/).waitFor();
      expect(await tab.page.getByRole('button', { name: 'Run job' }).count()).toBe(0);
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }
  });

  it('an operator signed in with a jobs:read-only token sees the jobs but no New job, Cancel or Run again', async () => {
    const running = await olga.submit({ command: 'echo reading only; sleep 600', target: { type: 'agent', agent: 'web-1' } });
    const { token } = await system.client.vmo.tokens.create({ name: 'olga-read-only', user: 'olga', scopes: ['jobs:read'] });
    const tab = await DashboardTab.open(browser, base, { token });
    try {
      await tab.goto('/jobs');
      await tab.page.locator(`tr[data-job-id="${running.id}"]`).waitFor();
      expect(await tab.page.getByRole('link', { name: 'New job' }).count()).toBe(0);
      // Her own job, running: the role could cancel it and run it again, the token cannot.
      await tab.goto(`/jobs/${running.id}`);
      await tab.page.locator('[data-fact="status"] [data-status="running"]').waitFor();
      await tab.page.getByRole('button', { name: 'Download raw output' }).waitFor();
      expect(await tab.page.getByRole('button', { name: 'Cancel', exact: true }).count()).toBe(0);
      expect(await tab.page.getByRole('link', { name: 'Run again' }).count()).toBe(0);
      await tab.goto('/jobs/new');
      await tab.page.getByText(/may look at jobs but not run them/).waitFor();
      expect(await tab.page.getByRole('button', { name: 'Run job' }).count()).toBe(0);
      await tab.screenshot('new-job-read-only-token');
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
      await olga.vmo.jobs.cancel(running.id);
    }
  });

  it('a token revoked while the list is open: the tab returns to sign-in, saying why', async () => {
    await system.client.vmo.users.create({ name: 'dora', role: 'operator' });
    const { token, id } = await system.client.vmo.tokens.create({ name: 'dora-dash', user: 'dora' });
    const tab = await DashboardTab.open(browser, base, { token });
    try {
      await tab.goto('/jobs');
      await tab.page.getByRole('heading', { name: 'Jobs', level: 1 }).waitFor();
      await tab.page.getByRole('link', { name: 'New job' }).waitFor();
      tab.allowConsoleErrors(/status of 401 .*\/v1\/jobs\b/); // the refused refetch, logged by Chromium
      await system.client.vmo.tokens.revoke(id);
      await tab.page.waitForURL('**/sign-in?next=%2Fjobs', { timeout: 30_000 });
      await tab.page.getByText(/session has ended/).waitFor();
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }
  });
});
