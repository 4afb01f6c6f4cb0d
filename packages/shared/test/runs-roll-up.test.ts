/**
 * The run roll-up (runs/roll-up.ts) against the real Postgres and Redis, with the children driven
 * through the lifecycle as a worker would drive them (`start`, `exit`, `end`): what is released
 * when (maxConcurrency, canaries, bake), when the run stops starting (maxErrors, a failed canary)
 * and with which code, the run's status and counts, cancel, the bulk lifecycle changes (every job
 * announced once, one winner against a worker's start), and convergence by the sweep alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_REDIS_URL, waitFor } from '@vmo/testkit';
import { BusSubscriber, publishControl, type JobEvent } from '../src/bus/index.ts';
import { openDatabase } from '../src/db/index.ts';
import { AppError } from '../src/errors/index.ts';
import { onTransition, transition, transitionRunChildren, type JobRow, type JobTransition } from '../src/jobs/index.ts';
import { cancelRun, registerRunRollUp, rollUpRun, submitRun, sweepActiveRuns, type RunRow } from '../src/runs/index.ts';
import type { StrategyInput } from '../src/runs/run-input.ts';
import { openRunTestPlane, runInput, type RunTestPlane } from './runs-fixture.ts';

let t: RunTestPlane;
let bus: BusSubscriber;
let unregister: () => void;
const AGENTS = 12;

beforeAll(async () => {
  t = await openRunTestPlane('runs_roll_up');
  for (let i = 0; i < AGENTS; i++) await t.addAgent(`node-${String(i).padStart(2, '0')}`, { labels: { fleet: 'f' } });
  bus = BusSubscriber.open(TEST_REDIS_URL, t.cp.keys);
  unregister = registerRunRollUp(t.cp);
});

afterAll(async () => {
  unregister?.();
  bus?.close();
  await t?.close();
});

async function submit(n: number, strategy: StrategyInput = {}, extra: Record<string, unknown> = {}): Promise<{ run: RunRow; kids: JobRow[] }> {
  const agents = Array.from({ length: n }, (_, i) => `node-${String(i).padStart(2, '0')}`);
  const { run } = await submitRun(t.cp, runInput({ targets: { agents }, strategy, ...extra }), { createdBy: null, maxTargets: 100 });
  return { run, kids: await t.children(run.id) };
}

/** `queued → running`, as a worker that checked the agent online. */
async function start(job: JobRow): Promise<JobRow> {
  const started = await transition(t.cp, job.id, { kind: 'start', workerId: 'test-worker', checkedAgentId: job.agentId });
  expect(started, `start ${job.targetName}`).toBeDefined();
  return started!;
}

/** The process exited with `code`. */
async function exit(job: JobRow, code: number, stopped?: boolean): Promise<void> {
  const ended = await transition(t.cp, job.id, { kind: 'exit', attempt: job.attempt, exit: { exitCode: code, signal: null, truncated: false, ...(stopped === undefined ? {} : { stopped }) } });
  expect(ended, `end ${job.targetName}`).toBeDefined();
}

const run = (id: string) => t.run(id);
const released = async (runId: string) => (await t.children(runId)).filter((c) => c.releasedAt !== null).map((c) => c.runIndex);
const statuses = async (runId: string) => (await t.children(runId)).map((c) => c.status);
const waitForRun = (id: string, what: string, ok: (r: RunRow) => boolean) =>
  waitFor(`run ${what}`, async () => {
    const r = await run(id);
    return ok(r) ? r : undefined;
  }, 20_000);
const waitForReleased = (id: string, indexes: number[]) =>
  waitFor(`children ${indexes.join(',')} released`, async () => JSON.stringify(await released(id)) === JSON.stringify(indexes), 20_000);

describe('maxConcurrency', () => {
  it('releases at most maxConcurrency children at a time, in run_index order, the next as one ends; statuses queued → running → succeeded', async () => {
    const { run: r, kids } = await submit(5, { maxConcurrency: 2 });
    expect(r.status).toBe('queued');
    expect(await released(r.id)).toEqual([0, 1]);

    const k0 = await start(kids[0]!);
    const running = await waitForRun(r.id, 'running', (x) => x.status === 'running');
    expect(running.startedAt).toEqual(k0.startedAt);
    const k1 = await start(kids[1]!);
    expect(await released(r.id)).toEqual([0, 1]); // starting frees nothing

    await exit(k0, 0);
    await waitForReleased(r.id, [0, 1, 2]);
    await exit(k1, 0);
    await waitForReleased(r.id, [0, 1, 2, 3]);
    for (const i of [2, 3]) await exit(await start((await t.children(r.id))[i]!), 0);
    await waitForReleased(r.id, [0, 1, 2, 3, 4]);
    expect((await run(r.id)).status).toBe('running');
    await exit(await start((await t.children(r.id))[4]!), 0);
    const done = await waitForRun(r.id, 'succeeded', (x) => x.status === 'succeeded');
    expect(done.finishedAt).not.toBeNull();
    expect(done.errorCode).toBeNull();
  });

  it('a held child never starts, even when a worker is handed it (a stray queue entry): the start is refused and it stays queued', async () => {
    const { run: r, kids } = await submit(3, { maxConcurrency: 1 });
    const held = kids[2]!;
    expect(held.releasedAt).toBeNull();
    const refused = await transition(t.cp, held.id, { kind: 'start', workerId: 'stray-worker', checkedAgentId: held.agentId });
    expect(refused).toBeUndefined();
    const after = (await t.children(r.id))[2]!;
    expect(after.status).toBe('queued');
    expect(after.attempt).toBe(0);
    await transitionRunChildren(t.cp, r.id, { kind: 'cancel_queued' }).catch(() => undefined);
  });

  it('roll-ups racing from two connection pools never release past maxConcurrency', async () => {
    const other = openDatabase(t.db.url, { max: 10 });
    const cp2 = { ...t.cp, database: other };
    try {
      const { run: r } = await submit(AGENTS, { maxConcurrency: 3 });
      for (let round = 0; round < 40; round++) {
        const kids = await t.children(r.id);
        const active = kids.filter((k) => k.releasedAt !== null && (k.status === 'queued' || k.status === 'running'));
        expect(active.length).toBeLessThanOrEqual(3);
        if (kids.every((k) => k.status === 'succeeded')) break;
        // Everything released moves one step, then ten roll-ups at once from two pools.
        await Promise.all(active.map(async (k) => (k.status === 'queued' ? start(k) : exit(k, 0))));
        await Promise.all(Array.from({ length: 10 }, (_, i) => rollUpRun(i % 2 ? cp2 : t.cp, r.id)));
      }
      expect(await statuses(r.id)).toEqual(Array(AGENTS).fill('succeeded'));
      await waitForRun(r.id, 'succeeded', (x) => x.status === 'succeeded');
    } finally {
      await other.close();
    }
  });
});

describe('maxErrors', () => {
  it('once failures exceed maxErrors no child starts: the queued ones are skipped (max_errors_exceeded), running ones go on, and the run fails', async () => {
    const { run: r, kids } = await submit(6, { maxConcurrency: 2, maxErrors: 1 });
    const events: JobEvent[] = [];
    const unlisten = await bus.jobEvents(kids[5]!.id, (e) => events.push(e));
    const seen: JobTransition[] = [];
    const off = onTransition((x) => void (x.job.runId === r.id && x.to === 'skipped' && seen.push(x)));
    try {
      await exit(await start(kids[0]!), 1);
      await waitForReleased(r.id, [0, 1, 2]); // one failure is within the budget
      const k1 = await start(kids[1]!);
      const k2 = await start(kids[2]!);
      await exit(k1, 7);
      const failed = await waitForRun(r.id, 'stopped', (x) => x.errorCode !== null);
      expect(failed.errorCode).toBe('max_errors_exceeded');
      expect(failed.errorMessage).toMatch(/2 children failed, more than the run's strategy.maxErrors \(1\); the 3 children not yet started were skipped/);
      await waitFor('the skipped end event', () => events.some((e) => e.type === 'end' && e.status === 'skipped'));
      const after = await t.children(r.id);
      expect(after.map((c) => c.status)).toEqual(['failed', 'failed', 'running', 'skipped', 'skipped', 'skipped']);
      expect(after[3]).toMatchObject({ errorCode: 'max_errors_exceeded', startedAt: null, releasedAt: null });
      expect(after[3]!.finishedAt).not.toBeNull();
      expect(seen.map((x) => [x.job.runIndex, x.from, x.to, x.kind])).toEqual([3, 4, 5].map((i) => [i, 'queued', 'skipped', 'skip_queued']));
      expect((await run(r.id)).status).toBe('running'); // child 2 was running before the stop: it goes on
      await exit(k2, 0);
      const done = await waitForRun(r.id, 'failed', (x) => x.status === 'failed');
      expect(done.errorCode).toBe('max_errors_exceeded');
      expect(await statuses(r.id)).toEqual(['failed', 'failed', 'succeeded', 'skipped', 'skipped', 'skipped']);
    } finally {
      unlisten();
      off();
    }
  });

  it('default maxConcurrency (every child released at once) and maxErrors 0: the first failure skips every child not yet started, released ones included, and none of them can start after', async () => {
    const { run: r, kids } = await submit(6, { maxErrors: 0 });
    expect(await released(r.id)).toEqual([0, 1, 2, 3, 4, 5]); // all dispatched, waiting for workers
    const k1 = await start(kids[1]!);
    await exit(await start(kids[0]!), 1);
    const stopped = await waitForRun(r.id, 'stopped', (x) => x.errorCode !== null);
    expect(stopped).toMatchObject({ status: 'running', errorCode: 'max_errors_exceeded' });
    expect(stopped.errorMessage).toMatch(/1 child failed, more than the run's strategy.maxErrors \(0\); the 4 children not yet started were skipped/);
    const after = await waitFor('the queued children skipped', async () => {
      const c = await t.children(r.id);
      return c.slice(2).every((x) => x.status === 'skipped') ? c : undefined;
    });
    expect(after.map((c) => c.status)).toEqual(['failed', 'running', 'skipped', 'skipped', 'skipped', 'skipped']);
    for (const c of after.slice(2)) {
      expect(c).toMatchObject({ errorCode: 'max_errors_exceeded', startedAt: null, attempt: 0 });
      expect(c.releasedAt).not.toBeNull(); // released, never started
    }
    // A worker that takes one of them from the queue now is refused: it never runs.
    expect(await transition(t.cp, kids[2]!.id, { kind: 'start', workerId: 'late-worker', checkedAgentId: kids[2]!.agentId })).toBeUndefined();
    await exit(k1, 0); // the running one finished
    const done = await waitForRun(r.id, 'failed', (x) => x.status === 'failed');
    expect(done.errorCode).toBe('max_errors_exceeded');
    expect(await statuses(r.id)).toEqual(['failed', 'succeeded', 'skipped', 'skipped', 'skipped', 'skipped']);
  });

  it('a child canceled on its own spends no error budget, but the run then fails; offline-skipped children count as done', async () => {
    const { run: r, kids } = await submit(4, { maxErrors: 0 });
    // queued → skipped (target_offline), as the worker does under offline: "skip".
    await transition(t.cp, kids[0]!.id, { kind: 'end', from: 'queued', status: 'skipped', error: { code: 'target_offline', message: 'offline' } });
    await transition(t.cp, kids[1]!.id, { kind: 'stop_queued', reason: 'canceled' });
    for (const k of kids.slice(2)) await exit(await start(k), 0);
    const done = await waitForRun(r.id, 'failed', (x) => x.status === 'failed');
    expect(done.errorCode).toBeNull(); // not a stop: nothing was skipped for the budget

    const { run: r2, kids: kids2 } = await submit(3, { maxErrors: 0 });
    await transition(t.cp, kids2[0]!.id, { kind: 'end', from: 'queued', status: 'skipped', error: { code: 'target_offline', message: 'offline' } });
    for (const k of kids2.slice(1)) await exit(await start(k), 0);
    await waitForRun(r2.id, 'succeeded', (x) => x.status === 'succeeded');
  });
});

describe('canary', () => {
  it('the canaries run alone; once all succeeded the rest wait bakeMs, then start', async () => {
    const { run: r, kids } = await submit(5, { canary: { count: 2, bakeMs: 1500 } });
    expect(await released(r.id)).toEqual([0, 1]);
    await exit(await start(kids[0]!), 0);
    await rollUpRun(t.cp, r.id);
    expect(await released(r.id)).toEqual([0, 1]); // one canary done is not all of them
    await exit(await start(kids[1]!), 0);
    const passed = await waitForRun(r.id, 'canaries passed', (x) => x.canaryPassedAt !== null);
    expect(await released(r.id)).toEqual([0, 1]); // baking
    await waitForReleased(r.id, [0, 1, 2, 3, 4]); // by the bake timer, no other trigger
    const rest = (await t.children(r.id)).slice(2);
    const canaryEnd = Math.max(...(await t.children(r.id)).slice(0, 2).map((c) => c.finishedAt!.getTime()));
    expect(passed.canaryPassedAt!.getTime()).toBeGreaterThanOrEqual(canaryEnd);
    for (const c of rest) expect(c.releasedAt!.getTime()).toBeGreaterThanOrEqual(passed.canaryPassedAt!.getTime() + 1500);
    for (const c of rest) await exit(await start(c), 0);
    await waitForRun(r.id, 'succeeded', (x) => x.status === 'succeeded');
  });

  it('a failing canary skips a canary released but not yet started too, and every other child', async () => {
    const { run: r, kids } = await submit(4, { canary: { count: 2, bakeMs: 0 } });
    expect(await released(r.id)).toEqual([0, 1]); // both canaries dispatched
    await exit(await start(kids[0]!), 3);
    const done = await waitForRun(r.id, 'failed', (x) => x.status === 'failed');
    expect(done.errorCode).toBe('canary_failed');
    const after = await t.children(r.id);
    expect(after.map((c) => [c.status, c.errorCode])).toEqual([['failed', null], ...Array(3).fill(['skipped', 'canary_failed'])]);
    expect(after[1]!.releasedAt).not.toBeNull();
  });

  it('a failing canary skips the rest (canary_failed) and fails the run, naming the canary', async () => {
    const { run: r, kids } = await submit(5, { canary: { count: 2, bakeMs: 0 }, maxConcurrency: 1 });
    expect(await released(r.id)).toEqual([0]); // canaries within maxConcurrency too
    await exit(await start(kids[0]!), 0);
    await waitForReleased(r.id, [0, 1]);
    await exit(await start(kids[1]!), 2);
    const done = await waitForRun(r.id, 'failed', (x) => x.status === 'failed');
    expect(done.errorCode).toBe('canary_failed');
    expect(done.errorMessage).toBe('the canary node-01 ended failed; the 3 children not yet started were skipped');
    const after = await t.children(r.id);
    expect(after.map((c) => c.status)).toEqual(['succeeded', 'failed', 'skipped', 'skipped', 'skipped']);
    expect(after[4]).toMatchObject({ errorCode: 'canary_failed', errorMessage: "the run's canary node-01 ended failed, so this child was never started", releasedAt: null });
  });
});

describe('cancel', () => {
  it('queued children (held or released) end canceled without running, running ones are stopped, the run ends canceled; a second cancel is 409', async () => {
    const { run: r, kids } = await submit(4, { maxConcurrency: 2 });
    const k0 = await start(kids[0]!);
    const canceling = await cancelRun(t.cp, r.id, 700);
    expect(canceling.status).toBe('running'); // child 0 still has to stop
    expect(canceling.cancelRequestedAt).not.toBeNull();
    expect(canceling.cancelGraceMs).toBe(700);
    const after = await t.children(r.id);
    expect(after.map((c) => c.status)).toEqual(['running', 'canceled', 'canceled', 'canceled']);
    for (const c of after.slice(1)) expect(c).toMatchObject({ startedAt: null, cancelReason: 'canceled' });
    expect(after[0]).toMatchObject({ cancelReason: 'canceled', cancelGraceMs: 700 }); // its holder was told to stop
    expect(await released(r.id)).toEqual([0, 1]); // nothing released after the cancel

    await exit(k0, 143, true);
    const done = await waitForRun(r.id, 'canceled', (x) => x.status === 'canceled');
    expect(done.finishedAt).not.toBeNull();
    expect((await t.children(r.id))[0]!.status).toBe('canceled');

    const again = await cancelRun(t.cp, r.id).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(AppError);
    expect({ status: (again as AppError).status, code: (again as AppError).code }).toEqual({ status: 409, code: 'run_ended' });
    const missing = await cancelRun(t.cp, 'run_nosuchrun0000000000').catch((e: unknown) => e);
    expect({ status: (missing as AppError).status, code: (missing as AppError).code }).toEqual({ status: 404, code: 'not_found' });
  });

  it('a cancel cut short after it was recorded (its process died) is finished by the sweep: queued children canceled, running ones told to stop', async () => {
    const { run: r, kids } = await submit(3, { maxConcurrency: 2 });
    const k0 = await start(kids[0]!);
    // Only step 1 of cancelRun happened.
    await t.cp.database.sql`update runs set cancel_requested_at = now(), cancel_grace_ms = 900 where id = ${r.id}`;
    await sweepActiveRuns(t.cp);
    const after = await t.children(r.id);
    expect(after.map((c) => c.status)).toEqual(['running', 'canceled', 'canceled']);
    expect(after[0]).toMatchObject({ cancelReason: 'canceled', cancelGraceMs: 900 });
    await exit(k0, 143, true);
    await waitForRun(r.id, 'canceled', (x) => x.status === 'canceled');
  });

  it('a cancel that arrives when every child has already ended (the run not yet rolled up) is 409 run_ended, and the run ends with its real status', async () => {
    unregister(); // nobody rolls the run up as its children end: a coalescing roll-up, or the process that owed it died
    try {
      const ok = await submit(2);
      for (const k of ok.kids) await exit(await start(k), 0);
      const bad = await submit(2);
      await exit(await start(bad.kids[0]!), 0);
      await exit(await start(bad.kids[1]!), 5);
      for (const [r, real] of [[ok.run, 'succeeded'], [bad.run, 'failed']] as const) {
        expect((await run(r.id)).status).not.toBe(real); // not final yet
        const err = await cancelRun(t.cp, r.id, 500).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(AppError);
        expect({ status: (err as AppError).status, code: (err as AppError).code }).toEqual({ status: 409, code: 'run_ended' });
        expect((err as AppError).message).toContain(`(${real})`);
        const after = await run(r.id);
        expect(after).toMatchObject({ status: real, cancelRequestedAt: null, cancelGraceMs: null });
        expect(after.finishedAt).not.toBeNull();
      }
    } finally {
      unregister = registerRunRollUp(t.cp);
    }
  });

  it('a cancel of a run with many running children tells each running child to stop exactly once, and every queued one ends canceled', async () => {
    const WIDE = 48;
    for (let i = 0; i < WIDE; i++) await t.addAgent(`wide-${String(i).padStart(2, '0')}`);
    const agents = Array.from({ length: WIDE }, (_, i) => `wide-${String(i).padStart(2, '0')}`);
    const { run: r } = await submitRun(t.cp, runInput({ targets: { agents }, strategy: { maxConcurrency: 40 } }), { createdBy: null, maxTargets: 100 });
    const kids = await t.children(r.id);
    const running = await Promise.all(kids.slice(0, 40).map(start));
    const told = new Map<string, number>();
    const marker = 'job_marker_' + r.id;
    let markerSeen = false;
    const unlisten = await bus.control((m) => {
      if (m.type !== 'cancel') return; // (other control messages: access_changed)
      if (m.jobId === marker) markerSeen = true;
      else if (kids.some((k) => k.id === m.jobId)) told.set(m.jobId, (told.get(m.jobId) ?? 0) + 1);
    });
    try {
      const canceled = await cancelRun(t.cp, r.id, 1500);
      expect(canceled.cancelRequestedAt).not.toBeNull();
      // Published after every stop this process sent, on the same connection: once it is here, so are they.
      await publishControl(t.cp, { type: 'cancel', jobId: marker, graceMs: 0 });
      await waitFor('the marker', () => markerSeen);
      expect(running.map((k) => told.get(k.id) ?? 0)).toEqual(Array(40).fill(1));
      expect(told.size).toBe(40); // and no other child of the run was told (the queued ones just ended)
      const after = await t.children(r.id);
      for (const c of after.slice(0, 40)) expect(c).toMatchObject({ status: 'running', cancelReason: 'canceled', cancelGraceMs: 1500 });
      for (const c of after.slice(40)) expect(c).toMatchObject({ status: 'canceled', startedAt: null });
      for (const k of running) await exit(k, 143, true);
      await waitForRun(r.id, 'canceled', (x) => x.status === 'canceled');
      await rollUpRun(t.cp, r.id);
      expect(told.size).toBe(40);
      expect([...told.values()].every((n) => n === 1)).toBe(true);
    } finally {
      unlisten();
    }
  });

  it('a run canceled before anything started ends canceled at once', async () => {
    const { run: r } = await submit(3, { maxConcurrency: 1 });
    const done = await cancelRun(t.cp, r.id);
    expect(done.status).toBe('canceled');
    expect(done.startedAt).toBeNull();
    expect(await statuses(r.id)).toEqual(['canceled', 'canceled', 'canceled']);
  });

  it('the bulk cancel and workers starting the same children: each child has exactly one winner and one end event', async () => {
    const { run: r, kids } = await submit(10, {});
    const ends = new Map<string, number>();
    const unlisten = await Promise.all(kids.map((k) => bus.jobEvents(k.id, (e) => void (e.type === 'end' && ends.set(k.id, (ends.get(k.id) ?? 0) + 1)))));
    try {
      const [, ...starts] = await Promise.all([
        transitionRunChildren(t.cp, r.id, { kind: 'cancel_queued' }),
        ...kids.map((k) => transition(t.cp, k.id, { kind: 'start', workerId: 'w', checkedAgentId: k.agentId })),
      ]);
      const after = await t.children(r.id);
      for (const [i, c] of after.entries()) expect(c.status).toBe(starts[i] ? 'running' : 'canceled');
      for (const c of after.filter((x) => x.status === 'running')) await exit(c, 0);
      await waitFor('an end event per child', () => kids.every((k) => ends.get(k.id) === 1) && ends.size === kids.length);
      await waitForRun(r.id, 'final', (x) => x.status === 'failed' || x.status === 'succeeded');
    } finally {
      for (const u of unlisten) u();
    }
  });
});

describe('the sweep', () => {
  it('converges a run whose children changed while no process observed them: releases the next one and ends the run', async () => {
    unregister();
    try {
      const { run: r, kids } = await submit(2, { maxConcurrency: 1 });
      await exit(await start(kids[0]!), 1);
      expect(await released(r.id)).toEqual([0]); // nobody rolled it up
      expect((await run(r.id)).status).toBe('queued');

      await sweepActiveRuns(t.cp);
      expect(await released(r.id)).toEqual([0, 1]);
      expect((await run(r.id)).status).toBe('running');
      await exit(await start((await t.children(r.id))[1]!), 0);
      await sweepActiveRuns(t.cp);
      const done = await run(r.id);
      expect(done.status).toBe('failed');
      expect(done.startedAt).toEqual(kids[0]!.startedAt ?? (await t.children(r.id))[0]!.startedAt);
    } finally {
      unregister = registerRunRollUp(t.cp);
    }
  });

  it('registration is per process: the API and the worker registering in one process (npm start) share one observer, kept until the last takes it back', async () => {
    const second = registerRunRollUp(t.cp);
    second();
    second(); // taking it back twice takes nothing more
    const { run: r, kids } = await submit(2, { maxConcurrency: 1 });
    await exit(await start(kids[0]!), 0);
    await waitForReleased(r.id, [0, 1]); // still observed through the first registration
    await exit(await start((await t.children(r.id))[1]!), 0);
    await waitForRun(r.id, 'succeeded', (x) => x.status === 'succeeded');
  });

  it('a final run is never touched again', async () => {
    const { run: r, kids } = await submit(1);
    await exit(await start(kids[0]!), 0);
    const done = await waitForRun(r.id, 'succeeded', (x) => x.status === 'succeeded');
    await rollUpRun(t.cp, r.id);
    const [x] = await t.cp.database.sql<{ status_xid: string }[]>`select status_xid::text from runs where id = ${r.id}`;
    await t.cp.database.sql`update runs set cancel_requested_at = now() where id = ${r.id}`; // would make it `canceled` if rolled up
    await sweepActiveRuns(t.cp);
    await rollUpRun(t.cp, r.id);
    const again = await run(r.id);
    expect(again.status).toBe('succeeded');
    expect(again.finishedAt).toEqual(done.finishedAt);
    const [y] = await t.cp.database.sql<{ status_xid: string }[]>`select status_xid::text from runs where id = ${r.id}`;
    expect(y).toEqual(x);
  });
});
