import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestSystem, type ServiceProcess } from '@vmo/testkit';
import { registerCleanup } from './interrupt-cleanup.ts';
import { ProcessSampler } from './rss-sampler.ts';
import type { ScenarioContext } from './scenario.ts';

const PROFILE_HOOK = fileURLToPath(new URL('./cpu-profile-hook.mjs', import.meta.url));

export interface BenchSystemOptions {
  apis?: number;
  workers?: number;
  env?: Record<string, string>;
  /** Start one real agent (connected to the first API) and track it. */
  agent?: boolean;
  agentEnv?: Record<string, string>;
}

export interface BenchSystem {
  system: TestSystem;
  agent: { id: string; name: string; token: string; process: ServiceProcess } | undefined;
  sampler: ProcessSampler;
  stop(): Promise<void>;
}

/**
 * The real control plane for one scenario (TestSystem: own database and Redis prefix), with
 * every process tracked by a sampler as `api`, `api2`, `worker`, `worker2`, `agent`. With
 * profiling on, each service writes a V8 CPU profile (<pid>.cpuprofile, cpu-profile-hook.mjs)
 * when it exits; `pids-*.json` in the scenario's profile directory says which pid was which.
 */
export async function startBenchSystem(ctx: ScenarioContext, scenario: string, opts: BenchSystemOptions = {}): Promise<BenchSystem> {
  const profileDir = ctx.profileDir ? join(ctx.profileDir, scenario) : undefined;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const profileEnv: Record<string, string> = profileDir ? { NODE_OPTIONS: `--import ${PROFILE_HOOK}`, BENCH_CPU_PROF_DIR: profileDir } : {};
  const system = await TestSystem.start({
    label: 'bench',
    apis: opts.apis ?? 1,
    workers: opts.workers ?? 1,
    // As production runs them: the built JavaScript (built first when stale), not tsx. A service
    // under tsx holds more memory, and every job's fork() copies the page tables of all of it.
    built: true,
    // The production default heartbeat: the test kit's 500 ms lets presence (TTL two intervals)
    // expire whenever a starved machine delays the API by a second, and jobs then wait for an
    // agent that is in fact there.
    env: { VMO_HEARTBEAT_MS: '10000', ...opts.env, ...profileEnv },
  });
  const unregister = registerCleanup(() => system.stop());
  const sampler = new ProcessSampler();
  const label = (role: string, i: number) => (i === 0 ? role : `${role}${i + 1}`);
  system.apis.forEach((p, i) => sampler.track(label('api', i), p.pid));
  system.workers.forEach((p, i) => sampler.track(label('worker', i), p.pid));
  let agent: BenchSystem['agent'];
  try {
    if (opts.agent) {
      const name = 'bench-agent';
      // Agent logs at warn: at info it prints two lines per job, which is the test kit's pipe, not the path we measure.
      const started = await system.startAgent(name, { env: { VMO_LOG_LEVEL: 'warn', ...opts.agentEnv, ...profileEnv } });
      agent = { ...started, name };
      sampler.track('agent', started.process.pid);
    }
  } catch (err) {
    unregister();
    await system.stop();
    throw err;
  }
  return {
    system,
    agent,
    sampler,
    async stop() {
      if (profileDir) {
        const pids: Record<string, string> = {};
        system.apis.forEach((p, i) => (pids[p.pid] = label('api', i)));
        system.workers.forEach((p, i) => (pids[p.pid] = label('worker', i)));
        system.agents.forEach((p) => (pids[p.pid] = 'agent'));
        writeFileSync(join(profileDir, `pids-${Date.now()}.json`), JSON.stringify(pids, null, 2));
      }
      unregister();
      await system.stop();
    },
  };
}
