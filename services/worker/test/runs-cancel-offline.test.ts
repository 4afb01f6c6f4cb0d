/**
 * A fleet run's offline policies, cancel and crash recovery on the real system: API and worker
 * processes, real agents running real commands, one agent registered but never connected. The
 * test process registers no roll-up: what converges a run is the API's and the worker's observers
 * and, when nobody observed a child's end, the worker's sweep.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { processesMatching, waitFor } from '@vmo/testkit';
import { AppError } from '@vmo/shared/errors';
import { transition } from '@vmo/shared/jobs';
import { cancelRun, RunInput, submitRun } from '@vmo/shared/runs';
import { startRunSystem, type RunSystem } from './runs-system.ts';

let s: RunSystem;
// Sorted by name, the offline agent comes first: "a-away" < "b-…".
const ONLINE = ['b-on-0', 'b-on-1', 'b-on-2', 'b-on-3'];
const OFFLINE = 'a-away';

beforeAll(async () => {
  s = await startRunSystem('runs_cancel_offline', { online: ONLINE, offline: [OFFLINE] });
}, 120_000);

afterAll(async () => {
  await s?.stop();
});

async function submit(body: Record<string, unknown>) {
  const input = RunInput.parse({ command: s.gatedCommand, ...body });
  return (await submitRun(s.cp, input, { createdBy: 'cancel-test', maxTargets: 100 })).run;
}

describe('offline targets (real agents, one never connected)', () => {
  it('skip: the offline child ends skipped (target_offline) at once and the run still succeeds', async () => {
    onTestFailed(() => console.log(s.system.logs()));
    const run = await submit({ targets: { agents: [OFFLINE, 'b-on-0', 'b-on-1'] }, offline: 'skip' });
    const done = await s.drive(run.id, () => 0);
    expect(done.status).toBe('succeeded');
    const [away, ...rest] = await s.children(run.id);
    expect(away).toMatchObject({ targetName: OFFLINE, status: 'skipped', errorCode: 'target_offline', startedAt: null });
    for (const c of rest) expect(c.status).toBe('succeeded');
  });

  it('fail: the offline child fails at once (agent_offline) and the run fails', async () => {
    onTestFailed(() => console.log(s.system.logs()));
    const run = await submit({ targets: { agents: [OFFLINE, 'b-on-0'] }, offline: 'fail' });
    const done = await s.drive(run.id, () => 0);
    expect(done).toMatchObject({ status: 'failed', errorCode: null });
    const [away, on] = await s.children(run.id);
    expect(away).toMatchObject({ status: 'failed', errorCode: 'agent_offline', startedAt: null });
    expect(on!.status).toBe('succeeded');
  });

  it('wait: the offline child stays queued up to the run’s dispatchTimeoutMs, counted from its release, then fails (agent_offline)', async () => {
    onTestFailed(() => console.log(s.system.logs()));
    const run = await submit({ targets: { agents: [OFFLINE, 'b-on-0'] }, offline: 'wait', dispatchTimeoutMs: 1500 });
    const done = await s.drive(run.id, () => 0);
    expect(done.status).toBe('failed');
    const [away, on] = await s.children(run.id);
    expect(away).toMatchObject({ status: 'failed', errorCode: 'agent_offline', startedAt: null, dispatchTimeoutMs: 1500 });
    expect(away!.finishedAt!.getTime() - away!.releasedAt!.getTime()).toBeGreaterThanOrEqual(1500);
    expect(on!.status).toBe('succeeded');
  });
});

describe('cancel (real agents)', () => {
  it('queued children end canceled without running, running ones are stopped (their processes gone), the run ends canceled; a second cancel is 409', async () => {
    onTestFailed(() => console.log(s.system.logs()));
    const run = await submit({ targets: { agents: ONLINE }, strategy: { maxConcurrency: 2 } });
    await waitFor('two children running on their agents', async () => (await s.children(run.id)).filter((c) => c.status === 'running' && c.acceptedAt !== null).length === 2);
    await waitFor('their commands running', async () => (await processesMatching(s.gates)).length >= 2);

    const canceled = await cancelRun(s.cp, run.id, 500);
    expect(canceled.cancelRequestedAt).not.toBeNull();
    const now = await s.children(run.id);
    expect(now.slice(2).map((c) => [c.status, c.startedAt])).toEqual([
      ['canceled', null],
      ['canceled', null],
    ]);

    const done = await s.waitForRunFinal(run.id);
    expect(done.status).toBe('canceled');
    const final = await s.children(run.id);
    expect(final.map((c) => c.status)).toEqual(['canceled', 'canceled', 'canceled', 'canceled']);
    for (const c of final.slice(0, 2)) expect(c.startedAt).not.toBeNull(); // these ran, and were stopped
    await waitFor('no gated command left running', async () => (await processesMatching(s.gates)).length === 0);

    const again = await cancelRun(s.cp, run.id).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(AppError);
    expect({ status: (again as AppError).status, code: (again as AppError).code }).toEqual({ status: 409, code: 'run_ended' });
  });
});

describe('crash recovery', () => {
  it('a child that ended while no process observed it: the worker’s sweep releases the next one and ends the run', async () => {
    onTestFailed(() => console.log(s.system.logs()));
    // The offline child is released first and waits (a long dispatch timeout); the other is held.
    const run = await submit({ targets: { agents: [OFFLINE, 'b-on-0'] }, strategy: { maxConcurrency: 1 }, dispatchTimeoutMs: 600_000 });
    const [away] = await s.children(run.id);
    expect(away!.releasedAt).not.toBeNull();
    // Ended from this process, which observes nothing: as if the process that wrote it died
    // before its roll-up.
    const ended = await transition(s.cp, away!.id, { kind: 'end', from: 'queued', status: 'failed', error: { code: 'agent_offline', message: 'ended by the test' } });
    expect(ended).toBeDefined();
    const done = await s.drive(run.id, () => 0);
    expect(done.status).toBe('failed');
    const [first, second] = await s.children(run.id);
    expect(second!.status).toBe('succeeded');
    expect(second!.releasedAt!.getTime()).toBeGreaterThanOrEqual(first!.finishedAt!.getTime());
    expect(s.system.workers[0]!.output).not.toMatch(/run roll-up sweep failed/);
  });
});
