/**
 * Issue 13 (schedules, from issue 14), the Schedules pages in a real Chromium against the real
 * stack (API, a worker, whose scheduler loop fires the ticks, and a real agent `web-1`): a schedule
 * made from the form with a bad cron shows the API's message and marks the field; fixed (every 2 s
 * on web-1), its page shows the next fires, a tick's succeeded job appears in "Last fires" linked,
 * Trigger now makes a job and links it, Pause stops the ticks, the list shows it with its last
 * fire, and Delete asks first and removes it; the list pages by a keyset cursor in the URL. A user demoted to viewer sees their schedule with no
 * write control. Screenshots at 1280 and 390 px; no console errors.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSystem } from '@vmo/testkit';
import { DashboardTab, launchChromium } from '@vmo/testkit/browser';

describe('dashboard: schedules', { timeout: 150_000 }, () => {
  let system: TestSystem;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    [system, browser] = await Promise.all([TestSystem.start({ label: 'dash_schedules' }), launchChromium()]);
    base = system.apiUrls[0]!;
    await system.startAgent('web-1', { labels: { role: 'web' } });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await system?.stop();
  });

  /** The rows of "Last fires", newest first. */
  const fireRows = (page: Page) =>
    page.locator('table.fires tbody tr').evaluateAll((trs) =>
      trs.map((tr) => ({ kind: tr.getAttribute('data-kind'), outcome: tr.getAttribute('data-outcome'), status: tr.getAttribute('data-status'), href: tr.querySelector('td[data-label="Made"] a')?.getAttribute('href') ?? null })),
    );

  it('creates a schedule from the form (a bad cron shows the API\'s message), fires it, triggers, pauses and deletes it', async () => {
    const api = system.client.vmo;
    const tab = await DashboardTab.open(browser, base, { token: system.token });
    try {
      await tab.goto('/schedules');
      await tab.page.getByText('No schedules yet.').waitFor();
      await tab.page.getByRole('link', { name: 'New schedule' }).click();
      await tab.page.waitForURL('**/schedules/new');

      await tab.page.getByLabel('Name', { exact: true }).fill('every-two');
      await tab.page.getByLabel('Cron expression').fill('61 * * * *');
      await tab.page.getByLabel('Timezone').fill('Europe/Berlin');
      // The browser's zones are offered as you type.
      expect(await tab.page.locator('datalist#timezones option[value="America/New_York"]').count()).toBe(1);
      await tab.page.getByLabel('Command').fill('echo tick from $(hostname)');
      await tab.page.getByLabel('Agent name').fill('web-1');
      tab.allowConsoleErrors(/status of 400 .*\/v1\/schedules\)$/); // Chromium logs the refused request itself
      await tab.page.getByRole('button', { name: 'Create schedule' }).click();
      const alert = tab.page.getByRole('alert');
      await alert.waitFor();
      expect(await alert.textContent()).toMatch(/^cron: .*61.*\(validation_failed\)$/s);
      expect(await tab.page.getByLabel('Cron expression').getAttribute('aria-invalid')).toBe('true');
      expect(await tab.page.evaluate(() => document.activeElement?.id)).toBe('cron');
      expect(await tab.page.getByLabel('Command').inputValue()).toBe('echo tick from $(hostname)');
      await tab.screenshot('new-schedule-error-1280');

      await tab.page.getByLabel('Cron expression').fill('*/2 * * * * *');
      await tab.page.getByRole('button', { name: 'Create schedule' }).click();
      await tab.page.waitForURL(/\/schedules\/sch_[0-9a-z]{20}$/);
      const id = new URL(tab.page.url()).pathname.split('/').pop()!;
      await tab.page.getByRole('heading', { name: /every-two/, level: 1 }).waitFor();
      expect(await tab.page.getByTestId('cron').textContent()).toBe('*/2 * * * * *');
      expect(await api.schedules.get(id)).toMatchObject({ name: 'every-two', cron: '*/2 * * * * *', timezone: 'Europe/Berlin', job: { command: 'echo tick from $(hostname)', target: { type: 'agent', agent: 'web-1' } }, overlap: 'skip', paused: false });
      const next = tab.page.getByRole('list', { name: 'Next fires' }).getByRole('listitem');
      await expect.poll(() => next.count()).toBe(5);
      expect(await next.first().textContent()).toMatch(/Europe\/Berlin\s+(now|in \d s)/);

      // A tick fires on web-1 and shows up in "Last fires", linked to its succeeded job (the page is live).
      await tab.page.locator('table.fires tr[data-kind="tick"][data-status="succeeded"]').first().waitFor({ timeout: 45_000 });
      const tick = (await fireRows(tab.page)).find((r) => r.kind === 'tick' && r.status === 'succeeded')!;
      expect(tick.href).toMatch(/^\/jobs\/job_[0-9a-z]{20}$/);
      const tickJob = await api.jobs.get(tick.href!.split('/').pop()!);
      expect(tickJob).toMatchObject({ status: 'succeeded', target: { type: 'agent', agent: 'web-1' }, command: 'echo tick from $(hostname)' });
      expect((await system.client.logs(tickJob.id)).toString()).toMatch(/^tick from \S+\n$/);

      // Trigger now: the job it made, linked; its fire is listed as a trigger.
      await tab.page.getByRole('button', { name: 'Trigger now' }).click();
      const triggered = tab.page.getByRole('status').filter({ hasText: 'Triggered' });
      await triggered.getByRole('link').first().waitFor();
      const triggeredHref = await triggered.getByRole('link').first().getAttribute('href');
      expect(triggeredHref).toMatch(/^\/jobs\/job_[0-9a-z]{20}$/);
      const triggeredJob = await system.client.waitForEnd(triggeredHref!.split('/').pop()!, 45_000);
      expect(triggeredJob.status).toBe('succeeded');
      await triggered.getByText('succeeded').waitFor();
      await tab.page.locator(`table.fires tr[data-kind="trigger"] a[href="${triggeredHref}"]`).first().waitFor();
      await tab.screenshot('schedule-1280');

      // Pause: no next fires, and no tick after it for a few ticks (an absence: a window, then a look).
      await tab.page.getByRole('button', { name: 'Pause', exact: true }).click();
      await tab.page.getByRole('button', { name: 'Resume' }).waitFor();
      await tab.page.getByText('None while it is paused').waitFor();
      const pausedAt = Date.parse((await api.schedules.get(id)).updatedAt);
      await new Promise((resolve) => setTimeout(resolve, 6_000));
      const afterPause = (await api.schedules.get(id)).lastFires.filter((f) => f.kind === 'tick' && Date.parse(f.at) > pausedAt);
      expect(afterPause).toEqual([]);
      expect(await tab.page.getByLabel('Paused', { exact: true }).isChecked()).toBe(true);

      // The list: the schedule, paused, its last fire's status linking to the job.
      await tab.page.getByRole('link', { name: 'All schedules' }).click();
      await tab.page.waitForURL('**/schedules');
      const row = tab.page.locator(`tr[data-schedule-id="${id}"]`);
      await row.waitFor();
      expect(await row.getAttribute('data-paused')).toBe('true');
      expect(await row.locator('td[data-label="Runs"]').textContent()).toMatch(/echo tick from \$\(hostname\)\s*on agent web-1/);
      expect(await row.locator('td[data-label="Next fire"]').textContent()).toContain('paused');
      // The last fire as the API has it: on a loaded machine a tick can land while the triggered job
      // still runs and be skipped (overlap "skip"), a fire with no job, so the cell shows no link then.
      const last = (await api.schedules.get(id)).lastFires[0]!;
      if (last.jobId) {
        await expect.poll(() => row.locator('td[data-label="Last fire"] a').getAttribute('href')).toBe(`/jobs/${last.jobId}`);
        expect(await row.locator('td[data-label="Last fire"] [data-status]').getAttribute('data-status')).toBe('succeeded');
      } else {
        expect(last.outcome).not.toBe('fired');
        expect(await row.locator('td[data-label="Last fire"] a').count()).toBe(0);
      }
      await tab.screenshot('schedules-1280');

      // The edit form: a new expression applies (and a bad zone is the API's message).
      await row.getByRole('link', { name: 'every-two' }).click();
      await tab.page.waitForURL(`**/schedules/${id}`);
      await tab.page.getByLabel('Timezone').fill('Mars/Olympus_Mons');
      tab.allowConsoleErrors(new RegExp(`status of 400 .*/v1/schedules/${id}\\)$`));
      await tab.page.getByRole('button', { name: 'Save changes' }).click();
      await tab.page.getByRole('alert').getByText(/timezone: "Mars\/Olympus_Mons" is not an IANA timezone/).waitFor();
      await tab.page.getByLabel('Timezone').fill('UTC');
      await tab.page.getByLabel('Cron expression').fill('0 3 * * *');
      await tab.page.getByRole('button', { name: 'Save changes' }).click();
      await tab.page.getByText('Saved.').waitFor();
      expect(await tab.page.getByTestId('cron').textContent()).toBe('0 3 * * *');
      expect(await api.schedules.get(id)).toMatchObject({ cron: '0 3 * * *', timezone: 'UTC', paused: true });

      // Delete asks first; "Keep it" keeps it, the action removes it.
      await tab.page.getByRole('button', { name: 'Delete', exact: true }).click();
      await tab.page.getByRole('alertdialog').getByText('Delete this schedule?').waitFor();
      await tab.page.getByRole('button', { name: 'Keep it' }).click();
      expect((await api.schedules.get(id)).id).toBe(id);
      await tab.page.getByRole('button', { name: 'Delete', exact: true }).click();
      await tab.page.getByRole('button', { name: 'Delete schedule' }).click();
      await tab.page.waitForURL(/\/schedules$/);
      await tab.page.getByText('No schedules yet.').waitFor();
      await expect(api.schedules.get(id)).rejects.toMatchObject({ status: 404 });
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }
  });

  it('a phone in the dark: the form and a fleet-run schedule fit 390 px', async () => {
    const created = await system.client.vmo.schedules.create({ name: 'fleet-uptime', cron: '30 2 * * *', timezone: 'Europe/Berlin', run: { command: 'uptime', targets: { selector: 'role=web' } } });
    const phone = await DashboardTab.open(browser, base, { token: system.token, viewport: { width: 390, height: 844 }, colorScheme: 'dark' });
    try {
      await phone.goto('/schedules/new?selector=role%3Dweb&command=uptime');
      expect(await phone.page.getByRole('radio', { name: /A fleet run/ }).isChecked()).toBe(true);
      await phone.page.getByTestId('preview-total').getByText('1 target matches').waitFor();
      await phone.screenshot('new-schedule-390');
      await phone.goto(`/schedules/${created.id}`);
      await phone.page.getByRole('heading', { name: /fleet-uptime/, level: 1 }).waitFor();
      await expect.poll(() => phone.page.getByRole('list', { name: 'Next fires' }).getByRole('listitem').count()).toBe(5);
      expect(await phone.page.getByRole('list', { name: 'Next fires' }).getByRole('listitem').first().textContent()).toMatch(/\b0?2:30:00\b.*Europe\/Berlin/s);
      await phone.screenshot('schedule-390');
      // Nothing wider than the screen.
      expect(await phone.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      phone.expectNoConsoleErrors();
    } finally {
      await phone.close();
      await system.client.vmo.schedules.delete(created.id);
    }
  });

  it('pages with a keyset cursor in the URL: 25 newest, then Older, and Back', async () => {
    const admin = system.client.vmo;
    const made: string[] = [];
    for (let i = 0; i < 27; i++) made.push((await admin.schedules.create({ name: `page-${String(i).padStart(2, '0')}`, cron: '0 5 * * *', paused: true, job: { command: 'true' } })).id);
    const newestFirst = (await admin.schedules.list({ limit: 100 })).items.map((s) => s.id);
    const tab = await DashboardTab.open(browser, base, { token: system.token });
    const ids = () => tab.page.locator('table.schedules tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-schedule-id')));
    try {
      await tab.goto('/schedules');
      await expect.poll(ids).toEqual(newestFirst.slice(0, 25));
      await tab.page.getByRole('link', { name: 'Older' }).click();
      await tab.page.waitForURL(/\/schedules\?cursor=sch_/);
      await expect.poll(ids).toEqual(newestFirst.slice(25));
      expect(await tab.page.getByRole('link', { name: 'Older' }).count()).toBe(0);
      await tab.page.reload();
      await expect.poll(ids).toEqual(newestFirst.slice(25));
      await tab.page.goBack();
      await expect.poll(ids).toEqual(newestFirst.slice(0, 25));
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
      for (const id of made) await admin.schedules.delete(id);
    }
  });

  it('a user demoted to viewer sees their schedule and no control to change it', async () => {
    const admin = system.client.vmo;
    await admin.users.create({ name: 'olga', role: 'operator' });
    await admin.policies.create({ name: 'olga-runs-web', subjects: { users: ['olga'] }, actions: ['run'], targets: 'role=web' });
    const olgaToken = (await admin.tokens.create({ name: 'olga-dash', user: 'olga' })).token;
    const olga = system.clientFor(0, olgaToken).vmo;
    const hers = await olga.schedules.create({ name: 'olga-nightly', cron: '0 4 * * *', job: { command: 'echo hers', target: { type: 'agent', agent: 'web-1' } } });
    await admin.users.update('olga', { role: 'viewer' });

    const tab = await DashboardTab.open(browser, base, { token: olgaToken, viewport: { width: 390, height: 844 } });
    try {
      await tab.goto('/schedules');
      const row = tab.page.locator(`tr[data-schedule-id="${hers.id}"]`);
      await row.waitFor();
      expect(await row.locator('td[data-label="Owner"]').textContent()).toBe('olga');
      expect(await tab.page.getByRole('link', { name: 'New schedule' }).count()).toBe(0);
      await tab.screenshot('schedules-viewer-390');

      await row.getByRole('link', { name: 'olga-nightly' }).click();
      await tab.page.waitForURL(`**/schedules/${hers.id}`);
      await tab.page.getByRole('heading', { name: 'Next fires' }).waitFor();
      for (const name of ['Pause', 'Resume', 'Trigger now', 'Delete', 'Save changes']) expect(await tab.page.getByRole('button', { name, exact: true }).count(), name).toBe(0);
      expect(await tab.page.getByRole('heading', { name: 'Change' }).count()).toBe(0);

      await tab.goto('/schedules/new');
      await tab.page.getByText(/may look at schedules but not create them/).waitFor();
      expect(await tab.page.getByRole('button', { name: 'Create schedule' }).count()).toBe(0);
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }
    // What the viewer was not shown is refused anyway.
    await expect(olga.schedules.trigger(hers.id)).rejects.toMatchObject({ status: 403 });
    await admin.schedules.delete(hers.id);
  });
});
