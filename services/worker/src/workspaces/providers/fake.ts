import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync } from 'node:fs';
import { appendFile, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DesiredState, ObservedState, ProviderContext, ProviderResult, SnapshotRef, WorkspaceProvider } from '@vmo/shared/workspaces';

/**
 * The `fake` provider (issue 18), Coder's echo provisioner: no machine, a scripted transition.
 *
 * Its "environments" are JSON files on disk, `<dir>/<workspaceId>/environments/<envId>.json`, so
 * they outlive the worker process that made them: the contract's idempotency and takeover cases
 * (a worker killed mid-start, the op run again elsewhere) are real for it too. An environment is
 * found from the workspace id by listing that directory, never from memory, and never made twice.
 *
 * Every converge call is appended to `<dir>/<workspaceId>/calls.jsonl` (tests count invocations).
 *
 * Template config:
 *   { dir?: string,                      where environments live (default: os.tmpdir()/vmo-fake-provider)
 *     agent?: boolean,                   run the real vmo agent (from this checkout's sources, with tsx)
 *                                        while running, dialing AgentLaunch.url with its token, so
 *                                        the workspace becomes healthy and takes jobs; stop/destroy kill it
 *     script?: { converge_running?|converge_stopped?|converge_absent?: { logs?: string[], fail?: string, hangMs?: number } } }
 * A transition first makes sure its environment exists (running), then logs its lines, hangs
 * (cut short by the signal), fails if told to (the environment stays as it was: a failed start
 * leaves a `provisioning` one that stop and destroy clean up), and only then reaches its state.
 */

/** One scripted transition. */
export interface FakeStep {
  logs?: string[];
  /** Fail with this message (after the logs and the hang). */
  fail?: string;
  /** Hang this long (aborted by the op's signal). */
  hangMs?: number;
}

/**
 * The template config (@vmo/shared/workspaces FakeProviderConfig validates it, with these keys
 * only): a transition's script is `script.converge_<desired>`. The provider never knows the
 * operation type, so there are no per-operation keys.
 */
export interface FakeConfig {
  dir?: string;
  agent?: boolean;
  script?: Partial<Record<`converge_${DesiredState}`, FakeStep>>;
}

type EnvStatus = 'provisioning' | 'running' | 'stopped';
interface FakeEnvironment {
  id: string;
  workspaceId: string;
  status: EnvStatus;
  createdAt: string;
  updatedAt: string;
  /** Times it was started (state passing is checked against this). */
  starts: number;
}

export const DEFAULT_FAKE_DIR = join(tmpdir(), 'vmo-fake-provider');

export function fakeDirOf(config: Record<string, unknown>): string {
  return typeof config.dir === 'string' && config.dir ? config.dir : process.env.VMO_FAKE_PROVIDER_DIR || DEFAULT_FAKE_DIR;
}

/** The workspace's directory (environments/, calls.jsonl, snapshots/). */
export function fakeWorkspaceDir(config: Record<string, unknown>, workspaceId: string): string {
  // Workspace ids are ours ('wks_…'); refuse anything that could walk out of the directory.
  if (!/^[A-Za-z0-9_-]+$/.test(workspaceId)) throw new Error(`fake provider: bad workspace id ${JSON.stringify(workspaceId)}`);
  return join(fakeDirOf(config), workspaceId);
}

/** The environments the fake holds for a workspace (the contract's `inspect`). */
export async function fakeEnvironments(config: Record<string, unknown>, workspaceId: string): Promise<FakeEnvironment[]> {
  const dir = join(fakeWorkspaceDir(config, workspaceId), 'environments');
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const envs: FakeEnvironment[] = [];
  for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
    try {
      envs.push(JSON.parse(await readFile(join(dir, name), 'utf8')) as FakeEnvironment);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return envs;
}

/** The converge calls recorded for a workspace, oldest first. */
export async function fakeCalls(config: Record<string, unknown>, workspaceId: string): Promise<{ desired: DesiredState; pid: number; at: string }[]> {
  try {
    const text = await readFile(join(fakeWorkspaceDir(config, workspaceId), 'calls.jsonl'), 'utf8');
    return text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { desired: DesiredState; pid: number; at: string });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Written whole or not at all (a worker SIGKILLed mid-write leaves no half file). */
async function writeEnvironment(config: Record<string, unknown>, env: FakeEnvironment): Promise<void> {
  const dir = join(fakeWorkspaceDir(config, env.workspaceId), 'environments');
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.tmp-${env.id}-${randomBytes(4).toString('hex')}`);
  await writeFile(tmp, JSON.stringify(env));
  await rename(tmp, join(dir, `${env.id}.json`));
}

function hang(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason ?? new Error('aborted'));
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason ?? new Error('aborted'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

async function runStep(ctx: ProviderContext, desired: DesiredState): Promise<void> {
  const script = (ctx.config as FakeConfig).script;
  const step = script?.[`converge_${desired}`];
  for (const line of step?.logs ?? []) ctx.log(line);
  if (step?.hangMs) await hang(step.hangMs, ctx.signal);
  ctx.signal.throwIfAborted();
  if (step?.fail) throw new Error(step.fail);
}

/** The agent's entry in this checkout (services/agent/src/main.ts); the fake's `agent` option needs the sources. */
const AGENT_ENTRY = fileURLToPath(new URL('../../../../agent/src/main.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../../../', import.meta.url));

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Is `pid` our agent (not a process that reused a dead agent's pid)? */
async function isOurAgent(pid: number): Promise<boolean> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).includes(AGENT_ENTRY);
  } catch {
    return false;
  }
}

/** Kill the workspace's agent (its whole process group), if one runs. */
async function stopAgent(wsDir: string, log: (line: string) => void): Promise<void> {
  const pidFile = join(wsDir, 'agent.pid');
  let pid: number;
  try {
    pid = Number(await readFile(pidFile, 'utf8'));
  } catch {
    return;
  }
  if (pid > 1 && (await isOurAgent(pid))) {
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      /* gone meanwhile */
    }
    const deadline = Date.now() + 5000;
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    try {
      if (alive(pid)) process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone meanwhile */
    }
    log(`fake: agent stopped (pid ${pid})`);
  }
  await rm(pidFile, { force: true });
}

/**
 * Start the real agent for the workspace (a new one at each start: the engine rotated its token,
 * which refuses whatever ran before). Its own process group, so stop kills all of it; it outlives
 * the worker that started it, as a machine would, and the pid file lets any worker stop it.
 */
async function startAgent(ctx: ProviderContext, wsDir: string): Promise<void> {
  await stopAgent(wsDir, ctx.log);
  if (!ctx.agent) throw new Error('fake: config.agent needs the agent launch (url and token)');
  if (!existsSync(AGENT_ENTRY)) throw new Error(`fake: config.agent needs the vmo sources (${AGENT_ENTRY} is missing)`);
  const out = openSync(join(wsDir, 'agent.log'), 'a');
  // None of the worker's VMO_* settings (its database URL, secrets) reach the agent.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VMO_')));
  const child = spawn(process.execPath, ['--import', 'tsx', AGENT_ENTRY], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ['ignore', out, out],
    // LOUD: the token in the environment (the agent deletes it from its own once read), never in
    // argv where `ps` shows it, and never in a log line.
    env: { ...env, VMO_SERVER: ctx.agent.url, VMO_AGENT_TOKEN: ctx.agent.token, VMO_LOG_LEVEL: 'info' },
  });
  closeSync(out);
  child.unref();
  await writeFile(join(wsDir, 'agent.pid'), String(child.pid));
  ctx.log(`fake: agent started (pid ${child.pid}), dialing ${new URL(ctx.agent.url).origin}`);
}

export function fakeProvider(): WorkspaceProvider {
  return {
    kind: 'fake',
    hostBound: true, // its environments are files on this host's disk (engine: provider_state.host)

    async converge(ctx, desired): Promise<ProviderResult> {
      ctx.signal.throwIfAborted();
      const wsDir = fakeWorkspaceDir(ctx.config, ctx.workspaceId);
      await mkdir(wsDir, { recursive: true });
      await appendFile(join(wsDir, 'calls.jsonl'), `${JSON.stringify({ desired, pid: process.pid, at: new Date().toISOString() })}\n`);
      const now = () => new Date().toISOString();
      let [env, ...extra] = await fakeEnvironments(ctx.config, ctx.workspaceId);
      // More than one would be a provider bug; converge heals it rather than letting it grow.
      for (const e of extra) await rm(join(wsDir, 'environments', `${e.id}.json`), { force: true });

      if (desired === 'running') {
        if (!env) {
          // Made first, before anything that can fail or hang: a start killed from here on
          // leaves this one, which the next try finds (and stop/destroy clean up).
          env = { id: `env_${randomBytes(6).toString('hex')}`, workspaceId: ctx.workspaceId, status: 'provisioning', createdAt: now(), updatedAt: now(), starts: 0 };
          await writeEnvironment(ctx.config, env);
          ctx.log(`fake: environment ${env.id} created`);
        }
        await runStep(ctx, desired);
        if (env.status !== 'running') {
          env = { ...env, status: 'running', updatedAt: now(), starts: Math.max(env.starts, Number(ctx.state?.starts ?? 0)) + 1 };
          await writeEnvironment(ctx.config, env);
          ctx.log(`fake: environment ${env.id} running`);
        }
        if ((ctx.config as FakeConfig).agent) await startAgent(ctx, wsDir);
        return { state: { environmentId: env.id, starts: env.starts }, resources: { environment: env.id } };
      }

      if (desired === 'stopped') {
        await runStep(ctx, desired);
        await stopAgent(wsDir, ctx.log);
        if (!env) return { state: ctx.state }; // nothing to stop
        if (env.status !== 'stopped') {
          env = { ...env, status: 'stopped', updatedAt: now() };
          await writeEnvironment(ctx.config, env);
          ctx.log(`fake: environment ${env.id} stopped`);
        }
        return { state: { environmentId: env.id, starts: env.starts } };
      }

      await runStep(ctx, desired);
      await stopAgent(wsDir, ctx.log);
      if (env) {
        await rm(join(wsDir, 'environments'), { recursive: true, force: true });
        ctx.log(`fake: environment ${env.id} destroyed`);
      }
      return { state: null };
    },

    async status(ctx): Promise<ObservedState> {
      const [env] = await fakeEnvironments(ctx.config, ctx.workspaceId);
      if (!env) return 'not_found';
      return env.status === 'provisioning' ? 'busy' : env.status;
    },

    async snapshot(ctx, snapshot): Promise<SnapshotRef> {
      const [env] = await fakeEnvironments(ctx.config, ctx.workspaceId);
      if (!env) throw new Error('fake: no environment to snapshot');
      const dir = join(fakeWorkspaceDir(ctx.config, ctx.workspaceId), 'snapshots');
      await mkdir(dir, { recursive: true });
      const body = JSON.stringify({ snapshotId: snapshot.id, name: snapshot.name, environment: env });
      await writeFile(join(dir, `${snapshot.id}.json`), body);
      ctx.log(`fake: snapshot ${snapshot.name} taken`);
      return { ref: { file: join(dir, `${snapshot.id}.json`) }, sizeBytes: Buffer.byteLength(body) };
    },

    async restore(ctx, snapshot): Promise<ProviderResult> {
      const file = snapshot.ref.file;
      if (typeof file !== 'string') throw new Error('fake: snapshot has no file');
      const saved = JSON.parse(await readFile(file, 'utf8')) as { environment: FakeEnvironment };
      const [env] = await fakeEnvironments(ctx.config, ctx.workspaceId);
      const restored: FakeEnvironment = { ...saved.environment, id: env?.id ?? saved.environment.id, workspaceId: ctx.workspaceId, status: 'stopped', updatedAt: new Date().toISOString() };
      await rm(join(fakeWorkspaceDir(ctx.config, ctx.workspaceId), 'environments'), { recursive: true, force: true });
      await writeEnvironment(ctx.config, restored);
      ctx.log(`fake: snapshot ${snapshot.id} restored`);
      return { state: { environmentId: restored.id, starts: restored.starts } };
    },

    async deleteSnapshot(_ctx, snapshot): Promise<void> {
      if (typeof snapshot.ref.file === 'string') await rm(snapshot.ref.file, { force: true });
    },
  };
}
