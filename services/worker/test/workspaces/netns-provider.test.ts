import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSystem, waitFor } from '@vmo/testkit';
import type { ProviderContext } from '@vmo/shared/workspaces';
import { createNetnsProvider, urlFromNamespace } from '../../src/workspaces/providers/netns/netns-provider.ts';
import type { NetnsOptions } from '../../src/workspaces/providers/netns/options.ts';
import * as netnsSubject from './netns-subject.ts';
import { providerContract } from './provider-contract.ts';
import { cgroupDirs, cleanUpNetnsTest, linksWithPrefix, netnsesWithPrefix, processGroupMembers, netnsTestPrefix } from '@vmo/testkit';

/**
 * The netns provider for real (root, iproute2, bubblewrap): a workspace's agent, sandboxed in its
 * namespace, connects to a real control plane over the veth and runs a job whose hostname is the
 * workspace's name and whose network namespace is not the host's; stop leaves no process,
 * namespace or veth; destroy removes the directory. Everything it makes carries a prefix of its own
 * and is taken down in afterAll whatever happened.
 */
describe('netns provider (real namespaces, bubblewrap and control plane)', () => {
  const prefix = netnsTestPrefix();
  let tmp: string | undefined;
  let system: TestSystem;
  let options: NetnsOptions;
  let agent: { id: string; name: string; token: string };
  const workspaceId = `wks_${prefix}netnstest`;
  const workspaceName = `ws-${prefix}`;
  const logs: string[] = [];

  const ctx = (state: Record<string, unknown> | null = null, withAgent = true): ProviderContext => ({
    workspaceId,
    workspaceName,
    // Limits: the sandbox runs in a cgroup of its own (cgroups.ts).
    config: { memoryMiB: 512, cpuQuota: 1 },
    params: {},
    state,
    ...(withAgent ? { agent: { url: system.apiUrls[0]!, token: agent.token, name: agent.name, labels: { workspace: workspaceName } } } : {}),
    log: (line) => logs.push(line),
    signal: new AbortController().signal,
  });

  beforeAll(async () => {
    tmp = mkdtempSync('/tmp/vmo-netns-');
    options = { directoryRoot: join(tmp, 'workspaces'), allowedRoots: [join(tmp, 'workspaces')], stateDir: join(tmp, 'state'), namePrefix: prefix, stopGraceMs: 5000, nodePath: process.execPath };
    // The API on every address: the sandbox reaches it at the veth's host end, not 127.0.0.1.
    system = await TestSystem.start({ label: 'netns_provider', env: { VMO_HOST: '0.0.0.0' } });
    // (Not workspace=: reserved to workspaces' own agents, refused here.)
    const res = await system.client.request('POST', '/v1/agents', { name: `agent-${workspaceName}`, labels: { sandbox: workspaceName } });
    expect(res.status).toBe(201);
    agent = { id: res.body.id, name: res.body.name, token: res.body.token };
  });

  afterAll(async () => {
    try {
      cleanUpNetnsTest(prefix, tmp);
    } finally {
      await system?.stop();
    }
  });

  const run = async (command: string) => {
    const job = await system.client.submit({ command, target: { type: 'agent', agent: agent.name } });
    const ended = await system.client.waitForEnd(job.id, 60_000);
    const stdout = (await system.client.logs(job.id, '?stream=stdout')).toString();
    expect(ended, stdout).toMatchObject({ status: 'succeeded', exitCode: 0 });
    return stdout;
  };
  const pidfile = () => JSON.parse(readFileSync(join(options.directoryRoot, workspaceId, 'run', 'agent.pid'), 'utf8')) as { pid: number };

  it('rewrites a loopback control-plane URL to the veth host end, and keeps any other', () => {
    expect(urlFromNamespace('http://127.0.0.1:3121', '10.231.0.1')).toBe('http://10.231.0.1:3121');
    expect(urlFromNamespace('http://localhost:3121/', '10.231.0.1')).toBe('http://10.231.0.1:3121');
    expect(urlFromNamespace('https://vmo.example.com', '10.231.0.1')).toBe('https://vmo.example.com');
  });

  it('refuses a directoryRoot outside the allowed roots', async () => {
    const provider = createNetnsProvider(options);
    await expect(provider.converge({ ...ctx(), config: { directoryRoot: '/etc' } }, 'running')).rejects.toThrow(/not one this worker allows/);
    await expect(provider.converge({ ...ctx(), config: { directoryRoot: tmp } }, 'absent')).rejects.toThrow(/not one this worker allows/);
  });

  it('running: the sandboxed agent connects and runs jobs as the workspace (its hostname, its own network namespace)', async () => {
    const provider = createNetnsProvider(options);
    expect(await provider.status(ctx())).toBe('not_found');
    const first = await provider.converge(ctx(), 'running');
    expect(first.state).toMatchObject({ netns: expect.stringMatching(new RegExp(`^${prefix}-[0-9a-f]{9}$`)), directory: join(options.directoryRoot, workspaceId, 'workspace') });
    expect(first.resources).toMatchObject({ address: expect.stringMatching(/^10\.231\.\d+\.\d+$/) });
    await system.waitForAgentStatus(agent.id, 'online', 60_000);

    const out = (await run('hostname; readlink /proc/self/ns/net; echo kept > /workspace/kept.txt')).trim().split('\n');
    expect(out[0]).toBe(workspaceName);
    expect(out[1]).toMatch(/^net:\[\d+\]$/);
    expect(out[1]).not.toBe(readlinkSync('/proc/self/ns/net'));
    expect(readFileSync(join(options.directoryRoot, workspaceId, 'workspace', 'kept.txt'), 'utf8')).toBe('kept\n');
    // The sandbox's root has no capabilities, and only a few files of the host's /etc.
    expect((await run('grep CapEff /proc/self/status; test -e /etc/shadow && echo shadow || echo no-shadow')).trim().split('\n')).toEqual(['CapEff:\t0000000000000000', 'no-shadow']);

    // Idempotent: running again (a new provider, as a restarted worker) starts nothing.
    const { pid } = pidfile();
    // The sandbox in its cgroup(s), with the template's limits.
    const ns = first.state!.netns as string;
    const groups = cgroupDirs(ns);
    expect(groups.length).toBeGreaterThan(0);
    for (const dir of groups) expect(readFileSync(`${dir}/cgroup.procs`, 'utf8').split('\n')).toContain(String(pid));
    if (groups.includes(`/sys/fs/cgroup/memory/${ns}`)) expect(readFileSync(`/sys/fs/cgroup/memory/${ns}/memory.limit_in_bytes`, 'utf8').trim()).toBe(String(512 * 1024 * 1024));
    if (groups.includes(`/sys/fs/cgroup/cpu/${ns}`)) expect(readFileSync(`/sys/fs/cgroup/cpu/${ns}/cpu.cfs_quota_us`, 'utf8').trim()).toBe('100000');
    const again = await createNetnsProvider(options).converge(ctx(first.state), 'running');
    expect(again.state).toEqual(first.state);
    expect(pidfile().pid).toBe(pid);
    expect(await provider.status(ctx())).toBe('running');
    expect(netnsesWithPrefix(prefix)).toHaveLength(1);
    expect(JSON.stringify(logs)).not.toContain(agent.token);
  });

  it('running after a lost pidfile (a worker killed between spawn and record) leaves exactly one agent', async () => {
    const provider = createNetnsProvider(options);
    const { pid: old } = pidfile();
    execFileSync('rm', [join(options.directoryRoot, workspaceId, 'run', 'agent.pid')]);
    await provider.converge(ctx(), 'running');
    const { pid } = pidfile();
    expect(pid).not.toBe(old);
    await waitFor('the old sandbox gone', () => processGroupMembers(old).length === 0, 20_000);
    const ns = netnsesWithPrefix(prefix)[0]!;
    // One sandbox: the monitor (pid) and what it runs; nothing of the old group.
    const inNs = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
    expect(inNs).toContain(pid);
    expect(inNs.every((p) => processGroupMembers(pid).includes(p) || !existsSync(`/proc/${p}`))).toBe(true);
    await waitFor('the agent online again', async () => (await run('hostname')).trim() === workspaceName, 60_000);
  });

  it('stopped: no process, namespace or veth left; the directory kept; stopping again does nothing', async () => {
    const provider = createNetnsProvider(options);
    const { pid } = pidfile();
    const stopped = await provider.converge(ctx(null, false), 'stopped');
    expect(stopped.state).toMatchObject({ subnet: expect.any(Number) });
    expect(processGroupMembers(pid)).toEqual([]);
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(netnsesWithPrefix(prefix)).toEqual([]);
    expect(linksWithPrefix(prefix)).toEqual([]);
    expect(cgroupDirs(stopped.state!.netns as string)).toEqual([]);
    expect(existsSync(join(options.directoryRoot, workspaceId, 'run', 'agent.pid'))).toBe(false);
    expect(existsSync(join(options.directoryRoot, workspaceId, 'agent', 'agent.token'))).toBe(false);
    expect(readFileSync(join(options.directoryRoot, workspaceId, 'workspace', 'kept.txt'), 'utf8')).toBe('kept\n');
    expect(await provider.status(ctx())).toBe('stopped');
    await system.waitForAgentStatus(agent.id, 'offline', 30_000);
    await provider.converge(ctx(stopped.state, false), 'stopped');
    expect(await provider.status(ctx())).toBe('stopped');
  });

  it('snapshot and restore: an archive of the workspace files, restored over later changes; deleted on request', async () => {
    const provider = createNetnsProvider(options);
    const taken = await provider.snapshot!(ctx(null, false), { id: 'snp_test1', name: 'first' });
    expect(taken.ref).toEqual({ path: join(tmp!, 'snapshots', 'snp_test1.tar.gz') });
    expect(taken.sizeBytes).toBeGreaterThan(0);
    const data = join(options.directoryRoot, workspaceId, 'workspace');
    writeFileSync(join(data, 'kept.txt'), 'changed\n');
    writeFileSync(join(data, 'later.txt'), 'later\n');
    await provider.restore!(ctx(null, false), { id: 'snp_test1', ref: taken.ref });
    expect(readFileSync(join(data, 'kept.txt'), 'utf8')).toBe('kept\n');
    expect(existsSync(join(data, 'later.txt'))).toBe(false);
    // A ref pointing anywhere else is refused (refs are stored data).
    await expect(provider.deleteSnapshot!(ctx(null, false), { id: 'snp_test1', ref: { path: '/etc/passwd' } })).rejects.toThrow(/not where this worker keeps snapshots/);
    await provider.deleteSnapshot!(ctx(null, false), { id: 'snp_test1', ref: taken.ref });
    expect(existsSync(taken.ref.path as string)).toBe(false);
  });

  it('refuses a snapshot while running', async () => {
    const provider = createNetnsProvider(options);
    await provider.converge(ctx(), 'running');
    await expect(provider.snapshot!(ctx(null, false), { id: 'snp_test2', name: 'live' })).rejects.toThrow(/stopped/);
  });

  it('absent: stops everything and removes the directory; absent again does nothing', async () => {
    const provider = createNetnsProvider(options);
    const { pid } = pidfile();
    const gone = await provider.converge(ctx(null, false), 'absent');
    expect(gone.state).toBeNull();
    expect(processGroupMembers(pid)).toEqual([]);
    expect(netnsesWithPrefix(prefix)).toEqual([]);
    expect(linksWithPrefix(prefix)).toEqual([]);
    expect(existsSync(join(options.directoryRoot, workspaceId))).toBe(false);
    expect(existsSync(options.directoryRoot)).toBe(true);
    expect(await provider.status(ctx())).toBe('not_found');
    expect((await provider.converge(ctx(null, false), 'absent')).state).toBeNull();
  });
});

// The provider contract (B's suite), on namespaces of its own prefix, with no control plane.
providerContract('netns', netnsSubject.makeProvider, netnsSubject.makeContext, { inspect: netnsSubject.inspect, childModule: new URL('./netns-subject.ts', import.meta.url) });
afterAll(() => cleanUpNetnsTest(netnsSubject.PREFIX, netnsSubject.TMP));
