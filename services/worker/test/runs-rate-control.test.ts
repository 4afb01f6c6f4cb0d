/**
 * A fleet run's rate control on the real system: API and worker processes, real agents running
 * real commands, every roll-up after submission done by the API and the worker (the test process
 * registers none). Concurrency is judged from the children's started_at/finished_at in Postgres;
 * no child starts twice (attempt 1).
 */
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { waitFor } from '@vmo/testkit';
import { RunInput, submitRun, type StrategyInput } from '@vmo/shared/runs';
import { maxOverlap, startRunSystem, type RunSystem } from './runs-system.ts';

let s: RunSystem;
const AGENTS = Array.from({ length: 6 }, (_, i) => `rate-${i}`);

beforeAll(async () => {
  s = await startRunSystem('runs_rate', { online: AGENTS, labels: { pool: 'rate' } });
}, 120_000);

afterAll(async () => {
  await s?.stop();
});

async function submit(strategy: StrategyInput, n = AGENTS.length) {
  const input = RunInput.parse({ command: s.gatedCommand, targets: { agents: AGENTS.slice(0, n) }, strategy });
  const { run } = await submitRun(s.cp, input, { createdBy: 'rate-test', maxTargets: 100 });
  return run;
}

describe('fleet run rate control (real agents)', () => {
  it('maxConcurrency 2: two children run at once, never three; the rest wait held; the run goes queued → running → succeeded', async () => {
    onTestFailed(() => console.log(s.system.logs()));
    const run = await submit({ maxConcurrency: 2 });
    expect(run.status).toBe('queued');
    // Both released children start on their agents, and nothing else does while they hold.
    const kids = await waitFor('two children running', async () => {
      const k = await s.children(run.id);
      return k.filter((c) => c.status === 'running').length === 2 ? k : undefined;
    });
    expect(kids.map((c) => c.releasedAt !== null)).toEqual([true, true, false, false, false, false]);
    await waitFor('the run running', async () => (await s.run(run.id)).status === 'running');
    expect((await s.children(run.id)).filter((c) => c.releasedAt !== null).length).toBe(2); // still: nothing ended

    const done = await s.drive(run.id, () => 0);
    expect(done.status).toBe('succeeded');
    const final = await s.children(run.id);
    expect(final.map((c) => [c.status, c.exitCode, c.attempt])).toEqual(AGENTS.map(() => ['succeeded', 0, 1]));
    expect(maxOverlap(final)).toBe(2);
    expect(done.startedAt!.getTime()).toBe(Math.min(...final.map((c) => c.startedAt!.getTime())));
    expect(done.finishedAt!.getTime()).toBeGreaterThanOrEqual(Math.max(...final.map((c) => c.finishedAt!.getTime())));
  });

  it('maxErrors 1: the second failure stops the run; the children not started end skipped (max_errors_exceeded) and the run fails', async () => {
    onTestFailed(() => console.log(s.system.logs()));
    const run = await submit({ maxConcurrency: 1, maxErrors: 1 });
    const codes = [1, 0, 3, 0, 0, 0];
    const done = await s.drive(run.id, (i) => codes[i]!);
    expect(done).toMatchObject({ status: 'failed', errorCode: 'max_errors_exceeded' });
    const final = await s.children(run.id);
    expect(final.map((c) => [c.status, c.exitCode, c.errorCode])).toEqual([
      ['failed', 1, null],
      ['succeeded', 0, null],
      ['failed', 3, null],
      ['skipped', null, 'max_errors_exceeded'],
      ['skipped', null, 'max_errors_exceeded'],
      ['skipped', null, 'max_errors_exceeded'],
    ]);
    for (const c of final.slice(3)) expect(c).toMatchObject({ startedAt: null, releasedAt: null, attempt: 0 });
    expect(maxOverlap(final)).toBe(1);
  });

  it('maxErrors 0, every child released at once: a child still waiting for its agent’s slot when another fails ends skipped and never runs', async () => {
    onTestFailed(() => console.log(s.system.logs()));
    const { client } = s.system;
    const [free, gated] = [AGENTS[4]!, AGENTS[5]!];
    expect((await client.request('PATCH', `/v1/agents/${gated}`, { maxConcurrentJobs: 1 })).status).toBe(200);
    try {
      // A single job holds the gated agent's only slot.
      const single = await client.submit({ command: s.gatedCommand, target: { type: 'agent', agent: gated } });
      await client.waitForStatus(single.id, 'running');
      const input = RunInput.parse({ command: s.gatedCommand, targets: { agents: [free, gated] }, strategy: { maxErrors: 0 } });
      const { run } = await submitRun(s.cp, input, { createdBy: 'rate-test', maxTargets: 100 });
      const [first, waiting] = await waitFor('one child running, the other released and waiting in line', async () => {
        const k = await s.children(run.id);
        return k[0]!.status === 'running' && k[1]!.status === 'queued' && k[1]!.releasedAt !== null && (await client.job(k[1]!.id)).queuePosition === 0 ? k : undefined;
      });
      s.open(first!.id, 1);
      const done = await s.waitForRunFinal(run.id);
      expect(done).toMatchObject({ status: 'failed', errorCode: 'max_errors_exceeded' });
      const after = (await s.children(run.id))[1]!;
      expect(after).toMatchObject({ id: waiting!.id, status: 'skipped', errorCode: 'max_errors_exceeded', startedAt: null, attempt: 0 });
      // The slot frees: the skipped child, still in the worker's delayed set, does not take it.
      s.open(single.id, 0);
      expect(await client.waitForEnd(single.id)).toMatchObject({ status: 'succeeded' });
      const next = await client.submit({ command: 'echo next', target: { type: 'agent', agent: gated } });
      expect(await client.waitForEnd(next.id)).toMatchObject({ status: 'succeeded' });
      expect((await s.children(run.id))[1]).toMatchObject({ status: 'skipped', startedAt: null, attempt: 0 });
    } finally {
      await client.request('PATCH', `/v1/agents/${gated}`, { maxConcurrentJobs: null });
    }
  });

  it('a canary that succeeds, then the bake, then the rest; canaries run alone', async () => {
    onTestFailed(() => console.log(s.system.logs()));
    const run = await submit({ canary: { count: 1, bakeMs: 1000 } }, 4);
    const done = await s.drive(run.id, () => 0);
    expect(done.status).toBe('succeeded');
    const [canary, ...rest] = await s.children(run.id);
    expect(done.canaryPassedAt!.getTime()).toBeGreaterThanOrEqual(canary!.finishedAt!.getTime());
    for (const c of rest) {
      expect(c.status).toBe('succeeded');
      expect(c.releasedAt!.getTime()).toBeGreaterThanOrEqual(done.canaryPassedAt!.getTime() + 1000);
      expect(c.startedAt!.getTime()).toBeGreaterThanOrEqual(canary!.finishedAt!.getTime());
    }
  });

  it('a failing canary: the rest never start (skipped, canary_failed) and the run fails naming the canary', async () => {
    onTestFailed(() => console.log(s.system.logs()));
    const run = await submit({ canary: { count: 2, bakeMs: 0 } }, 5);
    const done = await s.drive(run.id, (i) => (i === 1 ? 4 : 0));
    expect(done).toMatchObject({ status: 'failed', errorCode: 'canary_failed' });
    expect(done.errorMessage).toMatch(/canary rate-1 ended failed/);
    const final = await s.children(run.id);
    expect(final.map((c) => c.status)).toEqual(['succeeded', 'failed', 'skipped', 'skipped', 'skipped']);
    for (const c of final.slice(2)) expect(c).toMatchObject({ errorCode: 'canary_failed', startedAt: null });
  });
});
