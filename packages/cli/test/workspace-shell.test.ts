/**
 * Issues 17/18: `vmo shell workspace:NAME` — GET /v1/workspaces/{id}/shell on a workspace's own
 * agent. A real stack: an API, a worker whose engine runs the `fake` provider with `agent: true`
 * (the real vmo agent, so a real PTY). The owner (an operator with no policy on the agent) opens a
 * shell by name: output, and `exit 7` is vmo's exit 7; the recorded session is on the workspace's
 * agent. Another operator gets 404 (by name and by id), a viewer 403 before the upgrade, and a
 * stopped workspace 409 agent_not_connected.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VmoClient } from '@vmo/client';
import { TestSystem, waitFor } from '@vmo/testkit';
import { runCli, useBundle } from './run-cli.ts';

describe('vmo shell workspace:NAME (real stack, fake provider with a real agent)', { timeout: 240_000 }, () => {
  let system: TestSystem;
  let dir: string;
  let bundle: string;
  const tokens: Record<string, string> = {};
  let workspaceId: string;
  let agentId: string;

  beforeAll(async () => {
    [system, bundle] = await Promise.all([TestSystem.start({ label: 'cli_ws_shell', apis: 1, workers: 0 }), useBundle()]);
    await system.startWorker({ VMO_WORKSPACE_AGENT_URL: system.apiUrls[0]! });
    dir = mkdtempSync(join(tmpdir(), 'vmo-cli-ws-shell-'));
    const admin = system.client.vmo;
    for (const [name, role] of [['alice', 'operator'], ['bob', 'operator'], ['vera', 'viewer']] as const) {
      await admin.users.create({ name, role });
      tokens[name] = (await admin.tokens.create({ name: `${name}-token`, user: name })).token;
    }
    await admin.templates.create({ name: 'with-agent', provider: 'fake', config: { dir: join(dir, 'envs'), agent: true } });
    const alice = new VmoClient({ baseUrl: system.apiUrls[0]!, token: tokens.alice });
    const { workspace } = await alice.workspaces.create({ name: 'box', template: 'with-agent' });
    workspaceId = workspace.id;
    const healthy = await waitFor('the workspace to be healthy', async () => {
      const w = await alice.workspaces.get(workspaceId);
      if (w.status === 'failed') throw new Error(`create failed: ${JSON.stringify(w.latestOperation)}`);
      return w.health === 'healthy' ? w : undefined;
    }, 120_000, 250);
    agentId = healthy.agent!.id;
  }, 240_000);
  afterAll(async () => {
    // An agent a failed case left running (the fake runs it in its own process group).
    for (const ws of dir ? readdirSync(join(dir, 'envs'), { withFileTypes: true }).filter((d) => d.isDirectory()) : []) {
      try {
        const pid = Number(readFileSync(join(dir, 'envs', ws.name, 'agent.pid'), 'utf8'));
        if (pid > 1 && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('services/agent/src/main.ts')) process.kill(-pid, 'SIGKILL');
      } catch {
        // no agent left
      }
    }
    await system?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (bundle) rmSync(join(bundle, '..'), { recursive: true, force: true });
  });

  const vmo = (who: string, args: string[]) => runCli(args, { env: { VMO_SERVER: system.apiUrls[0]!, VMO_TOKEN: tokens[who] ?? system.token, XDG_CONFIG_HOME: join(dir, 'xdg') }, cwd: dir, timeoutMs: 90_000 });

  it("the owner's shell runs in the workspace and exits with the remote code", async () => {
    const r = await vmo('alice', ['shell', 'workspace:box', '--', 'sh', '-c', 'echo "in-$((6*7))"; exit 7']);
    expect(r.stderr.toString()).toBe('');
    expect(r.stdout.toString()).toContain('in-42');
    expect(r.code).toBe(7);
    // Recorded as a session on the workspace's agent, with its exit code.
    const sessions = await system.client.vmo.sessions.list({ target: agentId });
    expect(sessions.items[0]).toMatchObject({ exitCode: 7, user: expect.objectContaining({ name: 'alice' }) });
    // An admin may open it by id.
    const admin = await vmo('admin', ['shell', `workspace:${workspaceId}`, '--', 'sh', '-c', 'exit 3']);
    expect(admin.code, admin.stderr.toString()).toBe(3);
  });

  it("another user's is 404, a viewer is 403 before the upgrade, a bad target is usage", async () => {
    for (const ref of ['box', workspaceId]) {
      const bob = await vmo('bob', ['shell', `workspace:${ref}`, '--', 'true']);
      expect(bob.code).toBe(70);
      expect(bob.stderr.toString()).toMatch(/^vmo: not_found: /);
    }
    const vera = await vmo('vera', ['shell', `workspace:${workspaceId}`, '--', 'true']);
    expect(vera.code).toBe(70);
    expect(vera.stderr.toString()).toMatch(/^vmo: forbidden: /);
    const bad = await vmo('alice', ['shell', 'workspace:']);
    expect(bad.code).toBe(2);
  });

  it('a stopped workspace is 409 agent_not_connected', async () => {
    const alice = new VmoClient({ baseUrl: system.apiUrls[0]!, token: tokens.alice });
    const { operation } = await alice.workspaces.stop('box');
    await waitFor('the stop to end', async () => ((await alice.operations.get(operation.id)).status === 'succeeded' ? true : undefined), 90_000, 250);
    const r = await vmo('alice', ['shell', 'workspace:box', '--', 'true']);
    expect(r.code).toBe(70);
    expect(r.stderr.toString()).toMatch(/^vmo: agent_not_connected: workspace "box" has no connected agent/);
  });
});
