import { setTimeout as sleep } from 'node:timers/promises';
import type { DesiredState, ObservedState, ProviderContext, ProviderResult, WorkspaceProvider } from '@vmo/shared/workspaces';
import { DockerProviderConfig } from '@vmo/shared/workspaces';
import { dockerEndpoint, DockerEngineError, engineMessage, engineRequest, type DockerEndpoint } from './docker-engine.ts';

/**
 * The `docker` provider (issue 18) over the Docker Engine API (docker-engine.ts: the socket, or
 * DOCKER_HOST / the template's `host`). Per workspace:
 *   a container `vmo-ws-<workspace id>` of the template's `image`, labelled vmo.workspace=<id>;
 *   a volume `vmo-ws-<workspace id>` mounted at `volumePath` (default /workspace): the data, kept
 *   across stop, start and rebuild, removed with the workspace (absent).
 * The image must run the vmo agent (its entrypoint): the container gets VMO_SERVER (and
 * VMO_AGENT_URL), VMO_AGENT_TOKEN and VMO_AGENT_NAME, which is what `vmo-agent` reads; plus the
 * template's `env`. The workspace is ready when that agent connects, not when the container runs.
 *
 * converge:
 *   running  pull the image if the engine lacks it (tag `latest` when none is given), create the
 *            volume and the container if absent, and start it. A container made for another
 *            token or image (the token is rotated at each start; a rebuild brings a new image) is
 *            removed and made again: the volume, and so the data, stays.
 *   stopped  stop it (10 s grace, then the engine kills it); nothing when absent or stopped.
 *   absent   remove the container (forced) and the volume; nothing when gone.
 * Everything is found from the workspace id (the names), never from memory or `state`: a worker
 * killed midway and the operation run again by another leaves one container (a create that lost
 * the race is a 409 from the engine, and the other's container is used).
 * Snapshots: not supported (SNAPSHOT_SUPPORT in @vmo/shared/workspaces snapshot-service.ts).
 * Registry credentials are not supported: the image must be pullable anonymously, or present.
 *
 * `command` (template config, optional): the container's command instead of the image's (an image
 * whose entrypoint is not the agent: a script that installs and runs it).
 * `settleMs` (template config, default 1000): after a start, the container must stay running this
 * long, or the start fails with its exit code (a container whose agent exits at once is not
 * "running"). Cancellable, like every wait here.
 */

export const containerName = (workspaceId: string) => `vmo-ws-${workspaceId}`;
export const volumeName = (workspaceId: string) => `vmo-ws-${workspaceId}`;
export const WORKSPACE_LABEL = 'vmo.workspace';

const DEFAULT_VOLUME_PATH = '/workspace';
const DEFAULT_SETTLE_MS = 1000;
const STOP_GRACE_S = 10;

export class DockerProviderError extends Error {
  override name = 'DockerProviderError';
}

interface Inspect {
  Id: string;
  Config: { Image: string; Env: string[] | null };
  State: { Status: string; Running: boolean; ExitCode: number; Error?: string };
}

interface Parsed {
  image: string;
  env: Record<string, string>;
  cpus?: number | undefined;
  memoryMiB?: number | undefined;
  volumePath: string;
  network?: string | undefined;
  settleMs: number;
  /** The container's command (Cmd) instead of the image's; default: the image's. */
  command?: string[] | undefined;
  endpoint: DockerEndpoint;
}

function parse(ctx: ProviderContext): Parsed {
  const r = DockerProviderConfig.safeParse(ctx.config);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new DockerProviderError(`docker provider: config.${issue.path.join('.')}: ${issue.message}`);
  }
  const c = r.data;
  const { settleMs: settle, command } = ctx.config as { settleMs?: unknown; command?: unknown };
  if (command !== undefined && !(Array.isArray(command) && command.every((w) => typeof w === 'string'))) throw new DockerProviderError('docker provider: config.command: must be a list of strings (the container\'s command)');
  return {
    image: c.image,
    env: c.env ?? {},
    cpus: c.cpus,
    memoryMiB: c.memoryMiB,
    volumePath: c.volumePath ?? DEFAULT_VOLUME_PATH,
    network: c.network,
    settleMs: typeof settle === 'number' && settle >= 0 ? settle : DEFAULT_SETTLE_MS,
    command: command as string[] | undefined,
    endpoint: dockerEndpoint(c.host ?? (process.env.DOCKER_HOST || undefined)),
  };
}

/** `ubuntu:24.04` → fromImage=ubuntu&tag=24.04; no tag → `latest` (else the engine pulls EVERY tag); a digest as it is. */
export function pullQuery(image: string): string {
  if (image.includes('@')) return `fromImage=${encodeURIComponent(image)}`;
  const colon = image.lastIndexOf(':');
  const hasTag = colon > image.lastIndexOf('/');
  const name = hasTag ? image.slice(0, colon) : image;
  const tag = hasTag ? image.slice(colon + 1) : 'latest';
  return `fromImage=${encodeURIComponent(name)}&tag=${encodeURIComponent(tag)}`;
}

/** The container's environment: the template's, then the agent's (which wins). LOUD: holds the token; never log it. */
function containerEnv(ctx: ProviderContext, p: Parsed): string[] {
  const env: Record<string, string> = { ...p.env, WORKSPACE_ID: ctx.workspaceId, WORKSPACE_NAME: ctx.workspaceName };
  if (ctx.agent) {
    env.VMO_SERVER = ctx.agent.url;
    env.VMO_AGENT_URL = ctx.agent.url;
    env.VMO_AGENT_TOKEN = ctx.agent.token;
    env.VMO_AGENT_NAME = ctx.agent.name;
    if (Object.keys(ctx.agent.labels).length > 0) env.VMO_AGENT_LABELS = Object.entries(ctx.agent.labels).map(([k, v]) => `${k}=${v}`).join(',');
  }
  return Object.entries(env).map(([k, v]) => `${k}=${v}`);
}

export function createDockerProvider(): WorkspaceProvider {
  const call = async (p: Parsed, ctx: ProviderContext, method: string, path: string, body?: unknown) => {
    ctx.signal.throwIfAborted();
    return engineRequest(p.endpoint, method, path, { body, signal: ctx.signal });
  };
  const fail = (what: string, answer: { statusCode: number; body: string }) => new DockerProviderError(`docker provider: ${what}: ${engineMessage(answer)}`);

  const inspect = async (p: Parsed, ctx: ProviderContext): Promise<Inspect | null> => {
    const a = await call(p, ctx, 'GET', `/containers/${containerName(ctx.workspaceId)}/json`);
    if (a.statusCode === 404) return null;
    if (a.statusCode !== 200) throw fail('inspecting the container', a);
    return JSON.parse(a.body) as Inspect;
  };

  const ensureImage = async (p: Parsed, ctx: ProviderContext) => {
    const has = await call(p, ctx, 'GET', `/images/${encodeURIComponent(p.image)}/json`);
    if (has.statusCode === 200) return;
    if (has.statusCode !== 404) throw fail(`looking for the image ${p.image}`, has);
    ctx.log(`docker: pulling ${p.image}`);
    const pulled = await call(p, ctx, 'POST', `/images/create?${pullQuery(p.image)}`);
    if (pulled.statusCode !== 200) throw fail(`pulling ${p.image}`, pulled);
    // A pull that fails midway still answers 200: its stream's last lines say so.
    for (const line of pulled.body.split('\n')) {
      if (!line.trim()) continue;
      try {
        const msg = JSON.parse(line) as { error?: string };
        if (msg.error) throw new DockerProviderError(`docker provider: pulling ${p.image}: ${msg.error}`);
      } catch (err) {
        if (err instanceof DockerProviderError) throw err;
      }
    }
  };

  const ensureVolume = async (p: Parsed, ctx: ProviderContext) => {
    // Idempotent in the engine: creating an existing volume answers it.
    const a = await call(p, ctx, 'POST', '/volumes/create', { Name: volumeName(ctx.workspaceId), Labels: { [WORKSPACE_LABEL]: ctx.workspaceId } });
    if (a.statusCode !== 201 && a.statusCode !== 200) throw fail('creating the volume', a);
  };

  const createContainer = async (p: Parsed, ctx: ProviderContext) => {
    const a = await call(p, ctx, 'POST', `/containers/create?name=${containerName(ctx.workspaceId)}`, {
      Image: p.image,
      Hostname: ctx.workspaceName.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '').slice(0, 63) || 'workspace',
      Env: containerEnv(ctx, p),
      ...(p.command ? { Cmd: p.command } : {}),
      Labels: { [WORKSPACE_LABEL]: ctx.workspaceId, 'vmo.workspace.name': ctx.workspaceName },
      HostConfig: {
        Mounts: [{ Type: 'volume', Source: volumeName(ctx.workspaceId), Target: p.volumePath }],
        ...(p.cpus ? { NanoCpus: Math.round(p.cpus * 1e9) } : {}),
        ...(p.memoryMiB ? { Memory: p.memoryMiB * 1024 * 1024 } : {}),
        ...(p.network ? { NetworkMode: p.network } : {}),
      },
    });
    // 409: another try (a worker killed midway, run again) made it first: use that one.
    if (a.statusCode === 409) return;
    if (a.statusCode !== 201) throw fail('creating the container', a);
    ctx.log(`docker: created container ${containerName(ctx.workspaceId)} from ${p.image}`);
  };

  const removeContainer = async (p: Parsed, ctx: ProviderContext) => {
    const a = await call(p, ctx, 'DELETE', `/containers/${containerName(ctx.workspaceId)}?force=true&v=false`);
    if (a.statusCode !== 204 && a.statusCode !== 404) throw fail('removing the container', a);
  };

  const stop = async (p: Parsed, ctx: ProviderContext) => {
    const a = await call(p, ctx, 'POST', `/containers/${containerName(ctx.workspaceId)}/stop?t=${STOP_GRACE_S}`);
    // 304: already stopped; 404: gone.
    if (a.statusCode !== 204 && a.statusCode !== 304 && a.statusCode !== 404) throw fail('stopping the container', a);
  };

  /** Made for this start? The same image and the current token (rotated at each start). */
  const fits = (c: Inspect, p: Parsed, ctx: ProviderContext): boolean => {
    if (c.Config.Image !== p.image) return false;
    if (!ctx.agent) return true;
    return (c.Config.Env ?? []).includes(`VMO_AGENT_TOKEN=${ctx.agent.token}`);
  };

  const stateOf = (c: Inspect | null, p: Parsed, ctx: ProviderContext): ProviderResult => ({
    state: c ? { containerId: c.Id, container: containerName(ctx.workspaceId), volume: volumeName(ctx.workspaceId), image: p.image } : { volume: volumeName(ctx.workspaceId), image: p.image },
    resources: { container: containerName(ctx.workspaceId), image: p.image, volume: volumeName(ctx.workspaceId), ...(p.cpus ? { cpu: p.cpus } : {}), ...(p.memoryMiB ? { memoryMiB: p.memoryMiB } : {}) },
  });

  const running = async (p: Parsed, ctx: ProviderContext): Promise<ProviderResult> => {
    let c = await inspect(p, ctx);
    if (c && !fits(c, p, ctx)) {
      ctx.log(`docker: the container was made for ${c.Config.Image === p.image ? 'an earlier agent token' : `image ${c.Config.Image}`}: making it again (the volume stays)`);
      await removeContainer(p, ctx);
      c = null;
    }
    if (!c) {
      await ensureImage(p, ctx);
      await ensureVolume(p, ctx);
      await createContainer(p, ctx);
      c = await inspect(p, ctx);
      if (!c) throw new DockerProviderError('docker provider: the container vanished right after it was created');
    }
    if (!c.State.Running) {
      const a = await call(p, ctx, 'POST', `/containers/${containerName(ctx.workspaceId)}/start`);
      if (a.statusCode !== 204 && a.statusCode !== 304) throw fail('starting the container', a);
      ctx.log(`docker: started ${containerName(ctx.workspaceId)}`);
    }
    // It must stay up: an agent that exits at once is a failed start, not a running workspace.
    const until = Date.now() + p.settleMs;
    for (;;) {
      c = await inspect(p, ctx);
      if (!c) throw new DockerProviderError('docker provider: the container was removed while it started');
      if (!c.State.Running) throw new DockerProviderError(`docker provider: the container stopped right after its start (${c.State.Status}, exit code ${c.State.ExitCode}${c.State.Error ? `: ${c.State.Error}` : ''}); see docker logs ${containerName(ctx.workspaceId)}`);
      if (Date.now() >= until) break;
      await sleep(Math.min(250, Math.max(0, until - Date.now())), undefined, { signal: ctx.signal });
    }
    return stateOf(c, p, ctx);
  };

  return {
    kind: 'docker',

    async converge(ctx: ProviderContext, desired: DesiredState): Promise<ProviderResult> {
      const p = parse(ctx);
      try {
        switch (desired) {
          case 'running':
            return await running(p, ctx);
          case 'stopped': {
            const c = await inspect(p, ctx);
            if (c && c.State.Status !== 'exited' && c.State.Status !== 'created' && c.State.Status !== 'dead') {
              await stop(p, ctx);
              ctx.log(`docker: stopped ${containerName(ctx.workspaceId)}`);
            }
            return stateOf(c ? await inspect(p, ctx) : null, p, ctx);
          }
          case 'absent': {
            await removeContainer(p, ctx);
            const a = await call(p, ctx, 'DELETE', `/volumes/${volumeName(ctx.workspaceId)}`);
            if (a.statusCode !== 204 && a.statusCode !== 404) throw fail('removing the volume', a);
            ctx.log(`docker: removed ${containerName(ctx.workspaceId)} and its volume`);
            return { state: null };
          }
        }
      } catch (err) {
        if (err instanceof DockerEngineError) throw new DockerProviderError(err.message);
        throw err;
      }
    },

    async status(ctx: ProviderContext): Promise<ObservedState> {
      const p = parse(ctx);
      const c = await inspect(p, ctx);
      if (!c) return 'not_found';
      if (c.State.Running && c.State.Status === 'running') return 'running';
      if (c.State.Status === 'created' || c.State.Status === 'exited' || c.State.Status === 'dead') return 'stopped';
      return 'busy'; // restarting, paused, removing
    },
  };
}

export const dockerProvider = createDockerProvider;
