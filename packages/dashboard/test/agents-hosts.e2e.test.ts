/**
 * Issue 13, the Agents and Hosts pages in a real Chromium against the real stack: an agent shown
 * online goes offline on screen when its process is killed -9 (no reload); registering shows the
 * token once with the install line for this origin; revoking asks first; hosts are added (the API's
 * refusals shown as it words them) and a real-world ~/.ssh/config is imported with what was
 * created, updated and skipped, and why; a viewer gets no write controls. Screenshots at 1280 and
 * 390 px under test-output/screenshots (agents-*, hosts-*).
 */
import type { Browser, Locator } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSystem } from '@vmo/testkit';
import { DashboardTab, launchChromium } from '@vmo/testkit/browser';

/** The files a real laptop's ~/.ssh/config has: an Include, a Match exec, wildcard blocks, a ProxyCommand, a comma list. */
const SSH_CONFIG = `# ~/.ssh/config — work laptop
Include ~/.ssh/config.d/*

Host bastion
  HostName bastion.example.com
  User ops
  IdentityFile ~/.ssh/id_ed25519

Host db-1
  HostName 10.20.0.5
  User postgres
  ProxyJump bastion

Host web-1 web-2
  HostName %h.internal.example.com
  User deploy
  ProxyJump bastion

Host legacy-ftp
  HostName 192.168.7.20
  User admin
  ProxyCommand ssh -W %h:%p bastion

Host staging,qa
  User deploy

Host ci-runner
  HostName ci.example.com

Match host ci-runner exec "nc -z vpn.example.com 22"
  User ci

Host web-*
  Port 2222

Host *
  ServerAliveInterval 30
  AddKeysToAgent yes
  StrictHostKeyChecking accept-new
`;

/** Chromium logs each refused request ("status of 409 … (…/v1/hosts)") itself: those the test provokes are not the page's errors. */
const refusal = (status: number, path: string) => new RegExp(`status of ${status} .*${path.replace(/[/.]/g, '\\$&')}\\)$`);

describe('dashboard: agents and hosts', { timeout: 180_000 }, () => {
  let system: TestSystem;
  let browser: Browser;
  let base: string;
  let viewerToken: string;

  beforeAll(async () => {
    [system, browser] = await Promise.all([TestSystem.start({ label: 'dash_agents_hosts', workers: 0 }), launchChromium()]);
    base = system.apiUrls[0]!;
    await system.client.vmo.users.create({ name: 'vera', role: 'viewer' });
    ({ token: viewerToken } = await system.client.vmo.tokens.create({ name: 'dash-viewer', user: 'vera' }));
    // A viewer reads the machines a policy lets them read: here all of them.
    await system.client.vmo.policies.create({ name: 'vera-reads-all', subjects: { users: ['vera'] }, actions: ['read'], targets: '' });
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await system?.stop();
  });

  const agentRow = (tab: DashboardTab, name: string): Locator => tab.page.locator(`tr[data-agent="${name}"]`);
  const hostRow = (tab: DashboardTab, ref: string): Locator => tab.page.locator(`tr[data-host="${ref}"]`);

  it('lists an online agent, filters by selector and status in the URL, and shows it offline when its process is killed, without a reload', async () => {
    const agent = await system.startAgent('web-1', { labels: { env: 'prod', role: 'web' } });
    const tab = await DashboardTab.open(browser, base, { token: system.token });
    try {
      await tab.goto('/agents');
      const row = agentRow(tab, 'web-1');
      await row.locator('[data-status="online"]').waitFor();
      expect(await row.getByRole('link', { name: 'web-1' }).getAttribute('href')).toBe('/jobs?target=web-1');
      expect(await row.textContent()).toContain('env=prod');
      expect(await row.textContent()).toContain('role=web');
      // Online reads green (the light theme's --ok), as the CLI colours it.
      expect(await row.locator('[data-status="online"]').evaluate((el) => getComputedStyle(el).color)).toBe('rgb(26, 127, 55)');

      // The selector filter, kept in the address: a reload lands on the same filtered list.
      const selector = tab.page.getByLabel('Label selector');
      await selector.fill('env=dev');
      await tab.page.getByText('No agent matches these filters.').waitFor();
      await selector.fill('env=prod,role in (web,api)');
      await row.waitFor();
      await tab.page.waitForURL(/selector=env%3Dprod%2Crole\+in\+%28web%2Capi%29/);
      await tab.page.reload();
      await agentRow(tab, 'web-1').waitFor();
      expect(await tab.page.getByLabel('Label selector').inputValue()).toBe('env=prod,role in (web,api)');
      // A selector that does not parse says where, with the API's own parser's words.
      await tab.page.getByLabel('Label selector').fill('env in (');
      await tab.page.getByText(/selector at position \d+: expected/).waitFor();
      await tab.page.getByLabel('Label selector').fill('');
      await tab.page.getByLabel('Status').selectOption('offline');
      await tab.page.getByText('No agent matches these filters.').waitFor();
      await tab.page.getByLabel('Status').selectOption('');
      await agentRow(tab, 'web-1').waitFor();
      await tab.screenshot('agents-1280');

      // Killed -9: the control plane sees it gone (heartbeat 500 ms here) and the page follows.
      await tab.page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
      await agent.process.kill();
      await agentRow(tab, 'web-1').locator('[data-status="offline"]').waitFor({ timeout: 60_000 });
      expect(await tab.page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
      expect(await agentRow(tab, 'web-1').locator('td[data-label="Last seen"]').textContent()).toMatch(/s ago|min ago/);
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }
  });

  it('registers an agent: its token shown once with a copy button and the install line for this origin; a name taken is the API\'s message', async () => {
    const tab = await DashboardTab.open(browser, base, { token: system.token });
    await tab.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(base).origin });
    try {
      await tab.goto('/agents');
      await tab.page.getByRole('button', { name: 'Register an agent' }).click();
      const form = tab.page.getByRole('form', { name: 'Register an agent' });
      await form.getByLabel('Name', { exact: true }).fill('db-9');
      await form.getByLabel(/^Labels/).fill('env=staging, role=db');
      await form.getByRole('button', { name: 'Register', exact: true }).click();

      await tab.page.getByRole('heading', { name: 'Agent db-9 registered' }).waitFor();
      await tab.page.getByText('Its token is shown once.').waitFor();
      const token = await tab.page.getByLabel('Agent token', { exact: true }).inputValue();
      expect(token).toMatch(/^vmo_agt_/);
      // The token is this agent's: the installer's own check answers its name.
      const whoami = await fetch(`${base}/v1/agent/whoami`, { headers: { authorization: `Bearer ${token}` } });
      expect((await whoami.json()).name).toBe('db-9');

      const origin = await tab.page.evaluate(() => window.location.origin);
      expect(origin).toBe(new URL(base).origin);
      const command = await tab.page.getByLabel('Install command', { exact: true }).textContent();
      expect(command).toBe(`curl -fsSL ${origin}/v1/agent/install.sh | sudo sh -s -- --server ${origin} --token-file db-9.token`);

      await tab.page.getByRole('button', { name: 'Copy the agent token' }).click();
      await tab.page.getByText('Copied').first().waitFor();
      expect(await tab.page.evaluate(() => navigator.clipboard.readText())).toBe(token);
      await tab.page.getByRole('button', { name: 'Copy the install command' }).click();
      await expect.poll(() => tab.page.evaluate(() => navigator.clipboard.readText())).toBe(command);

      // The new agent is in the list (offline: nothing runs it), with its labels.
      const row = agentRow(tab, 'db-9');
      await row.locator('[data-status="offline"]').waitFor();
      expect(await row.textContent()).toContain('env=staging');
      await tab.screenshot('agents-token-1280');

      // Dismissed, the token is nowhere on the page, nor after a reload.
      await tab.page.getByRole('button', { name: 'I have saved the token' }).click();
      await tab.page.getByRole('heading', { name: 'Agent db-9 registered' }).waitFor({ state: 'detached' });
      expect(await tab.page.content()).not.toContain(token);
      await tab.page.reload();
      await agentRow(tab, 'db-9').waitFor();
      expect(await tab.page.content()).not.toContain(token);

      // A name taken: 409, in the API's words.
      tab.allowConsoleErrors(refusal(409, '/v1/agents'));
      await tab.page.getByRole('button', { name: 'Register an agent' }).click();
      await form.getByLabel('Name', { exact: true }).fill('db-9');
      await form.getByRole('button', { name: 'Register', exact: true }).click();
      const alert = form.getByRole('alert');
      await alert.waitFor();
      expect(await alert.textContent()).toContain('an agent named "db-9" already exists');
      expect(await alert.textContent()).toContain('name_taken');
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }
  });

  it('revokes an agent after a confirmation: "Keep it" keeps it, Revoke removes it from the list and the API', async () => {
    await system.client.vmo.agents.register({ name: 'old-3', labels: { env: 'retired' } });
    const tab = await DashboardTab.open(browser, base, { token: system.token });
    try {
      await tab.goto('/agents?selector=env%3Dretired');
      const row = agentRow(tab, 'old-3');
      await row.waitFor();
      await row.getByRole('button', { name: 'Revoke old-3' }).click();
      const dialog = tab.page.getByRole('alertdialog');
      await dialog.getByText('Revoke agent old-3?').waitFor();
      await dialog.getByRole('button', { name: 'Keep it' }).click();
      await dialog.waitFor({ state: 'detached' });
      expect(await row.count()).toBe(1);

      await row.getByRole('button', { name: 'Revoke old-3' }).click();
      await tab.page.getByRole('alertdialog').getByRole('button', { name: 'Revoke' }).click();
      await row.waitFor({ state: 'detached' });
      await tab.page.getByText('No agent matches these filters.').waitFor();
      await expect(system.client.vmo.agents.get('old-3')).rejects.toMatchObject({ status: 404 });
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }
  });

  it('creates an enrolment token (shown once, with the image install line) and revokes it', async () => {
    const tab = await DashboardTab.open(browser, base, { token: system.token });
    try {
      await tab.goto('/agents');
      await tab.page.getByText('Enrolment tokens').click(); // unfolds the section
      const form = tab.page.getByRole('form', { name: 'Create an enrolment token' });
      await form.getByLabel('What it is for').fill('team-a staging image');
      await form.getByLabel(/^Labels for its agents/).fill('team=a, env=staging');
      await form.getByLabel(/^Max uses/).fill('20');
      await form.getByRole('button', { name: 'Create enrolment token' }).click();
      await tab.page.getByText('This enrolment token is shown once.').waitFor();
      const token = await tab.page.getByLabel('Enrolment token (team-a staging image)', { exact: true }).inputValue();
      expect(token).toMatch(/^vmo_enr_/);
      const origin = new URL(base).origin;
      expect(await tab.page.getByLabel('Image install command', { exact: true }).textContent()).toBe(
        `curl -fsSL ${origin}/v1/agent/install.sh | sudo sh -s -- --server ${origin} --enrol-file enrol-token --no-start`,
      );
      const row = tab.page.locator('.enrolment tr', { hasText: 'team-a staging image' });
      expect(await row.locator('.state').textContent()).toBe('active');
      expect(await row.textContent()).toContain('0 / 20');
      expect(await row.textContent()).toContain('team=a');
      await tab.screenshot('agents-enrolment-1280');

      await tab.page.getByRole('button', { name: 'I have saved the token' }).click();
      expect(await tab.page.content()).not.toContain(token);
      await row.getByRole('button', { name: 'Revoke team-a staging image' }).click();
      await tab.page.getByRole('alertdialog').getByRole('button', { name: 'Revoke' }).click();
      await expect.poll(() => row.locator('.state').textContent()).toBe('revoked');
      expect(await row.getByRole('button').count()).toBe(0);
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }
  });

  it('adds a host, shows the API\'s refusals (409 host_exists, 400 naming the field), and deletes one after a confirmation', async () => {
    const tab = await DashboardTab.open(browser, base, { token: system.token });
    try {
      await tab.goto('/hosts');
      await tab.page.getByText('No hosts yet.').waitFor();
      await tab.page.getByRole('button', { name: 'Add a host' }).click();
      const form = tab.page.getByRole('form', { name: 'Add a host' });
      await form.getByLabel('Name', { exact: true }).fill('db-1');
      await form.getByLabel(/^Address/).fill('10.0.0.5');
      await form.getByLabel('User', { exact: true }).fill('postgres');
      await form.getByLabel(/^Labels/).fill('env=prod, role=db');
      await form.getByRole('button', { name: 'Add host' }).click();
      await tab.page.getByText('Added db-1@default (postgres@10.0.0.5:22).').waitFor();
      const row = hostRow(tab, 'db-1@default');
      await row.waitFor();
      expect(await row.locator('td[data-label="Address"]').textContent()).toBe('10.0.0.5');
      expect(await row.locator('td[data-label="Environment"]').textContent()).toBe('default');
      expect(await row.getByRole('link', { name: 'db-1' }).getAttribute('href')).toBe('/jobs?target=db-1%40default');

      // The same name again: 409 host_exists, as the API says it.
      tab.allowConsoleErrors(refusal(409, '/v1/hosts'));
      await form.getByLabel('Name', { exact: true }).fill('db-1');
      await form.getByLabel(/^Address/).fill('10.0.0.6');
      await form.getByLabel('User', { exact: true }).fill('postgres');
      await form.getByRole('button', { name: 'Add host' }).click();
      await form.getByRole('alert').waitFor();
      expect(await form.getByRole('alert').textContent()).toContain('a host named "db-1" already exists in environment "default"');
      expect(await form.getByRole('alert').textContent()).toContain('host_exists');

      // An address the API refuses: 400 naming the field, and the field marked.
      tab.allowConsoleErrors(refusal(400, '/v1/hosts'));
      await form.getByLabel('Name', { exact: true }).fill('bad-1');
      await form.getByLabel(/^Address/).fill('not a host');
      await form.getByRole('button', { name: 'Add host' }).click();
      await form.getByText('host: must be a DNS name or an IP address').waitFor();
      expect(await form.getByLabel(/^Address/).getAttribute('aria-invalid')).toBe('true');

      // A throwaway host, deleted after the question.
      await form.getByLabel('Name', { exact: true }).fill('tmp-9');
      await form.getByLabel(/^Address/).fill('tmp-9.example.com');
      await form.getByRole('button', { name: 'Add host' }).click();
      const tmp = hostRow(tab, 'tmp-9@default');
      await tmp.waitFor();
      await tmp.getByRole('button', { name: 'Delete tmp-9@default' }).click();
      await tab.page.getByRole('alertdialog').getByText('Delete host tmp-9@default?').waitFor();
      await tab.page.getByRole('alertdialog').getByRole('button', { name: 'Delete' }).click();
      await tmp.waitFor({ state: 'detached' });
      await expect(system.client.vmo.hosts.get('tmp-9@default')).rejects.toMatchObject({ status: 404 });
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }
  });

  it('imports a pasted ~/.ssh/config: created, updated and skipped with reasons per host; a config ssh refuses names its line', async () => {
    const tab = await DashboardTab.open(browser, base, { token: system.token });
    try {
      await tab.goto('/hosts');
      await hostRow(tab, 'db-1@default').waitFor(); // added by the test before, with another address
      await tab.page.getByRole('button', { name: 'Import an SSH config' }).click();

      // ssh itself would refuse this: 400 invalid_ssh_config, and the line it names is shown.
      tab.allowConsoleErrors(refusal(400, '/v1/hosts/import'));
      await tab.page.getByLabel('OpenSSH client config').fill('Host a\n  User one two\n');
      await tab.page.getByRole('button', { name: 'Import', exact: true }).click();
      await tab.page.getByRole('alert').waitFor();
      expect(await tab.page.getByRole('alert').textContent()).toMatch(/config line 2: .*extra arguments.*invalid_ssh_config/);
      expect(await tab.page.locator('.bad-line').textContent()).toBe('Line 2:   User one two');
      // …and selected in the box, where the cursor now is.
      const box = tab.page.getByLabel('OpenSSH client config');
      expect(await box.evaluate((el: HTMLTextAreaElement) => el.value.slice(el.selectionStart, el.selectionEnd))).toBe('  User one two');
      expect(await box.evaluate((el) => el === document.activeElement)).toBe(true);

      await tab.page.getByLabel('OpenSSH client config').fill(SSH_CONFIG);
      await tab.page.getByRole('button', { name: 'Import', exact: true }).click();
      await tab.page.getByRole('heading', { name: /^Imported:/ }).waitFor();
      expect(await tab.page.getByRole('heading', { name: /^Imported:/ }).textContent()).toBe('Imported: 3 created, 1 updated, 0 unchanged, 5 skipped, 0 warnings');

      const result = async (name: string) => {
        const line = tab.page.locator('.import-result tr', { has: tab.page.locator('td.name', { hasText: new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) }) });
        return { result: await line.locator('.result').textContent(), detail: await line.locator('td').nth(2).textContent() };
      };
      expect(await result('bastion@default')).toEqual({ result: 'created', detail: 'ops@bastion.example.com:22' });
      expect(await result('web-1@default')).toEqual({ result: 'created', detail: 'deploy@web-1.internal.example.com:2222 via bastion' });
      expect(await result('web-2@default')).toEqual({ result: 'created', detail: 'deploy@web-2.internal.example.com:2222 via bastion' });
      expect(await result('db-1@default')).toEqual({ result: 'updated', detail: 'postgres@10.20.0.5:22 via bastion' });
      // Skipped, each with its line and its reason.
      expect(await result('Include ~/.ssh/config.d/*')).toEqual({ result: 'skipped', detail: expect.stringMatching(/^line 2: Include is not followed/) });
      expect(await result('Match host ci-runner exec nc -z vpn.example.com 22')).toEqual({ result: 'skipped', detail: expect.stringMatching(/^line 30: Match criteria .*\(exec commands are never run\)/) });
      expect(await result('ci-runner')).toEqual({ result: 'skipped', detail: expect.stringMatching(/^line 27: no User applies to it/) });
      expect(await result('legacy-ftp')).toEqual({ result: 'skipped', detail: expect.stringMatching(/^line 19: uses ProxyCommand .* use ProxyJump/) });
      expect(await result('staging,qa')).toEqual({ result: 'skipped', detail: expect.stringMatching(/^line 24: not usable as a host name .*a comma is part of the name/) });
      // Wildcard blocks (Host web-*, Host *) are patterns, not hosts: they gave web-1 its port and no row of their own.
      expect(await tab.page.locator('.import-result td.name', { hasText: '*' }).allTextContents()).toEqual(['Include ~/.ssh/config.d/*']);
      await tab.screenshot('hosts-import-1280');

      // The inventory shows what was imported, live.
      await hostRow(tab, 'web-2@default').waitFor();
      expect(await hostRow(tab, 'db-1@default').locator('td[data-label="Address"]').textContent()).toBe('10.20.0.5');
      expect(await hostRow(tab, 'web-1@default').locator('td[data-label="Port"]').textContent()).toBe('2222');
      expect(await hostRow(tab, 'legacy-ftp@default').count()).toBe(0);

      // The selector filter on labels, in the address.
      await tab.page.getByLabel('Label selector').fill('role=db');
      await tab.page.waitForURL(/selector=role%3Ddb/);
      await expect.poll(() => tab.page.locator('tr[data-host]').count()).toBe(1);
      await hostRow(tab, 'db-1@default').waitFor();
      await tab.page.getByLabel('Label selector').fill('');
      await expect.poll(() => tab.page.locator('tr[data-host]').count()).toBe(4);
      await tab.page.getByRole('button', { name: 'Import an SSH config' }).click(); // folded away
      await tab.screenshot('hosts-1280');
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }
  });

  it('a viewer sees agents and hosts but no register, revoke, add, import or delete control', async () => {
    const tab = await DashboardTab.open(browser, base, { token: viewerToken });
    try {
      await tab.goto('/agents');
      await agentRow(tab, 'web-1').waitFor();
      await agentRow(tab, 'db-9').waitFor();
      expect(await tab.page.getByRole('button', { name: /Register|Revoke/ }).count()).toBe(0);
      expect(await tab.page.getByText('Enrolment tokens').count()).toBe(0);

      await tab.goto('/hosts');
      await hostRow(tab, 'db-1@default').waitFor();
      expect(await tab.page.getByRole('button', { name: /Add|Import|Delete/ }).count()).toBe(0);
      expect(await tab.page.getByRole('form').count()).toBe(0);
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }
  });

  it('reads at 390 px wide (a phone), each row a card of labelled lines, and in the dark', async () => {
    const tab = await DashboardTab.open(browser, base, { token: system.token, viewport: { width: 390, height: 844 } });
    try {
      await tab.goto('/agents');
      await agentRow(tab, 'web-1').waitFor();
      // Nothing wider than the screen: the table has become cards.
      expect(await tab.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await tab.screenshot('agents-390');
      await tab.page.getByRole('button', { name: 'Register an agent' }).click();
      const form = tab.page.getByRole('form', { name: 'Register an agent' });
      await form.getByLabel('Name', { exact: true }).fill('phone-1');
      await form.getByRole('button', { name: 'Register', exact: true }).click();
      await tab.page.getByRole('heading', { name: 'Agent phone-1 registered' }).waitFor();
      expect(await tab.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await tab.screenshot('agents-token-390');

      await tab.goto('/hosts');
      await hostRow(tab, 'db-1@default').waitFor();
      expect(await tab.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await tab.screenshot('hosts-390');
      // The same config again: nothing to change, each host says so.
      await tab.page.getByRole('button', { name: 'Import an SSH config' }).click();
      await tab.page.getByLabel('OpenSSH client config').fill(SSH_CONFIG);
      await tab.page.getByRole('button', { name: 'Import', exact: true }).click();
      await tab.page.getByRole('heading', { name: 'Imported: 0 created, 0 updated, 4 unchanged, 5 skipped, 0 warnings' }).waitFor();
      expect(await tab.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await tab.screenshot('hosts-import-390');
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }
    const dark = await DashboardTab.open(browser, base, { token: system.token, colorScheme: 'dark' });
    try {
      await dark.goto('/agents');
      await agentRow(dark, 'web-1').waitFor();
      await dark.screenshot('agents-dark-1280');
      await dark.goto('/hosts');
      await hostRow(dark, 'db-1@default').waitFor();
      await dark.screenshot('hosts-dark-1280');
      dark.expectNoConsoleErrors();
    } finally {
      await dark.close();
    }
  });
});
