import { readFileSync } from 'node:fs';
import { SimAgents, type SimAgentIdentity } from '@vmo/testkit';
import { emit, exitAfter, finish, loadArgs } from './emit.ts';
import { preciseNow } from '../stats.ts';

/**
 * Simulated agents that run jobs (the test kit's SimAgents: the real protocol, `true` ends 0 at
 * once, no process spawned), out of the measured processes. One WebSocket per agent to
 * /v1/agent/connect. Emits `online` once every agent is welcomed, then holds; on SIGTERM it
 * closes them and reports what the agents saw (`result`: jobs, `run` frames, starts, jobs
 * started twice, protocol errors).
 */
interface Args {
  servers: string[];
  /** JSON file: SimAgentIdentity[] (registerSimAgents). */
  agentsFile: string;
  deadlineMs: number;
  connectConcurrency?: number;
}

const args = loadArgs<Args>();
exitAfter(args.deadlineMs, 'sim-agents');

async function main(): Promise<void> {
  const agents = JSON.parse(readFileSync(args.agentsFile, 'utf8')) as SimAgentIdentity[];
  const sim = new SimAgents({ servers: args.servers, agents, connectConcurrency: args.connectConcurrency ?? 200 });
  const t0 = preciseNow();
  await sim.start(args.deadlineMs);
  emit('online', { ms: preciseNow() - t0, agents: sim.size });
  process.on('SIGTERM', () => {
    const totals = sim.totals();
    const repeatedRuns = sim.records().filter((r) => r.runs > 1).length;
    void sim.stop().finally(() => finish({ ...totals, repeatedRuns, protocolErrors: sim.protocolErrors.slice(0, 20), closeCodes: sim.closeCodes }));
  });
  setInterval(() => {}, 60_000);
}

main().catch((err: Error) => {
  emit('error', { message: err.stack ?? err.message });
  process.exit(1);
});
