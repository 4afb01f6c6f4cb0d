import type { ControlPlane } from '../control-plane/control-plane.ts';
import { isTerminalRun, type RunStatus } from '../domain/run-status.ts';
import { DEFAULT_CANCEL_GRACE_MS } from '../domain/timings.ts';
import { AppError, notFound } from '../errors/app-error.ts';
import { transitionRunChildren } from '../jobs/lifecycle/transition-run-children.ts';
import { requestRollUp } from './roll-up.ts';
import { rowToRun, type RunRow } from './run-row.ts';
import { stopRunningChildren } from './stop-run-children.ts';

/**
 * Cancel a run (POST /v1/runs/{id}/cancel): in this order,
 *
 * 1. under the run's lock, record the cancel on the run: from then on no roll-up releases a
 *    child, and the run ends `canceled` once every child has ended;
 * 2. end every `queued` child (held, or released and not yet started) `canceled` without running;
 * 3. stop every running child as POST /v1/jobs/{id}/cancel does (stop-run-children.ts): it ends
 *    `canceled` when its process does, after `graceMs`;
 * 4. roll the run up.
 *
 * A child a worker starts while (2) runs is `running` by (3), which claims the children after (2)
 * is done: none is left to run on. A process that dies after (1) leaves the rest to the roll-up
 * (the sweep), which ends queued children of a canceled run and stops its running ones too.
 *
 * 404 `not_found`; 409 `run_ended` when the run is final, and also when every child has already
 * ended though the run is not final yet (its roll-up is coalescing, or the process that owed it
 * died): nothing is left to cancel, so the cancel is not recorded and the run is rolled up to the
 * status its children earned (`succeeded` or `failed`, never `canceled`). Returns the run as it
 * stands after the roll-up.
 */
export async function cancelRun(cp: ControlPlane, runId: string, graceMs: number = DEFAULT_CANCEL_GRACE_MS): Promise<RunRow> {
  const sql = cp.database.sql;
  const outcome = await sql.begin(async (tx) => {
    const [row] = await tx<{ status: RunStatus }[]>`select status from runs where id = ${runId} for update`;
    if (!row) throw notFound('run', runId);
    if (isTerminalRun(row.status)) return { ended: row.status };
    // Under the run's lock, after any roll-up before us committed. A child ending right now is
    // not seen: the cancel arrived while it ran, and the run ends `canceled`.
    const [open] = await tx`select 1 from jobs where run_id = ${runId} and status in ('queued', 'running') limit 1`;
    if (!open) return { ended: null };
    await tx`
      update runs set cancel_requested_at = coalesce(cancel_requested_at, clock_timestamp()), cancel_grace_ms = ${graceMs}
      where id = ${runId}`;
    return undefined;
  });
  if (outcome) {
    let status = outcome.ended;
    if (status === null) {
      await requestRollUp(cp, runId);
      const [now] = await sql<{ status: RunStatus }[]>`select status from runs where id = ${runId}`;
      status = now && isTerminalRun(now.status) ? now.status : null;
    }
    throw new AppError(409, 'run_ended', status ? `run ${runId} has already ended (${status})` : `every child of run ${runId} has already ended`);
  }

  await transitionRunChildren(cp, runId, { kind: 'cancel_queued' });
  await stopRunningChildren(cp, runId, graceMs);
  await requestRollUp(cp, runId);
  const [row] = await sql`select * from runs where id = ${runId}`;
  return rowToRun(row!);
}
