import { markChanged } from '../bus/change-notifier.ts';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import { isTerminal } from '../domain/job-status.ts';
import { isTerminalRun, type RunStatus } from '../domain/run-status.ts';
import { DEFAULT_CANCEL_GRACE_MS } from '../domain/timings.ts';
import type { JobError } from '../jobs/lifecycle/job-change.ts';
import { onTransition } from '../jobs/lifecycle/observers.ts';
import { transitionRunChildren } from '../jobs/lifecycle/transition-run-children.ts';
import { dropRunSecrets } from '../jobs/secrets/job-secrets-store.ts';
import { childCounts, readChildGroups, type ChildCounts } from './child-counts.ts';
import { decideRollUp, type RollUpDecision } from './decide-roll-up.ts';
import { enqueueReleased } from './enqueue-released.ts';
import { firstFailedCanary, releaseChildren } from './run-children.ts';
import { rowToRun, type RunRow } from './run-row.ts';
import { stopRunningChildren } from './stop-run-children.ts';

/** A control plane: the roll-up writes through the lifecycle, enqueues, and may stop children (a canceled run's). */
export type RollUpDeps = ControlPlane;

export interface RollUpOutcome {
  status: RunStatus;
  /** Children released (and handed to the queue) by this roll-up. */
  released: number;
  /** Children this roll-up ended (`skipped` or `canceled`) without running them. */
  ended: number;
  /** The canaries passed and the rest wait this much longer (a timer should roll up again then). */
  bakeRemainingMs: number | null;
}

interface Step {
  status: RunStatus;
  released: { id: string; agentId: string | null; priority: number }[];
  skip: StopError | null;
  cancelQueued: boolean;
  /** The run is canceled and children still run: stop those no stop has reached (a cancel cut short), with this grace. */
  stopRunning: { graceMs: number } | null;
  bakeRemainingMs: number | null;
  /** The run's row was written or children were released: a dashboard showing it should read it again. */
  changed: boolean;
}

/**
 * Bring a run up to date with its children: the only writer of `runs.status` and the only code
 * that releases a held child. Safe to call any time, from any process, any number of times: it
 * decides from Postgres alone (decide-roll-up.ts says how), under the run's row lock, so two
 * roll-ups of one run take turns and the second sees what the first released.
 *
 * LOUD: maxConcurrency holds because `active` (released, not terminal) is counted under that lock
 * after the previous roll-up committed; never release a child anywhere else.
 *
 * Children ended here (skipped, canceled) go through the lifecycle after the transaction, and the
 * run is rolled up again at once so its final status does not wait for the next trigger.
 * Undefined: no such run.
 */
export async function rollUpRun(cp: RollUpDeps, runId: string): Promise<RollUpOutcome | undefined> {
  let released = 0;
  let ended = 0;
  for (let round = 0; ; round++) {
    const step = await rollUpOnce(cp, runId);
    if (!step) return undefined;
    // After the commit (BUS.md §10): a dashboard that refetches at once sees it.
    if (step.changed) markChanged(cp, 'runs');
    released += step.released.length;
    if (step.released.length > 0 && !(await enqueueReleased(cp, step.released))) {
      cp.log.warn({ runId, released: step.released.length }, 'run children released but not enqueued (Redis unavailable); the reconciler will enqueue them');
    }
    let endedNow = 0;
    if (step.skip) {
      const error = { code: step.skip.code, message: step.skip.message };
      endedNow += (await transitionRunChildren(cp, runId, { kind: 'skip_queued', error })).length;
    }
    if (step.cancelQueued) endedNow += (await transitionRunChildren(cp, runId, { kind: 'cancel_queued' })).length;
    // A cancel cut short (its process died after recording it): stop what it did not reach. A
    // live cancel and this share the work: each child is claimed once (stop-run-children.ts).
    if (step.stopRunning) await stopRunningChildren(cp, runId, step.stopRunning.graceMs);
    ended += endedNow;
    // Two rounds settle it (the second sees every child the first ended); a third would mean
    // children keep changing under us, which the observers' roll-ups will follow anyway.
    if (endedNow === 0 || round >= 2) return { status: step.status, released, ended, bakeRemainingMs: step.bakeRemainingMs };
  }
}

async function rollUpOnce(cp: RollUpDeps, runId: string): Promise<Step | undefined> {
  return cp.database.sql.begin(async (tx) => {
    const [row] = await tx`select * from runs where id = ${runId} for update`;
    if (!row) return undefined;
    const run = rowToRun(row);
    if (isTerminalRun(run.status)) return { status: run.status, released: [], skip: null, cancelQueued: false, stopRunning: null, bakeRemainingMs: null, changed: false };
    // LOUD: its own statement, after the lock: it sees what the roll-up before this one committed.
    const read = await readChildGroups(tx, runId);
    const counts = childCounts(read!.groups, read!.now);
    const d = decideRollUp(run, counts);
    const skip = d.stop ? await stopError(tx, run, counts, d.stop) : null;
    const released = await releaseChildren(tx, runId, d.release.count, d.release.beforeIndex);
    const written = changes(run, d, skip);
    if (written) {
      const iso = (t: Date | null) => t?.toISOString() ?? null;
      await tx`
        update runs set
          status = ${d.status},
          started_at = ${iso(d.startedAt)}::timestamptz,
          finished_at = ${iso(d.finishedAt)}::timestamptz,
          canary_passed_at = ${iso(d.canaryPassedAt)}::timestamptz,
          error_code = coalesce(error_code, ${skip?.code ?? null}),
          error_message = coalesce(error_message, ${skip?.runMessage ?? null})
        where id = ${runId}`;
    }
    // LOUD: the run's secretEnv goes in the transaction that makes it final (every child has
    // ended: none will read it again), so nothing readable outlives the run. The worker's sweep
    // (jobs/secrets) drops any that a crash left.
    if (run.secretEnvNames && isTerminalRun(d.status)) await dropRunSecrets(tx, runId);
    const running = counts.total - counts.queued - counts.terminal;
    const stopRunning = run.cancelRequestedAt !== null && running > 0 ? { graceMs: run.cancelGraceMs ?? DEFAULT_CANCEL_GRACE_MS } : null;
    return { status: d.status, released, skip, cancelQueued: d.cancelQueued, stopRunning, bakeRemainingMs: d.bakeRemainingMs, changed: written || released.length > 0 };
  });
}

const same = (a: Date | null, b: Date | null) => (a?.getTime() ?? null) === (b?.getTime() ?? null);

/** Whether the run row needs writing (most roll-ups only release, or change nothing). */
function changes(run: RunRow, d: RollUpDecision, skip: JobError | null): boolean {
  return (
    run.status !== d.status ||
    !same(run.startedAt, d.startedAt) ||
    !same(run.finishedAt, d.finishedAt) ||
    !same(run.canaryPassedAt, d.canaryPassedAt) ||
    (skip !== null && run.errorCode === null)
  );
}

/** Why the run stopped: the error its queued children are skipped with, and the run's own message. */
async function stopError(tx: Parameters<typeof firstFailedCanary>[0], run: RunRow, c: ChildCounts, reason: NonNullable<RollUpDecision['stop']>): Promise<StopError> {
  const children = (n: number) => (n === 1 ? '1 child' : `${n} children`);
  const rest = c.queued === 1 ? 'the 1 child not yet started was skipped' : `the ${c.queued} children not yet started were skipped`;
  if (reason === 'canary_failed') {
    const canary = await firstFailedCanary(tx, run.id, run.strategy.canary?.count ?? 0);
    const what = canary ? `canary ${canary.targetName} ended ${canary.status}` : 'a canary did not succeed';
    return { code: 'canary_failed', message: `the run's ${what}, so this child was never started`, runMessage: `the ${what}; ${rest}` };
  }
  const what = `${children(c.failures)} failed, more than the run's strategy.maxErrors (${run.strategy.maxErrors})`;
  return { code: 'max_errors_exceeded', message: `${what}, so this child was never started`, runMessage: `${what}; ${rest}` };
}

interface StopError extends JobError {
  runMessage: string;
}

/*
 * Who rolls a run up, and when: right after submission, whenever a child of it moves to
 * `running` or ends (the lifecycle observer below), when a bake ends (a timer), and from the
 * worker's sweep over the runs not yet final (a process killed between a child's end and its
 * roll-up, a timer lost with its process).
 */

/** Per run, the roll-up under way in this process and whether another was asked for meanwhile. */
const inFlight = new Map<string, { again: boolean; done: Promise<void> }>();
const bakeTimers = new Map<string, NodeJS.Timeout>();
/** The control planes that registered (the API and the worker share one process under `npm start`). */
const registered: RollUpDeps[] = [];
let stopObserving: (() => void) | undefined;

/**
 * Roll the run up in this process, coalesced: one roll-up per run at a time, and any number of
 * requests that arrive while it runs make one more after it (1,000 children ending at once are a
 * handful of roll-ups, not 1,000 transactions queued on the run's lock). Resolves once a roll-up
 * that began after the request has finished; never rejects (a failure is logged and left to the
 * sweep).
 */
export function requestRollUp(cp: RollUpDeps, runId: string): Promise<void> {
  const current = inFlight.get(runId);
  if (current) {
    current.again = true;
    return current.done;
  }
  const slot = { again: false, done: Promise.resolve() };
  inFlight.set(runId, slot);
  slot.done = (async () => {
    try {
      do {
        slot.again = false;
        try {
          if (await cannotChange(cp, runId)) continue;
          const outcome = await rollUpRun(cp, runId);
          if (outcome?.bakeRemainingMs != null) scheduleBakeEnd(cp, runId, outcome.bakeRemainingMs);
        } catch (err) {
          cp.log.warn({ err: (err as Error).message, runId }, 'run roll-up failed; the sweep will retry it');
        }
      } while (slot.again);
    } finally {
      inFlight.delete(runId);
    }
  })();
  return slot.done;
}

/**
 * Whether a roll-up of this run could change nothing now, read without the run's lock: it is
 * `running`, with no held child (nothing to release), some child not final (its status stays),
 * no error budget or canary to judge and no cancel. Then skipping it is the same as running it —
 * and it spares a locked transaction and an aggregate over every child for each of the 2,000
 * starts and ends of a 1,000-target run that released everything at once.
 *
 * LOUD: safe only because every child's start and end asks for a roll-up AFTER it committed (the
 * observer), so the check that follows the last child's end sees no child left and goes on to
 * the full roll-up that ends the run; and the sweep rolls up every active run regardless.
 */
async function cannotChange(cp: RollUpDeps, runId: string): Promise<boolean> {
  const [row] = await cp.database.sql<{ idle: boolean }[]>`
    select (
      r.status = 'running' and r.cancel_requested_at is null
      and r.strategy->'maxErrors' = 'null'::jsonb and r.strategy->'canary' = 'null'::jsonb
      and not exists (select 1 from jobs j where j.run_id = r.id and j.status = 'queued' and j.released_at is null)
      and exists (select 1 from jobs j where j.run_id = r.id and j.status in ('queued', 'running'))
    ) as idle
    from runs r where r.id = ${runId}`;
  return row?.idle === true;
}

/** Roll the run up again when its canaries' bake ends (the sweep does it too, should this process die first). */
function scheduleBakeEnd(cp: RollUpDeps, runId: string, inMs: number): void {
  if (bakeTimers.has(runId)) return;
  const timer = setTimeout(() => {
    bakeTimers.delete(runId);
    void requestRollUp(registered[0] ?? cp, runId);
  }, inMs + 10); // a hair late rather than early: early would find the bake not over and wait again
  timer.unref();
  bakeTimers.set(runId, timer);
}

/**
 * Roll up the parent run of every child whose transition this process wins (to `running` or a
 * terminal status). Idempotent per process: the API and the worker both call it at start, and
 * under `npm start` they are one process with one observer. Returns the function that takes this
 * registration back (the observer goes with the last one).
 */
export function registerRunRollUp(cp: RollUpDeps): () => void {
  registered.push(cp);
  stopObserving ??= onTransition(({ job, to, kind }) => {
    const rollUpCp = registered[0];
    // A retry (issue 14) too: the child left its slot (running → queued, held), so another may go.
    if (!job.runId || !rollUpCp || (to !== 'running' && !isTerminal(to) && kind !== 'retry')) return;
    // LOUD: never awaited. The roll-up itself ends children through the lifecycle, which tells
    // this observer, which would then wait for the very roll-up that is waiting for it.
    void requestRollUp(rollUpCp, job.runId);
  });
  let done = false;
  return () => {
    if (done) return;
    done = true;
    registered.splice(registered.indexOf(cp), 1);
    if (registered.length > 0) return;
    stopObserving?.();
    stopObserving = undefined;
    for (const timer of bakeTimers.values()) clearTimeout(timer);
    bakeTimers.clear();
  };
}

/** How many runs one sweep looks at; the next sweep goes on from the last of them. */
const SWEEP_PAGE = 500;

/** Per database, where the last sweep stopped (created_at, id of its last run); absent: from the oldest. */
const sweepCursors = new WeakMap<object, { createdAt: string; id: string }>();

/**
 * The backstop (the worker's maintenance loop): roll up every run not yet final. A run whose
 * child ended while no process observed it (killed -9 in between), or whose bake timer died with
 * its process, converges here. Cheap when nothing changed: one aggregate per active run.
 *
 * One page per call, in (created_at, id) order from where the previous call stopped, wrapping to
 * the oldest after the newest: however many runs are active, each is reached within
 * ceil(active / page) sweeps. LOUD: never "the oldest page" each time — with more active runs than
 * a page (a few long ones among them), the newer ones would never be swept and a run whose bake
 * timer died with its process would stay `running` for ever.
 *
 * Returns how many runs this call rolled up.
 */
export async function sweepActiveRuns(cp: RollUpDeps): Promise<number> {
  const sql = cp.database.sql;
  const pageAfter = (after: { createdAt: string; id: string } | undefined) => sql<{ id: string; created_at: string }[]>`
    select id, created_at::text as created_at from runs
    where status in ('queued', 'running')
      ${after ? sql`and (created_at, id) > (${after.createdAt}::timestamptz, ${after.id})` : sql``}
    order by created_at, id
    limit ${SWEEP_PAGE}`;
  const after = sweepCursors.get(cp.database);
  let rows = await pageAfter(after);
  if (rows.length === 0 && after) rows = await pageAfter(undefined); // past the newest: wrap now rather than sweep nothing
  const last = rows.at(-1);
  // A short page reached the newest: the next sweep starts again from the oldest.
  if (rows.length < SWEEP_PAGE || !last) sweepCursors.delete(cp.database);
  else sweepCursors.set(cp.database, { createdAt: last.created_at, id: last.id });
  for (const { id } of rows) await requestRollUp(cp, id);
  return rows.length;
}
