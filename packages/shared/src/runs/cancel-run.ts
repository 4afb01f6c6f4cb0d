import type { ControlPlane } from '../control-plane/control-plane.ts';
import { isTerminalRun, type RunStatus } from '../domain/run-status.ts';
import { DEFAULT_CANCEL_GRACE_MS } from '../domain/timings.ts';
import { AppError, notFound } from '../errors/app-error.ts';
import { transitionRunChildren } from '../jobs/lifecycle/transition-run-children.ts';
import { stopJob } from '../jobs/stop-job.ts';
import { requestRollUp } from './roll-up.ts';
import { runningChildren } from './run-children.ts';
import { rowToRun, type RunRow } from './run-row.ts';

/** Running children told to stop this many at a time. */
const STOPS_AT_ONCE = 16;

/**
 * Cancel a run (POST /v1/runs/{id}/cancel): in this order,
 *
 * 1. under the run's lock, record the cancel on the run: from then on no roll-up releases a
 *    child, and the run ends `canceled` once every child has ended;
 * 2. end every `queued` child (held, or released and not yet started) `canceled` without running;
 * 3. stop every running child as POST /v1/jobs/{id}/cancel does (jobs/stop-job.ts): it ends
 *    `canceled` when its process does, after `graceMs`;
 * 4. roll the run up.
 *
 * A child a worker starts while (2) runs is `running` by (3), which lists the children after (2)
 * is done: none is left to run on. A process that dies after (1) leaves the rest to the roll-up
 * (the sweep), which ends queued children of a canceled run too.
 *
 * 404 `not_found`, 409 `run_ended` (already final). Returns the run as it stands after the roll-up.
 */
export async function cancelRun(cp: ControlPlane, runId: string, graceMs: number = DEFAULT_CANCEL_GRACE_MS): Promise<RunRow> {
  const sql = cp.database.sql;
  await sql.begin(async (tx) => {
    const [row] = await tx<{ status: RunStatus }[]>`select status from runs where id = ${runId} for update`;
    if (!row) throw notFound('run', runId);
    if (isTerminalRun(row.status)) throw new AppError(409, 'run_ended', `run ${runId} has already ended (${row.status})`);
    await tx`
      update runs set cancel_requested_at = coalesce(cancel_requested_at, clock_timestamp()), cancel_grace_ms = ${graceMs}
      where id = ${runId}`;
  });
  await transitionRunChildren(cp, runId, { kind: 'cancel_queued' });

  const running = await runningChildren(sql, runId);
  let next = 0;
  const lane = async () => {
    while (next < running.length) {
      const id = running[next++]!;
      // A child that ended meanwhile answers 409 job_ended: nothing left to stop.
      await stopJob(cp, id, 'canceled', graceMs).catch((err: unknown) => {
        if (!(err instanceof AppError && err.code === 'job_ended')) throw err;
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(STOPS_AT_ONCE, running.length) }, lane));

  await requestRollUp(cp, runId);
  const [row] = await sql`select * from runs where id = ${runId}`;
  return rowToRun(row!);
}
