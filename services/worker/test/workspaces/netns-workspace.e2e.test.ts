import { existsSync, mkdtempSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSystem, waitFor, type ApiClient } from '@vmo/testkit';
import { cleanUpNetnsTest, linksWithPrefix, netnsesWithPrefix, netnsTestPrefix } from '@vmo/testkit';

/**
 * Issue 18's must-hold, as a new user does it, on the real system (API, worker with its operation
 * engine, Postgres, Redis) and the real netns provider: an admin writes a netns template; a user
 * creates a workspace from it (202), it becomes running and healthy when its sandboxed agent
 * connects; a job on it sees the workspace's hostname and a network namespace not the host's; stop
 * leaves no process, namespace or veth (and the directory); delete removes the directory.
 */
describe('a netns workspace through the API (real system and namespaces)', () => {
  const prefix = netnsTestPrefix();
  let tmp: string | undefined;
  let system: TestSystem;
  let olga: ApiClient;
  let root: string;

  beforeAll(async () => {
    tmp = mkdtempSync('/tmp/vmo-netns-');
    root = join(tmp, 'workspaces');
    // The API on every address (its default): the sandboxes reach it at their veth's host end.
    system = await TestSystem.start({ label: 'netns_workspace', workers: 0, env: { VMO_HOST: '0.0.0.0' } });
    await system.startWorker({
      VMO_WORKSPACE_AGENT_URL: system.apiUrls[0]!,
      VMO_NETNS_ROOT: root,
      VMO_NETNS_STATE_DIR: join(tmp, 'state'),
      VMO_NETNS_NAME_PREFIX: prefix,
      VMO_NETNS_STOP_GRACE_MS: '5000',
    });
    const user = await system.client.request('POST', '/v1/users', { name: 'olga', role: 'operator' });
    expect(user.status, user.text).toBe(201);
    const token = await system.client.request('POST', '/v1/tokens', { name: "olga's token", user: 'olga' });
    expect(token.status, token.text).toBe(201);
    olga = system.clientFor(0, token.body.token);
  }, 120_000);

  afterAll(async () => {
    try {
      cleanUpNetnsTest(prefix, tmp);
    } finally {
      await system?.stop();
    }
  });

  const workspace = async (id: string) => {
    const res = await olga.request('GET', `/v1/workspaces/${id}`);
    expect(res.status, res.text).toBe(200);
    return res.body;
  };

  it('create → running and healthy → a job inside the sandbox → stop leaves nothing → delete removes the directory', async () => {
    const tpl = await system.client.request('POST', '/v1/templates', { name: 'sandbox', provider: 'netns', config: {} });
    expect(tpl.status, tpl.text).toBe(201);

    const created = await olga.request('POST', '/v1/workspaces', { name: 'olga-sandbox', template: 'sandbox' });
    expect(created.status, created.text).toBe(202);
    const id = created.body.workspace.id as string;

    const ready = await waitFor('the workspace running and healthy', async () => {
      const ws = await workspace(id);
      if (ws.status === 'failed') throw new Error(`create failed: ${JSON.stringify(ws.latestOperation)} ${system.logs(4000)}`);
      return ws.status === 'running' && ws.health === 'healthy' ? ws : undefined;
    }, 120_000, 250);
    expect(ready.resources).toMatchObject({ directory: join(root, id, 'workspace'), address: expect.stringMatching(/^10\.231\./) });
    expect(netnsesWithPrefix(prefix)).toHaveLength(1);

    // By its agent, as an admin: the {"type":"workspace"} target is not served yet (a 500 at this commit).
    const submitted = await system.client.request('POST', '/v1/jobs', { command: 'hostname; readlink /proc/self/ns/net; pwd', target: { type: 'agent', agent: ready.agent.id } });
    expect(submitted.status, `${submitted.text}\n${system.logs(3000)}`).toBe(201);
    const job = submitted.body as { id: string };
    const ended = await system.client.waitForEnd(job.id, 60_000);
    const out = (await system.client.logs(job.id, '?stream=stdout')).toString().trim().split('\n');
    expect(ended.status, out.join('\n')).toBe('succeeded');
    expect(out[0]).toBe('olga-sandbox');
    expect(out[1]).toMatch(/^net:\[\d+\]$/);
    expect(out[1]).not.toBe(readlinkSync('/proc/self/ns/net'));
    expect(out[2]).toBe('/workspace');

    expect((await olga.request('POST', `/v1/workspaces/${id}/stop`)).status).toBe(202);
    await waitFor('the workspace stopped', async () => ((await workspace(id)).status === 'stopped' ? true : undefined), 60_000, 250);
    expect(netnsesWithPrefix(prefix)).toEqual([]);
    expect(linksWithPrefix(prefix)).toEqual([]);
    expect(existsSync(join(root, id, 'run', 'agent.pid'))).toBe(false);
    expect(existsSync(join(root, id, 'workspace'))).toBe(true);

    expect((await olga.request('DELETE', `/v1/workspaces/${id}`)).status).toBe(202);
    await waitFor('the workspace deleted', async () => {
      const res = await olga.request('GET', `/v1/workspaces/${id}`);
      return res.status === 404 || res.body.status === 'deleted' ? true : undefined;
    }, 60_000, 250);
    expect(existsSync(join(root, id))).toBe(false);
  });
});
