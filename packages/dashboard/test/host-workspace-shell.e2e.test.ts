/**
 * Issue 17, the dashboard's terminal on an SSH host and on a workspace, in a real Chromium against
 * the real stack (API holding the host's pty channel on a real sshd; a real agent and PTY for the
 * workspace): "Open shell" on the Hosts page (only for callers who may run), typing runs remotely
 * and the answer is on xterm's screen (its buffer, not the bytes), and the recorded session replays
 * it, with what was typed (the API runs with VMO_SHELL_RECORD_INPUT=true). The workspace is a row pointing at a running agent (its lifecycle is tested in services/api
 * and services/worker): what is checked here is the page and its endpoint.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '@vmo/shared/ids';
import { generateKey, knownHostsLine, startSshd, TestSystem, type Sshd } from '@vmo/testkit';
import { DashboardTab, launchChromium } from '@vmo/testkit/browser';

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

/** Type a command and Enter into the page's live terminal. */
async function run(page: Page, command: string): Promise<void> {
  await page.keyboard.type(command);
  await page.keyboard.press('Enter');
}

describe('dashboard: a shell on an SSH host and on a workspace', { timeout: 180_000 }, () => {
  let system: TestSystem;
  let browser: Browser;
  let sshd: Sshd;
  let dir: string;
  let sql: postgres.Sql;
  let viewerToken: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vmo-dash-host-shell-'));
    const userKey = await generateKey(dir, 'user_key');
    sshd = await startSshd({ authorizedKeys: [userKey.publicKey] });
    const knownHosts = join(dir, 'known_hosts');
    await writeFile(knownHosts, `${await knownHostsLine(sshd, { hashed: true })}\n`);
    [system, browser] = await Promise.all([
      TestSystem.start({ label: 'dash_host_shell', workers: 0, env: { VMO_SSH_KNOWN_HOSTS: knownHosts, VMO_SSH_KEY_DIRS: dir, VMO_SHELL_RECORD_INPUT: 'true' } }),
      launchChromium(),
    ]);
    sql = postgres(system.databaseUrl, { max: 2, onnotice: () => {} });
    const res = await system.client.request('POST', '/v1/hosts', { name: 'box', environment: 'e2e', host: '127.0.0.1', port: sshd.port, user: 'root', identityFile: userKey.privatePath });
    expect(res.status, res.text).toBe(201);
    const agent = await system.startAgent('ws-dev-agent');
    // The bootstrap admin's workspace `dev` (owner null), its agent running.
    await sql`insert into workspaces (id, name, owner_id, owner_name, template_id, template_version, agent_id)
      values (${newId('wks')}, 'dev', null, 'admin', 'tpl_dashboardtest0000000', 1, ${agent.id})`;
    await system.client.vmo.users.create({ name: 'vic', role: 'viewer' });
    ({ token: viewerToken } = await system.client.vmo.tokens.create({ name: 'dash-viewer', user: 'vic' }));
    await system.client.vmo.policies.create({ name: 'vic-reads-all', subjects: { users: ['vic'] }, actions: ['read'], targets: '' });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await sql?.end({ timeout: 5 });
    await system?.stop();
    await sshd?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('Hosts → Open shell: echo $((6*7)) shows 42; exit 3 ends it; its replay page shows 42 and (VMO_SHELL_RECORD_INPUT=true) what was typed', async () => {
    const tab = await DashboardTab.open(browser, system.apiUrls[0]!, { token: system.token });
    try {
      await tab.goto('/hosts');
      await tab.page.locator('tr[data-host="box@e2e"]').getByRole('link', { name: /Open shell/ }).click();
      await tab.page.waitForURL('**/hosts/*/shell');
      expect(decodeURIComponent(new URL(tab.page.url()).pathname)).toBe('/hosts/box@e2e/shell');
      await tab.page.locator('.shell .state[data-state="live"]').waitFor();
      await tab.page.locator('.shell .screen').click();
      await run(tab.page, 'echo $((6*7))');
      await waitForLine(tab.page, '.shell .screen', 'vmoShell', '42');
      const sessionId = (await tab.page.locator('.shell a.session').textContent())!.trim();
      expect(sessionId).toMatch(/^shs_[0-9a-z]{20}$/);
      await run(tab.page, 'exit 3');
      await tab.page.locator('.shell .state[data-state="ended"]').waitFor();
      const [row] = await sql`select target_kind, target_name, exit_code from shell_sessions where id = ${sessionId}`;
      expect(row).toMatchObject({ target_kind: 'host', target_name: 'box@e2e', exit_code: 3 });
      await tab.page.locator('.shell a.session').click();
      await tab.page.waitForURL(`**/sessions/${sessionId}`);
      await waitForLine(tab.page, `.screen[data-session="${sessionId}"]`, 'vmoReplay', '42');
      expect(await tab.page.locator('pre[data-typed]').textContent()).toBe('echo $((6*7))⏎\nexit 3⏎\n');
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }
  });

  it('/workspaces/dev/shell: a terminal on the workspace\'s agent', async () => {
    const tab = await DashboardTab.open(browser, system.apiUrls[0]!, { token: system.token });
    try {
      await tab.goto('/workspaces/dev/shell');
      await tab.page.locator('.shell .state[data-state="live"]').waitFor();
      await tab.page.locator('.shell .screen').click();
      await run(tab.page, 'echo ws-$((5*5))');
      await waitForLine(tab.page, '.shell .screen', 'vmoShell', 'ws-25');
      const sessionId = (await tab.page.locator('.shell a.session').textContent())!.trim();
      const [row] = await sql`select target_kind, target_name from shell_sessions where id = ${sessionId}`;
      expect(row).toMatchObject({ target_kind: 'agent', target_name: 'ws-dev-agent' });
      await run(tab.page, 'exit');
      await tab.page.locator('.shell .state[data-state="ended"]').waitFor();
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }
  });

  it('a viewer is offered no shell on a host', async () => {
    const tab = await DashboardTab.open(browser, system.apiUrls[0]!, { token: viewerToken });
    try {
      await tab.goto('/hosts');
      await tab.page.locator('tr[data-host="box@e2e"]').waitFor();
      expect(await tab.page.getByRole('link', { name: /Open shell/ }).count()).toBe(0);
      await tab.goto('/hosts/box@e2e/shell');
      await tab.page.getByText('does not allow it (jobs:run)').waitFor();
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }
  });
});
