/**
 * Issue 14, "Run-at and priority": `priority` (1–10, default 5) decides the order of starts when
 * jobs wait, and equal priorities start first in, first out. Against the real stack, both places
 * jobs wait:
 *
 * - for a worker: one BullMQ worker whose slots are all taken (a holder and a blocker); jobs of
 *   every priority queued interleaved; the blocker released, they start one at a time through the
 *   one slot it frees, in BullMQ's priority order (queue/job-queue.ts: every entry has one);
 * - for a limited target: an agent with maxConcurrentJobs 1 busy with a blocker; its line
 *   (jobs/target-gate/line.ts) shows each job's queuePosition by priority, then first in, and
 *   starts them in that order, a fleet run's child (inheriting its run's priority) among them.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { TestSystem, waitFor } from '@vmo/testkit';

/** Each priority once, then again in another order: every priority is interleaved with the others and met twice (first in, first out). */
const PRIORITIES = [5, 9, 1, 10, 3, 7, 2, 8, 4, 6, 7, 1, 10, 5, 2, 9, 6, 3, 8, 4];

let system: TestSystem;
let sql: postgres.Sql;
/** Under /tmp with the `vmo-` prefix the leak check of the notes looks for. */
const dir = mkdtempSync(join(tmpdir(), 'vmo-priority-'));
const flag = (name: string) => join(dir, name);
const raise = (name: string) => writeFileSync(flag(name), '');
const waitOn = (name: string) => `while [ ! -e '${flag(name)}' ]; do sleep 0.05; done`;

beforeAll(async () => {
  // Two worker slots: the first part fills both, the second leaves one to look at the target's line.
  system = await TestSystem.start({ label: 'priority', env: { VMO_WORKER_CONCURRENCY: '2' } });
  sql = postgres(system.databaseUrl, { max: 1, onnotice: () => {} });
});

afterAll(async () => {
  for (const name of ['holder', 'blocker', 'agent-blocker']) raise(name); // no job shell left waiting if a test failed half-way
  await sql?.end();
  await system?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The order the jobs must start in: priority highest first, then in the order they were submitted. */
const expectedOrder = (jobs: { id: string; priority: number }[]) =>
  jobs
    .map((j, seq) => ({ ...j, seq }))
    .sort((a, b) => b.priority - a.priority || a.seq - b.seq)
    .map((j) => `${j.priority}:${j.id}`);

/** Once every job ended `succeeded`: `priority:id` in the order they started (started_at to the microsecond). */
async function startOrder(ids: string[]): Promise<string[]> {
  const ended = await Promise.all(ids.map((id) => system.client.waitForEnd(id, 90_000)));
  for (const job of ended) expect(job.status, job.id).toBe('succeeded');
  const rows = await sql<{ id: string; priority: number }[]>`select id, priority from jobs where id in ${sql(ids)} order by started_at`;
  return rows.map((r) => `${r.priority}:${r.id}`);
}

describe('priority', () => {
  it('saturated workers start the waiting jobs by priority, highest first, and first in first out within one', async () => {
    onTestFailed(() => console.log(system.logs()));
    const { client } = system;
    const holder = await client.submit({ command: waitOn('holder') });
    const blocker = await client.submit({ command: waitOn('blocker') });
    await client.waitForStatus(holder.id, 'running');
    await client.waitForStatus(blocker.id, 'running');

    const waiting: { id: string; priority: number }[] = [];
    for (const priority of PRIORITIES) waiting.push(await client.submit({ command: 'true', priority }));
    expect(waiting.map((j) => j.priority)).toEqual(PRIORITIES);
    expect((await client.submit({ command: 'true' })).priority).toBe(5); // the default (left to run, last of the fives)
    for (const j of waiting) expect((await client.job(j.id)).status).toBe('queued');

    // One slot frees: they go through it one at a time, in priority order.
    raise('blocker');
    expect(await startOrder(waiting.map((j) => j.id))).toEqual(expectedOrder(waiting));
    raise('holder');
    expect((await client.waitForEnd(holder.id)).status).toBe('succeeded');
  }, 120_000);

  it('a target with maxConcurrentJobs 1 lines its waiting jobs up by priority then first in (queuePosition says so), and starts them in that order, a run\'s child by its run\'s priority', async () => {
    onTestFailed(() => console.log(system.logs()));
    const { client } = system;
    const agent = await system.startAgent('prio-1', { labels: { fleet: 'priority' } });
    const limited = await client.request('PATCH', `/v1/agents/${agent.id}`, { maxConcurrentJobs: 1 });
    expect(limited.status, limited.text).toBe(200);
    const target = { type: 'agent', agent: 'prio-1' };
    const blocker = await client.submit({ command: waitOn('agent-blocker'), target });
    await client.waitForStatus(blocker.id, 'running');

    const waiting: { id: string; priority: number }[] = [];
    for (const priority of PRIORITIES.slice(0, 12)) waiting.push(await client.submit({ command: 'true', target, priority }));
    // A fleet run of priority 10 on the same agent: its child is in the same line, behind the 10 submitted before it.
    const run = await client.request('POST', '/v1/runs', { command: 'true', targets: { agents: ['prio-1'] }, priority: 10 });
    expect(run.status, run.text).toBe(201);
    const child = await waitFor('the run\'s child released', async () => {
      const page = await client.request('GET', `/v1/jobs?run=${run.body.id}`);
      const c = page.body.items[0];
      return c && c.queuePosition !== null ? c : undefined;
    }, 30_000, 50);
    expect(child.priority).toBe(10);
    waiting.push({ id: child.id, priority: 10 });

    // Their places in line, as GET /v1/jobs/{id} shows them: by priority, then first in.
    const order = expectedOrder(waiting);
    const positions = await Promise.all(waiting.map(async (j) => [`${j.priority}:${j.id}`, (await client.job(j.id)).queuePosition] as const));
    expect(Object.fromEntries(positions)).toEqual(Object.fromEntries(order.map((key, i) => [key, i])));

    raise('agent-blocker');
    expect(await startOrder(waiting.map((j) => j.id))).toEqual(order);
  }, 120_000);
});
