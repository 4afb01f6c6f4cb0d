/**
 * A real system for the fleet-run tests: API and worker processes (TestSystem), real agents (the
 * agent's own code, several in one process: testkit AGENT_FLEET_SCRIPT) running real `sh`, and a
 * control plane in the test's own process to submit and cancel runs through the service functions
 * and read Postgres. The test process registers no roll-up: every roll-up after submission is the
 * API's and the worker's.
 *
 * Each child's command waits for a gate file named by its job id and exits with the code written
 * in it, so a test decides, per target and at the moment it likes, when and how a child ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommonConfig } from '@vmo/shared/config';
import { openControlPlane, type ControlPlane } from '@vmo/shared/control-plane';
import { isTerminalRun } from '@vmo/shared/domain';
import { rowToJob, type JobRow } from '@vmo/shared/jobs';
import { createLogger } from '@vmo/shared/logger';
import { rowToRun, type RunRow } from '@vmo/shared/runs';
import { AGENT_FLEET_SCRIPT, processesMatching, TEST_REDIS_URL, TestSystem, waitFor } from '@vmo/testkit';

export interface RunSystem {
  system: TestSystem;
  cp: ControlPlane;
  /** Names of the agents that are online (connected through the fleet process). */
  online: string[];
  /** Registered, never connected: offline. */
  offline: string[];
  /** The directory of gate files; its path is in every gated command (a marker for pgrep). */
  gates: string;
  /** A command that waits for its gate and exits with the code written there. */
  gatedCommand: string;
  /** Let the child end with `code`. */
  open(jobId: string, code: number): void;
  run(id: string): Promise<RunRow>;
  children(runId: string): Promise<JobRow[]>;
  waitForRunFinal(id: string, timeoutMs?: number): Promise<RunRow>;
  /** Until the run is final: open the gate of every running child, with `codeOf(runIndex)`. */
  drive(runId: string, codeOf: (runIndex: number) => number, timeoutMs?: number): Promise<RunRow>;
  stop(): Promise<void>;
}

export async function startRunSystem(label: string, agents: { online: string[]; offline?: string[]; labels?: Record<string, string> }, env: Record<string, string> = {}): Promise<RunSystem> {
  const system = await TestSystem.start({ label, env: { VMO_MAINTENANCE_MS: '300', ...env } });
  let fleet: ChildProcess | undefined;
  let cp: (ControlPlane & { close(): Promise<void> }) | undefined;
  const gates = mkdtempSync(join(tmpdir(), 'vmo-run-gates-'));
  try {
    const register = async (name: string) => {
      const res = await system.client.request('POST', '/v1/agents', { name, labels: agents.labels ?? {} });
      if (res.status !== 201) throw new Error(`registering ${name}: ${res.status} ${res.text}`);
      return res.body as { id: string; token: string };
    };
    const tokens: string[] = [];
    for (const name of agents.online) tokens.push((await register(name)).token);
    for (const name of agents.offline ?? []) await register(name);

    fleet = spawn(process.execPath, ['--import', 'tsx', AGENT_FLEET_SCRIPT], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, FLEET_SERVERS: system.apiUrls[0] },
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    fleet.stdin!.end(tokens.join('\n') + '\n');
    await waitFor(`${agents.online.length} agents online`, async () => {
      const res = await system.client.request('GET', '/v1/agents?limit=500');
      const up = new Set((res.body.items as { name: string; status: string }[]).filter((a) => a.status === 'online').map((a) => a.name));
      return agents.online.every((n) => up.has(n));
    }, 60_000, 100);

    cp = await openControlPlane(
      {
        VMO_DATABASE_URL: system.databaseUrl,
        VMO_REDIS_URL: TEST_REDIS_URL,
        VMO_REDIS_PREFIX: system.env.VMO_REDIS_PREFIX!,
        VMO_MAX_OUTPUT_BYTES: 1 << 20,
        VMO_OUTPUT_TAIL_BYTES: 1 << 16,
        VMO_AGENT_GRACE_MS: 120_000,
        VMO_HEARTBEAT_MS: 500,
      } as CommonConfig,
      createLogger(label, 'silent'),
      { dbPoolSize: 4 },
    );
  } catch (err) {
    fleet?.kill('SIGKILL');
    await cp?.close();
    await system.stop();
    throw err;
  }
  const plane = cp;
  const sql = plane.database.sql;
  const run = async (id: string) => rowToRun((await sql`select * from runs where id = ${id}`)[0]!);
  const children = async (runId: string) => (await sql`select * from jobs where run_id = ${runId} order by run_index`).map(rowToJob);
  const open = (jobId: string, code: number) => {
    writeFileSync(join(gates, `${jobId}.tmp`), String(code));
    renameSync(join(gates, `${jobId}.tmp`), join(gates, jobId)); // whole or absent: the command reads it once it exists
  };
  const waitForRunFinal = (id: string, timeoutMs = 30_000) =>
    waitFor(`run ${id} final`, async () => {
      const r = await run(id);
      return isTerminalRun(r.status) ? r : undefined;
    }, timeoutMs, 50);
  return {
    system,
    cp: plane,
    online: agents.online,
    offline: agents.offline ?? [],
    gates,
    gatedCommand: `g="${gates}/$VMO_JOB_ID"; while [ ! -e "$g" ]; do sleep 0.02; done; exit "$(cat "$g")"`,
    open,
    run,
    children,
    waitForRunFinal,
    async drive(runId, codeOf, timeoutMs = 30_000) {
      const opened = new Set<string>();
      return waitFor(`run ${runId} driven to its end`, async () => {
        for (const c of await children(runId)) {
          if (c.status === 'running' && !opened.has(c.id)) {
            opened.add(c.id);
            open(c.id, codeOf(c.runIndex!));
          }
        }
        const r = await run(runId);
        return isTerminalRun(r.status) ? r : undefined;
      }, timeoutMs, 50);
    },
    async stop() {
      fleet?.kill('SIGTERM');
      await plane.close();
      await system.stop();
      // A test that failed half-way may leave gated commands waiting: the gate directory is in their command line.
      for (const pid of await processesMatching(gates).catch(() => [])) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
      rmSync(gates, { recursive: true, force: true });
    },
  };
}

/** Most children running at once, from their [started_at, finished_at] in Postgres (an end before a start at the same instant). */
export function maxOverlap(rows: JobRow[]): number {
  const events: [number, number][] = [];
  for (const r of rows) {
    if (r.startedAt === null) continue;
    events.push([r.startedAt.getTime(), +1], [r.finishedAt?.getTime() ?? Number.MAX_SAFE_INTEGER, -1]);
  }
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let running = 0;
  let peak = 0;
  for (const [, d] of events) peak = Math.max(peak, (running += d));
  return peak;
}
