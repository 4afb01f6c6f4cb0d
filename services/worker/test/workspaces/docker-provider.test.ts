/**
 * The docker provider (issue 18).
 *
 * 1. Against a real Docker engine: the provider contract suite and the container's make-up. Runs
 *    only where an engine answers GET /_ping at DOCKER_HOST (default /var/run/docker.sock); where
 *    none does, the describe is SKIPPED and its name says why (never a silent pass).
 * 2. Against a stand-in for the Engine API on a unix socket (docker-standin.ts), always: the same
 *    contract suite and the provider's own rules (what the container gets, a container remade for
 *    a new token with the volume kept, errors that never carry the token, cancel). This checks the
 *    provider's logic and its use of the API as documented, not the engine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '@vmo/shared/ids';
import type { ProviderContext } from '@vmo/shared/workspaces';
import { DEFAULT_DOCKER_HOST, dockerEndpoint, pingEngine } from '../../src/workspaces/providers/docker-engine.ts';
import { containerName, createDockerProvider, pullQuery, volumeName } from '../../src/workspaces/providers/docker.ts';
import { DockerStandin } from './docker-standin.ts';
import * as subject from './docker-subject.ts';
import { providerContract } from './provider-contract.ts';

const REAL_HOST = process.env.DOCKER_HOST || DEFAULT_DOCKER_HOST;
const engine = await pingEngine(dockerEndpoint(REAL_HOST));

describe.skipIf(!engine)(`docker provider against a real engine (needs a Docker engine: ${engine ? `at ${REAL_HOST}` : `none answers at ${REAL_HOST}`})`, () => {
  beforeAll(() => {
    process.env.VMO_DOCKER_TEST_HOST = REAL_HOST;
  });

  providerContract('docker (real engine)', subject.makeProvider, subject.makeContext, { inspect: subject.inspect, childModule: new URL('./docker-subject.ts', import.meta.url), convergeTimeoutMs: 300_000 });

  it('gives the container the agent environment and the volume; absent removes both', async () => {
    const ws = newId('wks');
    const ctx = await subject.makeContext({ workspaceId: ws, state: null, signal: new AbortController().signal, slow: false, log: () => {} });
    const provider = createDockerProvider();
    try {
      await provider.converge(ctx, 'running');
      expect(await provider.status(ctx)).toBe('running');
      const { engineRequest } = await import('../../src/workspaces/providers/docker-engine.ts');
      const c = JSON.parse((await engineRequest(dockerEndpoint(REAL_HOST), 'GET', `/containers/${containerName(ws)}/json`)).body);
      expect(c.Config.Env).toEqual(expect.arrayContaining([`VMO_AGENT_TOKEN=${subject.TEST_TOKEN}`, 'VMO_SERVER=http://127.0.0.1:1', 'FROM_TEMPLATE=yes']));
      expect(c.Mounts).toEqual(expect.arrayContaining([expect.objectContaining({ Type: 'volume', Name: volumeName(ws), Destination: '/workspace' })]));
      await provider.converge(ctx, 'stopped');
      expect(await provider.status(ctx)).toBe('stopped');
    } finally {
      await provider.converge(ctx, 'absent');
    }
    expect(await provider.status(ctx)).toBe('not_found');
  }, 300_000);
});

describe('docker provider against a stand-in Engine API (unix socket, always runs)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vmo-docker-standin-'));
  const standin = new DockerStandin(join(dir, 'docker.sock'));
  const host = `unix://${standin.socketPath}`;
  const logs: string[] = [];
  const provider = createDockerProvider();
  const ctx = (workspaceId: string, over: { config?: Record<string, unknown>; token?: string; signal?: AbortSignal } = {}): ProviderContext => ({
    workspaceId,
    workspaceName: 'My Box',
    config: { image: 'busybox:latest', host, settleMs: 50, env: { FROM_TEMPLATE: 'yes' }, ...over.config },
    params: {},
    state: null,
    agent: { url: 'https://vmo.example:3121', token: over.token ?? subject.TEST_TOKEN, name: 'ws-my-box-abc123', labels: { workspace: 'my-box' } },
    log: (l) => logs.push(l),
    signal: over.signal ?? new AbortController().signal,
  });

  beforeAll(async () => {
    await standin.start();
    process.env.VMO_DOCKER_TEST_HOST = host;
  });
  afterAll(async () => {
    await standin.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  providerContract('docker (stand-in engine)', subject.makeProvider, subject.makeContext, { inspect: subject.inspect, childModule: new URL('./docker-subject.ts', import.meta.url) });

  it('makes a container named for the workspace with the agent environment, the volume at /workspace and its labels, and starts it', async () => {
    const ws = newId('wks');
    const result = await provider.converge(ctx(ws), 'running');
    const c = standin.containers.get(containerName(ws))!;
    expect(c.State.Running).toBe(true);
    expect(c.Config.Env).toEqual(
      expect.arrayContaining([`VMO_SERVER=https://vmo.example:3121`, `VMO_AGENT_URL=https://vmo.example:3121`, `VMO_AGENT_TOKEN=${subject.TEST_TOKEN}`, 'VMO_AGENT_NAME=ws-my-box-abc123', 'VMO_AGENT_LABELS=workspace=my-box', 'FROM_TEMPLATE=yes', `WORKSPACE_ID=${ws}`]),
    );
    expect(c.Config.Labels).toMatchObject({ 'vmo.workspace': ws });
    expect(c.Config.Hostname).toBe('my-box');
    expect(c.HostConfig.Mounts).toEqual([{ Type: 'volume', Source: volumeName(ws), Target: '/workspace' }]);
    expect(standin.volumes.has(volumeName(ws))).toBe(true);
    expect(result.state).toMatchObject({ containerId: c.Id, container: containerName(ws), volume: volumeName(ws) });
    // The token is in the container's environment, never in the log or the state.
    expect(JSON.stringify(logs) + JSON.stringify(result)).not.toContain(subject.TEST_TOKEN);
    expect(await provider.status(ctx(ws))).toBe('running');
  });

  it('pulls an image the engine lacks (tag latest when none is given), and fails clearly when the pull does', async () => {
    const ws = newId('wks');
    await provider.converge(ctx(ws, { config: { image: 'alpine' } }), 'running');
    expect(standin.images.has('alpine:latest')).toBe(true);
    expect(pullQuery('ubuntu:24.04')).toBe('fromImage=ubuntu&tag=24.04');
    expect(pullQuery('registry.local:5000/team/dev')).toBe(`fromImage=${encodeURIComponent('registry.local:5000/team/dev')}&tag=latest`);
    expect(pullQuery('x@sha256:abc')).toBe(`fromImage=${encodeURIComponent('x@sha256:abc')}`);
    const denied = newId('wks');
    const err = await provider.converge(ctx(denied, { config: { image: 'private/thing:1' } }), 'running').catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/pulling private\/thing:1: pull access denied/);
    expect((err as Error).message).not.toContain(subject.TEST_TOKEN);
    expect(standin.containers.has(containerName(denied))).toBe(false);
  });

  it('remakes a container made for an earlier token (rotated at each start) or image, keeping the volume', async () => {
    const ws = newId('wks');
    await provider.converge(ctx(ws), 'running');
    const first = standin.containers.get(containerName(ws))!.Id;
    await provider.converge(ctx(ws), 'stopped');
    const rotated = 'vmo_agt_rotatedtoken000000000000000000000';
    await provider.converge(ctx(ws, { token: rotated }), 'running');
    const second = standin.containers.get(containerName(ws))!;
    expect(second.Id).not.toBe(first);
    expect(second.Config.Env).toContain(`VMO_AGENT_TOKEN=${rotated}`);
    expect(standin.volumes.has(volumeName(ws))).toBe(true);
    // The same token again: the same container.
    await provider.converge(ctx(ws, { token: rotated }), 'running');
    expect(standin.containers.get(containerName(ws))!.Id).toBe(second.Id);
    // A rebuild's new image.
    await provider.converge(ctx(ws, { token: rotated, config: { image: 'alpine' } }), 'running');
    expect(standin.containers.get(containerName(ws))!.Config.Image).toBe('alpine');
    expect([...standin.containers.values()].filter((c) => c.Config.Labels['vmo.workspace'] === ws)).toHaveLength(1);
  });

  it('stops (status stopped), and absent removes the container and the volume; both again do nothing', async () => {
    const ws = newId('wks');
    await provider.converge(ctx(ws), 'running');
    await provider.converge(ctx(ws), 'stopped');
    expect(await provider.status(ctx(ws))).toBe('stopped');
    const before = standin.calls.length;
    await provider.converge(ctx(ws), 'stopped');
    expect(standin.calls.slice(before).filter((c) => c.includes('/stop'))).toEqual([]);
    expect((await provider.converge(ctx(ws), 'absent')).state).toBeNull();
    expect(standin.containers.has(containerName(ws))).toBe(false);
    expect(standin.volumes.has(volumeName(ws))).toBe(false);
    await provider.converge(ctx(ws), 'absent');
    expect(await provider.status(ctx(ws))).toBe('not_found');
    // absent while running: forced.
    await provider.converge(ctx(ws), 'running');
    await provider.converge(ctx(ws), 'absent');
    expect(standin.containers.has(containerName(ws))).toBe(false);
  });

  it('fails a start whose container exits at once, with its exit code and without the token', async () => {
    const ws = newId('wks');
    standin.images.add('crash:latest');
    const err = await provider.converge(ctx(ws, { config: { image: 'crash:latest' } }), 'running').catch((e: Error) => e);
    expect((err as Error).message).toMatch(/stopped right after its start \(exited, exit code 3\)/);
    expect((err as Error).message).not.toContain(subject.TEST_TOKEN);
    expect(await provider.status(ctx(ws, { config: { image: 'crash:latest' } }))).toBe('stopped');
  });

  it('stops promptly when canceled, and says so when no engine answers or the config is wrong', async () => {
    const ws = newId('wks');
    const abort = new AbortController();
    const started = Date.now();
    const slow = provider.converge(ctx(ws, { config: { settleMs: 60_000 }, signal: abort.signal }), 'running');
    setTimeout(() => abort.abort(new Error('canceled by the test')), 300);
    await expect(slow).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(10_000);
    await provider.converge(ctx(ws), 'absent');

    const nowhere = `unix://${join(dir, 'no-engine.sock')}`;
    await expect(provider.converge(ctx(newId('wks'), { config: { host: nowhere } }), 'running')).rejects.toThrow(/does not answer \(ENOENT\)/);
    await expect(provider.converge(ctx(newId('wks'), { config: { image: '' } }), 'running')).rejects.toThrow(/config\.image/);
    await expect(provider.converge(ctx(newId('wks'), { config: { command: 'sleep 1' } }), 'running')).rejects.toThrow(/config\.command/);
    expect(() => dockerEndpoint('https://x:2376')).toThrow(/TLS endpoints are not supported/);
    expect(dockerEndpoint('tcp://10.0.0.5:2375')).toMatchObject({ host: '10.0.0.5', port: 2375 });
  });
});
