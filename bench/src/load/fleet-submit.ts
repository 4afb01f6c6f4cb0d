import { VmoApiError, VmoClient } from '@vmo/client';
import { emit, exitAfter, finish, loadArgs } from './emit.ts';

/**
 * The fleet scenario's baseline submitter: the jobs a run would make, one POST /v1/jobs each,
 * `concurrency` clients in a closed loop; job i targets agent `agents[i]`, with the same command
 * and labels on all. Emits `started` (the time of the first POST), then `result`.
 */
interface Args {
  url: string;
  token: string;
  agents: string[];
  command: string;
  labels: Record<string, string>;
  concurrency: number;
  deadlineMs: number;
}

const args = loadArgs<Args>();
exitAfter(args.deadlineMs, 'fleet-submit');

async function main(): Promise<void> {
  const client = new VmoClient({ baseUrl: args.url, token: args.token });
  const statuses: Record<string, number> = {};
  let next = 0;
  let accepted = 0;
  let errors = 0;
  let firstError: string | undefined;
  const startedAt = Date.now();
  emit('started', { startedAt });
  const lane = async () => {
    while (next < args.agents.length) {
      const agent = args.agents[next++]!;
      try {
        await client.jobs.submit({ command: args.command, target: { type: 'agent', agent }, labels: args.labels });
        accepted++;
      } catch (err) {
        errors++;
        if (err instanceof VmoApiError) statuses[err.status] = (statuses[err.status] ?? 0) + 1;
        firstError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: args.concurrency }, lane));
  finish({ accepted, errors, firstError, statuses, startedAt, endedAt: Date.now() });
}

main().catch((err: Error) => {
  emit('error', { message: err.stack ?? err.message });
  process.exit(1);
});
