import type { ControlPlane } from '../control-plane/control-plane.ts';
import { recordRunStopRequests } from '../jobs/record-stop-request.ts';
import { sendStop } from '../jobs/stop-job.ts';

/** Stop messages in flight at once: enough to fill Redis's pipeline, few enough not to hold 10,000 promises. */
const SENDS_AT_ONCE = 500;

/**
 * Stop every running child of a canceled run, as POST /v1/jobs/{id}/cancel stops one (the stop
 * recorded, then its holder told; it ends `canceled` when its process does, after `graceMs`).
 * The ONE home of this: cancelRun calls it, and the roll-up calls it for a canceled run whose
 * cancel was cut short (its process died after recording it).
 *
 * The stops are recorded in one statement that claims only children with no stop recorded yet,
 * so when the cancel and a roll-up (woken by the children the cancel ended) both get here, each
 * child is claimed and told by exactly one of them, and neither waits on the other's work.
 *
 * A message the bus drops (Redis down) is not lost for good: holders read the recorded stop when
 * they reconnect, and the janitor tells an agent again when its job outlives the grace.
 * Returns how many children were told.
 */
export async function stopRunningChildren(cp: ControlPlane, runId: string, graceMs: number): Promise<number> {
  const claimed = await recordRunStopRequests(cp.database.sql, runId, 'canceled', graceMs);
  let failure: unknown;
  for (let i = 0; i < claimed.length; i += SENDS_AT_ONCE) {
    await Promise.all(
      claimed.slice(i, i + SENDS_AT_ONCE).map(({ id, agentId }) =>
        sendStop(cp, id, agentId, graceMs).catch((err: unknown) => {
          failure ??= err; // the rest are still told
        }),
      ),
    );
  }
  if (failure !== undefined) throw failure;
  return claimed.length;
}
